//go:build unix

package logs

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// loggerEnv makes the test binary a binary logger writing to the file it names, the way
// the tug binary's logger subcommand runs it under containerd's shim.
const loggerEnv = "TUG_LOGS_TEST_LOGGER"

func TestMain(m *testing.M) {
	if path := os.Getenv(loggerEnv); path != "" {
		// Short enough for the test that stops a logger, long enough that what is in
		// the pipes is copied however slow the machine.
		stopGrace = time.Second
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
		err := RunBinaryLogger(ctx, path)
		stop()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// logger is a logger process started as containerd's shim starts one.
type logger struct {
	cmd            *exec.Cmd
	stdout, stderr *os.File // the container's ends of the pipes
	errOut         bytes.Buffer
}

// startLogger starts the test binary as a logger for path, with the container's stdout
// and stderr pipes as descriptors 3 and 4 and the ready pipe as 5 (containerd 1.7,
// pkg/process.NewBinaryIO), and waits until it reports ready.
func startLogger(t *testing.T, path string) *logger {
	t.Helper()
	pipe := func() (*os.File, *os.File) {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		return r, w
	}
	outR, outW := pipe()
	errR, errW := pipe()
	readyR, readyW := pipe()
	l := &logger{stdout: outW, stderr: errW}
	l.cmd = exec.Command(os.Args[0])
	l.cmd.Env = append(os.Environ(), loggerEnv+"="+path, "CONTAINER_ID=c1", "CONTAINER_NAMESPACE=k8s.io")
	l.cmd.ExtraFiles = []*os.File{outR, errR, readyW}
	l.cmd.Stderr = &l.errOut
	if err := l.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		outW.Close()
		errW.Close()
		if l.cmd.ProcessState == nil {
			l.cmd.Process.Kill()
			l.cmd.Wait()
		}
	})
	// The logger holds its ends now; the shim closes its own.
	outR.Close()
	errR.Close()
	readyW.Close()
	defer readyR.Close()
	// The shim reads one byte and takes EOF as ready; the deadline only bounds the wait.
	readyR.SetReadDeadline(time.Now().Add(30 * time.Second))
	if n, err := readyR.Read(make([]byte, 1)); n != 0 || !errors.Is(err, io.EOF) {
		t.Fatalf("waiting for ready: read %d bytes, %v", n, err)
	}
	return l
}

// wait waits for the logger to exit; the timeout only bounds the wait.
func (l *logger) wait(t *testing.T) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- l.cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("logger did not exit")
		return nil
	}
}

// streams reads a log file back as each stream's chunks, "F:content" or "P:content", in
// order, checking every line is in the CRI format.
func streams(t *testing.T, path string) map[string][]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		c, ok := parseChunk([]byte(line))
		if !ok {
			t.Fatalf("line %q is not in the CRI format", line)
		}
		tag := "F:"
		if c.partial {
			tag = "P:"
		}
		stream := strings.Fields(line)[1]
		got[stream] = append(got[stream], tag+string(c.content))
	}
	return got
}

func TestRunBinaryLogger(t *testing.T) {
	tests := []struct {
		name string
		run  func(t *testing.T, path string)
	}{{
		name: "copies both streams until both end",
		run: func(t *testing.T, path string) {
			l := startLogger(t, path)
			if _, err := os.Stat(path); err != nil {
				t.Errorf("log file missing once the logger is ready: %v", err)
			}
			for _, w := range []struct {
				f    *os.File
				data string
			}{
				{l.stdout, "one\n"}, {l.stderr, "oops\n"}, {l.stdout, "two\nthr"},
				{l.stdout, "ee\nno newline"}, {l.stderr, "bye\n"},
			} {
				if _, err := w.f.WriteString(w.data); err != nil {
					t.Fatal(err)
				}
			}
			l.stdout.Close()
			l.stderr.Close()
			if err := l.wait(t); err != nil {
				t.Fatalf("logger: %v, stderr %q", err, l.errOut.String())
			}
			want := map[string][]string{
				Stdout: {"F:one", "F:two", "F:three", "P:no newline"},
				Stderr: {"F:oops", "F:bye"},
			}
			if got := streams(t, path); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("file holds %q, want %q", got, want)
			}
		},
	}, {
		name: "goes on until the second stream ends",
		run: func(t *testing.T, path string) {
			l := startLogger(t, path)
			l.stdout.WriteString("out\n")
			l.stdout.Close()
			l.stderr.WriteString("late")
			l.stderr.WriteString(" err\n")
			l.stderr.Close()
			if err := l.wait(t); err != nil {
				t.Fatalf("logger: %v, stderr %q", err, l.errOut.String())
			}
			want := map[string][]string{Stdout: {"F:out"}, Stderr: {"F:late err"}}
			if got := streams(t, path); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("file holds %q, want %q", got, want)
			}
		},
	}, {
		name: "on SIGTERM copies what is in the pipes and stops though a writer lives on",
		run: func(t *testing.T, path string) {
			l := startLogger(t, path)
			// Still open afterwards, as a daemon that inherited the container's
			// stdout would hold it.
			if _, err := l.stdout.WriteString("before the end\n"); err != nil {
				t.Fatal(err)
			}
			l.stderr.Close()
			if err := l.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			err := l.wait(t)
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 1 {
				t.Errorf("logger: %v, want exit status 1 for a stream cut short", err)
			}
			if !strings.Contains(l.errOut.String(), "stopped before the stream ended") {
				t.Errorf("logger's error %q does not say the stream was cut short", l.errOut.String())
			}
			want := map[string][]string{Stdout: {"F:before the end"}}
			if got := streams(t, path); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("file holds %q, want %q", got, want)
			}
		},
	}, {
		name: "a log file that cannot be opened fails the logger",
		run: func(t *testing.T, path string) {
			if err := os.WriteFile(filepath.Dir(path)+"/blocker", nil, 0o644); err != nil {
				t.Fatal(err)
			}
			l := startLogger(t, filepath.Dir(path)+"/blocker/0.log")
			if err := l.wait(t); err == nil {
				t.Error("logger succeeded without a log file")
			}
			if !strings.Contains(l.errOut.String(), "create log directory") {
				t.Errorf("logger's error %q does not name the directory", l.errOut.String())
			}
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.run(t, filepath.Join(t.TempDir(), "0.log")) })
	}
}

func TestRunBinaryLoggerWithoutShim(t *testing.T) {
	// Run in a child: there, descriptors 3 to 5 are closed, as in any process the shim did
	// not start; in this process they may be the runtime's own.
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), loggerEnv+"="+filepath.Join(t.TempDir(), "0.log"))
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	if err := cmd.Run(); err == nil {
		t.Fatal("logger without its descriptors succeeded")
	}
	if !strings.Contains(errOut.String(), "not run by a containerd shim") {
		t.Errorf("logger's error %q does not say what is missing", errOut.String())
	}
}
