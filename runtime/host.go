package runtime

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"unicode/utf8"

	"github.com/tetratelabs/wazero/api"

	"github.com/tugboat-io/tug/hostabi"
)

// The functions of the import module tug:host/v1 (ABI.md §5). They are instantiated once per
// Runtime and find the instance they serve in the context of the call.

// current returns the instance a host function is called from.
func current(ctx context.Context) *instance {
	in, _ := ctx.Value(instanceKey{}).(*instance)
	if in == nil {
		panic(fmt.Errorf("%s called outside a plugin call", hostabi.ImportModule))
	}
	return in
}

// hostSetResult is set_result(ptr, len): it copies the bytes at once (one bulk copy) into the
// call's result; the last call wins. Past the result limit it aborts the call.
func hostSetResult(ctx context.Context, mod api.Module, stack []uint64) {
	in := current(ctx)
	ptr, n := api.DecodeU32(stack[0]), api.DecodeU32(stack[1])
	if uint64(n) > uint64(in.m.opts.MaxResultBytes) {
		in.tooLarge = uint64(n)
		panic(ErrResultTooLarge)
	}
	b, ok := mod.Memory().Read(ptr, n)
	if !ok {
		panic(fmt.Errorf("%s(%#x, %d) is past the end of its %s memory", hostabi.ImportSetResult, ptr, n, size(uint64(mod.Memory().Size()))))
	}
	in.result = append(in.result[:0], b...)
}

// maxLogMessage bounds one message of the log import.
const maxLogMessage = 16 << 10

// hostLog is log(level, ptr, len): the message goes to the Runtime's logger with the plugin's
// attributes.
func hostLog(ctx context.Context, mod api.Module, stack []uint64) {
	in := current(ctx)
	level, ptr, n := api.DecodeI32(stack[0]), api.DecodeU32(stack[1]), api.DecodeU32(stack[2])
	truncated := n > maxLogMessage
	b, ok := mod.Memory().Read(ptr, min(n, maxLogMessage))
	if !ok {
		panic(fmt.Errorf("%s(%d, %#x, %d) is past the end of its %s memory", hostabi.ImportLog, level, ptr, n, size(uint64(mod.Memory().Size()))))
	}
	msg := strings.ToValidUTF8(string(b), "\uFFFD")
	var lvl slog.Level
	switch level {
	case hostabi.LogDebug:
		lvl = slog.LevelDebug
	case hostabi.LogInfo:
		lvl = slog.LevelInfo
	case hostabi.LogWarn:
		lvl = slog.LevelWarn
	case hostabi.LogError:
		lvl = slog.LevelError
	default:
		lvl = slog.LevelInfo
	}
	if truncated {
		in.m.log.Log(in.callerCtx, lvl, msg, "truncated_from", n)
		return
	}
	in.m.log.Log(in.callerCtx, lvl, msg)
}

// maxLine bounds a line of guest stdout or stderr.
const maxLine = 4 << 10

// lineWriter sends a guest's stdout or stderr to the logger a line at a time. For stderr it
// keeps the first lines written during the current call, for error messages.
type lineWriter struct {
	log     *slog.Logger
	level   slog.Level
	stream  string
	partial []byte
	keep    bool
	lines   []string
}

func (w *lineWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			w.partial = append(w.partial, p...)
			if len(w.partial) >= maxLine {
				w.emit()
			}
			break
		}
		w.partial = append(w.partial, p[:i]...)
		w.emit()
		p = p[i+1:]
	}
	return n, nil
}

func (w *lineWriter) emit() {
	line := strings.ToValidUTF8(string(w.partial), "\uFFFD")
	w.partial = w.partial[:0]
	w.log.Log(context.Background(), w.level, line, "stream", w.stream)
	if w.keep && len(w.lines) < 32 {
		w.lines = append(w.lines, line)
	}
}

// flush logs a last line without its newline.
func (w *lineWriter) flush() {
	if len(w.partial) > 0 {
		w.emit()
	}
}

// lastWords picks what a dying guest said: a Go panic or fatal error if there is one, else
// the first line it wrote to stderr during the call.
func (w *lineWriter) lastWords() string {
	w.flush()
	first := ""
	for _, l := range w.lines {
		if strings.HasPrefix(l, "panic: ") || strings.HasPrefix(l, "fatal error: ") {
			return clip(l)
		}
		if first == "" && strings.TrimSpace(l) != "" {
			first = l
		}
	}
	return clip(first)
}

func clip(s string) string {
	if len(s) <= 200 {
		return s
	}
	s = s[:200]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s + "…"
}
