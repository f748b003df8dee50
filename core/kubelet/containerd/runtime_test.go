package containerd

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/containerd/containerd"
	"github.com/containerd/containerd/containers"
	"github.com/containerd/containerd/images"
	"github.com/containerd/containerd/namespaces"
	"github.com/containerd/containerd/oci"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	corev1 "k8s.io/api/core/v1"

	"github.com/tugboat-io/tug/core/kubelet/container"
	"github.com/tugboat-io/tug/core/kubelet/podnet"
	"github.com/tugboat-io/tug/internal/ociimage"
)

// testSpec builds the OCI spec specOpts make (the image's part aside).
func testSpec(t *testing.T, rec *sandboxRecord, cfg container.ContainerConfig) *oci.Spec {
	t.Helper()
	ctx := namespaces.WithNamespace(context.Background(), "test")
	s, err := oci.GenerateSpec(ctx, nil, &containers.Container{ID: "c1"}, specOpts(rec, cfg, []string{"/app"}, "node1")...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mountAt(s *oci.Spec, dest string) []specs.Mount {
	var out []specs.Mount
	for _, m := range s.Mounts {
		if m.Destination == dest {
			out = append(out, m)
		}
	}
	return out
}

func hasNamespace(s *oci.Spec, typ specs.LinuxNamespaceType) (specs.LinuxNamespace, bool) {
	for _, n := range s.Linux.Namespaces {
		if n.Type == typ {
			return n, true
		}
	}
	return specs.LinuxNamespace{}, false
}

func TestSpecNameFiles(t *testing.T) {
	pod := &sandboxRecord{PodUID: "u1", Hostname: "web-0", NetNS: "/run/netns/u1", IP: "10.88.0.7"}
	cfg := container.ContainerConfig{ResolvConf: "/var/lib/tug/pods/u1/resolv.conf", Hosts: "/var/lib/tug/pods/u1/etc-hosts",
		Mounts: []container.Mount{{HostPath: "/data", ContainerPath: "/data"}}}

	s := testSpec(t, pod, cfg)
	for dest, src := range map[string]string{"/etc/resolv.conf": cfg.ResolvConf, "/etc/hosts": cfg.Hosts} {
		ms := mountAt(s, dest)
		if len(ms) != 1 || ms[0].Source != src || ms[0].Type != "bind" || !slices.Contains(ms[0].Options, "ro") {
			t.Errorf("%s: mounts %+v, want one read-only bind of %s", dest, ms, src)
		}
	}
	if ms := mountAt(s, "/data"); len(ms) != 1 || !slices.Contains(ms[0].Options, "rw") {
		t.Errorf("the volume's mount is %+v", ms)
	}
	if s.Hostname != "web-0" || !slices.Contains(s.Process.Env, "HOSTNAME=web-0") {
		t.Errorf("hostname %q, env %v; want web-0", s.Hostname, s.Process.Env)
	}
	if n, ok := hasNamespace(s, specs.NetworkNamespace); !ok || n.Path != pod.NetNS {
		t.Errorf("network namespace %+v, want the sandbox's %s", n, pod.NetNS)
	}
	if _, ok := hasNamespace(s, specs.UTSNamespace); !ok {
		t.Error("a pod with its own network has no UTS namespace of its own")
	}

	// A container that mounts something at /etc/resolv.conf itself keeps it.
	own := cfg
	own.Mounts = []container.Mount{{HostPath: "/srv/my-resolv.conf", ContainerPath: "/etc/resolv.conf/", ReadOnly: true}}
	s = testSpec(t, pod, own)
	if ms := mountAt(s, "/etc/resolv.conf/"); len(ms) != 1 || ms[0].Source != "/srv/my-resolv.conf" {
		t.Errorf("the container's own mount is %+v", ms)
	}
	if ms := mountAt(s, "/etc/resolv.conf"); len(ms) != 0 {
		t.Errorf("the pod's resolv.conf is mounted over the container's own: %+v", ms)
	}
	if ms := mountAt(s, "/etc/hosts"); len(ms) != 1 || ms[0].Source != cfg.Hosts {
		t.Errorf("hosts: %+v", ms)
	}

	// The volumes come after the name files, so a volume over /etc hides them.
	etc := cfg
	etc.Mounts = []container.Mount{{HostPath: "/srv/etc", ContainerPath: "/etc"}}
	s = testSpec(t, pod, etc)
	order := map[string]int{}
	for i, m := range s.Mounts {
		order[m.Destination] = i
	}
	if order["/etc"] < order["/etc/resolv.conf"] {
		t.Errorf("mount order %v: the /etc volume comes before /etc/resolv.conf", s.Mounts)
	}

	// With no files from the agent, the node's are mounted.
	s = testSpec(t, pod, container.ContainerConfig{})
	if ms := mountAt(s, "/etc/resolv.conf"); len(ms) != 1 || ms[0].Source != "/etc/resolv.conf" {
		t.Errorf("fallback resolv.conf: %+v", ms)
	}

	// A hostNetwork pod shares the node's network and UTS namespaces (and so its hostname)
	// and still gets the agent's files.
	host := &sandboxRecord{PodUID: "u2", Hostname: "ignored", HostNetwork: true, IP: "192.0.2.10"}
	s = testSpec(t, host, cfg)
	if n, ok := hasNamespace(s, specs.NetworkNamespace); ok {
		t.Errorf("hostNetwork pod has a network namespace %+v", n)
	}
	if n, ok := hasNamespace(s, specs.UTSNamespace); ok {
		t.Errorf("hostNetwork pod has a UTS namespace %+v", n)
	}
	if s.Hostname != "" || !slices.Contains(s.Process.Env, "HOSTNAME=node1") {
		t.Errorf("hostNetwork pod: hostname %q, env %v; want none set, HOSTNAME=node1", s.Hostname, s.Process.Env)
	}
	if ms := mountAt(s, "/etc/resolv.conf"); len(ms) != 1 || ms[0].Source != cfg.ResolvConf {
		t.Errorf("hostNetwork resolv.conf: %+v", ms)
	}
}

// probeSource prints the files it is given, whether the first can be opened for writing,
// and the hostname.
const probeSource = `package main

import (
	"fmt"
	"os"
)

func main() {
	for _, f := range os.Args[1:] {
		b, err := os.ReadFile(f)
		fmt.Printf("== %s\n%s%v\n", f, b, err)
	}
	_, err := os.OpenFile(os.Args[1], os.O_WRONLY, 0)
	fmt.Printf("== writable\n%v\n", err == nil)
	h, _ := os.Hostname()
	fmt.Printf("== hostname\n%s\n== HOSTNAME\n%s\n", h, os.Getenv("HOSTNAME"))
}
`

// TestStartContainerNameFiles runs real containers in a containerd namespace of its own: a
// hostNetwork pod (no CNI needed) whose containers see the agent's files read-only and the
// node's hostname, and a container that brings its own /etc/resolv.conf.
func TestStartContainerNameFiles(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a program and runs containers (skipped with -short)")
	}
	if os.Geteuid() != 0 {
		t.Skip("running containers needs root")
	}
	ctx := context.Background()
	if !Available(ctx, DefaultAddress) {
		t.Skip("no containerd answers at " + DefaultAddress)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(probeSource), 0o644); err != nil {
		t.Fatal(err)
	}
	build := exec.Command("go", "build", "-trimpath", "-o", "probe", "main.go")
	build.Dir, build.Env = dir, append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goruntime.GOARCH, "GO111MODULE=off")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the probe: %v\n%s", err, out)
	}
	bin, err := os.ReadFile(filepath.Join(dir, "probe"))
	if err != nil {
		t.Fatal(err)
	}
	const image = "tug.test/nameprobe:v1"
	var archive bytes.Buffer
	if err := ociimage.Write(&archive, ociimage.Image{Name: image, OS: "linux", Architecture: goruntime.GOARCH, Entrypoint: []string{"/probe"},
		Files: []ociimage.File{{Path: "/probe", Mode: 0o755, Data: bin}}}); err != nil {
		t.Fatal(err)
	}
	ns := fmt.Sprintf("tug-unit-%d", os.Getpid())
	t.Cleanup(func() { dropNamespace(t, ns, image) })
	if _, err := Import(ctx, DefaultAddress, ns, &archive); err != nil {
		t.Fatal(err)
	}
	r, err := New(ctx, Config{Namespace: ns, Node: "unit", Network: &podnet.Network{}, StateDir: filepath.Join(dir, "state"),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	img, err := r.EnsureImage(ctx, image, corev1.PullNever)
	if err != nil {
		t.Fatal(err)
	}
	sb, err := r.RunSandbox(ctx, container.SandboxConfig{PodUID: "u1", PodName: "p", PodNamespace: "ns", HostNetwork: true})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = r.RemoveSandbox(ctx, "u1") }()

	resolv, hosts, own := filepath.Join(dir, "resolv.conf"), filepath.Join(dir, "etc-hosts"), filepath.Join(dir, "own-resolv.conf")
	for path, content := range map[string]string{
		resolv: "search ns.svc.cluster.local\nnameserver 10.96.0.10\noptions ndots:5\n",
		hosts:  "127.0.0.1\tlocalhost\n192.0.2.80\tfoo.local\n",
		own:    "nameserver 203.0.113.1\n",
	} {
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run := func(name string, mounts []container.Mount) string {
		t.Helper()
		cfg := container.ContainerConfig{Name: name, Image: img, ImageName: image, Args: []string{"/etc/resolv.conf", "/etc/hosts"},
			Mounts: mounts, ResolvConf: resolv, Hosts: hosts, LogPath: filepath.Join(dir, "logs", name+".log")}
		id, err := r.StartContainer(ctx, sb, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = r.RemoveContainer(ctx, id) }()
		deadline := time.Now().Add(30 * time.Second)
		for {
			cs, err := r.Containers(ctx, "u1")
			if err != nil {
				t.Fatal(err)
			}
			i := slices.IndexFunc(cs, func(c container.Container) bool { return c.ID == id })
			if i >= 0 && cs[i].State == container.StateExited {
				if cs[i].ExitCode != 0 {
					t.Errorf("%s exited with %d", name, cs[i].ExitCode)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s did not exit", name)
			}
			time.Sleep(100 * time.Millisecond)
		}
		out, err := os.ReadFile(cfg.LogPath)
		if err != nil {
			t.Fatal(err)
		}
		return string(out)
	}

	nodeHostname, _ := os.Hostname()
	out := run("c1", nil)
	for _, want := range []string{
		"== /etc/resolv.conf\nsearch ns.svc.cluster.local\nnameserver 10.96.0.10\noptions ndots:5\n<nil>\n",
		"== /etc/hosts\n127.0.0.1\tlocalhost\n192.0.2.80\tfoo.local\n<nil>\n",
		"== writable\nfalse\n",
		"== hostname\n" + nodeHostname + "\n== HOSTNAME\n" + nodeHostname + "\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("container output lacks %q:\n%s", want, out)
		}
	}

	out = run("c2", []container.Mount{{HostPath: own, ContainerPath: "/etc/resolv.conf", ReadOnly: true}})
	if want := "== /etc/resolv.conf\nnameserver 203.0.113.1\n<nil>\n"; !strings.Contains(out, want) {
		t.Errorf("a container's own /etc/resolv.conf was not kept:\n%s", out)
	}
}

// dropNamespace removes what the test left in its containerd namespace, and the namespace.
func dropNamespace(t *testing.T, ns, image string) {
	client, err := containerd.New(DefaultAddress, containerd.WithDefaultNamespace(ns))
	if err != nil {
		t.Logf("cleaning up namespace %s: %v", ns, err)
		return
	}
	defer client.Close()
	ctx := namespaces.WithNamespace(context.Background(), ns)
	if cs, err := client.Containers(ctx); err == nil {
		for _, c := range cs {
			if task, err := c.Task(ctx, nil); err == nil {
				_, _ = task.Delete(ctx, containerd.WithProcessKill)
			}
			_ = c.Delete(ctx, containerd.WithSnapshotCleanup)
		}
	}
	_ = client.ImageService().Delete(ctx, image, images.SynchronousDelete())
	if err := client.NamespaceService().Delete(ctx, ns); err != nil {
		t.Logf("namespace %s not removed: %v", ns, err)
	}
}
