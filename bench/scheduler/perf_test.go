package scheduler

import (
	"cmp"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"

	pluginsv1alpha1 "github.com/tugboat-io/tug/core/api/plugins/v1alpha1"
	"github.com/tugboat-io/tug/core/apiserver"
	"github.com/tugboat-io/tug/core/apiserver/apiservertest"
	"github.com/tugboat-io/tug/core/scheduler"
	"github.com/tugboat-io/tug/hostabi"
	"github.com/tugboat-io/tug/sdk/go/sdktest"
)

// The scheduler_perf shapes: the whole scheduler — informers, queue, cache, the chain, binding
// through pods/binding — against a real API server on embedded etcd, in this process. Each
// case runs once per chain (wasm, then native) on a fresh API server, so both start from the
// same state. Minutes per case; run only on request:
//
//	go test -run '^$' -bench Scheduling -benchtime 1x -timeout 30m
//	go test -run '^$' -bench 'SchedulingBasic/wasm' -benchtime 1x -timeout 30m -args -perf.cpuprofile /tmp/prof
var (
	perfCPUProfile = flag.String("perf.cpuprofile", "", "write a CPU profile of each measured phase to `dir`/<case>-<chain>.pprof")
	perfQPS        = flag.Float64("perf.qps", -1, "client-side QPS limit of the scheduler's API client, burst twice that (≤ 0: none, as scheduler_perf's 5000 effectively is; tug serve uses 500)")
	perfCreators   = flag.Int("perf.creators", 8, "goroutines creating the measured pods")
	perfPods       = flag.Int("perf.pods", 0, "measured pods, instead of the case's (for trying the benchmark quickly)")
	perfNodes      = flag.Int("perf.nodes", 0, "nodes, instead of the case's 5000")
	perfTimeout    = flag.Duration("perf.timeout", 10*time.Minute, "give up waiting for the measured pods to be bound after this long")
	perfBacklog    = flag.Bool("perf.backlog", false, "create the measured pods first, for a scheduler name no profile serves, then measure from "+
		"the kubectl-apply of a SchedulerProfile for that name: the scheduler's throughput without the API server's pod creation beside it")
)

// backlogScheduler is the schedulerName of the measured pods under -perf.backlog.
const backlogScheduler = "backlog"

// perfCase is one scheduler_perf workload: Nodes nodes, InitPods pods bound to them before the
// scheduler starts, then MeasuredPods pending pods created while it runs.
type perfCase struct {
	Name                   string
	Nodes                  int
	InitPods, MeasuredPods int
	// Init and Measured make pod i of each group (name and namespace are set by the caller).
	Init, Measured func(i int) *corev1.Pod
	// OnePerNode says every pod needs a node of its own.
	OnePerNode bool
}

// schedulingBasic is scheduler_perf's SchedulingBasic/5000Nodes_10000Pods (misc/
// performance-config.yaml): pod-default.yaml pods (100m cpu, 500Mi) on node-default.yaml nodes
// (4 cpu, 32Gi, 110 pods).
var schedulingBasic = perfCase{Name: "SchedulingBasic", Nodes: 5000, InitPods: 1000, MeasuredPods: 10000,
	Init: func(int) *corev1.Pod { return perfPod() }, Measured: func(int) *corev1.Pod { return perfPod() }}

// schedulingPodAntiAffinity is scheduler_perf's SchedulingPodAntiAffinity/5000Nodes_2000Pods
// (affinity/performance-config.yaml) with 250 measured pods instead of 2000: every pod,
// initial and measured, is color=green with a required anti-affinity to color=green pods of
// both namespaces on the same hostname, so each lands on a node of its own. (The wasm chain
// takes half a second per pod here and more as the pods grow, so 2000 would take twenty
// minutes or more; pass -perf.pods 2000 for the whole shape.)
var schedulingPodAntiAffinity = perfCase{Name: "SchedulingPodAntiAffinity", Nodes: 5000, InitPods: 1000, MeasuredPods: 250,
	Init: func(int) *corev1.Pod { return antiAffinityPod() }, Measured: func(int) *corev1.Pod { return antiAffinityPod() },
	OnePerNode: true}

const (
	initNS    = "sched-0"
	measureNS = "sched-1"
	warmupNS  = "warmup"
)

// perfPod is scheduler_perf's pod-default.yaml.
func perfPod() *corev1.Pod {
	rl := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("500Mi")}
	return &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "pause", Image: "registry.k8s.io/pause:3.10",
		Ports:     []corev1.ContainerPort{{ContainerPort: 80}},
		Resources: corev1.ResourceRequirements{Requests: rl, Limits: rl}}}}}
}

// antiAffinityPod is scheduler_perf's pod-with-pod-anti-affinity.yaml.
func antiAffinityPod() *corev1.Pod {
	p := perfPod()
	p.Labels = map[string]string{"color": "green"}
	p.Spec.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
			LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"color": "green"}},
			TopologyKey:   "kubernetes.io/hostname", Namespaces: []string{measureNS, initNS}}}}}
	return p
}

// perfNode is scheduler_perf's node-default.yaml, with the hostname label every kubelet sets.
func perfNode(i int) *corev1.Node {
	name := fmt.Sprintf("node-%04d", i)
	capacity := corev1.ResourceList{corev1.ResourcePods: resource.MustParse("110"), corev1.ResourceCPU: resource.MustParse("4"),
		corev1.ResourceMemory: resource.MustParse("32Gi")}
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"kubernetes.io/hostname": name}},
		Status: corev1.NodeStatus{Capacity: capacity, Allocatable: capacity, Phase: corev1.NodeRunning,
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}}}
}

// BenchmarkSchedulingBasic is scheduler_perf's SchedulingBasic/5000Nodes_10000Pods, the
// chain in wasm and natively.
func BenchmarkSchedulingBasic(b *testing.B) { runPerf(b, schedulingBasic) }

// BenchmarkSchedulingPodAntiAffinity is scheduler_perf's
// SchedulingPodAntiAffinity/5000Nodes_2000Pods with 250 measured pods, the chain in wasm and
// natively.
func BenchmarkSchedulingPodAntiAffinity(b *testing.B) { runPerf(b, schedulingPodAntiAffinity) }

func runPerf(b *testing.B, pc perfCase) {
	if *perfPods > 0 {
		pc.MeasuredPods = *perfPods
	}
	if *perfNodes > 0 {
		pc.InitPods = pc.InitPods * *perfNodes / pc.Nodes // the same share of the nodes
		pc.Nodes = *perfNodes
	}
	if pc.OnePerNode && pc.InitPods+pc.MeasuredPods > pc.Nodes {
		b.Fatalf("%s: %d pods need a node each, and there are %d nodes", pc.Name, pc.InitPods+pc.MeasuredPods, pc.Nodes)
	}
	rates := map[string]float64{}
	for _, side := range []struct {
		name string
		load func(testing.TB) (*scheduler.Module, []hostabi.HostedPlugin)
	}{{"wasm", wasmModule}, {"native", nativeModule}} {
		b.Run(side.name, func(b *testing.B) {
			var pods int
			var elapsed time.Duration
			// Each round is a whole run on a fresh API server (-benchtime 1x: one round; a
			// round outlasts the default benchtime, so one also without it).
			for range b.N {
				b.StopTimer()
				r := perfRound(b, pc, side.name, side.load)
				pods += r.pods
				elapsed += r.elapsed
			}
			rates[side.name] = float64(pods) / elapsed.Seconds()
			b.ReportMetric(rates[side.name], "pods/s")
		})
	}
	if rates["wasm"] > 0 && rates["native"] > 0 {
		// Printed, not logged: a benchmark with sub-benchmarks shows its log only under -v.
		fmt.Printf("%s: wasm %.1f pods/s, native %.1f pods/s, wasm/native = %.2f×\n", pc.Name, rates["wasm"], rates["native"],
			rates["wasm"]/rates["native"])
	}
}

type roundResult struct {
	pods    int
	elapsed time.Duration
}

// perfRound runs the case once: setup with the timer stopped, the measured pods with it
// running (from the first create until the watch shows the last one bound).
func perfRound(b *testing.B, pc perfCase, chain string, load func(testing.TB) (*scheduler.Module, []hostabi.HostedPlugin)) roundResult {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	m, hosted := load(b)
	timing := &cycleTiming{hosted: hosted}
	prof := profile(b, timing.wrap(m), hosted)
	if chain == "native" {
		// The native plugins are process-wide: leave no resident nodes to the next round.
		b.Cleanup(func() { forgetNodes(b, pc.Nodes) })
	}

	srv := apiservertest.Start(b, apiserver.Config{})
	client := loadClient(b, srv.URL)
	setupStart := time.Now()
	for _, ns := range []string{initNS, measureNS, warmupNS} {
		if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
			metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	parallel(b, 16, pc.Nodes, func(i int) error {
		_, err := client.CoreV1().Nodes().Create(ctx, perfNode(i), metav1.CreateOptions{})
		return err
	})
	// Initial pods are bound from the start, spread evenly (one node in five for 1000 pods on
	// 5000 nodes: none shares a node, as the anti-affinity case requires).
	parallel(b, 16, pc.InitPods, func(i int) error {
		p := pc.Init(i)
		p.Name, p.Namespace = fmt.Sprintf("init-%05d", i), initNS
		p.Spec.NodeName = perfNode(i * pc.Nodes / max(pc.InitPods, 1)).Name
		_, err := client.CoreV1().Pods(initNS).Create(ctx, p, metav1.CreateOptions{})
		return err
	})
	setup := time.Since(setupStart)

	logs := &countingHandler{}
	// Under -perf.backlog the measured pods wait for a SchedulerProfile of their own, built
	// from the same chain.
	watch := &scheduler.ProfileWatch{Config: &rest.Config{Host: srv.URL, QPS: -1},
		Build: func(_ context.Context, spec *pluginsv1alpha1.SchedulerProfileSpec) (*scheduler.Profile, func(), error) {
			p := *prof
			p.SchedulerName = spec.SchedulerName
			return &p, func() {}, nil
		}}
	s := scheduler.New(scheduler.Config{Client: perfClient(b, srv.URL, *perfQPS), Profiles: []*scheduler.Profile{prof},
		Logger: slog.New(logs), Watch: watch})
	schedCtx, stopScheduler := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.Run(schedCtx) }()
	defer func() {
		stopScheduler()
		if err := <-done; err != nil {
			b.Errorf("scheduler: %v", err)
		}
	}()

	// Warm up: the first cycle sends every node to the chain (a fresh wasm instance has
	// none resident); one pod, bound, and the scheduler is running with the cluster loaded.
	warmStart := time.Now()
	warm := pc.Measured(0)
	warm.Name, warm.Namespace = "warmup", warmupNS
	warm.Labels = nil
	warm.Spec.Affinity = nil
	if _, err := client.CoreV1().Pods(warmupNS).Create(ctx, warm, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	for {
		p, err := client.CoreV1().Pods(warmupNS).Get(ctx, "warmup", metav1.GetOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if p.Spec.NodeName != "" {
			break
		}
		if time.Since(warmStart) > 5*time.Minute {
			b.Fatalf("warm-up pod not bound after %v", time.Since(warmStart))
		}
		time.Sleep(20 * time.Millisecond)
	}
	warmup := time.Since(warmStart)
	if got := len(s.Nodes()); got != pc.Nodes {
		b.Fatalf("scheduler has %d nodes, want %d", got, pc.Nodes)
	}

	w := watchBindings(b, ctx, client, pc.MeasuredPods)
	var createErrs atomic.Int64
	create := func() time.Duration {
		start := time.Now()
		parallel(b, *perfCreators, pc.MeasuredPods, func(i int) error {
			p := pc.Measured(i)
			p.Name, p.Namespace = fmt.Sprintf("pod-%05d", i), measureNS
			if *perfBacklog {
				p.Spec.SchedulerName = backlogScheduler
			}
			if _, err := client.CoreV1().Pods(measureNS).Create(ctx, p, metav1.CreateOptions{}); err != nil {
				createErrs.Add(1)
				return err
			}
			return nil
		})
		return time.Since(start)
	}
	var created time.Duration
	if *perfBacklog {
		created = create()
	}
	timing.reset()
	var stopProfile func()
	if *perfCPUProfile != "" {
		stopProfile = startProfile(b, filepath.Join(*perfCPUProfile, pc.Name+"-"+chain+".pprof"))
	}
	b.StartTimer()
	start := time.Now()
	if *perfBacklog {
		sp := &pluginsv1alpha1.SchedulerProfile{TypeMeta: metav1.TypeMeta{APIVersion: pluginsv1alpha1.SchemeGroupVersion.String(), Kind: "SchedulerProfile"},
			ObjectMeta: metav1.ObjectMeta{Name: backlogScheduler}, Spec: pluginsv1alpha1.SchedulerProfileSpec{SchedulerName: backlogScheduler}}
		body, err := json.Marshal(sp)
		if err != nil {
			b.Fatal(err)
		}
		if err := client.CoreV1().RESTClient().Post().AbsPath("/apis/plugins.tug.dev/v1alpha1/schedulerprofiles").
			SetHeader("Content-Type", "application/json").Body(body).Do(ctx).Error(); err != nil {
			b.Fatalf("create the backlog's SchedulerProfile: %v", err)
		}
	} else {
		created = create()
	}
	var timedOut bool
	giveUp := time.After(*perfTimeout - created)
	progress := time.NewTicker(30 * time.Second)
	defer progress.Stop()
wait:
	for {
		select {
		case <-w.all:
			break wait
		case <-giveUp:
			timedOut = true
			break wait
		case <-progress.C:
			_, n, _ := w.result()
			fmt.Fprintf(os.Stderr, "%s/%s: %d of %d pods bound after %v\n", pc.Name, chain, n, pc.MeasuredPods,
				time.Since(start).Round(time.Second))
		}
	}
	b.StopTimer()
	cycles, inCycles, inCalls, inNodes := timing.get()
	if stopProfile != nil {
		stopProfile()
	}
	last, bound, rebound := w.result()
	elapsed := last.Sub(start)

	// Check what happened, with the measurement over: every pod bound once, the Scheduled
	// events (one per successful binding), the anti-affinity kept.
	pending, violations := checkPlacements(b, ctx, client, pc)
	twice, failed := countEvents(b, ctx, client, bound)
	perSecond := w.perSecond(start)
	mode := "created while the scheduler runs"
	if *perfBacklog {
		mode = "created first, a backlog"
	}
	b.Logf("%s/%s: %d nodes, %d initial pods, %d measured pods %s (%d creators; scheduler client QPS %v)",
		pc.Name, chain, pc.Nodes, pc.InitPods, pc.MeasuredPods, mode, *perfCreators, qpsName(*perfQPS))
	b.Logf("%s/%s: setup %v, warm-up pod bound after %v; measured pods created in %v (%.0f/s), all bound after %v",
		pc.Name, chain, setup.Round(time.Millisecond), warmup.Round(time.Millisecond), created.Round(time.Millisecond),
		float64(pc.MeasuredPods)/created.Seconds(), elapsed.Round(time.Millisecond))
	b.Logf("%s/%s: %.1f pods/s overall; per second: p10 %d, p50 %d, p90 %d, max %d", pc.Name, chain,
		float64(bound)/elapsed.Seconds(), pct(perSecond, 10), pct(perSecond, 50), pct(perSecond, 90), pct(perSecond, 100))
	b.Logf("%s/%s: %d cycles, %.2f ms each (plugin calls %.2f ms, of which node updates %.2f ms); the loop was in a cycle %.0f%% of the time",
		pc.Name, chain, cycles, ms(inCycles, cycles), ms(inCalls, cycles), ms(inNodes, cycles), 100*inCycles.Seconds()/elapsed.Seconds())
	b.Logf("%s/%s: ms per cycle in plugin calls: %s", pc.Name, chain, timing.breakdown())
	b.Logf("%s/%s: bound %d, left pending %d, bound twice %d (watch) / %d (Scheduled events for one pod), FailedScheduling events %d, "+
		"anti-affinity violations %d, scheduler warnings %d %q",
		pc.Name, chain, bound, pending, rebound, twice, failed, violations, logs.warnings.Load(), logs.first())
	if timedOut || bound != pc.MeasuredPods || pending > 0 || rebound > 0 || twice > 0 || violations > 0 || createErrs.Load() > 0 {
		b.Fatalf("%s/%s: not every pod bound exactly once (timed out %v, create errors %d)", pc.Name, chain, timedOut, createErrs.Load())
	}
	return roundResult{pods: bound, elapsed: elapsed}
}

// cycleTiming times the scheduler's cycles from outside the framework: a cycle holds the
// module's instance from its start to its end, and every plugin call goes through it.
type cycleTiming struct {
	cycles, inCycles, inCalls, inNodes atomic.Int64
	hosted                             []hostabi.HostedPlugin // names the plugin index of *_at calls

	mu    sync.Mutex
	calls map[string]time.Duration // by extension point and plugin: "Filter NodeResourcesFit"
}

func (ct *cycleTiming) wrap(m *scheduler.Module) *scheduler.Module {
	w := *m
	w.Acquire = func(ctx context.Context) (scheduler.Instance, func(), error) {
		start := time.Now()
		inst, release, err := m.Acquire(ctx)
		if err != nil {
			return nil, nil, err
		}
		return timedInstance{inst, ct}, func() {
			release()
			ct.cycles.Add(1)
			ct.inCycles.Add(int64(time.Since(start)))
		}, nil
	}
	return &w
}

func (ct *cycleTiming) reset() {
	ct.mu.Lock()
	ct.calls = map[string]time.Duration{}
	ct.mu.Unlock()
	ct.cycles.Store(0)
	ct.inCycles.Store(0)
	ct.inCalls.Store(0)
	ct.inNodes.Store(0)
}

func (ct *cycleTiming) get() (cycles int64, inCycles, inCalls, inNodes time.Duration) {
	return ct.cycles.Load(), time.Duration(ct.inCycles.Load()), time.Duration(ct.inCalls.Load()), time.Duration(ct.inNodes.Load())
}

type timedInstance struct {
	scheduler.Instance
	ct *cycleTiming
}

func (t timedInstance) Call(ctx context.Context, export string, in []byte) ([]byte, hostabi.Status, error) {
	start := time.Now()
	out, st, err := t.Instance.Call(ctx, export, in)
	d := time.Since(start)
	t.ct.inCalls.Add(int64(d))
	if export == hostabi.ExportSchedNodes {
		t.ct.inNodes.Add(int64(d))
	}
	t.ct.record(export, in, d)
	return out, st, err
}

var pointNames = map[string]string{hostabi.ExportSchedNodes: "nodes", hostabi.ExportSchedPreFilter: "PreFilter",
	hostabi.ExportSchedFilterAt: "Filter", hostabi.ExportSchedScoreAt: "Score", hostabi.ExportSchedNormalizeAt: "NormalizeScore"}

func (ct *cycleTiming) record(export string, in []byte, d time.Duration) {
	key := pointNames[export]
	if key == "" {
		key = export
	}
	if i, _, err := hostabi.CutPluginIndex(in); err == nil && key != "nodes" && key != "PreFilter" && int(i) < len(ct.hosted) {
		key += " " + ct.hosted[i].Name
	}
	ct.mu.Lock()
	defer ct.mu.Unlock()
	if ct.calls != nil {
		ct.calls[key] += d
	}
}

// breakdown is the time per cycle of each extension point and plugin, most first.
func (ct *cycleTiming) breakdown() string {
	ct.mu.Lock()
	defer ct.mu.Unlock()
	n := max(ct.cycles.Load(), 1)
	keys := slices.Collect(maps.Keys(ct.calls))
	slices.SortFunc(keys, func(a, b string) int { return cmp.Compare(ct.calls[b], ct.calls[a]) })
	var out []string
	for _, k := range keys {
		out = append(out, fmt.Sprintf("%s %.2f", k, ms(ct.calls[k], n)))
	}
	return strings.Join(out, ", ")
}

func ms(d time.Duration, n int64) float64 {
	if n == 0 {
		return 0
	}
	return d.Seconds() * 1000 / float64(n)
}

// perfClient is the scheduler's client, as tug serve makes it (JSON, client-go's transport
// for plain HTTP), with a QPS limit (≤ 0: none).
func perfClient(tb testing.TB, url string, qps float64) kubernetes.Interface {
	cfg := &rest.Config{Host: url, QPS: -1}
	if qps > 0 {
		cfg.QPS, cfg.Burst = float32(qps), int(2*qps)
	}
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// loadClient is the benchmark's own client (setup, creators, watch): no QPS limit, and enough
// idle connections for every creator (http.DefaultTransport, which client-go uses for plain
// HTTP, keeps two).
func loadClient(tb testing.TB, url string) kubernetes.Interface {
	c, err := kubernetes.NewForConfig(&rest.Config{Host: url, QPS: -1,
		Transport: &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: time.Minute}})
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

func qpsName(qps float64) string {
	if qps <= 0 {
		return "unlimited"
	}
	return fmt.Sprint(qps)
}

// parallel runs f(0) … f(n-1) on workers goroutines and fails on the first error.
func parallel(tb testing.TB, workers, n int, f func(i int) error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := f(i); err != nil {
					errs <- fmt.Errorf("item %d: %w", i, err)
					next.Store(int64(n)) // stop the others
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		tb.Fatal(err)
	}
}

// bindWatch follows the measured namespace's pods and notes when each is first seen bound.
type bindWatch struct {
	want int
	all  chan struct{}

	mu      sync.Mutex
	node    map[string]string // pod → node it was first seen bound to
	times   []time.Time       // when each pod was first seen bound
	rebound int               // pods seen bound to a second node
}

func watchBindings(tb testing.TB, ctx context.Context, client kubernetes.Interface, want int) *bindWatch {
	w := &bindWatch{want: want, all: make(chan struct{}), node: map[string]string{}}
	factory := informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithNamespace(measureNS))
	inf := factory.Core().V1().Pods().Informer()
	on := func(o any) {
		p, ok := o.(*corev1.Pod)
		if !ok || p.Spec.NodeName == "" {
			return
		}
		now := time.Now()
		w.mu.Lock()
		defer w.mu.Unlock()
		switch prev, seen := w.node[p.Name]; {
		case !seen:
			w.node[p.Name] = p.Spec.NodeName
			w.times = append(w.times, now)
			if len(w.times) == w.want {
				close(w.all)
			}
		case prev != p.Spec.NodeName:
			w.rebound++
		}
	}
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: on, UpdateFunc: func(_, o any) { on(o) }}); err != nil {
		tb.Fatal(err)
	}
	stop := make(chan struct{})
	tb.Cleanup(func() { close(stop); factory.Shutdown() })
	factory.Start(stop)
	for typ, ok := range factory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			tb.Fatalf("%v informer did not sync", typ)
		}
	}
	return w
}

// result returns when the last pod was seen bound, how many were, and how many were seen
// bound to a second node.
func (w *bindWatch) result() (last time.Time, bound, rebound int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.times) > 0 {
		last = w.times[len(w.times)-1]
	}
	return last, len(w.times), w.rebound
}

// perSecond counts the pods bound in each whole second after start, as scheduler_perf samples
// its SchedulingThroughput (the last, partial second left out).
func (w *bindWatch) perSecond(start time.Time) []int {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.times) == 0 {
		return nil
	}
	n := int(w.times[len(w.times)-1].Sub(start) / time.Second)
	counts := make([]int, n)
	for _, t := range w.times {
		if s := int(t.Sub(start) / time.Second); s < n {
			counts[s]++
		}
	}
	return counts
}

func pct(xs []int, p int) int {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(xs))
	return s[min(len(s)-1, len(s)*p/100)]
}

// checkPlacements lists the pods: how many measured pods are still pending, and, for the
// anti-affinity case, how many nodes hold more than one pod with anti-affinity.
func checkPlacements(tb testing.TB, ctx context.Context, client kubernetes.Interface, pc perfCase) (pending, violations int) {
	perNode := map[string]int{}
	for _, ns := range []string{initNS, measureNS} {
		l, err := client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			tb.Fatal(err)
		}
		for _, p := range l.Items {
			if p.Spec.NodeName == "" {
				pending++
				continue
			}
			if p.Spec.Affinity != nil && p.Spec.Affinity.PodAntiAffinity != nil {
				if perNode[p.Spec.NodeName]++; perNode[p.Spec.NodeName] == 2 {
					violations++
				}
			}
		}
	}
	return pending, violations
}

// countEvents waits (a little) for the scheduler's Scheduled events of the measured pods and
// returns how many pods got more than one, and how many FailedScheduling events there were.
func countEvents(tb testing.TB, ctx context.Context, client kubernetes.Interface, bound int) (twice, failed int) {
	var evs []corev1.Event
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		l, err := client.CoreV1().Events(measureNS).List(ctx, metav1.ListOptions{})
		if err != nil {
			tb.Fatal(err)
		}
		evs = l.Items
		n := 0
		for _, e := range evs {
			if e.Reason == "Scheduled" {
				n++
			}
		}
		if n >= bound || time.Now().After(deadline) {
			break
		}
	}
	per := map[string]int{}
	for _, e := range evs {
		switch e.Reason {
		case "Scheduled":
			if per[e.InvolvedObject.Name]++; per[e.InvolvedObject.Name] == 2 {
				twice++
			}
		case "FailedScheduling":
			failed++
		}
	}
	return twice, failed
}

// forgetNodes removes the native plugins' resident nodes (ids 0 … n-1, as a fresh cache
// hands them out).
func forgetNodes(tb testing.TB, n int) {
	ch := hostabi.NodeChanges{Set: []hostabi.NodeEntry{}}
	for i := range n {
		ch.Remove = append(ch.Remove, uint32(i))
	}
	in, err := json.Marshal(ch)
	if err != nil {
		tb.Fatal(err)
	}
	if st, out := sdktest.Call(tb, hostabi.ExportSchedNodes, in); st != hostabi.StatusOK {
		tb.Errorf("forgetting the native plugins' nodes: %v %s", st, out)
	}
}

func startProfile(tb testing.TB, path string) (stop func()) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		tb.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		tb.Fatal(err)
	}
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			tb.Error(err)
		}
		tb.Logf("CPU profile of the measured phase: %s", path)
	}
}

// countingHandler counts the scheduler's warnings and errors and keeps the first few.
type countingHandler struct {
	warnings atomic.Int64
	mu       sync.Mutex
	msgs     []string
}

func (h *countingHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }

func (h *countingHandler) Handle(_ context.Context, r slog.Record) error {
	h.warnings.Add(1)
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.msgs) < 3 {
		msg := r.Message
		r.Attrs(func(a slog.Attr) bool { msg += " " + a.String(); return true })
		h.msgs = append(h.msgs, msg)
	}
	return nil
}

func (h *countingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *countingHandler) WithGroup(string) slog.Handler      { return h }

func (h *countingHandler) first() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.msgs)
}
