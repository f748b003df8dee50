package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

const webDeployment = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 1
      volumes:
      - {name: switches, hostPath: {path: %[1]s}}
      containers:
      - name: web
        image: %[2]s
        imagePullPolicy: IfNotPresent
        ports:
        - {name: http, containerPort: 8080}
        - {name: echo, containerPort: 5353, protocol: UDP}
        env:
        - name: POD_NAME
          valueFrom: {fieldRef: {fieldPath: metadata.name}}
        - {name: HOSTNAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
        - {name: UDP_PORT, value: "5353"}
        - {name: NOTREADY_FILE, value: /switches/$(POD_NAME).notready}
        volumeMounts:
        - {name: switches, mountPath: /switches}
        readinessProbe:
          httpGet: {path: /ready, port: http}
          periodSeconds: 1
          failureThreshold: 1
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  type: NodePort
  selector: {app: web}
  ports:
  - {name: http, port: 80, targetPort: http}
  - {name: echo, port: 53, targetPort: echo, protocol: UDP}
---
apiVersion: v1
kind: Service
metadata: {name: web-headless}
spec:
  clusterIP: None
  selector: {app: web}
  ports:
  - {name: http, port: 8080}
---
apiVersion: v1
kind: Service
metadata: {name: nobody}
spec:
  selector: {app: nobody}
  ports:
  - {port: 80}
`

// TestContainerdServices runs the service proxy (nftables) and cluster DNS with real
// containers: a Service's cluster IP and NodePort reach all its ready pods from the node and
// from a pod, over TCP and UDP; pods that stop being ready or are deleted leave the rotation;
// a Service without endpoints refuses at once; names resolve in a pod; and traffic keeps
// flowing while the proxy's process is killed and restarted.
//
// Both data planes run the same flow; the userspace one cannot serve while its process is
// down, so only the nftables one is asked to.
func TestContainerdServices(t *testing.T) {
	requireContainerd(t)
	t.Run("nftables", func(t *testing.T) { servicesFlow(t, "nftables", "tuge2e1", "10.87.0.0/24") })
	t.Run("userspace", func(t *testing.T) { servicesFlow(t, "userspace", "tuge2e2", "10.86.0.0/24") })
}

func servicesFlow(t *testing.T, mode, bridge, podCIDR string) {
	nodeIP := hostAddress(t)
	image := "tug.test/hello-http:linux"
	ns := "tug-e2e-svc-" + mode + "-" + strconv.Itoa(os.Getpid())
	iface := "tuge2eus" + strconv.Itoa(os.Getpid()%10000)
	t.Cleanup(func() {
		cleanupContainerd(t, ns)
		_ = exec.Command("nft", "delete", "table", "ip", "tug-"+bridge).Run()
		_ = exec.Command("ip", "link", "delete", bridge).Run()
		if mode == "nftables" {
			_ = exec.Command("nft", "delete", "table", "ip", "tug-proxy").Run()
		} else {
			_ = exec.Command("ip", "link", "delete", iface).Run()
		}
	})
	_, dnsPort, _ := net.SplitHostPort(freeAddr(t))
	_, kubeletPort, _ := net.SplitHostPort(freeAddr(t))
	c := startNodeCluster(t, []string{helloImage(t, image, "linux", runtime.GOARCH)}, []string{"--containerd-namespace", ns},
		"--container-runtime", "containerd", "--containerd-namespace", ns,
		"--pod-cidr", podCIDR, "--cni-bridge", bridge,
		"--node-ip", nodeIP, "--kubelet-listen", net.JoinHostPort(nodeIP, kubeletPort),
		"--proxy-mode", mode, "--proxy-interface", iface, "--cluster-dns-port", dnsPort)
	s := c.server
	cs := s.Clientset(t)
	ctx := context.Background()
	deleted := false // the flow's end deletes them itself, before the restarted process stops
	t.Cleanup(func() {
		if !deleted {
			deleteAndWait(t, cs, "web")
		}
	})
	switches := t.TempDir()
	apply(t, s, fmt.Sprintf(webDeployment, switches, image))
	pods := waitReadyPods(t, s, cs, "app=web", 3)
	names := map[string]bool{}
	for _, p := range pods {
		names[p.Name] = true
	}

	svc, err := cs.CoreV1().Services("default").Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	clusterHTTP := "http://" + net.JoinHostPort(svc.Spec.ClusterIP, "80") + "/"
	nodePortHTTP := "http://" + net.JoinHostPort(nodeIP, strconv.Itoa(int(svc.Spec.Ports[0].NodePort))) + "/"
	clusterUDP := net.JoinHostPort(svc.Spec.ClusterIP, "53")

	// From the node: the cluster IP and the NodePort reach all three pods, TCP and UDP, once
	// the endpoints controller and the proxy have seen the pods ready.
	if err := poll(30*time.Second, func() (bool, error) {
		seen := spread(t, clusterHTTP, 30)
		return sameSet(seen, names), fmt.Errorf("reached %v", seen)
	}); err != nil {
		t.Fatalf("the cluster IP never reached the three pods: %v", err)
	}
	for _, url := range []string{clusterHTTP, nodePortHTTP} {
		if seen := spread(t, url, 60); !sameSet(seen, names) {
			t.Errorf("60 requests to %s reached %v, want all of %v", url, seen, names)
		}
	}
	if seen := spreadUDP(t, clusterUDP, 60); !sameSet(seen, names) {
		t.Errorf("60 datagrams to %s reached %v, want all of %v", clusterUDP, seen, names)
	}

	// A Service without endpoints refuses at once rather than leaving the client waiting (the
	// kernel refuses the connection; the userspace proxy accepts and resets it).
	nobody, err := cs.CoreV1().Services("default").Get(ctx, "nobody", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	nobodyURL := "http://" + net.JoinHostPort(nobody.Spec.ClusterIP, "80") + "/"
	if err := poll(30*time.Second, func() (bool, error) {
		_, err := (&http.Client{Timeout: 5 * time.Second}).Get(nobodyURL)
		if errors.Is(err, syscall.ECONNREFUSED) || (mode == "userspace" && (errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF))) {
			return true, nil
		}
		return false, fmt.Errorf("get: %v", err)
	}); err != nil {
		t.Errorf("a Service without endpoints: %v, want the connection refused", err)
	}

	// From a pod, by cluster IP, by NodePort and by name through cluster DNS, TCP and UDP; a
	// headless Service's name resolves to the pods themselves.
	out := t.TempDir()
	client := fmt.Sprintf(`
apiVersion: v1
kind: Pod
metadata: {name: client}
spec:
  restartPolicy: Never
  volumes: [{name: out, hostPath: {path: %s}}]
  containers:
  - name: client
    image: %s
    imagePullPolicy: IfNotPresent
    args: [fetch, "30", %s, %s, "http://web.default.svc.cluster.local/", "http://web-headless.default.svc.cluster.local:8080/", "udp://web.default.svc.cluster.local:53"]
    env: [{name: OUT_FILE, value: /out/result}]
    volumeMounts: [{name: out, mountPath: /out}]
`, out, image, strconv.Quote(clusterHTTP), strconv.Quote(nodePortHTTP))
	apply(t, s, client)
	var result string
	if err := poll(90*time.Second, func() (bool, error) {
		b, err := os.ReadFile(filepath.Join(out, "result"))
		result = string(b)
		return strings.HasSuffix(result, "done\n"), err
	}); err != nil {
		t.Fatalf("the client pod did not finish: %v\n%s", err, result)
	}
	perTarget := map[string]map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(result), "\n") {
		target, answer, _ := strings.Cut(line, " ")
		if target == "done" {
			continue
		}
		if perTarget[target] == nil {
			perTarget[target] = map[string]bool{}
		}
		perTarget[target][podOf(answer, names)] = true
	}
	// Every answer came from one of the pods. The cluster IP, the NodePort and the name
	// share one service port, whose endpoint the userspace proxy picks round robin: with the
	// client asking them in turn, each may keep meeting the same pod, so it is together that
	// they must reach all three. The headless name goes to the pods themselves.
	proxied := map[string]bool{}
	for target, seen := range perTarget {
		for n := range seen {
			if !names[n] {
				t.Errorf("from the client pod, %s answered %q, not one of the pods %v\n%s", target, n, names, result)
			}
		}
		if strings.Contains(target, "web-headless") {
			if !sameSet(seen, names) {
				t.Errorf("from the client pod, 30 requests to %s reached %v, want all of %v\n%s", target, seen, names, result)
			}
			continue
		}
		for n := range seen {
			proxied[n] = true
		}
	}
	if !sameSet(proxied, names) {
		t.Errorf("from the client pod, the Service's cluster IP, NodePort and name reached %v, want all of %v\n%s", proxied, names, result)
	}
	if len(perTarget) != 5 {
		t.Errorf("the client asked %d targets, want 5:\n%s", len(perTarget), result)
	}

	// A pod that stops being ready leaves the rotation; one that is deleted too.
	p0, p1 := pods[0], pods[1]
	if err := os.WriteFile(filepath.Join(switches, p0.Name+".notready"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	waitPodCondition(t, cs, p0, corev1.PodReady, corev1.ConditionFalse)
	if err := cs.CoreV1().Pods("default").Delete(ctx, p1.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	left := map[string]bool{p0.Name: true, p1.Name: true}
	if err := poll(30*time.Second, func() (bool, error) {
		for n := range spread(t, clusterHTTP, 30) {
			if left[n] {
				return false, fmt.Errorf("%s still reached", n)
			}
		}
		return true, nil
	}); err != nil {
		t.Errorf("not-ready %s and deleted %s never left the rotation: %v", p0.Name, p1.Name, err)
	}

	// p0 is ready again, and with p1's replacement back in the rotation.
	os.Remove(filepath.Join(switches, p0.Name+".notready"))
	names = map[string]bool{}
	for _, p := range waitReadyPods(t, s, cs, "app=web", 3) {
		names[p.Name] = true
	}
	if err := poll(30*time.Second, func() (bool, error) {
		seen := spread(t, clusterHTTP, 30)
		return sameSet(seen, names), fmt.Errorf("reached %v, want %v", seen, names)
	}); err != nil {
		t.Errorf("back in the rotation: %v", err)
	}

	// The proxy's process dies: the kernel's rules stay and keep serving; the restarted
	// process takes them over.
	// 60 requests: the kernel picks each endpoint at random, so 10 would miss one of three
	// pods once in 20 runs.
	s.Kill(t)
	if seen := spread(t, clusterHTTP, 60); mode == "nftables" && !sameSet(seen, names) {
		t.Errorf("while the proxy was down, 60 requests through the cluster IP reached %v, want %v", seen, names)
	}
	s = c.restart()
	cs = s.Clientset(t)
	want := waitReadyPods(t, s, cs, "app=web", 3)
	names = map[string]bool{}
	for _, p := range want {
		names[p.Name] = true
	}
	if err := poll(60*time.Second, func() (bool, error) {
		seen := spread(t, clusterHTTP, 30)
		return sameSet(seen, names), fmt.Errorf("reached %v, want %v", seen, names)
	}); err != nil {
		t.Errorf("after the restart: %v", err)
	}
	// Take the pods down while this process still runs (cleanups run after the restarted
	// process's stop).
	deleteAndWait(t, cs, "web")
	deleted = true
}

// hostAddress is this machine's address on its default route, which pods can reach (unlike
// 127.0.0.1).
func hostAddress(t *testing.T) string {
	t.Helper()
	conn, err := net.Dial("udp4", "192.0.2.1:9")
	if err != nil {
		if os.Getenv("TUG_E2E_CONTAINERD") == "required" {
			t.Fatalf("TUG_E2E_CONTAINERD=required but no default route: %v", err)
		}
		t.Skipf("no default route: %v", err)
	}
	defer conn.Close()
	return conn.LocalAddr().(*net.UDPAddr).IP.String()
}

// spread makes n requests to url, each on a new connection, and returns the pods that answered.
func spread(t *testing.T, url string, n int) map[string]bool {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	seen := map[string]bool{}
	for range n {
		resp, err := client.Get(url)
		if err != nil {
			seen["error: "+err.Error()] = true
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		seen[podOf(string(b), nil)] = true
	}
	return seen
}

// spreadUDP sends n datagrams to addr, each from a new socket, and returns who answered.
func spreadUDP(t *testing.T, addr string, n int) map[string]bool {
	t.Helper()
	seen := map[string]bool{}
	buf := make([]byte, 512)
	for range n {
		conn, err := net.Dial("udp", addr)
		if err != nil {
			t.Fatal(err)
		}
		_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
		_, _ = conn.Write([]byte("ping"))
		m, err := conn.Read(buf)
		conn.Close()
		if err != nil {
			seen["error: "+err.Error()] = true
			continue
		}
		name, _, _ := strings.Cut(string(buf[:m]), " ")
		seen[name] = true
	}
	return seen
}

// podOf finds the pod name in an answer: "hello from HOST (POD)" or "POD ping".
func podOf(answer string, names map[string]bool) string {
	answer = strings.TrimSpace(answer)
	if i := strings.LastIndex(answer, "("); i >= 0 && strings.HasSuffix(answer, ")") {
		return answer[i+1 : len(answer)-1]
	}
	if name, rest, ok := strings.Cut(answer, " "); ok && rest == "ping" {
		return name
	}
	for n := range names {
		if strings.Contains(answer, n) {
			return n
		}
	}
	return answer
}

func sameSet(a, b map[string]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}

// deleteAndWait deletes a Deployment and waits for its pods to go, so that the agent takes
// their containers and networks down before the cluster stops.
func deleteAndWait(t *testing.T, cs kubernetes.Interface, name string) {
	ctx := context.Background()
	_ = cs.AppsV1().Deployments("default").Delete(ctx, name, metav1.DeleteOptions{})
	_ = cs.CoreV1().Pods("default").Delete(ctx, "client", metav1.DeleteOptions{})
	if err := poll(60*time.Second, func() (bool, error) {
		list, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
		return err == nil && len(list.Items) == 0, err
	}); err != nil {
		t.Logf("cleanup: pods not gone: %v", err)
	}
}

const helloService = `
apiVersion: v1
kind: Service
metadata: {name: hello}
spec:
  type: NodePort
  selector: {app: hello}
  ports:
  - {name: http, port: 80, targetPort: http}
---
apiVersion: v1
kind: Service
metadata: {name: nobody}
spec:
  type: NodePort
  selector: {app: nobody}
  ports:
  - {port: 80}
`

// TestWasmServicesUserspace runs the userspace proxy in front of wasm pods, whose addresses
// are the node's own loopback addresses: the cluster IP and the NodePort reach all three, a
// pod that stops being ready leaves the rotation, a Service without endpoints resets the
// connection at once, and the node's DNS server answers the Service's name.
func TestWasmServicesUserspace(t *testing.T) {
	image := "tug.test/hello-http:wasm"
	_, dnsPort, _ := net.SplitHostPort(freeAddr(t))
	iface := "tuge2e-svc" + strconv.Itoa(os.Getpid()%1000)
	t.Cleanup(func() { _ = exec.Command("ip", "link", "delete", iface).Run() })
	c := startNodeCluster(t, []string{helloImage(t, image, "wasip1", "wasm")}, nil, "--container-runtime", "wasm",
		"--proxy-mode", "userspace", "--proxy-interface", iface, "--cluster-dns-port", dnsPort)
	s := c.server
	deletePodsOnCleanup(t, func() *server { return s })
	cs := s.Clientset(t)
	ctx := context.Background()
	switches := t.TempDir()
	apply(t, s, fmt.Sprintf(helloDeployment, switches, image))
	apply(t, s, helloService)
	pods := waitReadyPods(t, s, cs, "app=hello", 3)
	names := map[string]bool{}
	for _, p := range pods {
		names[p.Name] = true
	}
	svc, err := cs.CoreV1().Services("default").Get(ctx, "hello", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	targets := []string{"http://127.0.0.1:" + strconv.Itoa(int(svc.Spec.Ports[0].NodePort)) + "/"}
	if os.Geteuid() == 0 {
		// Cluster IPs need an address on an interface of the proxy's, which needs root.
		targets = append(targets, "http://"+net.JoinHostPort(svc.Spec.ClusterIP, "80")+"/")
	}
	for _, url := range targets {
		if err := poll(30*time.Second, func() (bool, error) {
			seen := spread(t, url, 30)
			return sameSet(seen, names), fmt.Errorf("reached %v", seen)
		}); err != nil {
			t.Errorf("%s never reached the three pods %v: %v", url, names, err)
		}
	}

	// A Service without endpoints: the connection is reset at once.
	nobody, err := cs.CoreV1().Services("default").Get(ctx, "nobody", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	nobodyURL := "http://127.0.0.1:" + strconv.Itoa(int(nobody.Spec.Ports[0].NodePort)) + "/"
	if err := poll(30*time.Second, func() (bool, error) {
		_, err := (&http.Client{Timeout: 5 * time.Second}).Get(nobodyURL)
		if errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNREFUSED) {
			return true, nil
		}
		return false, fmt.Errorf("get: %v", err)
	}); err != nil {
		t.Errorf("a Service without endpoints: %v, want the connection reset or refused", err)
	}

	// Cluster DNS on the node answers the Service's name with its cluster IP.
	r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, net.JoinHostPort("127.0.0.1", dnsPort))
	}}
	if err := poll(30*time.Second, func() (bool, error) {
		addrs, err := r.LookupHost(ctx, "hello.default.svc.cluster.local")
		return err == nil && len(addrs) == 1 && addrs[0] == svc.Spec.ClusterIP, fmt.Errorf("%v %v", addrs, err)
	}); err != nil {
		t.Errorf("DNS: %v, want %s", err, svc.Spec.ClusterIP)
	}

	// A pod that stops being ready leaves the rotation.
	p0 := pods[0]
	if err := os.WriteFile(filepath.Join(switches, p0.Name+".notready"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	waitPodCondition(t, cs, p0, corev1.PodReady, corev1.ConditionFalse)
	if err := poll(30*time.Second, func() (bool, error) {
		seen := spread(t, targets[0], 30)
		return !seen[p0.Name] && len(seen) == 2, fmt.Errorf("reached %v", seen)
	}); err != nil {
		t.Errorf("not-ready %s never left the rotation: %v", p0.Name, err)
	}
}
