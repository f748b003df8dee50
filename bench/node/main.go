// Command node is the node agent's pod startup benchmark. It builds tug, the default
// scheduling and controller modules and examples/hello-http (as a WASI module and as a static
// Linux binary, each packed as an OCI image and imported into the node), starts `tug up` with
// its own node agent on a fresh data dir, and measures, in one run on one node:
//
//   - wasm: N pods of the WASI module on the in-process wasm runtime (RuntimeClass wasm),
//     each serving its containerPort CGI-style, created by concurrent clients; for each pod
//     the time from just before its create request until a watch (started before the
//     creates) sees it Running, and until it is first Ready; then all deleted until gone;
//   - containerd: the same for M pods of the Linux binary run by containerd and runc
//     (RuntimeClass runc), each in its own network namespace on a CNI bridge — skipped, with
//     a note, when containerd does not answer at /run/containerd/containerd.sock or the
//     program is not root;
//   - memory: the RSS of the tug process (the agent runs inside `tug up`) with no pods and
//     with the pods of each phase running, per pod; for containerd pods also what runs
//     outside tug (shims, log drivers, containers) per pod.
//
// Before each phase one pod is started alone and deleted (cold: compiling the module, the
// bridge's first use), then a second one (warm): the floor with nothing else going on.
//
// The scheduler binds the pods unless a phase has more of them than the node's allocatable
// pods (110, as kubelet's default --max-pods), which it would not exceed: such pods name the
// node at create (spec.nodeName), as the output notes; -bind chooses either way for all.
//
//	go run ./bench/node -wasm-pods 200 -containerd-pods 20
//
// Results print as Markdown tables for docs/BENCHMARKS.md. Containerd pods need root.
package main

import (
	"github.com/tugboat-io/tug/bench/internal/benchenv"
	"github.com/tugboat-io/tug/core/kubelet"

	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/containerd/containerd"
	"github.com/containerd/containerd/images"
	"github.com/containerd/containerd/namespaces"
	corev1 "k8s.io/api/core/v1"
	nodev1 "k8s.io/api/node/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
)

const (
	nodeName     = "bench-node"
	containerdSk = "/run/containerd/containerd.sock"
	wasmImage    = "tug.bench/hello-http:wasm"
	linuxImage   = "tug.bench/hello-http:linux"
	podCIDR      = "10.90.0.0/22"
	bridge       = "tugbench0"
	ns           = "default"
)

type options struct {
	wasmPods, containerdPods, clients int
	bind                              string
	settle                            time.Duration
	logLevel                          string
	keep                              bool
	cpuProfile                        string
}

func main() {
	var o options
	flag.IntVar(&o.wasmPods, "wasm-pods", 200, "wasm pods started at once")
	flag.IntVar(&o.containerdPods, "containerd-pods", 20, "containerd pods started at once (0 skips them)")
	flag.IntVar(&o.clients, "clients", 16, "client goroutines creating the pods")
	flag.StringVar(&o.bind, "bind", "auto", `how pods reach the node: "scheduler", "node" (spec.nodeName set at create), or "auto" (the scheduler unless a phase has more pods than the node's allocatable pods)`)
	flag.DurationVar(&o.settle, "settle", 5*time.Second, "wait after the node is Ready, and after pods are up, before reading memory")
	flag.StringVar(&o.logLevel, "log-level", "info", "tug up's log level (its log is <dir>/up.log; -keep keeps it)")
	flag.BoolVar(&o.keep, "keep", false, "leave the temporary dir (binaries, data, up.log) and print its path")
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "write tug up's CPU profile over each N-pod start to FILE-<runtime> (through /debug/pprof), and its metrics after it to FILE-<runtime>.metrics")
	flag.Parse()
	if o.clients < 1 || o.wasmPods < 1 || o.containerdPods < 0 {
		fmt.Fprintln(os.Stderr, "node bench: -wasm-pods and -clients must be at least 1, -containerd-pods at least 0")
		os.Exit(2)
	}
	if o.bind != "auto" && o.bind != "scheduler" && o.bind != "node" {
		fmt.Fprintln(os.Stderr, `node bench: -bind: want "auto", "scheduler" or "node"`)
		os.Exit(2)
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "node bench:", err)
		os.Exit(1)
	}
}

func progress(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }

func run(o options) error {
	dir, err := os.MkdirTemp("", "tug-bench-node-")
	if err != nil {
		return err
	}
	data := filepath.Join(dir, "data")
	defer func() {
		// Runs last: tug has stopped; a network namespace or the memory-backed volumes'
		// tmpfs still mounted under the data dir would make RemoveAll fail.
		unmountNetns(data)
		if err := kubelet.UnmountMemory(filepath.Join(data, "kubelet")); err != nil {
			progress("cleanup: %v", err)
		}
		if o.keep {
			fmt.Println("\ndir kept:", dir)
			return
		}
		if rmErr := os.RemoveAll(dir); rmErr != nil {
			progress("cleanup: %v", rmErr)
		}
	}()
	root, err := benchenv.ModuleRoot()
	if err != nil {
		return err
	}

	progress("building tug, its log driver, the default modules and hello-http")
	bin := filepath.Join(dir, "tug")
	sched, ctrls, admit := filepath.Join(dir, "scheduler.wasm"), filepath.Join(dir, "controllers.wasm"), filepath.Join(dir, "admission.wasm")
	// Into the directory tug embeds it from, as make build does.
	logDriver := filepath.Join(root, "cmd", "tug", "internal", "logdriver", "bin", "tug-log-driver")
	if err := benchenv.GoBuild(root, "", "-trimpath", "-ldflags", "-s -w", "-o", logDriver, "./cmd/tug-log-driver"); err != nil {
		return err
	}
	if err := benchenv.GoBuild(root, "", "-o", bin, "./cmd/tug"); err != nil {
		return err
	}
	plugins := filepath.Join(root, "plugins")
	if err := benchenv.GoBuild(plugins, "wasm", "-buildmode=c-shared", "-o", sched, "./scheduler/cmd/defaults"); err != nil {
		return err
	}
	if err := benchenv.GoBuild(plugins, "wasm", "-buildmode=c-shared", "-o", admit, "./admission/cmd/defaults"); err != nil {
		return err
	}
	if err := benchenv.GoBuild(plugins, "wasm", "-buildmode=c-shared", "-o", ctrls, "./controllers/cmd/defaults"); err != nil {
		return err
	}
	wasmTar, err := helloImage(bin, root, dir, wasmImage, "wasip1", "wasm")
	if err != nil {
		return err
	}

	ctrdNS := fmt.Sprintf("tug-bench-%d", os.Getpid())
	ctrdWhy := containerdMissing(o.containerdPods)
	var ctrdVersion string
	if _, err := os.Stat(containerdSk); err == nil {
		v, err := containerdVersion()
		if err != nil && ctrdWhy == "" {
			ctrdWhy = err.Error()
		}
		ctrdVersion = v
	}
	imports := [][]string{{wasmTar}}
	if ctrdWhy == "" {
		linuxTar, err := helloImage(bin, root, dir, linuxImage, "linux", runtime.GOARCH)
		if err != nil {
			return err
		}
		imports = append(imports, []string{"--containerd-namespace", ctrdNS, linuxTar})
		defer cleanupContainerd(ctrdNS) // after tug has stopped (defers run last first)
		defer deleteBridge()
	}
	for _, args := range imports {
		cmd := exec.Command(bin, append([]string{"image", "import", "--data-dir", data}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("tug image import %s: %w\n%s", strings.Join(args, " "), err, out)
		}
	}

	// The run stops on Ctrl-C too, and still cleans up: pods deleted while tug runs, then
	// tug stopped, then what containerd keeps for the namespace.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	listen := benchenv.FreeAddr()
	up := exec.Command(bin, "up", "--data-dir", data, "--listen", listen, "--etcd-client-listen", benchenv.FreeAddr(),
		"--etcd-peer-listen", benchenv.FreeAddr(), "--node=true", "--node-name", nodeName, "--node-ip", "127.0.0.1",
		"--kubelet-listen", benchenv.FreeAddr(), "--kubelet-healthz-listen", "-",
		"--scheduler-module", sched, "--controllers-module", ctrls, "--admission-module", admit,
		"--containerd-namespace", ctrdNS, "--pod-cidr", podCIDR, "--cni-bridge", bridge,
		"--log-level", o.logLevel)
	upLog, err := os.Create(filepath.Join(dir, "up.log"))
	if err != nil {
		return err
	}
	defer upLog.Close()
	up.Stdout, up.Stderr = upLog, upLog
	if err := up.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	go func() { _ = up.Wait(); close(exited) }()
	defer stopTug(up, exited)

	kubeconfig := filepath.Join(data, "kubeconfig")
	rc, err := benchenv.WaitReady(ctx, kubeconfig, 2*time.Minute)
	if err != nil {
		return fmt.Errorf("%w (log: %s)", err, upLog.Name())
	}
	rc.QPS, rc.Burst = 1000, 2000
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return err
	}
	defer deleteAllPods(client) // while tug still runs: the agent removes containers and netns
	var maxPods int64
	if err := waitFor(ctx, 2*time.Minute, "Node "+nodeName+" Ready", func() bool {
		n, err := client.CoreV1().Nodes().Get(ctx, nodeName, metav1.GetOptions{})
		if err != nil || !nodeReady(n) {
			return false
		}
		maxPods = n.Status.Allocatable.Pods().Value()
		return true
	}); err != nil {
		return err
	}
	for _, h := range []string{"wasm", "runc"} {
		_, err := client.NodeV1().RuntimeClasses().Create(ctx, &nodev1.RuntimeClass{ObjectMeta: metav1.ObjectMeta{Name: h}, Handler: h}, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create RuntimeClass %s: %w", h, err)
		}
	}
	pid := up.Process.Pid
	if err := sleep(ctx, o.settle); err != nil {
		return err
	}
	rss0, err := rssKiB(pid)
	if err != nil {
		return err
	}
	progress("node Ready; tug RSS %s with no pods", kib(rss0))

	b := &bench{client: client, clients: o.clients, pid: pid, settle: o.settle, ctrdNS: ctrdNS, bind: o.bind, maxPods: maxPods,
		cpuProfile: o.cpuProfile}
	wasmRes, err := b.phase(ctx, "wasm", wasmImage, o.wasmPods)
	if err != nil {
		return fmt.Errorf("wasm phase: %w (log: %s)", err, upLog.Name())
	}
	var ctrdRes *phaseResult
	if ctrdWhy == "" {
		if ctrdRes, err = b.phase(ctx, "runc", linuxImage, o.containerdPods); err != nil {
			return fmt.Errorf("containerd phase: %w (log: %s)", err, upLog.Name())
		}
	} else {
		progress("containerd phase skipped: %s", ctrdWhy)
	}

	printResults(o, rss0, wasmRes, ctrdRes, ctrdWhy, ctrdVersion)
	return nil
}

// bench holds what the phases share.
type bench struct {
	client  kubernetes.Interface
	clients int
	pid     int
	settle  time.Duration
	ctrdNS  string
	bind    string
	// maxPods is the node's allocatable pods: the scheduler binds no more.
	maxPods int64
	// cpuProfile, when set, names the files tug's CPU profiles over each N-pod start go to.
	cpuProfile string
}

// phaseResult is what one runtime's phase measured.
type phaseResult struct {
	class string
	n     int
	// direct says the pods named the node at create; maxPods is the node's allocatable pods.
	direct  bool
	maxPods int64
	// cold is the first pod of the runtime, alone: create → Running and → Ready; warm the
	// second, alone too.
	coldRunning, coldReady time.Duration
	warmRunning, warmReady time.Duration
	// bound, running and ready are the N pods' latencies until they were seen bound to the
	// node, Running and Ready; share is each pod's time from bound to Running, the agent's
	// part; each sorted.
	bound, share, running, ready []time.Duration
	// firstRunning counts the pods whose first status from the agent was already Running.
	firstRunning int
	// wallRunning and wallReady run from the first create until the last pod was Running
	// (Ready); deleteWall from the delete request until every pod was gone.
	wallRunning, wallReady, deleteWall time.Duration
	// creates runs from the first create request until the last one returned.
	creates time.Duration
	// rssBefore is tug's RSS with none of the phase's pods (after the cold and the warm pod
	// came and went), rssWith with all N running, rssAfter once they were gone again.
	rssBefore, rssWith, rssAfter int64
	// outside is the memory of containerd's shims, log drivers and containers of the
	// namespace with the N pods running (zero for wasm, which runs inside tug).
	outside outsideMem
	checked int // pods whose address answered HTTP 200 after the measurement
}

// profile starts a CPU profile of tug for the next few seconds, written to
// b.cpuProfile-<class>; the returned func waits for it.
func (b *bench) profile(ctx context.Context, class string) func() error {
	if b.cpuProfile == "" {
		return func() error { return nil }
	}
	done := make(chan error, 1)
	go func() {
		raw, err := b.client.CoreV1().RESTClient().Get().AbsPath("/debug/pprof/profile").Param("seconds", "4").DoRaw(ctx)
		if err == nil {
			err = os.WriteFile(b.cpuProfile+"-"+class, raw, 0o644)
		}
		// The metrics beside it say whose wasm the profile's JIT-compiled frames were.
		if err == nil {
			raw, err = b.client.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
		}
		if err == nil {
			err = os.WriteFile(b.cpuProfile+"-"+class+".metrics", raw, 0o644)
		}
		done <- err
	}()
	return func() error {
		if err := <-done; err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		return nil
	}
}

// phase measures one runtime: a cold pod, a warm one, then n pods at once, then their
// deletion.
func (b *bench) phase(ctx context.Context, class, image string, n int) (*phaseResult, error) {
	res := &phaseResult{class: class, n: n, maxPods: b.maxPods}
	res.direct = b.bind == "node" || (b.bind == "auto" && int64(n) > b.maxPods)
	if res.direct && b.bind == "auto" {
		progress("%s: %d pods are more than the node's %d allocatable pods, which the scheduler would not exceed: "+
			"the pods name the node at create (spec.nodeName) instead", class, n, b.maxPods)
	}
	cold, err := b.startPods(ctx, class, image, class+"-cold", 1, res.direct)
	if err != nil {
		return nil, fmt.Errorf("cold pod: %w", err)
	}
	res.coldRunning, res.coldReady = cold.running[0], cold.ready[0]
	progress("%s: cold pod Running after %s, Ready after %s", class, ms(res.coldRunning), ms(res.coldReady))
	if _, err := b.deletePods(ctx, class+"-cold"); err != nil {
		return nil, err
	}
	warm, err := b.startPods(ctx, class, image, class+"-warm", 1, res.direct)
	if err != nil {
		return nil, fmt.Errorf("warm pod: %w", err)
	}
	res.warmRunning, res.warmReady = warm.running[0], warm.ready[0]
	progress("%s: a second pod alone Running after %s", class, ms(res.warmRunning))
	if _, err := b.deletePods(ctx, class+"-warm"); err != nil {
		return nil, err
	}
	if err := sleep(ctx, b.settle); err != nil {
		return nil, err
	}
	if res.rssBefore, err = rssKiB(b.pid); err != nil {
		return nil, err
	}

	profiled := b.profile(ctx, class)
	got, err := b.startPods(ctx, class, image, class, n, res.direct)
	if err != nil {
		return nil, err
	}
	if err := profiled(); err != nil {
		return nil, err
	}
	res.bound, res.share, res.running, res.ready = got.bound, got.share, got.running, got.ready
	res.firstRunning = got.firstRunning
	res.wallRunning, res.wallReady, res.creates = got.wallRunning, got.wallReady, got.creates
	progress("%s: %d pods Running in %s (p50 %s, p99 %s), Ready in %s", class, n, ms(res.wallRunning),
		ms(percentile(res.running, 50)), ms(percentile(res.running, 99)), ms(res.wallReady))
	if err := sleep(ctx, b.settle); err != nil {
		return nil, err
	}
	if res.rssWith, err = rssKiB(b.pid); err != nil {
		return nil, err
	}
	if class == "runc" {
		res.outside = containerdMemory(b.ctrdNS)
	}
	res.checked = checkServing(ctx, got.ips, 3)

	if res.deleteWall, err = b.deletePods(ctx, class); err != nil {
		return nil, err
	}
	progress("%s: %d pods deleted and gone in %s", class, n, ms(res.deleteWall))
	if err := sleep(ctx, b.settle); err != nil {
		return nil, err
	}
	if res.rssAfter, err = rssKiB(b.pid); err != nil {
		return nil, err
	}
	return res, nil
}

// started is what startPods observed.
type started struct {
	bound, share           []time.Duration
	running, ready         []time.Duration
	firstRunning           int
	wallRunning, wallReady time.Duration
	creates                time.Duration // from the first create until the last returned
	ips                    []string
}

// startPods creates n pods labelled bench=label from b.clients goroutines and waits, with a
// watch started before the first create, until every one is Running and Ready. With direct
// the pods name the node at create (spec.nodeName) instead of waiting for the scheduler.
func (b *bench) startPods(ctx context.Context, class, image, label string, n int, direct bool) (*started, error) {
	obs, err := observe(ctx, b.client, "bench="+label)
	if err != nil {
		return nil, err
	}
	defer obs.stop()
	createdAt := make([]time.Time, n)
	names := make([]string, n)
	for i := range n {
		names[i] = fmt.Sprintf("%s-%04d", label, i)
	}
	var next atomic.Int64
	var failed atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	for range min(b.clients, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1) - 1; i < int64(n); i = next.Add(1) - 1 {
				p := pod(names[i], label, class, image)
				if direct {
					p.Spec.NodeName = nodeName
				}
				createdAt[i] = time.Now()
				if _, err := b.client.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
					failed.Store(fmt.Errorf("create pod %s: %w", p.Name, err))
					return
				}
			}
		}()
	}
	wg.Wait()
	createsDone := time.Since(start)
	if err, _ := failed.Load().(error); err != nil {
		return nil, err
	}
	timeout := 2*time.Minute + time.Duration(n)*time.Second
	if err := waitFor(ctx, timeout, fmt.Sprintf("%d %s pods Running and Ready", n, label), func() bool {
		return obs.count() >= n
	}); err != nil {
		return nil, fmt.Errorf("%w; last seen: %s", err, obs.summary())
	}
	s := &started{creates: createsDone}
	var lastRunning, lastReady time.Time
	for i, name := range names {
		st := obs.get(name)
		s.bound = append(s.bound, st.bound.Sub(createdAt[i]))
		s.share = append(s.share, st.running.Sub(st.bound))
		if st.agent.Equal(st.running) {
			s.firstRunning++
		}
		s.running = append(s.running, st.running.Sub(createdAt[i]))
		s.ready = append(s.ready, st.ready.Sub(createdAt[i]))
		s.ips = append(s.ips, st.ip)
		if st.running.After(lastRunning) {
			lastRunning = st.running
		}
		if st.ready.After(lastReady) {
			lastReady = st.ready
		}
	}
	for _, d := range [][]time.Duration{s.bound, s.share, s.running, s.ready} {
		slices.Sort(d)
	}
	s.wallRunning, s.wallReady = lastRunning.Sub(start), lastReady.Sub(start)
	return s, nil
}

func pod(name, label, class, image string) *corev1.Pod {
	grace := int64(1)
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"bench": label}},
		Spec: corev1.PodSpec{
			RuntimeClassName:              &class,
			TerminationGracePeriodSeconds: &grace,
			Containers: []corev1.Container{{
				Name: "hello", Image: image, ImagePullPolicy: corev1.PullIfNotPresent,
				// A TCP containerPort makes a wasm container a CGI server.
				Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
			}},
		},
	}
}

// podSeen is when the watch first saw a pod bound to the node, with a status from the agent
// (hostIP set), Running and Ready.
type podSeen struct {
	bound, agent   time.Time
	running, ready time.Time
	ip             string
	last           string // phase and readiness last seen, for a timeout's message
}

// observer records, from a watch, when each pod of a selector was first seen bound, with a
// status from the agent, Running and Ready.
type observer struct {
	mu    sync.Mutex
	pods  map[string]*podSeen
	done  int // pods both Running and Ready
	stop  func()
	watch error
}

func observe(ctx context.Context, client kubernetes.Interface, selector string) (*observer, error) {
	ctx, cancel := context.WithCancel(ctx)
	o := &observer{pods: map[string]*podSeen{}, stop: cancel}
	list, err := client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		cancel()
		return nil, err
	}
	rv := list.ResourceVersion
	w, err := client.CoreV1().Pods(ns).Watch(ctx, metav1.ListOptions{LabelSelector: selector, ResourceVersion: rv})
	if err != nil {
		cancel()
		return nil, err
	}
	go func() {
		for {
			for ev := range w.ResultChan() {
				if ev.Type == watch.Error {
					// Going on from rv could miss events: give up, and let the wait that
					// times out say why.
					o.mu.Lock()
					o.watch = apierrors.FromObject(ev.Object)
					o.mu.Unlock()
					w.Stop()
					return
				}
				p, ok := ev.Object.(*corev1.Pod)
				if !ok {
					continue
				}
				rv = p.ResourceVersion
				o.saw(p, time.Now())
			}
			w.Stop()
			if ctx.Err() != nil {
				return
			}
			// The server ended the watch (a timeout): go on from the last event seen.
			if w, err = client.CoreV1().Pods(ns).Watch(ctx, metav1.ListOptions{LabelSelector: selector, ResourceVersion: rv}); err != nil {
				o.mu.Lock()
				o.watch = err
				o.mu.Unlock()
				return
			}
		}
	}()
	return o, nil
}

func (o *observer) saw(p *corev1.Pod, now time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	s := o.pods[p.Name]
	if s == nil {
		s = &podSeen{}
		o.pods[p.Name] = s
	}
	was := !s.running.IsZero() && !s.ready.IsZero()
	if p.Spec.NodeName != "" && s.bound.IsZero() {
		s.bound = now
	}
	if p.Status.HostIP != "" && s.agent.IsZero() {
		s.agent = now
	}
	if p.Status.Phase == corev1.PodRunning && s.running.IsZero() {
		s.running = now
	}
	if podReady(p) && s.ready.IsZero() {
		s.ready = now
	}
	if s.ip == "" {
		s.ip = p.Status.PodIP
	}
	s.last = fmt.Sprintf("%s ready=%v", p.Status.Phase, podReady(p))
	if !was && !s.running.IsZero() && !s.ready.IsZero() {
		o.done++
	}
}

func (o *observer) count() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.done
}

func (o *observer) get(name string) podSeen {
	o.mu.Lock()
	defer o.mu.Unlock()
	return *o.pods[name]
}

func (o *observer) summary() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	states := map[string]int{}
	for _, s := range o.pods {
		states[s.last]++
	}
	out := fmt.Sprintf("%d pods seen, %d Running and Ready, %v", len(o.pods), o.done, states)
	if o.watch != nil {
		out += fmt.Sprintf(", watch failed: %v", o.watch)
	}
	return out
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// deletePods deletes the pods labelled bench=label and returns how long until none is left.
func (b *bench) deletePods(ctx context.Context, label string) (time.Duration, error) {
	start := time.Now()
	sel := metav1.ListOptions{LabelSelector: "bench=" + label}
	if err := b.client.CoreV1().Pods(ns).DeleteCollection(ctx, metav1.DeleteOptions{}, sel); err != nil {
		return 0, err
	}
	err := waitFor(ctx, 5*time.Minute, "pods bench="+label+" gone", func() bool {
		l, err := b.client.CoreV1().Pods(ns).List(ctx, sel)
		return err == nil && len(l.Items) == 0
	})
	return time.Since(start), err
}

// deleteAllPods deletes every pod of the namespace and waits a minute at most for the agent
// to take them down; it runs on the way out, on its own context.
func deleteAllPods(client kubernetes.Interface) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if err := client.CoreV1().Pods(ns).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{}); err != nil {
		progress("cleanup: delete pods: %v", err)
		return
	}
	if err := waitFor(ctx, time.Minute, "pods gone", func() bool {
		l, err := client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		return err == nil && len(l.Items) == 0
	}); err != nil {
		progress("cleanup: %v", err)
	}
}

// checkServing GETs up to k of the pods' addresses on port 8080 and returns how many
// answered 200: a check that the pods measured really serve.
func checkServing(ctx context.Context, ips []string, k int) int {
	ok := 0
	hc := &http.Client{Timeout: 5 * time.Second}
	for i := 0; i < len(ips) && i < k; i++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+net.JoinHostPort(ips[i], "8080")+"/", nil)
		if err != nil {
			continue
		}
		resp, err := hc.Do(req)
		if err != nil {
			progress("pod at %s: %v", ips[i], err)
			continue
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			ok++
		}
	}
	return ok
}

// stopTug stops tug up with SIGTERM and waits for it, killing it after 60 s.
func stopTug(up *exec.Cmd, exited chan struct{}) {
	_ = up.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(60 * time.Second):
		progress("cleanup: tug up did not stop within 60 s of SIGTERM; killing it")
		_ = up.Process.Kill()
		<-exited
	}
}

// --- memory ---

// rssKiB is a process's resident set size (VmRSS) in KiB.
func rssKiB(pid int) (int64, error) {
	v, err := statusField(pid, "VmRSS:")
	if err != nil {
		return 0, fmt.Errorf("read RSS of pid %d: %w", pid, err)
	}
	return v, nil
}

// statusField reads a "Name:   123 kB" line of /proc/<pid>/status.
func statusField(pid int, name string) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), name); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", name, pid)
}

// pssKiB is a process's proportional set size (shared pages divided among their users).
func pssKiB(pid int) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "Pss:"); ok {
			v, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return v
		}
	}
	return 0
}

// outsideMem is the memory of the processes containerd runs for a namespace, by kind.
type outsideMem struct {
	shims, drivers, containers int   // process counts
	shimRSS, driverRSS, ctrRSS int64 // KiB
	shimPSS, driverPSS, ctrPSS int64 // KiB
	shimsFound                 bool
}

// containerdMemory finds the containerd-shim processes of the namespace through /proc and
// sums the memory of each shim and its descendants: the log driver (`tug-log-driver`, or
// `tug log-driver` in a build without it) and the container's processes.
func containerdMemory(namespace string) outsideMem {
	var m outsideMem
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return m
	}
	children := map[int][]int{}
	cmdlines := map[int][]string{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		// The field after the command (which may hold spaces) in parentheses is the state,
		// then the parent's pid.
		s := string(stat)
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(fields) < 2 {
			continue
		}
		ppid, _ := strconv.Atoi(fields[1])
		children[ppid] = append(children[ppid], pid)
		raw, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		cmdlines[pid] = strings.Split(strings.TrimRight(string(raw), "\x00"), "\x00")
	}
	for pid, args := range cmdlines {
		if len(args) == 0 || !strings.Contains(filepath.Base(args[0]), "containerd-shim") {
			continue
		}
		i := slices.Index(args, "-namespace")
		if i < 0 || i+1 >= len(args) || args[i+1] != namespace {
			continue
		}
		m.shimsFound = true
		m.shims++
		rss, _ := rssKiB(pid)
		m.shimRSS += rss
		m.shimPSS += pssKiB(pid)
		var walk func(int)
		walk = func(p int) {
			for _, c := range children[p] {
				rss, _ := rssKiB(c)
				if a := cmdlines[c]; len(a) > 1 && a[1] == "log-driver" {
					m.drivers++
					m.driverRSS += rss
					m.driverPSS += pssKiB(c)
				} else {
					m.containers++
					m.ctrRSS += rss
					m.ctrPSS += pssKiB(c)
				}
				walk(c)
			}
		}
		walk(pid)
	}
	return m
}

// --- containerd ---

// containerdMissing says why containerd pods cannot run here, or "" when they can.
func containerdMissing(n int) string {
	switch {
	case n == 0:
		return "-containerd-pods 0"
	case os.Geteuid() != 0:
		return "containerd pods need root (network namespaces, CNI)"
	}
	if _, err := os.Stat(containerdSk); err != nil {
		return "no containerd at " + containerdSk
	}
	return ""
}

func containerdVersion() (string, error) {
	client, err := containerd.New(containerdSk, containerd.WithTimeout(5*time.Second))
	if err != nil {
		return "", fmt.Errorf("containerd at %s: %w", containerdSk, err)
	}
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	v, err := client.Version(ctx)
	if err != nil {
		return "", fmt.Errorf("containerd at %s does not answer: %w", containerdSk, err)
	}
	return v.Version, nil
}

// cleanupContainerd removes what is left in the run's containerd namespace: containers
// outlive the agent by design.
func cleanupContainerd(namespace string) {
	client, err := containerd.New(containerdSk)
	if err != nil {
		progress("cleanup: %v", err)
		return
	}
	defer client.Close()
	ctx := namespaces.WithNamespace(context.Background(), namespace)
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
	if err := client.NamespaceService().Delete(ctx, namespace); err != nil {
		progress("cleanup: delete containerd namespace %s: %v", namespace, err)
	}
}

// deleteBridge removes the CNI bridge the run's pods attached to, and the node's masquerade
// table for it.
func deleteBridge() {
	if out, err := exec.Command("nft", "delete", "table", "ip", "tug-"+bridge).CombinedOutput(); err != nil &&
		!strings.Contains(string(out), "No such file") {
		progress("cleanup: nft delete table ip tug-%s: %v %s", bridge, err, out)
	}
	if out, err := exec.Command("ip", "link", "delete", bridge).CombinedOutput(); err != nil &&
		!strings.Contains(string(out), "Cannot find device") {
		progress("cleanup: ip link delete %s: %v %s", bridge, err, out)
	}
}

// unmountNetns detaches network namespaces left mounted under the data dir.
func unmountNetns(data string) {
	left, _ := filepath.Glob(filepath.Join(data, "kubelet", "cni", "netns", "*"))
	for _, p := range left {
		if err := syscall.Unmount(p, syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) {
			progress("cleanup: unmount %s: %v", p, err)
		}
	}
}

// --- building ---

// helloImage builds examples/hello-http for goos/goarch and packs it with `tug image pack` as
// an OCI image archive named name in dir, as the e2e tests do.
func helloImage(tug, root, dir, name, goos, goarch string) (string, error) {
	bin := filepath.Join(dir, "hello-"+goarch)
	cmd := exec.Command("go", "build", "-trimpath", "-o", bin, "./examples/hello-http")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS="+goos, "GOARCH="+goarch, "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build hello-http for %s/%s: %w\n%s", goos, goarch, err, out)
	}
	tarPath := filepath.Join(dir, "image-"+goos+".tar")
	if out, err := exec.Command(tug, "image", "pack", "--name", name, "-o", tarPath, bin, "--", "serve").CombinedOutput(); err != nil {
		return "", fmt.Errorf("tug image pack %s: %w\n%s", name, err, out)
	}
	return tarPath, nil
}

// --- waiting ---

func waitFor(ctx context.Context, timeout time.Duration, what string, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %s waiting for %s", timeout, what)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// --- results ---

// percentile is the nearest-rank percentile of sorted durations.
func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := (p*len(sorted)+99)/100 - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond)) }

func kib(k int64) string { return fmt.Sprintf("%.1f MiB", float64(k)/1024) }

func printResults(o options, rss0 int64, wasmRes, ctrdRes *phaseResult, ctrdWhy, ctrdVersion string) {
	fmt.Printf("node bench: %d wasm pods, %d containerd pods, %d clients creating\n\n", o.wasmPods, o.containerdPods, o.clients)
	fmt.Println("Pod startup, from just before each pod's create request until a watch sees it:")
	fmt.Println()
	fmt.Println("| runtime | pods | measured | p50 | p90 | p99 | max | all pods (wall) | first pod alone (cold) | second pod alone |")
	fmt.Println("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
	var notes []string
	row := func(name string, r *phaseResult) {
		bound := "create → bound by the scheduler"
		if r.direct {
			name += "¹"
			bound = "create → seen bound (spec.nodeName set at create¹)"
			note := fmt.Sprintf("¹ The %s pods named the node at create (spec.nodeName): the scheduler was not in their path", r.class)
			if int64(r.n) > r.maxPods {
				note += fmt.Sprintf(", because %d pods are more than the node's %d allocatable pods, which the scheduler does not exceed", r.n, r.maxPods)
			}
			notes = append(notes, note+".")
		}
		line := func(what string, d []time.Duration, wall, cold, warm string) {
			fmt.Printf("| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s |\n", name, r.n, what, ms(percentile(d, 50)), ms(percentile(d, 90)),
				ms(percentile(d, 99)), ms(d[len(d)-1]), wall, cold, warm)
		}
		line(bound, r.bound, "", "", "")
		line("bound → Running (the agent's part)", r.share, "", "", "")
		line("**create → Running**", r.running, ms(r.wallRunning), ms(r.coldRunning), ms(r.warmRunning))
		line("create → Ready", r.ready, ms(r.wallReady), ms(r.coldReady), ms(r.warmReady))
		notes = append(notes, fmt.Sprintf("%s: the %d create requests (%d at a time) returned within %s of the first; the first status the agent wrote already said Running for %d of %d pods.",
			r.class, r.n, min(o.clients, r.n), ms(r.creates), r.firstRunning, r.n))
	}
	row("wasm", wasmRes)
	if ctrdRes != nil {
		row("containerd", ctrdRes)
	}
	fmt.Println()
	for _, n := range notes {
		fmt.Println(n)
	}
	fmt.Printf("Deleting them (grace period 1 s) until the API had none: wasm %s", ms(wasmRes.deleteWall))
	if ctrdRes != nil {
		fmt.Printf(", containerd %s", ms(ctrdRes.deleteWall))
	}
	fmt.Println(".")
	fmt.Printf("Pods that answered GET / on port 8080 (the first 3 checked): wasm %d/%d", wasmRes.checked, min(3, wasmRes.n))
	if ctrdRes != nil {
		fmt.Printf(", containerd %d/%d", ctrdRes.checked, min(3, ctrdRes.n))
	}
	fmt.Println(".")
	if ctrdRes == nil {
		fmt.Printf("Containerd phase skipped: %s.\n", ctrdWhy)
	}

	fmt.Println()
	fmt.Println("Memory: RSS of the tug process (API server, etcd, scheduler, controllers and the node agent)")
	fmt.Println()
	fmt.Println("| state | tug RSS | per pod |")
	fmt.Println("| --- | --- | --- |")
	fmt.Printf("| node Ready, no pod yet | %s | |\n", kib(rss0))
	mem := func(name string, r *phaseResult) {
		fmt.Printf("| %s: no pod (after the cold and the warm pod came and went) | %s | |\n", name, kib(r.rssBefore))
		fmt.Printf("| %s: %d pods running | %s | %.0f KiB |\n", name, r.n, kib(r.rssWith), float64(r.rssWith-r.rssBefore)/float64(r.n))
		fmt.Printf("| %s: pods deleted again | %s | |\n", name, kib(r.rssAfter))
	}
	mem("wasm", wasmRes)
	if ctrdRes != nil {
		mem("containerd", ctrdRes)
		m := ctrdRes.outside
		if m.shimsFound {
			n := float64(ctrdRes.n)
			fmt.Println()
			fmt.Printf("Outside tug, with the %d containerd pods running (RSS counts shared pages in each process; PSS divides them):\n\n", ctrdRes.n)
			fmt.Println("| processes | count | RSS per pod | PSS per pod |")
			fmt.Println("| --- | --- | --- | --- |")
			fmt.Printf("| containerd-shim-runc-v2 | %d | %.0f KiB | %.0f KiB |\n", m.shims, float64(m.shimRSS)/n, float64(m.shimPSS)/n)
			fmt.Printf("| log driver (tug-log-driver) | %d | %.0f KiB | %.0f KiB |\n", m.drivers, float64(m.driverRSS)/n, float64(m.driverPSS)/n)
			fmt.Printf("| container processes (hello-http) | %d | %.0f KiB | %.0f KiB |\n", m.containers, float64(m.ctrRSS)/n, float64(m.ctrPSS)/n)
			fmt.Printf("| all | %d | %.0f KiB | %.0f KiB |\n", m.shims+m.drivers+m.containers,
				float64(m.shimRSS+m.driverRSS+m.ctrRSS)/n, float64(m.shimPSS+m.driverPSS+m.ctrPSS)/n)
		} else {
			fmt.Println("\nNo containerd-shim process of the namespace found in /proc.")
		}
	}

	fmt.Println()
	fmt.Println("Machine:", machine(ctrdVersion))
	fmt.Println("tug:", benchenv.Commit())
	fmt.Println()
	rerun := fmt.Sprintf("go run ./bench/node -wasm-pods %d -containerd-pods %d -clients %d", o.wasmPods, o.containerdPods, o.clients)
	if o.bind != "auto" {
		rerun += " -bind " + o.bind
	}
	if o.settle != 5*time.Second {
		rerun += " -settle " + o.settle.String()
	}
	fmt.Println("Rerun:", rerun)
}

// machine describes the machine, with containerd's version.
func machine(ctrdVersion string) string {
	if ctrdVersion == "" {
		return benchenv.Machine("no containerd")
	}
	return benchenv.Machine("containerd " + ctrdVersion)
}
