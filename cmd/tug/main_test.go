package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/tugboat-io/tug/cmd/tug/internal/lockfile"
	"github.com/tugboat-io/tug/internal/wasmbuild"
)

// freeAddr returns a loopback HOST:PORT nobody listens on right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// syncBuffer is a bytes.Buffer safe for a writer goroutine and a reading test.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// proc is one in-process run of the tug command line.
type proc struct {
	t      *testing.T
	cancel context.CancelFunc
	lines  chan string
	stderr *syncBuffer
	done   chan struct{}
	code   int
}

// start runs tug with args until the test stops it.
func start(t *testing.T, args ...string) *proc {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	p := &proc{t: t, cancel: cancel, lines: make(chan string, 100), stderr: &syncBuffer{}, done: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
	}()
	go func() {
		p.code = run(ctx, args, pw, p.stderr)
		pw.Close()
		close(p.done)
	}()
	t.Cleanup(func() { p.stop() })
	return p
}

// waitLine returns the first stdout line containing substr; it fails the test if tug exits
// first.
func (p *proc) waitLine(substr string) string {
	p.t.Helper()
	timeout := time.After(2 * time.Minute)
	for {
		select {
		case line, ok := <-p.lines:
			if !ok {
				p.t.Fatalf("tug exited before printing %q; stderr:\n%s", substr, p.stderr)
			}
			if strings.Contains(line, substr) {
				return line
			}
		case <-timeout:
			p.t.Fatalf("tug did not print %q within 2m; stderr:\n%s", substr, p.stderr)
		}
	}
}

// stop cancels the run (as SIGINT does) and returns its exit code.
func (p *proc) stop() int {
	p.cancel()
	select {
	case <-p.done:
	case <-time.After(2 * time.Minute):
		p.t.Fatalf("tug did not stop within 2m after cancel; stderr:\n%s", p.stderr)
	}
	return p.code
}

// wait returns the exit code of a run that ends by itself.
func (p *proc) wait() int {
	select {
	case <-p.done:
	case <-time.After(2 * time.Minute):
		p.t.Fatalf("tug did not exit within 2m; stderr:\n%s", p.stderr)
	}
	return p.code
}

// TestUpLifecycle runs `tug up` with settings from flags, the environment and a config file,
// checks the kubeconfig it writes and that the API server answers, then stops it as SIGINT
// would and starts it again on the same data dir.
func TestUpLifecycle(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	listen, etcdClient, etcdPeer := freeAddr(t), freeAddr(t), freeAddr(t)
	cfgFile := filepath.Join(t.TempDir(), "tug.yaml")
	if err := os.WriteFile(cfgFile, []byte("etcd-client-listen: "+etcdClient+"\nlisten: 127.0.0.1:1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TUG_CONFIG", cfgFile)                  // file: etcd client port, and a listen the env overrides
	t.Setenv("TUG_LISTEN", listen)                   // env over file
	t.Setenv("TUG_DATA_DIR", "/nonexistent/ignored") // flag over env
	// With the scheduler (make build embeds its module; a test binary has none), so that its
	// start and stop are part of the clean run too.
	module := filepath.Join(t.TempDir(), "defaults.wasm")
	if err := os.WriteFile(module, wasmbuild.Build(t, filepath.Join("..", "..", "plugins", "scheduler"), "./cmd/defaults"), 0o644); err != nil {
		t.Fatal(err)
	}
	// With a node agent on free ports, so that it too starts and stops cleanly: wasm pods only
	// and the userspace proxy on a device of its own, so that the test changes nothing of the
	// machine's that other tests (or a cluster) use — no CNI bridge, no nftables table.
	iface := "tugunit" + strconv.Itoa(os.Getpid()%10000)
	t.Cleanup(func() { _ = exec.Command("ip", "link", "delete", iface).Run() })
	args := []string{"up", "--data-dir", dir, "--etcd-peer-listen", etcdPeer, "--scheduler-module", module,
		"--kubelet-listen", "127.0.0.1:0", "--kubelet-healthz-listen", "-",
		"--container-runtime", "wasm", "--proxy-mode", "userspace", "--proxy-interface", iface, "--cluster-dns-port", "0"}

	var firstCA []byte
	for round := 1; round <= 2; round++ {
		p := start(t, args...)
		line := p.waitLine("tug is up")
		kubeconfig := filepath.Join(dir, "kubeconfig")
		if want := "export KUBECONFIG=" + kubeconfig; !strings.Contains(line, want) {
			t.Errorf("round %d: banner %q lacks %q", round, line, want)
		}
		raw, err := os.ReadFile(kubeconfig)
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if !strings.Contains(string(raw), "server: https://"+listen) {
			t.Errorf("round %d: kubeconfig does not point at https://%s:\n%s", round, listen, raw)
		}
		// The kubeconfig's CA and admin certificate reach the server; the CA stays across
		// restarts, so a kubeconfig copied elsewhere keeps working.
		cfg, err := clientcmd.RESTConfigFromKubeConfig(raw)
		if err != nil {
			t.Fatalf("round %d: kubeconfig: %v", round, err)
		}
		if round == 1 {
			firstCA = cfg.TLSClientConfig.CAData
		} else if !bytes.Equal(firstCA, cfg.TLSClientConfig.CAData) {
			t.Errorf("round %d: the cluster CA changed across a restart", round)
		}
		client, err := rest.HTTPClientFor(cfg)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := client.Get("https://" + listen + "/version")
		if err != nil {
			t.Fatalf("round %d: GET /version: %v", round, err)
		}
		var v struct{ GitVersion string }
		err = json.NewDecoder(resp.Body).Decode(&v)
		resp.Body.Close()
		if err != nil || v.GitVersion == "" {
			t.Errorf("round %d: /version = %+v, %v", round, v, err)
		}
		anon := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: certPool(t, firstCA), MinVersion: tls.VersionTLS12}}}
		if resp, err := anon.Get("https://" + listen + "/version"); err != nil || resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("round %d: /version without credentials = %v, %v; want 401", round, resp, err)
		} else {
			resp.Body.Close()
		}
		if c, err := net.Dial("tcp", etcdClient); err != nil {
			t.Errorf("round %d: embedded etcd not on %s from the config file: %v", round, etcdClient, err)
		} else {
			c.Close()
		}

		if code := p.stop(); code != 0 {
			t.Fatalf("round %d: exit code after cancel = %d, want 0; stderr:\n%s", round, code, p.stderr)
		}
		if strings.Contains(p.stderr.String(), "level=ERROR") {
			t.Errorf("round %d: errors logged during a clean run:\n%s", round, p.stderr)
		}
		if _, err := net.Dial("tcp", listen); err == nil {
			t.Errorf("round %d: API server still listening after stop", round)
		}
		if l, err := lockfile.Acquire(dir); err != nil {
			t.Errorf("round %d: data dir still locked after stop: %v", round, err)
		} else {
			l.Release()
		}
	}
}

// TestUpRefusesLockedDataDir: a second tug on a data dir fails at once, naming the holder.
func TestUpRefusesLockedDataDir(t *testing.T) {
	dir := t.TempDir()
	l, err := lockfile.Acquire(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	for _, sub := range []string{"up", "etcd"} {
		p := start(t, sub, "--data-dir", dir)
		if code := p.wait(); code != 1 {
			t.Errorf("tug %s on a locked data dir: exit code %d, want 1", sub, code)
		}
		want := "data dir " + dir + " is in use by another tug process (pid " + strconv.Itoa(os.Getpid()) + ")"
		if !strings.Contains(p.stderr.String(), want) {
			t.Errorf("tug %s stderr = %q, want it to contain %q", sub, p.stderr, want)
		}
	}
}

// TestServerWithEtcdMembers runs a one-member `tug etcd` and two `tug server`s against it.
func TestServerWithEtcdMembers(t *testing.T) {
	etcdClient := freeAddr(t)
	e := start(t, "etcd", "--name", "e1", "--data-dir", t.TempDir(), "--client-listen", etcdClient, "--peer-listen", freeAddr(t))
	e.waitLine("etcd member e1 is ready: clients use http://" + etcdClient)

	// The servers share the cluster CA through etcd: the first makes it, the second adopts it.
	var servers []*proc
	var ca []byte
	for i := 0; i < 2; i++ {
		listen, dir := freeAddr(t), t.TempDir()
		s := start(t, "server", "--data-dir", dir, "--listen", listen, "--etcd-endpoints", etcdClient)
		s.waitLine("tug server is up")
		mine, err := os.ReadFile(filepath.Join(dir, "pki", "ca.crt"))
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			ca = mine
		} else if !bytes.Equal(ca, mine) {
			t.Errorf("server %d has a CA of its own", i)
		}
		client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: certPool(t, ca), MinVersion: tls.VersionTLS12}}}
		resp, err := client.Get("https://" + listen + "/readyz")
		if err != nil {
			t.Fatalf("server %d: GET /readyz: %v", i, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("server %d: /readyz = %s", i, resp.Status)
		}
		servers = append(servers, s)
	}
	for i, s := range servers {
		if code := s.stop(); code != 0 {
			t.Errorf("server %d: exit code %d; stderr:\n%s", i, code, s.stderr)
		}
	}
	if code := e.stop(); code != 0 {
		t.Errorf("etcd: exit code %d; stderr:\n%s", code, e.stderr)
	}
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"server without etcd", []string{"server", "--data-dir", "DIR"}, "--etcd-endpoints (TUG_ETCD_ENDPOINTS) is required"},
		{"bad log level", []string{"version", "--log-level", "loud"}, `--log-level "loud"`},
		{"unknown flag", []string{"up", "--bogus"}, "unknown flag: --bogus"},
		{"half a client cert", []string{"server", "--etcd-endpoints", "127.0.0.1:1", "--etcd-certfile", "c.pem"}, "must be given together"},
		{"missing config file", []string{"version", "--config", "DIR/missing.yaml"}, "read config file"},
		{"etcd listen URL", []string{"etcd", "--data-dir", "DIR", "--client-listen", "http://127.0.0.1:1"}, "not a URL"},
		{"bad cluster DNS address", []string{"node", "--data-dir", "DIR", "--server", "http://127.0.0.1:1", "--cluster-dns", "10.96.0.10,bogus"}, `--cluster-dns: "bogus" is not an IP address`},
		{"bad cluster domain", []string{"node", "--data-dir", "DIR", "--server", "http://127.0.0.1:1", "--container-runtime", "wasm", "--cluster-domain", "not a domain"}, `cluster domain "not a domain"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			args := make([]string, len(tt.args))
			for i, a := range tt.args {
				args[i] = strings.ReplaceAll(a, "DIR", dir)
			}
			p := start(t, args...)
			if code := p.wait(); code != 1 {
				t.Errorf("exit code %d, want 1", code)
			}
			if !strings.Contains(p.stderr.String(), tt.want) {
				t.Errorf("stderr %q lacks %q", p.stderr, tt.want)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	p := start(t, "version")
	line := p.waitLine("tug ")
	if !strings.Contains(line, "serving Kubernetes API v1.") {
		t.Errorf("version line %q", line)
	}
	if code := p.wait(); code != 0 {
		t.Errorf("exit code %d", code)
	}
}

// TestCanceledAtDebug: client-go's error records about a cancelled request are logged at debug;
// other errors stay errors.
func TestCanceledAtDebug(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(canceledAtDebug{slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})})
	log.Error("Error initially creating lease lock", "err", fmt.Errorf("Post %q: %w", "http://x", context.Canceled))
	log.Error("real trouble", "err", errors.New("connection refused"))
	out := buf.String()
	if !strings.Contains(out, `level=DEBUG msg="Error initially creating lease lock" err=`) {
		t.Errorf("cancelled request not at debug, or its error lost:\n%s", out)
	}
	if !strings.Contains(out, `level=ERROR msg="real trouble"`) {
		t.Errorf("a real error was demoted:\n%s", out)
	}
}

// certPool is a pool of the PEM certificates.
func certPool(t *testing.T, pem []byte) *x509.CertPool {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatal("no certificate in the CA PEM")
	}
	return pool
}
