package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/tugboat-io/tug/internal/ociimage"
	"github.com/tugboat-io/tug/internal/wasmbuild"
)

// helloImage builds examples/hello-http for goos/goarch and packs it as an OCI image archive
// named name, returning the archive's path.
func helloImage(t *testing.T, name, goos, goarch string) string {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "hello")
	cmd := exec.Command("go", "build", "-trimpath", "-o", bin, "./examples/hello-http")
	cmd.Dir = filepath.Join("..", "..", "..")
	cmd.Env = append(os.Environ(), "GOOS="+goos, "GOARCH="+goarch, "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build hello-http for %s/%s: %v\n%s", goos, goarch, err, out)
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	path := "/hello"
	if goarch == "wasm" {
		path = "/hello.wasm"
	}
	tarPath := filepath.Join(dir, "image.tar")
	f, err := os.Create(tarPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	err = ociimage.Write(f, ociimage.Image{Name: name, OS: goos, Architecture: goarch, Entrypoint: []string{path}, Cmd: []string{"serve"},
		Files: []ociimage.File{{Path: path, Mode: 0o755, Data: data}}})
	if err != nil {
		t.Fatal(err)
	}
	return tarPath
}

// nodeCluster is a tug up with its own node agent; restart starts it again on the same data
// dir and ports after it stopped or was killed.
type nodeCluster struct {
	*server
	restart func() *server
}

// startNodeCluster runs tug up with the default plugins and its own node agent on free
// ports, its state in a fresh data dir into which archives are imported first.
func startNodeCluster(t *testing.T, archives []string, extra ...string) nodeCluster {
	t.Helper()
	dir := t.TempDir()
	sched, ctrls := filepath.Join(dir, "defaults.wasm"), filepath.Join(dir, "controllers.wasm")
	plugins := filepath.Join("..", "..", "..", "plugins")
	if err := os.WriteFile(sched, wasmbuild.Build(t, plugins, "./scheduler/cmd/defaults"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ctrls, wasmbuild.Build(t, plugins, "./controllers/cmd/defaults"), 0o644); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	for _, a := range archives {
		out, err := exec.Command(tugBin, "image", "import", "--data-dir", data, a).CombinedOutput()
		if err != nil {
			t.Fatalf("tug image import %s: %v\n%s", a, err, out)
		}
	}
	args := append([]string{"--node=true", "--scheduler-module", sched, "--controllers-module", ctrls,
		"--node-name", "node-a", "--node-ip", "127.0.0.1", "--kubelet-listen", freeAddr(t), "--kubelet-healthz-listen", "-",
		"--crash-loop-backoff", "1s", "--crash-loop-backoff-max", "4s"}, extra...)
	start := func() *server {
		s := startUp(t, data, args...)
		s.waitKubectl(t, "the node Ready", []string{"get", "node", "node-a", "-o", "jsonpath={.status.conditions[?(@.type=='Ready')].status}"},
			func(out string) bool { return out == "True" })
		return s
	}
	return nodeCluster{server: start(), restart: start}
}

const helloDeployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: hello
spec:
  replicas: 3
  selector:
    matchLabels: {app: hello}
  template:
    metadata:
      labels: {app: hello}
    spec:
      terminationGracePeriodSeconds: 5
      volumes:
      - name: switches
        hostPath: {path: %q, type: DirectoryOrCreate}
      containers:
      - name: hello
        image: %s
        imagePullPolicy: IfNotPresent
        ports:
        - {name: http, containerPort: 8080}
        env:
        - name: POD_NAME
          valueFrom: {fieldRef: {fieldPath: metadata.name}}
        - {name: NOTREADY_FILE, value: /switches/$(POD_NAME).notready}
        - {name: UNHEALTHY_FILE, value: /switches/$(POD_NAME).unhealthy}
        volumeMounts:
        - {name: switches, mountPath: /switches}
        readinessProbe:
          httpGet: {path: /ready, port: http}
          periodSeconds: 1
          failureThreshold: 1
        livenessProbe:
          httpGet: {path: /healthz, port: http}
          periodSeconds: 1
          failureThreshold: 2
`

// TestWasmNode runs the node agent's flow with the in-process wasm runtime: a Deployment of
// a tiny HTTP server as WASI modules, each pod answering on its own address, logs, probes,
// deletion and an agent killed and restarted.
func TestWasmNode(t *testing.T) {
	image := "tug.test/hello-http:wasm"
	c := startNodeCluster(t, []string{helloImage(t, image, "wasip1", "wasm")})
	s := c.server
	cs := s.Clientset(t)
	ctx := context.Background()
	switches := t.TempDir()
	apply(t, s, fmt.Sprintf(helloDeployment, switches, image))

	pods := waitReadyPods(t, s, cs, "app=hello", 3)
	for _, p := range pods {
		body := httpGetOK(t, "http://"+p.Status.PodIP+":8080/")
		if !strings.Contains(body, "hello from") || !strings.Contains(body, p.Name) {
			t.Errorf("pod %s at %s answered %q", p.Name, p.Status.PodIP, body)
		}
	}

	// Logs: the request lines the module wrote, then new ones while following.
	p0 := pods[0]
	s.waitKubectl(t, "kubectl logs shows the request", []string{"logs", p0.Name}, func(out string) bool {
		return strings.Contains(out, "GET /")
	})
	follow := s.kubectlBackground(t, "1.33", "logs", "-f", p0.Name)
	httpGetOK(t, "http://"+p0.Status.PodIP+":8080/?follow-marker=1")
	follow.waitLine(t, "the request made while following", func(l string) bool { return strings.Contains(l, "follow-marker=1") })

	// Readiness: a failing probe flips Ready off, and on again when it passes.
	notReady := filepath.Join(switches, p0.Name+".notready")
	if err := os.WriteFile(notReady, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	waitPodCondition(t, cs, p0, corev1.PodReady, corev1.ConditionFalse)
	os.Remove(notReady)
	waitPodCondition(t, cs, p0, corev1.PodReady, corev1.ConditionTrue)

	// Liveness: a failing probe restarts the container.
	p1 := pods[1]
	unhealthy := filepath.Join(switches, p1.Name+".unhealthy")
	if err := os.WriteFile(unhealthy, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	waitRestarts(t, cs, p1, 1)
	os.Remove(unhealthy)
	waitPodCondition(t, cs, p1, corev1.PodReady, corev1.ConditionTrue)

	// Deleting a pod stops its container: its address stops answering.
	p2 := pods[2]
	if err := cs.CoreV1().Pods("default").Delete(ctx, p2.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := poll(30*time.Second, func() (bool, error) {
		_, err := cs.CoreV1().Pods("default").Get(ctx, p2.Name, metav1.GetOptions{})
		return err != nil, nil
	}); err != nil {
		t.Fatalf("pod %s not gone within its grace period: %v\n%s", p2.Name, err, s.output())
	}
	if _, err := http.Get("http://" + p2.Status.PodIP + ":8080/"); err == nil {
		t.Errorf("deleted pod %s still answers at %s", p2.Name, p2.Status.PodIP)
	}

	// Kill -9 the process the agent runs in and start it again: the same pods run again at
	// their addresses. Wasm modules ran inside the agent, so each counts a restart.
	before := waitReadyPods(t, s, cs, "app=hello", 3)
	restarts := map[string]int32{}
	for _, p := range before {
		restarts[p.Name] = p.Status.ContainerStatuses[0].RestartCount
	}
	s.Kill(t)
	s = c.restart()
	for _, p := range before {
		waitRestarts(t, cs, p, restarts[p.Name]+1)
	}
	after := waitReadyPods(t, s, cs, "app=hello", 3)
	for _, p := range after {
		was, ok := restarts[p.Name]
		if !ok {
			t.Errorf("pod %s is new after the restart; want the same pods %v", p.Name, restarts)
			continue
		}
		if got := p.Status.ContainerStatuses[0].RestartCount; got != was+1 {
			t.Errorf("pod %s restartCount %d after the agent restarted, want %d; status %+v", p.Name, got, was+1, p.Status.ContainerStatuses[0])
		}
		if body := httpGetOK(t, "http://"+p.Status.PodIP+":8080/"); !strings.Contains(body, p.Name) {
			t.Errorf("pod %s at %s answered %q", p.Name, p.Status.PodIP, body)
		}
	}
}

// waitReadyPods waits until n pods match selector, all Running and Ready, and returns them.
func waitReadyPods(t *testing.T, s *server, cs kubernetes.Interface, selector string, n int) []corev1.Pod {
	t.Helper()
	var ready []corev1.Pod
	var last string
	err := poll(90*time.Second, func() (bool, error) {
		list, err := cs.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			return false, err
		}
		ready = ready[:0]
		var states []string
		for _, p := range list.Items {
			states = append(states, fmt.Sprintf("%s:%s:%v", p.Name, p.Status.Phase, isReady(&p)))
			if p.DeletionTimestamp == nil && p.Status.Phase == corev1.PodRunning && isReady(&p) {
				ready = append(ready, p)
			}
		}
		last = strings.Join(states, " ")
		return len(ready) == n && len(list.Items) == n, nil
	})
	if err != nil {
		t.Fatalf("want %d ready pods %s: %v; last %s\n%s", n, selector, err, last, s.output())
	}
	return ready
}

func isReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func waitPodCondition(t *testing.T, cs kubernetes.Interface, pod corev1.Pod, typ corev1.PodConditionType, want corev1.ConditionStatus) {
	t.Helper()
	var got corev1.ConditionStatus
	err := poll(60*time.Second, func() (bool, error) {
		p, err := cs.CoreV1().Pods(pod.Namespace).Get(context.Background(), pod.Name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		for _, c := range p.Status.Conditions {
			if c.Type == typ {
				got = c.Status
			}
		}
		return got == want, nil
	})
	if err != nil {
		t.Fatalf("pod %s condition %s: want %s, last %s: %v", pod.Name, typ, want, got, err)
	}
}

func waitRestarts(t *testing.T, cs kubernetes.Interface, pod corev1.Pod, atLeast int32) {
	t.Helper()
	var got int32
	err := poll(60*time.Second, func() (bool, error) {
		p, err := cs.CoreV1().Pods(pod.Namespace).Get(context.Background(), pod.Name, metav1.GetOptions{})
		if err != nil || len(p.Status.ContainerStatuses) == 0 {
			return false, err
		}
		got = p.Status.ContainerStatuses[0].RestartCount
		return got >= atLeast, nil
	})
	if err != nil {
		t.Fatalf("pod %s: want restartCount ≥ %d, last %d: %v", pod.Name, atLeast, got, err)
	}
}

// httpGetOK GETs url until it answers 200 (a pod just marked ready answers at once; the retry
// only covers a connection refused while a container restarts) and returns the body.
func httpGetOK(t *testing.T, url string) string {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second}
	var body string
	err := poll(30*time.Second, func() (bool, error) {
		resp, err := client.Get(url)
		if err != nil {
			return false, err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		body = string(b)
		if resp.StatusCode != http.StatusOK {
			return false, fmt.Errorf("status %d: %s", resp.StatusCode, b)
		}
		return true, nil
	})
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return body
}
