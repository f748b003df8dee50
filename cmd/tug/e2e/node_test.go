package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/containerd/containerd"
	"github.com/containerd/containerd/images"
	"github.com/containerd/containerd/namespaces"
)

// helloImage builds examples/hello-http for goos/goarch and packs it with `tug image pack` as
// an OCI image archive named name, returning the archive's path.
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
	tarPath := filepath.Join(dir, "image.tar")
	if out, err := exec.Command(tugBin, "image", "pack", "--name", name, "-o", tarPath, bin, "--", "serve").CombinedOutput(); err != nil {
		t.Fatalf("tug image pack: %v\n%s", err, out)
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
func startNodeCluster(t *testing.T, archives, importFlags []string, extra ...string) nodeCluster {
	t.Helper()
	sched, ctrls := defaultModules(t)
	data := filepath.Join(t.TempDir(), "data")
	for _, a := range archives {
		out, err := exec.Command(tugBin, append(append([]string{"image", "import", "--data-dir", data}, importFlags...), a)...).CombinedOutput()
		if err != nil {
			t.Fatalf("tug image import %s: %v\n%s", a, err, out)
		}
	}
	args := append([]string{"--node=true", "--scheduler-module", sched, "--controllers-module", ctrls,
		"--node-name", "node-a", "--node-ip", "127.0.0.1", "--kubelet-listen", freeAddr(t), "--kubelet-healthz-listen", "-",
		"--crash-loop-backoff", "1s", "--crash-loop-backoff-max", "4s",
		// The service tests turn the proxy and DNS on; two proxies on one machine would share
		// the kernel's tables and the DNS port.
		"--proxy-mode", "none", "--cluster-dns-port", "0"}, extra...)
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
	c := startNodeCluster(t, []string{helloImage(t, image, "wasip1", "wasm")}, nil, "--container-runtime", "wasm")
	nodeFlow(t, c, image, true)
}

// TestContainerdNode runs the same flow with real containers: containerd and runc, pods
// wired by CNI's bridge, logs through the log driver, and containers adopted by an agent that
// was killed.
func TestContainerdNode(t *testing.T) {
	requireContainerd(t)
	image := "tug.test/hello-http:linux"
	ns := "tug-e2e-" + strconv.Itoa(os.Getpid())
	t.Cleanup(func() {
		cleanupContainerd(t, ns)
		// The node leaves its bridge and masquerade table to the pods that outlive it.
		_ = exec.Command("nft", "delete", "table", "ip", "tug-tuge2e0").Run()
		_ = exec.Command("ip", "link", "delete", "tuge2e0").Run()
	})
	c := startNodeCluster(t, []string{helloImage(t, image, "linux", runtime.GOARCH)}, []string{"--containerd-namespace", ns},
		"--container-runtime", "containerd", "--containerd-namespace", ns,
		"--pod-cidr", "10.89.0.0/24", "--cni-bridge", "tuge2e0", "--log-level", "debug")
	nodeFlow(t, c, image, false)
}

// cleanupContainerd removes what a test left in its containerd namespace: containers outlive
// the agent by design, so a test must take them away itself.
func cleanupContainerd(t *testing.T, ns string) {
	client, err := containerd.New("/run/containerd/containerd.sock")
	if err != nil {
		t.Logf("cleanup: %v", err)
		return
	}
	defer client.Close()
	ctx := namespaces.WithNamespace(context.Background(), ns)
	cs, _ := client.Containers(ctx)
	for _, c := range cs {
		if task, err := c.Task(ctx, nil); err == nil {
			_, _ = task.Delete(ctx, containerd.WithProcessKill)
		}
		_ = c.Delete(ctx, containerd.WithSnapshotCleanup)
	}
	imgs, _ := client.ImageService().List(ctx)
	for _, img := range imgs {
		_ = client.ImageService().Delete(ctx, img.Name, images.SynchronousDelete())
	}
	if err := client.NamespaceService().Delete(ctx, ns); err != nil {
		t.Logf("cleanup: delete containerd namespace %s: %v", ns, err)
	}
}

// deletePodsOnCleanup deletes the Deployment's pods while the agent still runs, so that it
// stops their containers and takes down their networks before the cluster stops.
func deletePodsOnCleanup(t *testing.T, current func() *server) {
	t.Cleanup(func() {
		s := current()
		if s.exited() {
			return
		}
		cs := s.Clientset(t)
		ctx := context.Background()
		_ = cs.AppsV1().Deployments("default").Delete(ctx, "hello", metav1.DeleteOptions{})
		err := poll(60*time.Second, func() (bool, error) {
			list, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
			return err == nil && len(list.Items) == 0, err
		})
		if err != nil {
			t.Logf("cleanup: pods not gone: %v", err)
		}
	})
}

// requireContainerd skips a test on a machine without containerd or root, unless
// TUG_E2E_CONTAINERD=required (set by .ci/run, which installs and starts containerd), where
// it fails instead.
func requireContainerd(t *testing.T) {
	t.Helper()
	why := ""
	if os.Geteuid() != 0 {
		why = "containerd pods need root (network namespaces, CNI)"
	} else if _, err := os.Stat("/run/containerd/containerd.sock"); err != nil {
		why = "no containerd at /run/containerd/containerd.sock (Debian: apt install containerd, then run containerd)"
	}
	if why == "" {
		return
	}
	if os.Getenv("TUG_E2E_CONTAINERD") == "required" {
		t.Fatalf("TUG_E2E_CONTAINERD=required but %s", why)
	}
	t.Skip(why)
}

// nodeFlow is the node agent's acceptance flow on one runtime.
func nodeFlow(t *testing.T, c nodeCluster, image string, inProcess bool) {
	s := c.server
	deletePodsOnCleanup(t, func() *server { return s })
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

	// Exec: kubectl 1.33 speaks WebSocket (v5.channel.k8s.io) to the server, which proxies it
	// to the agent over the agent's authenticated HTTPS.
	execFlow(t, s, p0.Name, inProcess)

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

	// Kill -9 the process the agent runs in and start it again. Containers outlive the
	// agent and are adopted: same container, same restart count. Wasm modules ran inside
	// the agent, so each starts again and counts a restart.
	before := waitReadyPods(t, s, cs, "app=hello", 3)
	restarts, ids := map[string]int32{}, map[string]string{}
	for _, p := range before {
		restarts[p.Name] = p.Status.ContainerStatuses[0].RestartCount
		ids[p.Name] = p.Status.ContainerStatuses[0].ContainerID
	}
	s.Kill(t)
	if !inProcess {
		for _, p := range before {
			// Still serving while no agent runs.
			httpGetOK(t, "http://"+p.Status.PodIP+":8080/")
		}
	}
	s = c.restart()
	want := func(name string) int32 { return restarts[name] }
	if inProcess {
		want = func(name string) int32 { return restarts[name] + 1 }
		for _, p := range before {
			waitRestarts(t, cs, p, want(p.Name))
		}
	} else {
		// Give the agent a moment to look at its pods: adopting must not restart them.
		time.Sleep(3 * time.Second)
	}
	after := waitReadyPods(t, s, cs, "app=hello", 3)
	for _, p := range after {
		if _, ok := restarts[p.Name]; !ok {
			t.Errorf("pod %s is new after the restart; want the same pods %v", p.Name, restarts)
			continue
		}
		if got := p.Status.ContainerStatuses[0].RestartCount; got != want(p.Name) {
			t.Errorf("pod %s restartCount %d after the agent restarted, want %d; status %+v", p.Name, got, want(p.Name), p.Status.ContainerStatuses[0])
		}
		if got := p.Status.ContainerStatuses[0].ContainerID; !inProcess && got != ids[p.Name] {
			t.Errorf("pod %s runs container %s after the agent restarted, want the adopted %s", p.Name, got, ids[p.Name])
		}
		if body := httpGetOK(t, "http://"+p.Status.PodIP+":8080/"); !strings.Contains(body, p.Name) {
			t.Errorf("pod %s at %s answered %q", p.Name, p.Status.PodIP, body)
		}
	}

	// Deleting the Deployment takes everything of its pods off the node: no container and
	// no network namespace is left behind.
	if err := cs.AppsV1().Deployments("default").Delete(ctx, "hello", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	var left []string
	if err := poll(60*time.Second, func() (bool, error) {
		list, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
		left = left[:0]
		for _, p := range list.Items {
			left = append(left, fmt.Sprintf("%s(phase %s, deleting %v, owners %v)", p.Name, p.Status.Phase, p.DeletionTimestamp != nil, p.OwnerReferences))
		}
		return err == nil && len(list.Items) == 0, err
	}); err != nil {
		t.Fatalf("pods not gone after their Deployment was deleted: %v; left %v\n%s", err, left, s.output())
	}
	if left, _ := filepath.Glob(filepath.Join(c.dataDir, "kubelet", "cni", "netns", "*")); len(left) > 0 {
		t.Errorf("network namespaces left after every pod was deleted: %v\n%s", left, s.output())
	}
}

// execFlow runs kubectl exec in pod: in a container, the command's output and exit code come
// back; in a wasm pod, a clear error.
func execFlow(t *testing.T, s *server, pod string, wasm bool) {
	t.Helper()
	if wasm {
		r := s.kubectl(t, "1.33", "exec", pod, "--", "/hello", "env")
		if r.err == nil || !strings.Contains(r.stderr, "exec is not supported by the wasm runtime") {
			t.Errorf("kubectl exec in a wasm pod: want a clear error, got %s", r)
		}
		return
	}
	r := s.kubectl(t, "1.33", "exec", pod, "--", "/hello", "env", "marker-arg")
	if r.err != nil || !strings.Contains(r.stdout, "arg[2]=marker-arg") || !strings.Contains(r.stdout, "POD_NAME="+pod) {
		t.Errorf("kubectl exec env: want the command's output, got %s", r)
	}
	r = s.kubectl(t, "1.33", "exec", pod, "--", "/hello", "exit", "3")
	var exit *exec.ExitError
	if !errors.As(r.err, &exit) || exit.ExitCode() != 3 || !strings.Contains(r.stdout, "exiting with code 3") || !strings.Contains(r.stderr, "exit 3 requested") {
		t.Errorf("kubectl exec exit 3: want exit code 3 with the command's stdout and stderr, got %s", r)
	}
	// kubectl before 1.30 speaks only SPDY: a clear refusal.
	r = s.kubectl(t, "1.29", "exec", pod, "--", "/hello", "env")
	if r.err == nil || !strings.Contains(r.stderr, "use kubectl 1.30 or newer") {
		t.Errorf("kubectl 1.29 exec: want a clear refusal of SPDY, got %s", r)
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

// TestNodeBadInput runs pods that cannot run — an image that does not exist, a command that
// exits at once, a volume naming a missing Secret — next to one that can: each failure shows
// in its pod's status with kubelet's reason and an event, and the good pod is untouched.
func TestNodeBadInput(t *testing.T) {
	image := "tug.test/hello-http:wasm"
	c := startNodeCluster(t, []string{helloImage(t, image, "wasip1", "wasm")}, nil, "--container-runtime", "wasm")
	s := c.server
	cs := s.Clientset(t)
	ctx := context.Background()
	apply(t, s, `apiVersion: v1
kind: ConfigMap
metadata: {name: cfg}
data: {greeting: hi}
---
apiVersion: v1
kind: Pod
metadata: {name: good}
spec:
  volumes:
  - {name: cfg, configMap: {name: cfg}}
  containers:
  - name: c
    image: `+image+`
    ports: [{containerPort: 8080}]
    volumeMounts: [{name: cfg, mountPath: /cfg}]
---
apiVersion: v1
kind: Pod
metadata: {name: no-image}
spec:
  containers:
  - {name: c, image: tug.test/does-not-exist:v1}
---
apiVersion: v1
kind: Pod
metadata: {name: exits}
spec:
  containers:
  - {name: c, image: `+image+`, args: ["exit", "3"]}
---
apiVersion: v1
kind: Pod
metadata: {name: no-secret}
spec:
  volumes:
  - {name: s, secret: {secretName: missing}}
  containers:
  - name: c
    image: `+image+`
    args: ["sleep"]
    volumeMounts: [{name: s, mountPath: /s}]
`)
	waitPodCondition(t, cs, corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "good", Namespace: "default"}}, corev1.PodReady, corev1.ConditionTrue)
	waitReason := func(pod string, reasons ...string) {
		t.Helper()
		var last string
		err := poll(60*time.Second, func() (bool, error) {
			p, err := cs.CoreV1().Pods("default").Get(ctx, pod, metav1.GetOptions{})
			if err != nil || len(p.Status.ContainerStatuses) == 0 {
				return false, err
			}
			st := p.Status.ContainerStatuses[0]
			if st.State.Waiting != nil {
				last = st.State.Waiting.Reason + ": " + st.State.Waiting.Message
				for _, r := range reasons {
					if st.State.Waiting.Reason == r {
						return true, nil
					}
				}
			}
			return false, nil
		})
		if err != nil {
			t.Fatalf("pod %s: want waiting reason %v, last %q\n%s", pod, reasons, last, s.output())
		}
	}
	waitReason("no-image", "ErrImagePull", "ImagePullBackOff")
	waitReason("exits", "CrashLoopBackOff")
	waitReason("no-secret", "CreateContainerConfigError")

	// Each failure has an event on its pod.
	events := s.mustKubectl(t, "1.33", "get", "events", "-o", "custom-columns=OBJ:.involvedObject.name,REASON:.reason,MSG:.message", "--no-headers")
	for pod, want := range map[string]string{"no-image": "does-not-exist", "exits": "Back-off", "no-secret": "missing"} {
		found := false
		for _, line := range strings.Split(events, "\n") {
			if strings.HasPrefix(line, pod+" ") && strings.Contains(line, want) {
				found = true
			}
		}
		if !found {
			t.Errorf("no event on %s mentioning %q; events:\n%s", pod, want, events)
		}
	}
	p, err := cs.CoreV1().Pods("default").Get(ctx, "exits", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if st := p.Status.ContainerStatuses[0]; st.RestartCount < 1 || st.LastTerminationState.Terminated == nil || st.LastTerminationState.Terminated.ExitCode != 3 {
		t.Errorf("exits: want a restart and last exit code 3, got %+v", st)
	}

	// The good pod kept running and serving throughout.
	p, err = cs.CoreV1().Pods("default").Get(ctx, "good", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !isReady(p) || p.Status.ContainerStatuses[0].RestartCount != 0 {
		t.Errorf("good pod disturbed: ready %v restarts %d", isReady(p), p.Status.ContainerStatuses[0].RestartCount)
	}
	httpGetOK(t, "http://"+p.Status.PodIP+":8080/")

	// A ConfigMap volume follows its ConfigMap.
	file := "http://" + p.Status.PodIP + ":8080/file?path=/cfg/greeting"
	if got := httpGetOK(t, file); got != "hi" {
		t.Errorf("configMap file holds %q, want hi", got)
	}
	s.mustKubectl(t, "1.33", "patch", "configmap", "cfg", "-p", `{"data":{"greeting":"hello"}}`)
	if err := poll(60*time.Second, func() (bool, error) { return httpGetOK(t, file) == "hello", nil }); err != nil {
		t.Errorf("configMap file not updated after the ConfigMap changed: %v", err)
	}
}

// TestTwoNodes runs a second node agent (tug node) beside tug up's on one machine, with its
// own data dir, ports and address range: both register and both run pods.
func TestTwoNodes(t *testing.T) {
	image := "tug.test/hello-http:wasm"
	archive := helloImage(t, image, "wasip1", "wasm")
	c := startNodeCluster(t, []string{archive}, nil, "--container-runtime", "wasm")
	s := c.server
	second := filepath.Join(t.TempDir(), "node-b")
	if out, err := exec.Command(tugBin, "image", "import", "--data-dir", second, archive).CombinedOutput(); err != nil {
		t.Fatalf("import into node-b: %v\n%s", err, out)
	}
	startProc(t, "tug node (node-b)", append(append([]string{"node"}, s.joinArgs(t)...), "--data-dir", second, "--node-name", "node-b",
		"--node-ip", "127.0.0.1", "--kubelet-listen", freeAddr(t), "--kubelet-healthz-listen", "-",
		"--container-runtime", "wasm", "--wasm-pod-cidr", "127.102.0.0/16", "--proxy-mode", "none", "--cluster-dns-port", "0")...)
	s.waitKubectl(t, "two Ready nodes", []string{"get", "nodes", "-o", "jsonpath={range .items[*]}{.metadata.name}={.status.conditions[?(@.type=='Ready')].status} {end}"},
		func(out string) bool {
			return strings.Contains(out, "node-a=True") && strings.Contains(out, "node-b=True")
		})
	apply(t, s, strings.Replace(fmt.Sprintf(helloDeployment, t.TempDir(), image), "replicas: 3", "replicas: 4", 1))
	cs := s.Clientset(t)
	pods := waitReadyPods(t, s, cs, "app=hello", 4)
	perNode := map[string]int{}
	for _, p := range pods {
		perNode[p.Spec.NodeName]++
		if body := httpGetOK(t, "http://"+p.Status.PodIP+":8080/"); !strings.Contains(body, p.Name) {
			t.Errorf("pod %s on %s answered %q", p.Name, p.Spec.NodeName, body)
		}
	}
	if perNode["node-a"] == 0 || perNode["node-b"] == 0 {
		t.Errorf("pods per node %v: want both nodes running pods", perNode)
	}
}

// TestStaticPod runs a pod from a manifest file on the node: it shows in the API as a mirror
// pod with its status, and goes when the file goes.
func TestStaticPod(t *testing.T) {
	image := "tug.test/hello-http:wasm"
	manifests := t.TempDir()
	if err := os.WriteFile(filepath.Join(manifests, "web.yaml"), []byte(`apiVersion: v1
kind: Pod
metadata: {name: web, labels: {app: static}}
spec:
  containers:
  - {name: web, image: `+image+`, ports: [{containerPort: 8080}]}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	c := startNodeCluster(t, []string{helloImage(t, image, "wasip1", "wasm")}, nil, "--container-runtime", "wasm", "--pod-manifest-path", manifests)
	s := c.server
	cs := s.Clientset(t)
	pods := waitReadyPods(t, s, cs, "app=static", 1)
	if pods[0].Name != "web-node-a" || pods[0].Annotations["kubernetes.io/config.mirror"] == "" {
		t.Errorf("mirror pod %s annotations %v: want web-node-a with kubernetes.io/config.mirror", pods[0].Name, pods[0].Annotations)
	}
	if body := httpGetOK(t, "http://"+pods[0].Status.PodIP+":8080/"); !strings.Contains(body, "hello from") {
		t.Errorf("static pod answered %q", body)
	}
	if err := os.Remove(filepath.Join(manifests, "web.yaml")); err != nil {
		t.Fatal(err)
	}
	if err := poll(60*time.Second, func() (bool, error) {
		list, err := cs.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{LabelSelector: "app=static"})
		return err == nil && len(list.Items) == 0, err
	}); err != nil {
		t.Fatalf("mirror pod still there after its manifest was removed: %v\n%s", err, s.output())
	}
	if _, err := http.Get("http://" + pods[0].Status.PodIP + ":8080/"); err == nil {
		t.Errorf("static pod still answers after its manifest was removed")
	}
}
