package logs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// all is ReadOptions for the whole file, the base the cases change.
var all = ReadOptions{TailLines: -1}

func with(f func(*ReadOptions)) ReadOptions {
	o := all
	f(&o)
	return o
}

// ts is the timestamp Read puts before a line stamped sec seconds after t0.
func ts(sec int) string {
	return t0.Add(time.Duration(sec)*time.Second).Format(time.RFC3339Nano) + " "
}

func TestRead(t *testing.T) {
	interleaved := cri(0, "stdout", "F", "out 1") +
		cri(1, "stderr", "F", "err 1") +
		cri(2, "stdout", "P", "long ") +
		cri(3, "stdout", "F", "line") +
		cri(4, "stderr", "F", "err 2")
	tests := []struct {
		name string
		file string
		opts ReadOptions
		want string
	}{{
		name: "both streams in file order",
		file: interleaved,
		opts: all,
		want: "out 1\nerr 1\nlong line\nerr 2\n",
	}, {
		name: "an empty file is no output",
		file: "",
		opts: all,
		want: "",
	}, {
		name: "P chunks join the chunk after them",
		file: cri(0, "stdout", "P", "a") + cri(0, "stdout", "P", "b") + cri(0, "stdout", "F", "c"),
		opts: all,
		want: "abc\n",
	}, {
		name: "a P chunk at the end is output without a newline",
		file: cri(0, "stdout", "F", "x") + cri(1, "stdout", "P", "prompt> "),
		opts: all,
		want: "x\nprompt> ",
	}, {
		name: "empty lines",
		file: cri(0, "stdout", "F", "") + cri(1, "stdout", "F", ""),
		opts: all,
		want: "\n\n",
	}, {
		name: "content keeps its spaces",
		file: cri(0, "stdout", "F", "  two  leading"),
		opts: all,
		want: "  two  leading\n",
	}, {
		name: "extra tags after a colon are ignored",
		file: "2024-05-01T10:00:00Z stdout P:x a\n2024-05-01T10:00:00Z stdout F:y b\n",
		opts: all,
		want: "ab\n",
	}, {
		name: "a last line without its newline is output as it is",
		file: cri(0, "stdout", "F", "a") + strings.TrimSuffix(cri(1, "stdout", "F", "b"), "\n"),
		opts: all,
		want: "a\nb",
	}, {
		name: "timestamps prefix each line",
		file: interleaved,
		opts: with(func(o *ReadOptions) { o.Timestamps = true }),
		want: ts(0) + "out 1\n" + ts(1) + "err 1\n" + ts(2) + "long line\n" + ts(4) + "err 2\n",
	}, {
		name: "timestamps are written in RFC 3339 with nanoseconds whatever the file has",
		file: "2024-05-01T12:00:00.500000000+02:00 stdout F a\n",
		opts: with(func(o *ReadOptions) { o.Timestamps = true }),
		want: "2024-05-01T12:00:00.5+02:00 a\n",
	}, {
		name: "since drops earlier lines and keeps one stamped at it",
		file: interleaved,
		opts: with(func(o *ReadOptions) { o.SinceTime = t0.Add(time.Second) }),
		want: "err 1\nlong line\nerr 2\n",
	}, {
		name: "since judges a joined line by its first chunk",
		file: interleaved,
		opts: with(func(o *ReadOptions) { o.SinceTime = t0.Add(3 * time.Second) }),
		want: "err 2\n",
	}, {
		name: "since after every line is no output",
		file: interleaved,
		opts: with(func(o *ReadOptions) { o.SinceTime = t0.Add(time.Hour) }),
		want: "",
	}, {
		name: "tail takes the last lines",
		file: interleaved,
		opts: with(func(o *ReadOptions) { o.TailLines = 2 }),
		want: "long line\nerr 2\n",
	}, {
		name: "tail counts a joined line once",
		file: interleaved,
		opts: with(func(o *ReadOptions) { o.TailLines = 3 }),
		want: "err 1\nlong line\nerr 2\n",
	}, {
		name: "tail of more lines than the file has is the whole file",
		file: interleaved,
		opts: with(func(o *ReadOptions) { o.TailLines = 100 }),
		want: "out 1\nerr 1\nlong line\nerr 2\n",
	}, {
		name: "tail of exactly the lines the file has",
		file: interleaved,
		opts: with(func(o *ReadOptions) { o.TailLines = 4 }),
		want: "out 1\nerr 1\nlong line\nerr 2\n",
	}, {
		name: "tail 0 is no output",
		file: interleaved,
		opts: with(func(o *ReadOptions) { o.TailLines = 0 }),
		want: "",
	}, {
		name: "tail counts an unfinished last line",
		file: cri(0, "stdout", "F", "a") + cri(1, "stdout", "F", "b") + cri(2, "stdout", "P", "c"),
		opts: with(func(o *ReadOptions) { o.TailLines = 2 }),
		want: "b\nc",
	}, {
		name: "tail counts a line cut by a crash",
		file: cri(0, "stdout", "F", "a") + cri(1, "stdout", "F", "b") + "2024-05-01T10:00:02Z stdout F c",
		opts: with(func(o *ReadOptions) { o.TailLines = 1 }),
		want: "c",
	}, {
		name: "tail then since",
		file: interleaved,
		opts: with(func(o *ReadOptions) { o.TailLines = 3; o.SinceTime = t0.Add(2 * time.Second) }),
		want: "long line\nerr 2\n",
	}, {
		name: "limit bytes cuts the output",
		file: interleaved,
		opts: with(func(o *ReadOptions) { o.LimitBytes = 8 }),
		want: "out 1\ner",
	}, {
		name: "limit bytes at a line's end",
		file: interleaved,
		opts: with(func(o *ReadOptions) { o.LimitBytes = 6 }),
		want: "out 1\n",
	}, {
		name: "limit bytes counts timestamps",
		file: interleaved,
		opts: with(func(o *ReadOptions) { o.Timestamps = true; o.LimitBytes = int64(len(ts(0)) + 3) }),
		want: ts(0) + "out",
	}, {
		name: "limit bytes larger than the output",
		file: interleaved,
		opts: with(func(o *ReadOptions) { o.LimitBytes = 1 << 20 }),
		want: "out 1\nerr 1\nlong line\nerr 2\n",
	}, {
		name: "lines not in the CRI format pass through",
		file: "plain text\n" + cri(0, "stdout", "F", "cri") + "2024-05-01T10:00:00Z stdin F x\nnot-a-time stdout F y\n",
		opts: all,
		want: "plain text\ncri\n2024-05-01T10:00:00Z stdin F x\nnot-a-time stdout F y\n",
	}, {
		name: "lines not in the CRI format get no timestamp and pass since",
		file: "plain\n" + cri(0, "stdout", "F", "old") + cri(5, "stdout", "F", "new"),
		opts: with(func(o *ReadOptions) { o.Timestamps = true; o.SinceTime = t0.Add(time.Second) }),
		want: "plain\n" + ts(5) + "new\n",
	}, {
		name: "a line longer than the read buffer passes through whole",
		file: strings.Repeat("r", 200000) + "\n" + cri(0, "stdout", "F", "after"),
		opts: all,
		want: strings.Repeat("r", 200000) + "\nafter\n",
	}, {
		name: "tail counts lines not in the CRI format",
		file: cri(0, "stdout", "F", "a") + "raw 1\n" + "raw 2\n",
		opts: with(func(o *ReadOptions) { o.TailLines = 2 }),
		want: "raw 1\nraw 2\n",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "0.log")
			if err := os.WriteFile(path, []byte(tt.file), 0o640); err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			if err := Read(context.Background(), path, tt.opts, &out); err != nil {
				t.Fatal(err)
			}
			if out.String() != tt.want {
				t.Errorf("output:\n%q\nwant:\n%q", out.String(), tt.want)
			}
		})
	}
}

// TestReadWritten reads back what the writer wrote: the bytes a container wrote come back
// exactly, long lines and all, whatever pieces they were written in.
func TestReadWritten(t *testing.T) {
	long := strings.Repeat("0123456789", 5000) // 50,000 bytes: four chunks
	tests := []struct {
		name   string
		writes []write
		want   string
	}{{
		name:   "long lines come back whole",
		writes: []write{{Stdout, "a\n" + long + "\nb\n"}},
		want:   "a\n" + long + "\nb\n",
	}, {
		name:   "long lines written a byte short of the chunk size at a time",
		writes: splitWrites(Stdout, long+"\n"+long+"\n", maxLineSize-1),
		want:   long + "\n" + long + "\n",
	}, {
		name:   "output ending without a newline comes back without one",
		writes: []write{{Stdout, "x\n" + long}},
		want:   "x\n" + long,
	}, {
		name:   "crlf comes back as a newline",
		writes: []write{{Stderr, "dos\r\n"}},
		want:   "dos\n",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "0.log")
			f, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.writes {
				if _, err := f.Stream(w.stream).Write([]byte(w.data)); err != nil {
					t.Fatal(err)
				}
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			if err := Read(context.Background(), path, all, &out); err != nil {
				t.Fatal(err)
			}
			if out.String() != tt.want {
				t.Errorf("output of %d bytes differs from the %d written", out.Len(), len(tt.want))
			}
		})
	}
}

func splitWrites(stream, data string, n int) []write {
	var ws []write
	for len(data) > 0 {
		k := min(n, len(data))
		ws = append(ws, write{stream, data[:k]})
		data = data[k:]
	}
	return ws
}

// TestReadTailBlocks checks tail against the whole output for every count of lines, with
// blocks small enough that lines and headers straddle them.
func TestReadTailBlocks(t *testing.T) {
	var file strings.Builder
	for i := range 40 {
		switch i % 5 {
		case 0:
			file.WriteString(cri(i, "stdout", "F", fmt.Sprintf("line %d", i)))
		case 1:
			file.WriteString(cri(i, "stderr", "P", fmt.Sprintf("long %d ", i)))
			file.WriteString(cri(i, "stderr", "P", strings.Repeat("y", 3*i)))
			file.WriteString(cri(i, "stderr", "F", " end"))
		case 2:
			file.WriteString(cri(i, "stdout", "F", ""))
		case 3:
			file.WriteString(fmt.Sprintf("raw %d %s\n", i, strings.Repeat("r", 200)))
		case 4:
			file.WriteString(cri(i, "stdout", "F", strings.Repeat("z", i*7)))
		}
	}
	path := filepath.Join(t.TempDir(), "0.log")
	if err := os.WriteFile(path, []byte(file.String()), 0o640); err != nil {
		t.Fatal(err)
	}
	var whole bytes.Buffer
	if err := Read(context.Background(), path, all, &whole); err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(whole.String(), "\n")
	lines = lines[:len(lines)-1] // after the last newline: ""
	if len(lines) != 40 {
		t.Fatalf("whole output has %d lines, want 40", len(lines))
	}

	defer func(old int) { tailBlockSize = old }(tailBlockSize)
	for _, block := range []int{1, 7, 64, 100, 1 << 10, 32 << 10} {
		t.Run(fmt.Sprintf("block %d", block), func(t *testing.T) {
			tailBlockSize = block
			for n := 0; n <= len(lines)+2; n++ {
				var out bytes.Buffer
				err := Read(context.Background(), path, with(func(o *ReadOptions) { o.TailLines = int64(n) }), &out)
				if err != nil {
					t.Fatal(err)
				}
				want := strings.Join(lines[max(len(lines)-n, 0):], "")
				if out.String() != want {
					t.Fatalf("tail %d:\n%q\nwant:\n%q", n, out.String(), want)
				}
			}
		})
	}
}

// lowestRead records the lowest offset read from a file.
type lowestRead struct {
	r   io.ReaderAt
	min int64
}

func (l *lowestRead) ReadAt(p []byte, off int64) (int, error) {
	l.min = min(l.min, off)
	return l.r.ReadAt(p, off)
}

// TestTailReadsFromTheEnd checks that a tail reads the blocks holding the last lines and
// not the rest of the file.
func TestTailReadsFromTheEnd(t *testing.T) {
	defer func(old int) { tailBlockSize = old }(tailBlockSize)
	tailBlockSize = 1 << 10
	var file strings.Builder
	for i := range 10000 {
		file.WriteString(cri(i%60, "stdout", "F", fmt.Sprintf("line %05d", i)))
	}
	data := file.String()
	lineLen := int64(len(cri(0, "stdout", "F", "line 00000")))
	tests := []struct {
		name  string
		lines int64
	}{
		{"one line", 1},
		{"a block's worth", 30},
		{"several blocks' worth", 300},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &lowestRead{r: strings.NewReader(data), min: int64(len(data))}
			start, err := tailStart(r, int64(len(data)), tt.lines)
			if err != nil {
				t.Fatal(err)
			}
			if want := int64(len(data)) - tt.lines*lineLen; start != want {
				t.Fatalf("start %d, want %d", start, want)
			}
			// The line before the first one wanted must be seen to end, so reading may
			// go back one line and one block further, no more.
			if bound := start - lineLen - int64(tailBlockSize); r.min < bound {
				t.Errorf("read from offset %d, before %d", r.min, bound)
			}
		})
	}
}

// syncBuffer is the output of a Read running in another goroutine.
type syncBuffer struct {
	mu      sync.Mutex
	b       bytes.Buffer
	flushes int
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) Flush() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.flushes++
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitFor waits until the output is want; the timeout only bounds the wait.
func (s *syncBuffer) waitFor(t *testing.T, want string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for s.String() != want {
		if time.Now().After(deadline) {
			t.Fatalf("output %q, still waiting for %q", s.String(), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// fastPoll makes follows poll often, so the tests wait less.
func fastPoll(t *testing.T) {
	old := pollInterval
	pollInterval = 5 * time.Millisecond
	t.Cleanup(func() { pollInterval = old })
}

// follow runs Read in a goroutine and returns its output and its result.
func follow(ctx context.Context, path string, opts ReadOptions) (*syncBuffer, <-chan error) {
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- Read(ctx, path, opts, out) }()
	return out, done
}

// result waits for Read to return; the timeout only bounds the wait.
func result(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("Read did not return")
		return nil
	}
}

func appendFile(t *testing.T, path, data string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(data); err != nil {
		t.Fatal(err)
	}
}

func TestReadFollow(t *testing.T) {
	fastPoll(t)
	finishedAfter := func(finished *atomic.Bool) func(*ReadOptions) {
		return func(o *ReadOptions) { o.Follow = true; o.Finished = finished.Load }
	}
	tests := []struct {
		name string
		run  func(t *testing.T, path string)
	}{{
		name: "returns once finished and the file is drained",
		run: func(t *testing.T, path string) {
			appendFile(t, path, cri(0, "stdout", "F", "a")+cri(1, "stdout", "P", "b"))
			var finished atomic.Bool
			finished.Store(true)
			out, done := follow(context.Background(), path, with(finishedAfter(&finished)))
			if err := result(t, done); err != nil {
				t.Fatal(err)
			}
			if want := "a\nb"; out.String() != want {
				t.Errorf("output %q, want %q", out.String(), want)
			}
		},
	}, {
		name: "sees lines appended and returns when finished",
		run: func(t *testing.T, path string) {
			appendFile(t, path, cri(0, "stdout", "F", "first"))
			var finished atomic.Bool
			out, done := follow(context.Background(), path, with(finishedAfter(&finished)))
			out.waitFor(t, "first\n")
			appendFile(t, path, cri(1, "stderr", "F", "second"))
			out.waitFor(t, "first\nsecond\n")
			// A line written in two pieces is read once, whole.
			line := cri(2, "stdout", "F", "third")
			appendFile(t, path, line[:15])
			appendFile(t, path, line[15:])
			out.waitFor(t, "first\nsecond\nthird\n")
			// Written just before the container is seen finished: still read.
			appendFile(t, path, cri(3, "stdout", "P", "last"))
			finished.Store(true)
			if err := result(t, done); err != nil {
				t.Fatal(err)
			}
			if want := "first\nsecond\nthird\nlast"; out.String() != want {
				t.Errorf("output %q, want %q", out.String(), want)
			}
			out.mu.Lock()
			defer out.mu.Unlock()
			if out.flushes == 0 {
				t.Error("output never flushed while following")
			}
		},
	}, {
		name: "joins a P chunk with a chunk appended later",
		run: func(t *testing.T, path string) {
			appendFile(t, path, cri(0, "stdout", "P", "hel"))
			var finished atomic.Bool
			out, done := follow(context.Background(), path, with(func(o *ReadOptions) {
				finishedAfter(&finished)(o)
				o.Timestamps = true
			}))
			out.waitFor(t, ts(0)+"hel")
			appendFile(t, path, cri(1, "stdout", "F", "lo")+cri(2, "stdout", "F", "next"))
			finished.Store(true)
			if err := result(t, done); err != nil {
				t.Fatal(err)
			}
			if want := ts(0) + "hello\n" + ts(2) + "next\n"; out.String() != want {
				t.Errorf("output %q, want %q", out.String(), want)
			}
		},
	}, {
		name: "tail 0 shows only lines written from then on",
		run: func(t *testing.T, path string) {
			appendFile(t, path, cri(0, "stdout", "F", "old"))
			var finished atomic.Bool
			out, done := follow(context.Background(), path, with(func(o *ReadOptions) {
				finishedAfter(&finished)(o)
				o.TailLines = 0
			}))
			// Read may find the end of the file before or after any of these lines, so
			// write until one shows: the output must be a run of them up to the last.
			var written []string
			deadline := time.Now().Add(30 * time.Second)
			for i := 0; out.String() == ""; i++ {
				if time.Now().After(deadline) {
					t.Fatal("no line written after the start showed")
				}
				appendFile(t, path, cri(1, "stdout", "F", fmt.Sprintf("new %d", i)))
				written = append(written, fmt.Sprintf("new %d\n", i))
				time.Sleep(5 * time.Millisecond)
			}
			finished.Store(true)
			if err := result(t, done); err != nil {
				t.Fatal(err)
			}
			got := out.String()
			if strings.Contains(got, "old") {
				t.Errorf("output %q holds a line from before the start", got)
			}
			if !strings.HasSuffix(strings.Join(written, ""), got) || !strings.HasPrefix(got, "new ") {
				t.Errorf("output %q is not the last lines of %q", got, written)
			}
		},
	}, {
		name: "waits for the file to be created",
		run: func(t *testing.T, path string) {
			var finished atomic.Bool
			out, done := follow(context.Background(), path, with(finishedAfter(&finished)))
			appendFile(t, path, cri(0, "stdout", "F", "born"))
			out.waitFor(t, "born\n")
			finished.Store(true)
			if err := result(t, done); err != nil {
				t.Fatal(err)
			}
		},
	}, {
		name: "a file never created once finished is not found",
		run: func(t *testing.T, path string) {
			var finished atomic.Bool
			finished.Store(true)
			_, done := follow(context.Background(), path, with(finishedAfter(&finished)))
			if err := result(t, done); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("Read: %v, want fs.ErrNotExist", err)
			}
		},
	}, {
		name: "ends with the context",
		run: func(t *testing.T, path string) {
			appendFile(t, path, cri(0, "stdout", "F", "a"))
			ctx, cancel := context.WithCancel(context.Background())
			out, done := follow(ctx, path, with(func(o *ReadOptions) { o.Follow = true }))
			out.waitFor(t, "a\n")
			cancel()
			if err := result(t, done); !errors.Is(err, context.Canceled) {
				t.Errorf("Read: %v, want context.Canceled", err)
			}
		},
	}, {
		name: "ends with the context while waiting for the file",
		run: func(t *testing.T, path string) {
			ctx, cancel := context.WithCancel(context.Background())
			_, done := follow(ctx, path, with(func(o *ReadOptions) { o.Follow = true }))
			cancel()
			if err := result(t, done); !errors.Is(err, context.Canceled) {
				t.Errorf("Read: %v, want context.Canceled", err)
			}
		},
	}, {
		name: "returns once limit bytes is reached",
		run: func(t *testing.T, path string) {
			appendFile(t, path, cri(0, "stdout", "F", "abc"))
			out, done := follow(context.Background(), path, with(func(o *ReadOptions) {
				o.Follow = true
				o.LimitBytes = 6
			}))
			out.waitFor(t, "abc\n")
			appendFile(t, path, cri(1, "stdout", "F", "defgh"))
			if err := result(t, done); err != nil {
				t.Fatal(err)
			}
			if want := "abc\nde"; out.String() != want {
				t.Errorf("output %q, want %q", out.String(), want)
			}
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.run(t, filepath.Join(t.TempDir(), "0.log")) })
	}
}

func TestReadErrors(t *testing.T) {
	tests := []struct {
		name      string
		file      string // "": no file
		cancelled bool
		want      error
	}{{
		name: "a missing file is not found",
		want: fs.ErrNotExist,
	}, {
		name:      "a cancelled context stops a read",
		file:      cri(0, "stdout", "F", "a"),
		cancelled: true,
		want:      context.Canceled,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "0.log")
			if tt.file != "" {
				if err := os.WriteFile(path, []byte(tt.file), 0o640); err != nil {
					t.Fatal(err)
				}
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tt.cancelled {
				cancel()
			}
			var out bytes.Buffer
			err := Read(ctx, path, all, &out)
			if !errors.Is(err, tt.want) {
				t.Errorf("Read: %v, want %v", err, tt.want)
			}
			if out.Len() != 0 {
				t.Errorf("output %q, want none", out.String())
			}
		})
	}
}

// errWriter fails every write.
type errWriter struct{}

func (errWriter) Write([]byte) (int, error) { return 0, errors.New("client gone") }

func TestReadWriteError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "0.log")
	if err := os.WriteFile(path, []byte(cri(0, "stdout", "F", "a")), 0o640); err != nil {
		t.Fatal(err)
	}
	err := Read(context.Background(), path, all, errWriter{})
	if err == nil || !strings.Contains(err.Error(), "client gone") {
		t.Errorf("Read: %v, want the writer's error", err)
	}
}
