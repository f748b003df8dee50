package logs

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// File is a container attempt's log file open for writing. Its two streams may be written
// from different goroutines: one mutex orders their lines in the file, and each line goes to
// the file in one write, so a reader never sees two lines mixed.
type File struct {
	// Now stamps each line; time.Now when nil. Tests set it, before the first write.
	Now func() time.Time

	mu      sync.Mutex
	f       *os.File
	closed  bool
	streams [2]*stream
	scratch []byte // reused for the lines of one write
}

// stream is the writer File.Stream returns.
type stream struct {
	file *File
	name string
	// buf holds the bytes of the line being written that have not reached the file: at most
	// maxLineSize of content, plus a '\r' that may turn out to begin a "\r\n".
	buf []byte
}

// Open opens the log file at path for appending, creating it and its directories if needed.
// Appending, not truncating, because a file that exists belongs to the same attempt — the
// agent restarted while the container ran on — and its lines must stay.
func Open(path string) (*File, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("create log directory: %w", err)
	}
	// 0640 as containerd's CRI plugin makes them: the output of a container is not for
	// every user of the node.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("open log file: %w", err)
	}
	lf := &File{f: f}
	lf.streams = [2]*stream{{file: lf, name: Stdout}, {file: lf, name: Stderr}}
	return lf, nil
}

// Stream returns the writer for the stream called name, Stdout or Stderr; it panics on any
// other name. Calls with the same name return the same writer.
//
// The writer turns its bytes into lines of the file: each complete line is written as an F
// chunk when its newline arrives ("\r\n" counts as the newline). A line longer than 16 KiB
// goes out in P chunks of 16 KiB as its bytes arrive, then an F chunk with the rest. Bytes
// after the last newline wait for more — as containerd's CRI plugin does, there is no
// flush on a timer, so a prompt without a newline shows once its line ends — and Close
// writes whatever is left as a P chunk: the stream ended without a newline, and a P chunk
// tells a reader not to add one.
func (f *File) Stream(name string) io.Writer {
	switch name {
	case Stdout:
		return f.streams[0]
	case Stderr:
		return f.streams[1]
	}
	panic(fmt.Sprintf("logs: unknown stream %q", name))
}

// Write writes the complete lines in p (and 16 KiB pieces of an overlong one) to the file in
// a single write, all stamped with one reading of the clock.
func (s *stream) Write(p []byte) (int, error) {
	f := s.file
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return 0, fmt.Errorf("write log file: %w", os.ErrClosed)
	}
	now := f.now()
	out := f.scratch[:0]
	rest := p
	for {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			break
		}
		line := rest[:i]
		rest = rest[i+1:]
		if len(s.buf) > 0 {
			s.buf = append(s.buf, line...)
			line = s.buf
		}
		out = appendLine(out, now, s.name, bytes.TrimSuffix(line, []byte{'\r'}), tagFull)
		s.buf = s.buf[:0]
	}
	s.buf = append(s.buf, rest...)
	// Send the full 16 KiB pieces of an unfinished line now, so buf stays bounded. A '\r'
	// at the very end is held back: with a '\n' after it, it is not content.
	start := 0
	for {
		n := len(s.buf) - start
		if n > 0 && s.buf[len(s.buf)-1] == '\r' {
			n--
		}
		if n <= maxLineSize {
			break
		}
		out = appendChunk(out, now, s.name, tagPartial, s.buf[start:start+maxLineSize])
		start += maxLineSize
	}
	if start > 0 {
		s.buf = append(s.buf[:0], s.buf[start:]...)
	}
	if err := f.write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}

// end writes the stream's unfinished line, if any, as P chunks: the stream has ended.
// f.mu must be held.
func (s *stream) end(out []byte, now time.Time) []byte {
	if len(s.buf) == 0 {
		return out
	}
	out = appendLine(out, now, s.name, s.buf, tagPartial)
	s.buf = nil
	return out
}

// endStream writes what is left of one stream, when that stream has ended before the other
// (the binary logger), so its last bytes carry the time they came rather than the time the
// file is closed.
func (f *File) endStream(name string) error {
	s := f.Stream(name).(*stream)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil
	}
	return f.write(s.end(f.scratch[:0], f.now()))
}

// Close writes what is left of both streams and closes the file.
func (f *File) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return fmt.Errorf("close log file: %w", os.ErrClosed)
	}
	now := f.now()
	out := f.scratch[:0]
	for _, s := range f.streams {
		out = s.end(out, now)
	}
	werr := f.write(out)
	f.closed = true
	if err := f.f.Close(); err != nil && werr == nil {
		return fmt.Errorf("close log file: %w", err)
	}
	return werr
}

// write writes the lines in out with one write call, which O_APPEND keeps whole against
// other writers of the file. f.mu must be held.
func (f *File) write(out []byte) error {
	if cap(out) <= 64<<10 {
		// Keep a small buffer for next time, not one a huge write grew.
		f.scratch = out[:0]
	}
	if len(out) == 0 {
		return nil
	}
	if _, err := f.f.Write(out); err != nil {
		return fmt.Errorf("write log file: %w", err)
	}
	return nil
}

func (f *File) now() time.Time {
	if f.Now != nil {
		return f.Now()
	}
	return time.Now()
}

// appendLine appends content as chunks of at most maxLineSize: P chunks, then the last one
// with tag.
func appendLine(out []byte, t time.Time, stream string, content []byte, tag byte) []byte {
	for len(content) > maxLineSize {
		out = appendChunk(out, t, stream, tagPartial, content[:maxLineSize])
		content = content[maxLineSize:]
	}
	return appendChunk(out, t, stream, tag, content)
}
