//go:build !wasip1

package main

import (
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFetchHTTPAndUDP(t *testing.T) {
	t.Setenv("HOSTNAME", "web-1")
	srv := httptest.NewServer(handler(os.Stderr))
	defer srv.Close()
	// A free UDP port for the echo (it lives until the test binary exits).
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strings.TrimPrefix(pc.LocalAddr().String(), "127.0.0.1:")
	pc.Close()
	if err := serveUDP(port); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out")
	t.Setenv("OUT_FILE", out)
	udp := "udp://127.0.0.1:" + port
	if code := fetch([]string{"2", srv.URL + "/", udp, "http://127.0.0.1:1/"}); code != 0 {
		t.Fatalf("fetch exited %d", code)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 7 || lines[6] != "done" {
		t.Fatalf("want 6 answers and done, got:\n%s", b)
	}
	for i, want := range []string{srv.URL + "/ hello from web-1", udp + " web-1 ping", "http://127.0.0.1:1/ error: "} {
		if !strings.HasPrefix(lines[i], want) || !strings.HasPrefix(lines[i+3], want) {
			t.Errorf("answer %d = %q and %q, want %q…", i, lines[i], lines[i+3], want)
		}
	}
	if code := fetch([]string{"x", srv.URL}); code != 2 {
		t.Errorf("a bad count exited %d, want 2", code)
	}
}
