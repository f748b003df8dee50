package logs

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// t0 is the time of the tests' files; each reading of a fakeClock is a second later.
var t0 = time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)

// fakeClock returns t0, t0+1s, t0+2s, … one per call.
func fakeClock() func() time.Time {
	n := 0
	return func() time.Time {
		t := t0.Add(time.Duration(n) * time.Second)
		n++
		return t
	}
}

// cri is one line of a file as the tests expect it, stamped sec seconds after t0.
func cri(sec int, stream, tag, content string) string {
	return fmt.Sprintf("%s %s %s %s\n", t0.Add(time.Duration(sec)*time.Second).Format(time.RFC3339Nano), stream, tag, content)
}

type write struct {
	stream string
	data   string
}

func TestWriter(t *testing.T) {
	k16 := strings.Repeat("x", maxLineSize)
	tests := []struct {
		name   string
		writes []write
		// want is the file after the writes and Close; each write reads the clock once,
		// at second i for the i-th write, and Close reads it last.
		want string
	}{{
		name:   "complete lines are F chunks stamped with the write",
		writes: []write{{Stdout, "one\ntwo\n"}, {Stdout, "three\n"}},
		want:   cri(0, "stdout", "F", "one") + cri(0, "stdout", "F", "two") + cri(1, "stdout", "F", "three"),
	}, {
		name:   "a line written in pieces is one chunk when its newline comes",
		writes: []write{{Stdout, "hel"}, {Stdout, "lo"}, {Stdout, " world\nnext"}, {Stdout, "\n"}},
		want:   cri(2, "stdout", "F", "hello world") + cri(3, "stdout", "F", "next"),
	}, {
		name:   "an empty line is an F chunk with no content",
		writes: []write{{Stderr, "\n\n"}},
		want:   cri(0, "stderr", "F", "") + cri(0, "stderr", "F", ""),
	}, {
		name:   "crlf is stored as a newline, a lone cr is content",
		writes: []write{{Stdout, "a\r\nb\rc\n"}},
		want:   cri(0, "stdout", "F", "a") + cri(0, "stdout", "F", "b\rc"),
	}, {
		name:   "crlf split between writes",
		writes: []write{{Stdout, "a\r"}, {Stdout, "\n"}},
		want:   cri(1, "stdout", "F", "a"),
	}, {
		name:   "a line of exactly 16 KiB is one F chunk",
		writes: []write{{Stdout, k16 + "\n"}},
		want:   cri(0, "stdout", "F", k16),
	}, {
		name:   "a line one byte over 16 KiB is a P chunk and an F chunk",
		writes: []write{{Stdout, k16 + "y\n"}},
		want:   cri(0, "stdout", "P", k16) + cri(0, "stdout", "F", "y"),
	}, {
		name:   "a line over 32 KiB is two P chunks and an F chunk",
		writes: []write{{Stdout, k16 + k16 + "tail\n"}},
		want:   cri(0, "stdout", "P", k16) + cri(0, "stdout", "P", k16) + cri(0, "stdout", "F", "tail"),
	}, {
		name: "a long line arriving in pieces goes out in 16 KiB chunks as they fill",
		writes: []write{
			{Stdout, k16[:10000]}, {Stdout, k16[:10000]}, {Stdout, "end\n"},
		},
		want: cri(1, "stdout", "P", k16) + cri(2, "stdout", "F", k16[:20000-maxLineSize]+"end"),
	}, {
		name:   "a cr after 16 KiB waits for what follows it",
		writes: []write{{Stdout, k16 + "\r"}, {Stdout, "\n"}},
		want:   cri(1, "stdout", "F", k16),
	}, {
		name:   "a cr after 16 KiB followed by more content is content",
		writes: []write{{Stdout, k16 + "\r"}, {Stdout, "z\n"}},
		want:   cri(1, "stdout", "P", k16) + cri(1, "stdout", "F", "\rz"),
	}, {
		name:   "bytes without a newline are a P chunk at close",
		writes: []write{{Stdout, "done\nprompt> "}},
		want:   cri(0, "stdout", "F", "done") + cri(1, "stdout", "P", "prompt> "),
	}, {
		name:   "an unfinished long line is written in P chunks",
		writes: []write{{Stdout, k16 + "abc"}},
		want:   cri(0, "stdout", "P", k16) + cri(1, "stdout", "P", "abc"),
	}, {
		name:   "streams are buffered apart and interleave by line",
		writes: []write{{Stdout, "out "}, {Stderr, "err\n"}, {Stdout, "line\n"}},
		want:   cri(1, "stderr", "F", "err") + cri(2, "stdout", "F", "out line"),
	}, {
		name:   "close ends both streams, stdout first",
		writes: []write{{Stderr, "e"}, {Stdout, "o"}},
		want:   cri(2, "stdout", "P", "o") + cri(2, "stderr", "P", "e"),
	}, {
		name: "nothing written leaves an empty file",
		want: "",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "0.log")
			f, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			f.Now = fakeClock()
			for _, w := range tt.writes {
				n, err := f.Stream(w.stream).Write([]byte(w.data))
				if err != nil || n != len(w.data) {
					t.Fatalf("write %q: %d, %v", w.data, n, err)
				}
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("file:\n%s\nwant:\n%s", clip(string(got)), clip(tt.want))
			}
		})
	}
}

// clip shortens the runs of x in the long-line cases so a failure stays readable.
func clip(s string) string {
	var b strings.Builder
	for len(s) > 0 {
		i := strings.Index(s, "xxxxxxxx")
		if i < 0 {
			b.WriteString(s)
			break
		}
		b.WriteString(s[:i])
		j := i
		for j < len(s) && s[j] == 'x' {
			j++
		}
		fmt.Fprintf(&b, "x×%d", j-i)
		s = s[j:]
	}
	return b.String()
}

func TestOpen(t *testing.T) {
	tests := []struct {
		name string
		run  func(t *testing.T, dir string)
	}{{
		name: "creates the directories of the path",
		run: func(t *testing.T, dir string) {
			path := filepath.Join(dir, "pods", "ns_pod_uid", "app", "0.log")
			f, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(path); err != nil {
				t.Fatal(err)
			}
		},
	}, {
		name: "appends to a file that exists",
		run: func(t *testing.T, dir string) {
			path := filepath.Join(dir, "0.log")
			for _, line := range []string{"first\n", "second\n"} {
				f, err := Open(path)
				if err != nil {
					t.Fatal(err)
				}
				f.Now = fakeClock()
				if _, err := f.Stream(Stdout).Write([]byte(line)); err != nil {
					t.Fatal(err)
				}
				if err := f.Close(); err != nil {
					t.Fatal(err)
				}
			}
			got, _ := os.ReadFile(path)
			if want := cri(0, "stdout", "F", "first") + cri(0, "stdout", "F", "second"); string(got) != want {
				t.Errorf("file:\n%s\nwant:\n%s", got, want)
			}
		},
	}, {
		name: "fails when the directory cannot be made",
		run: func(t *testing.T, dir string) {
			blocker := filepath.Join(dir, "file")
			if err := os.WriteFile(blocker, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := Open(filepath.Join(blocker, "app", "0.log")); err == nil {
				t.Fatal("Open under a regular file succeeded")
			}
		},
	}, {
		name: "writes after close fail with os.ErrClosed",
		run: func(t *testing.T, dir string) {
			f, err := Open(filepath.Join(dir, "0.log"))
			if err != nil {
				t.Fatal(err)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			if _, err := f.Stream(Stderr).Write([]byte("late\n")); !errors.Is(err, os.ErrClosed) {
				t.Errorf("write after close: %v, want os.ErrClosed", err)
			}
			if err := f.Close(); !errors.Is(err, os.ErrClosed) {
				t.Errorf("second close: %v, want os.ErrClosed", err)
			}
		},
	}, {
		name: "a stream other than stdout and stderr panics",
		run: func(t *testing.T, dir string) {
			f, err := Open(filepath.Join(dir, "0.log"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			defer func() {
				if recover() == nil {
					t.Error("Stream(\"stdin\") did not panic")
				}
			}()
			f.Stream("stdin")
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.run(t, t.TempDir()) })
	}
}

// TestWriterConcurrentStreams writes both streams from two goroutines, in pieces that cut
// lines anywhere, and checks that every line of the file is whole and each stream's
// lines are in order (run it with -race too).
func TestWriterConcurrentStreams(t *testing.T) {
	path := filepath.Join(t.TempDir(), "0.log")
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	const lines = 2000
	want := map[string]string{}
	var wg sync.WaitGroup
	for _, name := range []string{Stdout, Stderr} {
		var all strings.Builder
		for i := range lines {
			fmt.Fprintf(&all, "%s line %d %s\n", name, i, strings.Repeat("-", i%50))
		}
		want[name] = all.String()
		data := []byte(all.String())
		wg.Go(func() {
			for i := 0; len(data) > 0; i++ {
				n := min(len(data), 1+i%97)
				if _, err := f.Stream(name).Write(data[:n]); err != nil {
					t.Error(err)
					return
				}
				data = data[n:]
			}
		})
	}
	wg.Wait()
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	got := map[string]*strings.Builder{Stdout: {}, Stderr: {}}
	file, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	sc := bufio.NewScanner(file)
	for sc.Scan() {
		line := sc.Bytes()
		c, ok := parseChunk(line)
		if !ok || c.partial {
			t.Fatalf("line %q: parsed %v, partial %v", line, ok, c.partial)
		}
		stream := line[bytes.IndexByte(line, ' ')+1:][:6]
		got[string(stream)].Write(c.content)
		got[string(stream)].WriteByte('\n')
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	for name, w := range want {
		if got[name].String() != w {
			t.Errorf("%s: the file's lines differ from what was written", name)
		}
	}
}
