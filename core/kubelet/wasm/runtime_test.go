package wasm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/types"

	"github.com/tugboat-io/tug/core/kubelet/container"
	"github.com/tugboat-io/tug/core/kubelet/logs"
)

// helloRoot builds examples/hello-http for wasip1 once into a root directory, as an image
// would hold it.
var helloRoot = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "tug-wasm-test-")
	if err != nil {
		return "", err
	}
	cmd := exec.Command("go", "build", "-trimpath", "-o", filepath.Join(dir, "hello.wasm"), "./examples/hello-http")
	cmd.Dir = filepath.Join("..", "..", "..")
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build hello-http: %v\n%s", err, out)
	}
	return dir, nil
})

type oneImage struct{ img Image }

func (o oneImage) Resolve(_ context.Context, name string) (Image, error) {
	if name != "hello" {
		return Image{}, fmt.Errorf("%w: %s", ErrNoImage, name)
	}
	return o.img, nil
}

func (o oneImage) List(context.Context) ([]Image, error) { return []Image{o.img}, nil }

func newTestRuntime(t *testing.T) (*Runtime, chan types.UID) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds a wasm module (skipped with -short)")
	}
	root, err := helloRoot()
	if err != nil {
		t.Fatal(err)
	}
	exits := make(chan types.UID, 8)
	img := Image{Image: container.Image{Ref: "sha256:test", Names: []string{"hello"}, Entrypoint: []string{"/hello.wasm"}, Cmd: []string{"serve"}},
		RootFS: root, Wasm: true}
	r, err := New(Config{Images: oneImage{img}, Addresses: netip.MustParsePrefix("127.103.0.0/24"), OnExit: func(u types.UID) { exits <- u }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close(context.Background()) })
	return r, exits
}

func startHello(t *testing.T, r *Runtime, uid types.UID, cfg container.ContainerConfig) (container.Sandbox, string) {
	t.Helper()
	ctx := context.Background()
	sb, err := r.RunSandbox(ctx, container.SandboxConfig{PodUID: uid, PodName: string(uid), PodNamespace: "ns"})
	if err != nil {
		t.Fatal(err)
	}
	img, err := r.EnsureImage(ctx, "hello", corev1.PullIfNotPresent)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Image, cfg.ImageName = img, "hello"
	if cfg.Name == "" {
		cfg.Name = "c"
	}
	cfg.LogPath = filepath.Join(t.TempDir(), "0.log")
	id, err := r.StartContainer(ctx, sb, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return sb, id
}

func containerState(t *testing.T, r *Runtime, id string) container.Container {
	t.Helper()
	cs, err := r.Containers(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if c.ID == id {
			return c
		}
	}
	t.Fatalf("container %s not listed", id)
	return container.Container{}
}

func readLog(t *testing.T, path string) string {
	t.Helper()
	var b bytes.Buffer
	if err := logs.Read(context.Background(), path, logs.ReadOptions{TailLines: -1}, &b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestCommandModule(t *testing.T) {
	r, exits := newTestRuntime(t)
	_, id := startHello(t, r, "u1", container.ContainerConfig{Args: []string{"exit", "3"}, Env: []container.EnvVar{{Name: "A", Value: "1"}}})
	select {
	case uid := <-exits:
		if uid != "u1" {
			t.Errorf("exit reported for %s, want u1", uid)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no exit reported")
	}
	c := containerState(t, r, id)
	if c.State != container.StateExited || c.ExitCode != 3 || c.Reason != "Error" {
		t.Errorf("state %v code %d reason %q, want exited 3 Error", c.State, c.ExitCode, c.Reason)
	}
	if out := readLog(t, c.LogPath); !strings.Contains(out, "exit") {
		t.Errorf("log %q lacks the module's output", out)
	}
}

func TestCommandModuleSeesArgsAndEnv(t *testing.T) {
	r, exits := newTestRuntime(t)
	_, id := startHello(t, r, "u2", container.ContainerConfig{Args: []string{"env"}, Env: []container.EnvVar{{Name: "GREETING", Value: "hi"}}})
	<-exits
	out := readLog(t, containerState(t, r, id).LogPath)
	for _, want := range []string{"GREETING=hi", "arg[1]=env"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
}

func TestStopEndsASleepingModule(t *testing.T) {
	r, exits := newTestRuntime(t)
	_, id := startHello(t, r, "u3", container.ContainerConfig{Args: []string{"sleep"}})
	if c := containerState(t, r, id); c.State != container.StateRunning {
		t.Fatalf("state %v, want running", c.State)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := r.StopContainer(ctx, id, time.Second); err != nil {
		t.Fatal(err)
	}
	if c := containerState(t, r, id); c.State != container.StateExited {
		t.Errorf("state %v after stop, want exited", c.State)
	}
	select {
	case <-exits:
		t.Error("a stop asked for by the agent was reported as an exit of its own")
	default:
	}
}

func TestCGIServer(t *testing.T) {
	r, _ := newTestRuntime(t)
	sb, id := startHello(t, r, "u4", container.ContainerConfig{
		Ports: []corev1.ContainerPort{{ContainerPort: 18080}},
		Env:   []container.EnvVar{{Name: "POD_NAME", Value: "web-1"}, {Name: "HOSTNAME", Value: "web-1"}},
	})
	base := "http://" + sb.IP.String() + ":18080"
	resp, err := http.Get(base + "/?x=1")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "hello from web-1") {
		t.Errorf("GET /: %d %q", resp.StatusCode, body)
	}
	if c := containerState(t, r, id); c.State != container.StateRunning {
		t.Errorf("state %v while serving, want running", c.State)
	}
	if err := r.StopContainer(context.Background(), id, time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get(base + "/"); err == nil {
		t.Error("still serving after stop")
	}
	// The address is free again for another pod.
	if err := r.RemoveSandbox(context.Background(), "u4"); err != nil {
		t.Fatal(err)
	}
}

func TestMemoryLimitIsEnforced(t *testing.T) {
	r, _ := newTestRuntime(t)
	ctx := context.Background()
	sb, err := r.RunSandbox(ctx, container.SandboxConfig{PodUID: "u5"})
	if err != nil {
		t.Fatal(err)
	}
	img, _ := r.EnsureImage(ctx, "hello", corev1.PullIfNotPresent)
	// A Go module declares more than 1 MiB of linear memory up front: refused at start,
	// with the sizes in the message.
	_, err = r.StartContainer(ctx, sb, container.ContainerConfig{Name: "c", Image: img, ImageName: "hello", Args: []string{"exit", "0"},
		LogPath:   filepath.Join(t.TempDir(), "0.log"),
		Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1Mi")}}})
	if !errors.Is(err, container.ErrConfig) || !strings.Contains(err.Error(), "over limit") {
		t.Errorf("start under a 1Mi limit: %v, want ErrConfig naming the limit", err)
	}
}

func TestEnsureImage(t *testing.T) {
	r, _ := newTestRuntime(t)
	ctx := context.Background()
	if _, err := r.EnsureImage(ctx, "missing", corev1.PullNever); !errors.Is(err, container.ErrImageNotPresent) {
		t.Errorf("PullNever of a missing image: %v, want ErrImageNotPresent", err)
	}
	if _, err := r.EnsureImage(ctx, "missing", corev1.PullIfNotPresent); !errors.Is(err, container.ErrImagePull) {
		t.Errorf("IfNotPresent of a missing image: %v, want ErrImagePull", err)
	}
}

func TestAddressesRoundRobin(t *testing.T) {
	r, _ := newTestRuntime(t)
	ctx := context.Background()
	a, _ := r.RunSandbox(ctx, container.SandboxConfig{PodUID: "a"})
	_ = r.RemoveSandbox(ctx, "a")
	b, _ := r.RunSandbox(ctx, container.SandboxConfig{PodUID: "b"})
	if a.IP == b.IP {
		t.Errorf("a freed address %s went at once to the next pod", a.IP)
	}
	c, _ := r.RunSandbox(ctx, container.SandboxConfig{PodUID: "c", IP: a.IP})
	if c.IP != a.IP {
		t.Errorf("a pod asking for its old free address %s got %s", a.IP, c.IP)
	}
}

func TestCGIResponse(t *testing.T) {
	tests := []struct {
		name, out string
		code      int
		body      string
		wantErr   bool
	}{
		{name: "status and body", out: "Status: 201 Created\r\nContent-Type: text/plain\r\n\r\nmade", code: 201, body: "made"},
		{name: "no status means 200", out: "Content-Type: text/plain\n\nok", code: 200, body: "ok"},
		{name: "location without status redirects", out: "Location: /x\n\n", code: 302},
		{name: "bad status", out: "Status: abc\n\n", wantErr: true},
		{name: "no header at all", out: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			err := writeCGIResponse(w, bytes.NewBufferString(tt.out))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			if w.Code != tt.code || w.Body.String() != tt.body {
				t.Errorf("got %d %q, want %d %q", w.Code, w.Body.String(), tt.code, tt.body)
			}
		})
	}
}

func TestCGIEnvDropsProxyHeader(t *testing.T) {
	req := httptest.NewRequest("GET", "http://h:8080/p?q=1", nil)
	req.Header.Set("Proxy", "http://evil")
	req.Header.Set("X-Trace", "t")
	env := cgiEnv(req)
	if _, ok := env["HTTP_PROXY"]; ok {
		t.Error("a client's Proxy header became HTTP_PROXY")
	}
	if env["HTTP_X_TRACE"] != "t" || env["PATH_INFO"] != "/p" || env["QUERY_STRING"] != "q=1" || env["REQUEST_METHOD"] != "GET" {
		t.Errorf("env %v", env)
	}
}
