package kubelet

import (
	"context"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/tugboat-io/tug/core/kubelet/container"
)

// nameFilesRuntime is a runtime that mounts name files; nameFiles calls nothing else on it.
type nameFilesRuntime struct{ container.Runtime }

func (nameFilesRuntime) MountsNameFiles() bool { return true }
func (nameFilesRuntime) Handler() string       { return "test" }

// testAgent is an agent with the DNS settings of cfg, a node resolv.conf and hosts file in a
// temporary directory, and events left in its recorder's queue.
func testAgent(t *testing.T, cfg Config) *Agent {
	t.Helper()
	dir := t.TempDir()
	if cfg.ResolvConf == "" {
		cfg.ResolvConf = filepath.Join(dir, "resolv.conf")
		if err := os.WriteFile(cfg.ResolvConf, []byte("nameserver 192.0.2.53\nsearch corp.example\noptions timeout:2\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	hosts := filepath.Join(dir, "hosts")
	if err := os.WriteFile(hosts, []byte("127.0.0.1 localhost\n192.0.2.10 node1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg.RootDir, cfg.NodeIP = filepath.Join(dir, "root"), netip.MustParseAddr("192.0.2.10")
	if cfg.ClusterDomain == "" {
		cfg.ClusterDomain = DefaultClusterDomain
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	return &Agent{cfg: cfg, log: log, nodeHosts: hosts, events: newRecorder(fake.NewSimpleClientset(), "n1", log)}
}

func queuedReasons(a *Agent) []string {
	var out []string
	for {
		select {
		case e := <-a.events.queue:
			out = append(out, e.typ+"/"+e.reason)
		default:
			return out
		}
	}
}

func readString(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestNameFiles(t *testing.T) {
	ctx := context.Background()
	a := testAgent(t, Config{ClusterDNS: []netip.Addr{netip.MustParseAddr("10.96.0.10")}})
	w := &worker{a: a, rt: nameFilesRuntime{}}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-0", Namespace: "ns", UID: "u1"},
		Spec: corev1.PodSpec{Subdomain: "web", HostAliases: []corev1.HostAlias{{IP: "192.0.2.80", Hostnames: []string{"foo.local"}}}}}
	sb := container.Sandbox{PodUID: "u1", IP: netip.MustParseAddr("10.88.0.7")}

	files, err := w.nameFiles(ctx, pod, sb)
	if err != nil {
		t.Fatal(err)
	}
	if dir := a.podDir(pod.UID); filepath.Dir(files.resolvConf) != dir || filepath.Dir(files.hosts) != dir {
		t.Errorf("files %+v are not in the pod's directory %s", files, dir)
	}
	if got, want := readString(t, files.resolvConf), "search ns.svc.cluster.local svc.cluster.local cluster.local corp.example\nnameserver 10.96.0.10\noptions ndots:5\n"; got != want {
		t.Errorf("resolv.conf:\n%s\nwant:\n%s", got, want)
	}
	hosts := readString(t, files.hosts)
	for _, line := range []string{"10.88.0.7\tweb-0.web.ns.svc.cluster.local\tweb-0\n", "192.0.2.80\tfoo.local\n"} {
		if !strings.Contains(hosts, line) {
			t.Errorf("hosts file lacks %q:\n%s", line, hosts)
		}
	}
	if r := queuedReasons(a); len(r) != 0 {
		t.Errorf("events %v for a pod with nothing wrong", r)
	}

	// Once written for the sandbox, the files are not computed again.
	if err := os.WriteFile(a.cfg.ResolvConf, []byte("nameserver 198.51.100.1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	again, err := w.nameFiles(ctx, pod, sb)
	if err != nil || again != files {
		t.Fatalf("second call: %+v, %v", again, err)
	}
	if strings.Contains(readString(t, files.resolvConf), "198.51.100.1") {
		t.Error("the pod's resolv.conf changed within its sandbox")
	}

	// A runtime that does not mount them (wasm) gets no files.
	w2 := &worker{a: a, rt: struct{ container.Runtime }{}}
	pod2 := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "wasm", Namespace: "ns", UID: "u2"}}
	if files, err := w2.nameFiles(ctx, pod2, container.Sandbox{}); err != nil || files != (podFiles{}) {
		t.Errorf("wasm runtime: %+v, %v", files, err)
	}
	if _, err := os.Stat(a.podDir("u2")); !os.IsNotExist(err) {
		t.Errorf("files written for a runtime that does not mount them: %v", err)
	}
}

func TestNameFilesProblems(t *testing.T) {
	ctx := context.Background()

	// No cluster DNS: ClusterFirst falls back to the node's file, with a warning.
	a := testAgent(t, Config{})
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", UID: "u1"}}
	files, err := (&worker{a: a, rt: nameFilesRuntime{}}).nameFiles(ctx, pod, container.Sandbox{IP: netip.MustParseAddr("10.88.0.7")})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := readString(t, files.resolvConf), "search corp.example\nnameserver 192.0.2.53\noptions timeout:2\n"; got != want {
		t.Errorf("resolv.conf:\n%s\nwant:\n%s", got, want)
	}
	if got := queuedReasons(a); strings.Join(got, ",") != "Warning/MissingClusterDNS" {
		t.Errorf("events %v, want one MissingClusterDNS warning", got)
	}

	// An unreadable node resolv.conf and a bad nameserver still give the pod a file with
	// what is valid, and say what is wrong.
	a = testAgent(t, Config{ResolvConf: filepath.Join(t.TempDir(), "missing"), ClusterDNS: []netip.Addr{netip.MustParseAddr("10.96.0.10")}})
	pod = &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", UID: "u1"},
		Spec: corev1.PodSpec{DNSConfig: &corev1.PodDNSConfig{Nameservers: []string{"bogus", "1.1.1.1"}}}}
	files, err = (&worker{a: a, rt: nameFilesRuntime{}}).nameFiles(ctx, pod, container.Sandbox{IP: netip.MustParseAddr("10.88.0.7")})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := readString(t, files.resolvConf), "search ns.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.96.0.10\nnameserver 1.1.1.1\noptions ndots:5\n"; got != want {
		t.Errorf("resolv.conf:\n%s\nwant:\n%s", got, want)
	}
	if got := queuedReasons(a); strings.Join(got, ",") != "Warning/DNSConfigForming,Warning/DNSConfigForming" {
		t.Errorf("events %v, want two DNSConfigForming warnings", got)
	}

	// A hostNetwork pod gets the node's hosts file and, with Default, its resolv.conf.
	a = testAgent(t, Config{})
	pod = &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "h", Namespace: "ns", UID: "u3"}, Spec: corev1.PodSpec{HostNetwork: true}}
	files, err = (&worker{a: a, rt: nameFilesRuntime{}}).nameFiles(ctx, pod, container.Sandbox{IP: netip.MustParseAddr("192.0.2.10")})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := readString(t, files.hosts), readString(t, a.nodeHosts); got != want {
		t.Errorf("hostNetwork hosts file:\n%s\nwant the node's:\n%s", got, want)
	}
	if got, want := readString(t, files.resolvConf), "search corp.example\nnameserver 192.0.2.53\noptions timeout:2\n"; got != want {
		t.Errorf("hostNetwork resolv.conf:\n%s\nwant:\n%s", got, want)
	}
	if got := queuedReasons(a); len(got) != 0 {
		t.Errorf("events %v for a hostNetwork ClusterFirst pod (it is Default, no cluster DNS needed)", got)
	}
}

func TestNewDNSConfig(t *testing.T) {
	base := Config{NodeName: "n", Client: fake.NewSimpleClientset(), Runtimes: []container.Runtime{nameFilesRuntime{}}, NodeIP: netip.MustParseAddr("192.0.2.10")}
	tests := []struct {
		name    string
		edit    func(*Config)
		wantErr bool
		check   func(*testing.T, Config)
	}{
		{name: "defaults", edit: func(*Config) {}, check: func(t *testing.T, c Config) {
			if c.ClusterDomain != "cluster.local" || c.ResolvConf != "/etc/resolv.conf" {
				t.Errorf("domain %q, resolv.conf %q", c.ClusterDomain, c.ResolvConf)
			}
		}},
		{name: "trailing dot", edit: func(c *Config) { c.ClusterDomain = "example.org." }, check: func(t *testing.T, c Config) {
			if c.ClusterDomain != "example.org" {
				t.Errorf("domain %q", c.ClusterDomain)
			}
		}},
		{name: "mapped address", edit: func(c *Config) { c.ClusterDNS = []netip.Addr{netip.MustParseAddr("::ffff:10.96.0.10")} },
			check: func(t *testing.T, c Config) {
				if c.ClusterDNS[0].String() != "10.96.0.10" {
					t.Errorf("cluster DNS %v", c.ClusterDNS)
				}
			}},
		{name: "bad domain", edit: func(c *Config) { c.ClusterDomain = "not a domain" }, wantErr: true},
		{name: "zero address", edit: func(c *Config) { c.ClusterDNS = []netip.Addr{{}} }, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := base
			cfg.RootDir = t.TempDir()
			tt.edit(&cfg)
			a, err := New(cfg)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err %v, want one: %v", err, tt.wantErr)
			}
			if err == nil && tt.check != nil {
				tt.check(t, a.cfg)
			}
		})
	}
}
