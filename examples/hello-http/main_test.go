package main

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// wait bounds a wait for something that should happen; it is generous, never a
// measurement.
const wait = 30 * time.Second

func TestHandler(t *testing.T) {
	dir := t.TempDir()
	unhealthy, notReady := filepath.Join(dir, "unhealthy"), filepath.Join(dir, "notready")
	data := filepath.Join(dir, "data.txt")
	if err := os.WriteFile(data, []byte("volume data\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("UNHEALTHY_FILE", unhealthy)
	t.Setenv("NOTREADY_FILE", notReady)
	t.Setenv("HOSTNAME", "web-0")
	t.Setenv("HELLO_TEST", "yes")

	for _, tc := range []struct {
		name     string
		env      map[string]string
		flags    []string // files to create before the request
		path     string
		wantCode int
		wantBody string // the whole body, or with wantSub a part of it
		wantSub  bool
	}{
		{name: "greeting with pod name", env: map[string]string{"POD_NAME": "web-0-abc"}, path: "/", wantCode: 200, wantBody: "hello from web-0 (web-0-abc)\n"},
		{name: "greeting without pod name", env: map[string]string{"POD_NAME": ""}, path: "/", wantCode: 200, wantBody: "hello from web-0\n"},
		{name: "unknown path", path: "/nope", wantCode: 404},
		{name: "healthy", path: "/healthz", wantCode: 200},
		{name: "unhealthy when the file exists", flags: []string{unhealthy}, path: "/healthz", wantCode: 500},
		{name: "unhealthy file does not touch readiness", flags: []string{unhealthy}, path: "/ready", wantCode: 200},
		{name: "ready", path: "/ready", wantCode: 200},
		{name: "not ready when the file exists", flags: []string{notReady}, path: "/ready", wantCode: 503},
		{name: "not-ready file does not touch health", flags: []string{notReady}, path: "/healthz", wantCode: 200},
		{name: "environment", path: "/env", wantCode: 200, wantBody: "HELLO_TEST=yes\n", wantSub: true},
		{name: "file", path: "/file?path=" + data, wantCode: 200, wantBody: "volume data\n"},
		{name: "missing file", path: "/file?path=" + filepath.Join(dir, "none"), wantCode: 404},
		{name: "file without path", path: "/file", wantCode: 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			for _, f := range tc.flags {
				if err := os.WriteFile(f, nil, 0o644); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { os.Remove(f) })
			}
			var log bytes.Buffer
			rec := httptest.NewRecorder()
			handler(&log).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tc.path, nil))
			body := rec.Body.String()
			if rec.Code != tc.wantCode {
				t.Errorf("GET %s = %d %q, want %d", tc.path, rec.Code, body, tc.wantCode)
			}
			if tc.wantBody != "" && (tc.wantSub && !strings.Contains(body, tc.wantBody) || !tc.wantSub && body != tc.wantBody) {
				t.Errorf("GET %s body %q, want %q", tc.path, body, tc.wantBody)
			}
			if want := "GET " + tc.path + " "; !strings.HasPrefix(log.String(), want) || strings.Count(log.String(), "\n") != 1 {
				t.Errorf("request log %q, want one line starting %q", log.String(), want)
			}
		})
	}
}

// build builds hello-http for goos/goarch into a temporary directory, as a static binary
// (CGO_ENABLED=0), the way its images are built.
func build(t *testing.T, goos, goarch string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds hello-http with the Go toolchain; skipped in -short runs")
	}
	out := filepath.Join(t.TempDir(), "hello-http")
	cmd := exec.Command("go", "build", "-o", out, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+goos, "GOARCH="+goarch)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build for %s/%s: %v\n%s", goos, goarch, err, b)
	}
	return out
}

func TestBuildsAsWasm(t *testing.T) {
	wasm := build(t, "wasip1", "wasm")
	b, err := os.ReadFile(wasm)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte("\x00asm")) {
		t.Errorf("the wasip1 build starts %q, not with the wasm magic number", b[:min(len(b), 8)])
	}
}

// lines collects a process's output lines as they come, so a test can wait for one.
type lines struct {
	ch  chan string
	all []string
}

func watch(r io.Reader) *lines {
	l := &lines{ch: make(chan string, 100)}
	go func() {
		s := bufio.NewScanner(r)
		for s.Scan() {
			l.ch <- s.Text()
		}
		close(l.ch)
	}()
	return l
}

// waitFor returns the first line, from those not yet seen, that starts with prefix.
func (l *lines) waitFor(t *testing.T, prefix string) string {
	t.Helper()
	timeout := time.After(wait)
	for {
		select {
		case line, ok := <-l.ch:
			if !ok {
				t.Fatalf("output ended without a line starting %q; saw %q", prefix, l.all)
			}
			l.all = append(l.all, line)
			if strings.HasPrefix(line, prefix) {
				return line
			}
		case <-timeout:
			t.Fatalf("no line starting %q within %v; saw %q", prefix, wait, l.all)
		}
	}
}

func TestNativeBinary(t *testing.T) {
	bin := build(t, runtime.GOOS, runtime.GOARCH)

	t.Run("serve", func(t *testing.T) {
		dir := t.TempDir()
		unhealthy, notReady := filepath.Join(dir, "unhealthy"), filepath.Join(dir, "notready")
		cmd := exec.Command(bin, "serve")
		cmd.Env = append(os.Environ(), "PORT=0", "HOSTNAME=web-0", "POD_NAME=web-0-abc",
			"UNHEALTHY_FILE="+unhealthy, "NOTREADY_FILE="+notReady)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		out := watch(stdout)
		_, port, err := net.SplitHostPort(strings.TrimPrefix(out.waitFor(t, "listening on "), "listening on "))
		if err != nil {
			t.Fatalf("listening line: %v", err)
		}
		base := "http://127.0.0.1:" + port
		client := &http.Client{Timeout: wait}
		get := func(path string) (int, string) {
			t.Helper()
			resp, err := client.Get(base + path)
			if err != nil {
				t.Fatalf("GET %s: %v", path, err)
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatalf("GET %s: %v", path, err)
			}
			return resp.StatusCode, string(b)
		}

		if code, body := get("/"); code != 200 || body != "hello from web-0 (web-0-abc)\n" {
			t.Errorf("GET / = %d %q", code, body)
		}
		out.waitFor(t, "GET / 200")

		for _, step := range []struct {
			create, remove string
			path           string
			want           int
		}{
			{path: "/healthz", want: 200},
			{path: "/ready", want: 200},
			{create: unhealthy, path: "/healthz", want: 500},
			{remove: unhealthy, path: "/healthz", want: 200},
			{create: notReady, path: "/ready", want: 503},
			{remove: notReady, path: "/ready", want: 200},
		} {
			if step.create != "" {
				if err := os.WriteFile(step.create, nil, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if step.remove != "" {
				if err := os.Remove(step.remove); err != nil {
					t.Fatal(err)
				}
			}
			if code, body := get(step.path); code != step.want {
				t.Errorf("GET %s (created %q, removed %q) = %d %q, want %d", step.path, step.create, step.remove, code, body, step.want)
			}
		}

		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		out.waitFor(t, "stopping")
		if err := cmd.Wait(); err != nil {
			t.Errorf("after SIGTERM: %v, want exit code 0", err)
		}
	})

	t.Run("exit 3", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		cmd := exec.Command(bin, "exit", "3")
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 3 {
			t.Errorf("exit 3 ended with %v, want exit code 3", err)
		}
		if stdout.String() != "exiting with code 3\n" || stderr.String() != "exit 3 requested\n" {
			t.Errorf("exit 3 printed %q to stdout and %q to stderr", stdout.String(), stderr.String())
		}
	})

	t.Run("env", func(t *testing.T) {
		cmd := exec.Command(bin, "env", "one")
		cmd.Env = []string{"ZED=2", "ALPHA=1"}
		b, err := cmd.Output()
		if err != nil {
			t.Fatal(err)
		}
		want := "ALPHA=1\nZED=2\narg[0]=" + bin + "\narg[1]=env\narg[2]=one\n"
		if string(b) != want {
			t.Errorf("env printed %q, want %q", b, want)
		}
	})

	t.Run("cat", func(t *testing.T) {
		dir := t.TempDir()
		a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
		if err := errors.Join(os.WriteFile(a, []byte("first\n"), 0o644), os.WriteFile(b, []byte("second\n"), 0o644)); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(bin, "cat", a, b).Output()
		if err != nil || string(out) != "first\nsecond\n" {
			t.Errorf("cat = %q, %v; want both files", out, err)
		}
		var exit *exec.ExitError
		if _, err := exec.Command(bin, "cat", filepath.Join(dir, "none")).Output(); !errors.As(err, &exit) || exit.ExitCode() != 1 {
			t.Errorf("cat of a missing file ended with %v, want exit code 1", err)
		}
	})

	t.Run("sleep until SIGTERM", func(t *testing.T) {
		cmd := exec.Command(bin, "sleep")
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		out := watch(stdout)
		out.waitFor(t, "sleeping")
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		out.waitFor(t, "stopping")
		if err := cmd.Wait(); err != nil {
			t.Errorf("after SIGTERM: %v, want exit code 0", err)
		}
	})
}
