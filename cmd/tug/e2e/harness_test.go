package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/tugboat-io/tug/core/kubelet"
)

// The kubectl binaries the tests drive; every kubectl scenario runs once per version.
const kubectlDir = "/usr/lib/google-cloud-sdk/bin"

var kubectlVersions = []string{"1.27", "1.33"}

const (
	// readyTimeout bounds how long a started tug may take to answer /readyz with 200.
	readyTimeout = 60 * time.Second
	// stopTimeout bounds a clean stop after SIGTERM.
	stopTimeout = 60 * time.Second
	// commandTimeout bounds one kubectl invocation.
	commandTimeout = 2 * time.Minute
	// eventually is the deadline for conditions that become true asynchronously (watch events).
	eventually = 60 * time.Second
)

// tugBin is the tug binary TestMain builds once for every test.
var tugBin string

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	tmp, err := os.MkdirTemp("", "tug-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(tmp)
	if err := buildTug(tmp); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: build tug:", err)
		return 1
	}
	code := m.Run()
	stopShared()
	return code
}

// buildTug builds ./cmd/tug of the enclosing module into dir/tug, with the log driver embedded.
func buildTug(dir string) error {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return errors.New("go env GOMOD: not inside a module")
	}
	root := filepath.Dir(gomod)
	// The log driver goes where tug embeds it from, as make build puts it, so that the node
	// tests run the driver a built tug ships.
	driver := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", "cmd/tug/internal/logdriver/bin/tug-log-driver", "./cmd/tug-log-driver")
	driver.Dir = root
	if out, err := driver.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/tug-log-driver in %s: %w\n%s", root, err, out)
	}
	bin := filepath.Join(dir, "tug")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/tug")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build -o %s ./cmd/tug in %s: %w\n%s", bin, root, err, out)
	}
	tugBin = bin
	return nil
}

// Ports.

var (
	portsMu   sync.Mutex
	usedPorts = map[string]bool{} // addresses handed out in this process, never handed out twice
	dirPorts  = map[string]upPorts{}
)

// freeAddr returns a loopback HOST:PORT nobody listens on now and that this process has not
// handed out before.
func freeAddr(t testing.TB) string {
	t.Helper()
	portsMu.Lock()
	defer portsMu.Unlock()
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("find a free port: %v", err)
		}
		addr := l.Addr().String()
		l.Close()
		if !usedPorts[addr] {
			usedPorts[addr] = true
			return addr
		}
	}
	t.Fatal("find a free port: 100 tries gave only ports already handed out")
	return ""
}

// upPorts are the addresses of one `tug up` data dir, kept so a restart reuses them.
type upPorts struct{ listen, etcdClient, etcdPeer string }

func portsFor(t testing.TB, dataDir string) upPorts {
	t.Helper()
	portsMu.Lock()
	p, ok := dirPorts[dataDir]
	portsMu.Unlock()
	if ok {
		return p
	}
	p = upPorts{listen: freeAddr(t), etcdClient: freeAddr(t), etcdPeer: freeAddr(t)}
	portsMu.Lock()
	dirPorts[dataDir] = p
	portsMu.Unlock()
	return p
}

// Processes.

// syncBuffer is a bytes.Buffer safe for a writing process and a reading test.
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

// tail returns the last n bytes of s, marked as cut if it was longer.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…(earlier output cut)…\n" + s[len(s)-n:]
}

// proc is one running tug process.
type proc struct {
	name   string // for messages, e.g. "tug up (data dir /tmp/x)"
	cmd    *exec.Cmd
	stdout *syncBuffer
	stderr *syncBuffer
	done   chan struct{} // closed when the process has exited
	err    error         // the exit status, valid once done is closed
}

// startProc starts tug with args. Its output is kept and shown when t fails; t's cleanup stops
// it with SIGTERM (and SIGKILL if it does not stop in time).
func startProc(t testing.TB, name string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(tugBin, args...)
	p.cmd.Stdout = p.stdout
	p.cmd.Stderr = p.stderr
	p.cmd.Env = append(os.Environ(), "TUG_CONFIG=") // no config file from the environment
	dieWithParent(p.cmd)
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.stopQuietly()
		// A node's memory-backed volumes stay mounted after it stops (containerd's
		// containers outlive it); the data dir can be removed once they are not.
		for i, a := range args {
			if a == "--data-dir" && i+1 < len(args) {
				if err := kubelet.UnmountMemory(filepath.Join(args[i+1], "kubelet")); err != nil {
					t.Errorf("%s: %v", name, err)
				}
			}
		}
		if t.Failed() {
			t.Logf("%s: %s\nstdout:\n%s\nstderr:\n%s", name, strings.Join(args, " "), tail(p.stdout.String(), 4<<10), tail(p.stderr.String(), 24<<10))
		}
	})
	return p
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// output is the process's output, for failure messages.
func (p *proc) output() string {
	return fmt.Sprintf("%s stdout:\n%s\n%s stderr:\n%s", p.name, tail(p.stdout.String(), 4<<10), p.name, tail(p.stderr.String(), 24<<10))
}

// Stop sends SIGTERM and waits for the process to exit; it fails t if the process does not stop
// within stopTimeout or exits with an error.
func (p *proc) Stop(t testing.TB) {
	t.Helper()
	if p.exited() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(stopTimeout):
		_ = p.cmd.Process.Kill()
		<-p.done
		t.Fatalf("%s did not stop within %s of SIGTERM\n%s", p.name, stopTimeout, p.output())
	}
	if p.err != nil {
		t.Errorf("%s exited with %v after SIGTERM\n%s", p.name, p.err, p.output())
	}
}

// Kill sends SIGKILL and waits for the process to be gone.
func (p *proc) Kill(t testing.TB) {
	t.Helper()
	if p.exited() {
		t.Fatalf("%s exited before it was killed: %v\n%s", p.name, p.err, p.output())
	}
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatalf("kill %s: %v", p.name, err)
	}
	<-p.done
}

// stopQuietly stops the process during cleanup without judging how it stopped.
func (p *proc) stopQuietly() {
	if p.exited() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(stopTimeout):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// Servers.

// server is a running tug API server: `tug up` or `tug server`.
type server struct {
	*proc
	dataDir  string
	listen   string
	cacheDir string // kubectl's discovery cache, private to this server
}

// URL is the API server's base URL: HTTPS, as tug serves by default.
func (s *server) URL() string { return "https://" + s.listen }

// caPool is the cluster CA tug keeps in the data dir (nil until it exists).
func (s *server) caPool() *x509.CertPool {
	pem, err := os.ReadFile(filepath.Join(s.dataDir, "pki", "ca.crt"))
	if err != nil {
		return nil
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	return pool
}

// HTTPClient is a plain net/http client that trusts the cluster CA and presents the admin's
// certificate from the kubeconfig, for requests kubectl and client-go would not send.
func (s *server) HTTPClient(t testing.TB) *http.Client {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", s.Kubeconfig())
	if err != nil {
		t.Fatalf("load kubeconfig %s: %v", s.Kubeconfig(), err)
	}
	c, err := rest.HTTPClientFor(cfg)
	if err != nil {
		t.Fatalf("http client: %v", err)
	}
	return c
}

// kubeletClient trusts the kubelet serving CA tug keeps in the data dir (as the API server
// does when it calls node agents) and presents cert, if any.
func (s *server) kubeletClient(t testing.TB, cert *tls.Certificate) *http.Client {
	t.Helper()
	pem, err := os.ReadFile(filepath.Join(s.dataDir, "pki", "kubelet-serving-ca.crt"))
	if err != nil {
		t.Fatalf("kubelet serving CA: %v", err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	cfg := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}
}

// adminCert is the admin's client certificate from the kubeconfig.
func (s *server) adminCert(t testing.TB) *tls.Certificate {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", s.Kubeconfig())
	if err != nil {
		t.Fatalf("load kubeconfig %s: %v", s.Kubeconfig(), err)
	}
	cert, err := tls.X509KeyPair(cfg.CertData, cfg.KeyData)
	if err != nil {
		t.Fatalf("admin certificate from %s: %v", s.Kubeconfig(), err)
	}
	return &cert
}

// AnonymousClient trusts the cluster CA and presents no credentials.
func (s *server) AnonymousClient() *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: s.caPool(), MinVersion: tls.VersionTLS12}}}
}

// joinArgs are the tug node flags that join this server's cluster with a fresh join token, as
// `tug token create` prints them.
func (s *server) joinArgs(t testing.TB) []string {
	t.Helper()
	out, err := exec.Command(tugBin, "token", "create", "--kubeconfig", s.Kubeconfig(), "--ttl", "1h").CombinedOutput()
	if err != nil {
		t.Fatalf("tug token create: %v\n%s", err, out)
	}
	f := strings.Fields(strings.TrimSpace(string(out)))
	if len(f) != 8 || f[0] != "tug" || f[1] != "node" || f[2] != "--server" || f[4] != "--token" || f[6] != "--ca-cert-hash" {
		t.Fatalf("tug token create printed %q, want tug node --server URL --token T --ca-cert-hash H", out)
	}
	return f[2:]
}

// Kubeconfig is the kubeconfig tug wrote into its data dir.
func (s *server) Kubeconfig() string { return filepath.Join(s.dataDir, "kubeconfig") }

// startUp runs `tug up` on dataDir with ports kept per data dir (a restart reuses them) and
// returns once it is ready. It runs no node agent unless extra says --node=true (the tests
// that run pods bring their own nodes, simulated or real, with ports of their own).
func startUp(t testing.TB, dataDir string, extra ...string) *server {
	t.Helper()
	ports := portsFor(t, dataDir)
	p := startProc(t, "tug up ("+dataDir+")", append([]string{"up", "--node=false",
		"--data-dir", dataDir,
		"--listen", ports.listen,
		"--etcd-client-listen", ports.etcdClient,
		"--etcd-peer-listen", ports.etcdPeer}, extra...)...)
	s := &server{proc: p, dataDir: dataDir, listen: ports.listen, cacheDir: t.TempDir()}
	s.waitReady(t)
	return s
}

// waitKubectl runs kubectl 1.33 with args until ok accepts its output, failing t after a
// minute with the last output and the server's log.
func (s *server) waitKubectl(t *testing.T, what string, args []string, ok func(string) bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		r := s.kubectl(t, "1.33", args...)
		if r.err == nil && ok(r.stdout) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: last kubectl %v: %s\n%s", what, args, r, s.output())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// startServer runs `tug server` against etcdEndpoints, with the extra flags, and returns
// once it is ready.
func startServer(t testing.TB, dataDir string, etcdEndpoints []string, extra ...string) *server {
	t.Helper()
	listen := freeAddr(t)
	p := startProc(t, "tug server ("+listen+")", append([]string{"server",
		"--etcd-endpoints", strings.Join(etcdEndpoints, ","),
		"--listen", listen,
		"--data-dir", dataDir}, extra...)...)
	s := &server{proc: p, dataDir: dataDir, listen: listen, cacheDir: t.TempDir()}
	s.waitReady(t)
	return s
}

// waitReady waits until GET /readyz answers 200 and the kubeconfig has been written.
func (s *server) waitReady(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(readyTimeout)
	var last string
	for {
		if s.exited() {
			t.Fatalf("%s exited before it was ready: %v\n%s", s.name, s.err, s.output())
		}
		// The CA is written before the server listens, so it exists once readyz answers.
		resp, err := s.AnonymousClient().Get(s.URL() + "/readyz")
		if err != nil {
			last = err.Error()
		} else {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			last = fmt.Sprintf("%d %s", resp.StatusCode, bytes.TrimSpace(body))
			if resp.StatusCode == http.StatusOK {
				if _, err := os.Stat(s.Kubeconfig()); err == nil {
					return
				} else {
					last = "readyz 200 but " + err.Error()
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready within %s: last GET /readyz: %s\n%s", s.name, readyTimeout, last, s.output())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Clientset returns a client-go clientset built from the server's kubeconfig.
func (s *server) Clientset(t testing.TB) *kubernetes.Clientset {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", s.Kubeconfig())
	if err != nil {
		t.Fatalf("load kubeconfig %s: %v", s.Kubeconfig(), err)
	}
	cfg.QPS, cfg.Burst = 500, 1000
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatalf("clientset: %v", err)
	}
	return cs
}

// The shared server: one `tug up` for every test that needs nothing of its own, stopped after
// all tests.
var (
	sharedMu  sync.Mutex
	sharedSrv *server
	sharedErr string
)

// sharedTB lets the shared server outlive the test that happened to start it: its cleanups run
// in stopShared, and failures are reported to the current caller.
type sharedTB struct {
	testing.TB
	cleanups []func()
	failed   bool
}

func (s *sharedTB) Cleanup(f func()) { s.cleanups = append(s.cleanups, f) }
func (s *sharedTB) Failed() bool     { return s.failed }
func (s *sharedTB) Helper() {
	if s.TB != nil {
		s.TB.Helper()
	}
}
func (s *sharedTB) Logf(format string, args ...any) {
	if s.TB != nil {
		s.TB.Logf(format, args...)
		return
	}
	fmt.Fprintf(os.Stderr, format+"\n", args...)
}
func (s *sharedTB) TempDir() string {
	d, err := os.MkdirTemp("", "tug-e2e-shared-")
	if err != nil {
		s.Fatalf("temp dir: %v", err)
	}
	s.cleanups = append(s.cleanups, func() { os.RemoveAll(d) })
	return d
}

var sharedHolder *sharedTB

// shared returns the shared `tug up`, starting it on first use. When t fails, t's log shows the
// server's output.
func shared(t *testing.T) *server {
	t.Helper()
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if sharedErr != "" {
		t.Fatalf("shared tug up failed to start earlier: %s", sharedErr)
	}
	if sharedSrv == nil {
		holder := &sharedTB{TB: t}
		sharedHolder = holder
		starter := t.Name()
		func() {
			ok := false
			defer func() {
				// t.Fatal in startUp leaves through here too; t must not be used after it ends.
				holder.TB = nil
				if !ok {
					sharedErr = "see the log of " + starter
					holder.failed = true
				}
			}()
			sharedSrv = startUp(holder, holder.TempDir())
			ok = true
		}()
	}
	srv := sharedSrv
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("shared %s\n%s", srv.name, srv.output())
		}
	})
	return srv
}

// stopShared stops the shared server after all tests.
func stopShared() {
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if sharedHolder == nil {
		return
	}
	for i := len(sharedHolder.cleanups) - 1; i >= 0; i-- {
		sharedHolder.cleanups[i]()
	}
}

// kubectl.

// kubectlResult is what one kubectl run printed.
type kubectlResult struct {
	args           []string
	stdout, stderr string
	err            error
}

func (r kubectlResult) String() string {
	return fmt.Sprintf("kubectl %s: err=%v\nstdout:\n%s\nstderr:\n%s", strings.Join(r.args, " "), r.err, r.stdout, r.stderr)
}

// kubectl runs kubectl of version (e.g. "1.33") against s.
func (s *server) kubectl(t testing.TB, version string, args ...string) kubectlResult {
	t.Helper()
	return s.kubectlIn(t, version, "", args...)
}

// kubectlIn runs kubectl with stdin.
func (s *server) kubectlIn(t testing.TB, version, stdin string, args ...string) kubectlResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	cmd := s.kubectlCmd(ctx, version, args...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("timed out after %s: %w", commandTimeout, err)
	}
	return kubectlResult{args: args, stdout: stdout.String(), stderr: stderr.String(), err: err}
}

// mustKubectl runs kubectl and fails t if it fails; it returns stdout.
func (s *server) mustKubectl(t testing.TB, version string, args ...string) string {
	t.Helper()
	r := s.kubectl(t, version, args...)
	if r.err != nil {
		t.Fatalf("%s", r)
	}
	return r.stdout
}

func (s *server) kubectlCmd(ctx context.Context, version string, args ...string) *exec.Cmd {
	bin := filepath.Join(kubectlDir, "kubectl."+version)
	full := append([]string{"--kubeconfig", s.Kubeconfig(), "--cache-dir", s.cacheDir}, args...)
	cmd := exec.CommandContext(ctx, bin, full...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+s.Kubeconfig(), "HOME="+s.cacheDir)
	dieWithParent(cmd)
	return cmd
}

// lineWatcher is a background kubectl whose stdout lines are collected.
type lineWatcher struct {
	cmd    *exec.Cmd
	cancel context.CancelFunc
	stderr *syncBuffer
	mu     sync.Mutex
	lines  []string
	done   chan struct{}
}

// kubectlBackground starts kubectl in the background; t's cleanup stops it.
func (s *server) kubectlBackground(t testing.TB, version string, args ...string) *lineWatcher {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w := &lineWatcher{cancel: cancel, stderr: &syncBuffer{}, done: make(chan struct{})}
	w.cmd = s.kubectlCmd(ctx, version, args...)
	w.cmd.Stderr = w.stderr
	out, err := w.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := w.cmd.Start(); err != nil {
		t.Fatalf("start kubectl %s: %v", strings.Join(args, " "), err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			w.mu.Lock()
			w.lines = append(w.lines, sc.Text())
			w.mu.Unlock()
		}
		_ = w.cmd.Wait()
		close(w.done)
	}()
	t.Cleanup(func() {
		cancel()
		<-w.done
	})
	return w
}

func (w *lineWatcher) Lines() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.lines...)
}

// waitLine waits until some line satisfies match; it fails t after a deadline or if kubectl
// exits.
func (w *lineWatcher) waitLine(t testing.TB, what string, match func(string) bool) {
	t.Helper()
	w.waitLines(t, what, func(ls []string) bool { return slices.ContainsFunc(ls, match) })
}

// waitLines waits until the lines printed so far satisfy match.
func (w *lineWatcher) waitLines(t testing.TB, what string, match func([]string) bool) {
	t.Helper()
	deadline := time.Now().Add(eventually)
	for {
		exited := false
		select {
		case <-w.done:
			exited = true
		default:
		}
		if match(w.Lines()) {
			return
		}
		if exited {
			t.Fatalf("kubectl %s exited before printing %s; stdout lines %q; stderr:\n%s", strings.Join(w.cmd.Args[1:], " "), what, w.Lines(), w.stderr)
		}
		if time.Now().After(deadline) {
			t.Fatalf("kubectl %s did not print %s within %s; stdout lines %q; stderr:\n%s", strings.Join(w.cmd.Args[1:], " "), what, eventually, w.Lines(), w.stderr)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// poll calls cond until it returns true or timeout passes; it returns the last error cond gave.
func poll(timeout time.Duration, cond func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	var last error
	for {
		ok, err := cond()
		if ok {
			return nil
		}
		if err != nil {
			last = err
		}
		if time.Now().After(deadline) {
			if last == nil {
				last = errors.New("condition not met")
			}
			return fmt.Errorf("after %s: %w", timeout, last)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// rootCA is the ConfigMap the server keeps in every namespace (the cluster CA, for pods'
// token volumes), as kube does: tests that count ConfigMaps leave it out.
const rootCA = "kube-root-ca.crt"

// withoutRootCA drops the root CA ConfigMap from a list.
func withoutRootCA(items []corev1.ConfigMap) []corev1.ConfigMap {
	out := items[:0:0]
	for _, cm := range items {
		if cm.Name != rootCA {
			out = append(out, cm)
		}
	}
	return out
}
