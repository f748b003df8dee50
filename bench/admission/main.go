// Command admission measures what tug's default admission chain costs a create: it starts
// one embedded etcd and two API servers on it — one with the built-in admission policies
// (tug's default admission module, built here from plugins/admission), one with none — and
// creates pods through each in alternating rounds, one at a time, reporting p50 and p99 of
// each and the difference, in one run.
//
//	go run ./bench/admission -n 2000 -rounds 3
//
// The pods land in a namespace with a LimitRange, a ResourceQuota and the default service
// account, so every built-in policy has something to do: NamespaceLifecycle, LimitRanger,
// ServiceAccount, DefaultTolerationSeconds, PodSecurity (baseline enforced by label) and
// ResourceQuota (charged atomically with each create).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tugboat-io/tug/bench/internal/benchenv"
	"github.com/tugboat-io/tug/core/admission"
	"github.com/tugboat-io/tug/core/apiserver"
	"github.com/tugboat-io/tug/core/store"
	"github.com/tugboat-io/tug/hostabi"
	tugruntime "github.com/tugboat-io/tug/runtime"
)

func main() {
	n := flag.Int("n", 2000, "pods created per round and server")
	rounds := flag.Int("rounds", 3, "alternating rounds")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	flag.Parse()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "admission:", err)
			os.Exit(1)
		}
		_ = pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	if err := run(*n, *rounds); err != nil {
		pprof.StopCPUProfile()
		fmt.Fprintln(os.Stderr, "admission:", err)
		os.Exit(1)
	}
}

func run(n, rounds int) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	root, err := benchenv.ModuleRoot()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "tug-bench-admission")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	wasmPath := filepath.Join(dir, "admission.wasm")
	if err := benchenv.GoBuild(filepath.Join(root, "plugins"), "wasm", "-buildmode=c-shared", "-o", wasmPath, "./admission/cmd/defaults"); err != nil {
		return err
	}
	wasm, err := os.ReadFile(wasmPath)
	if err != nil {
		return err
	}
	m, err := store.StartEmbedded(ctx, store.EmbedConfig{Name: "bench", DataDir: filepath.Join(dir, "etcd"),
		ClientListen: benchenv.FreeAddr(), PeerListen: benchenv.FreeAddr(), Logger: log})
	if err != nil {
		return err
	}
	defer m.Close()
	cli, err := clientv3.New(clientv3.Config{Endpoints: m.Endpoints(), DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		return err
	}
	defer cli.Close()

	// Without admission.
	plain, err := serve(ctx, apiserver.Config{Etcd: cli, Logger: log})
	if err != nil {
		return err
	}
	// With the built-in policies, decided by the default module.
	chain := admission.New(admission.Config{Logger: log})
	reg := prometheus.NewRegistry()
	rt, err := tugruntime.New(ctx, tugruntime.Config{Logger: log, Registerer: reg})
	if err != nil {
		return err
	}
	defer rt.Close(context.Background())
	slot := rt.NewSlot("admission/builtin")
	if err := slot.Swap(ctx, wasm, tugruntime.PluginOptions{PoolSize: 4, Deadline: time.Second, MemoryLimitPages: 2048}); err != nil {
		return err
	}
	chain.SetPlugins(slot, func(string) (admission.Plugin, bool) { return nil, false })
	timing := &timedAdmission{next: chain, cur: map[*apiserver.AdmissionRequest]time.Duration{}}
	srv, err := apiserver.New(ctx, apiserver.Config{Etcd: cli, Logger: log, Admission: timing})
	if err != nil {
		return err
	}
	chain.UseReader(srv.AdmissionReader())
	admitted, err := listen(ctx, srv)
	if err != nil {
		return err
	}
	dyn, err := dynamic.NewForConfig(&rest.Config{Host: admitted})
	if err != nil {
		return err
	}
	go func() { _ = chain.Run(ctx, dyn) }()
	select {
	case <-chain.Synced():
	case <-time.After(30 * time.Second):
		return fmt.Errorf("admission policies not synced")
	}

	cs, err := kubernetes.NewForConfig(&rest.Config{Host: admitted, QPS: -1})
	if err != nil {
		return err
	}
	if err := prepare(ctx, cs); err != nil {
		return err
	}
	plainCS, err := kubernetes.NewForConfig(&rest.Config{Host: plain, QPS: -1})
	if err != nil {
		return err
	}
	fmt.Printf("machine: %s\ncommit: %s\npolicies: %v\n\n", benchenv.Machine(""), benchenv.Commit(), chain.Policies())
	var with, without, inChain []time.Duration
	var wasmTime float64 // seconds in tug_admit calls, summed over the measured creates
	for r := range rounds {
		d, err := creates(ctx, plainCS, fmt.Sprintf("none-%d", r), n)
		if err != nil {
			return fmt.Errorf("without admission: %w", err)
		}
		without = append(without, d...)
		timing.reset()
		before := admitSeconds(reg)
		d, err = creates(ctx, cs, fmt.Sprintf("chain-%d", r), n)
		wasmTime += admitSeconds(reg) - before
		inChain = append(inChain, timing.take()...)
		if err != nil {
			return fmt.Errorf("with admission: %w", err)
		}
		with = append(with, d...)
	}
	p := func(ds []time.Duration, q float64) time.Duration {
		slices.Sort(ds)
		return ds[int(q*float64(len(ds)-1))]
	}
	ms := func(d time.Duration) string { return fmt.Sprintf("%.3f ms", float64(d)/1e6) }
	fmt.Printf("| pod create, one at a time | p50 | p99 |\n| --- | --- | --- |\n")
	fmt.Printf("| no admission | %s | %s |\n", ms(p(without, 0.5)), ms(p(without, 0.99)))
	fmt.Printf("| default chain | %s | %s |\n", ms(p(with, 0.5)), ms(p(with, 0.99)))
	fmt.Printf("| added by the chain | %s | %s |\n", ms(p(with, 0.5)-p(without, 0.5)), ms(p(with, 0.99)-p(without, 0.99)))
	fmt.Printf("| ratio (chain / none) | %.2f× | %.2f× |\n", float64(p(with, 0.5))/float64(p(without, 0.5)), float64(p(with, 0.99))/float64(p(without, 0.99)))
	fmt.Printf("| of which inside Mutate+Validate | %s | %s |\n", ms(p(inChain, 0.5)), ms(p(inChain, 0.99)))
	fmt.Printf("\nmean time in the module's tug_admit calls per create (input copy to answer): %s\n",
		ms(time.Duration(wasmTime/float64(len(with))*1e9)))
	return nil
}

// admitSeconds is the time the runtime has spent in tug_admit calls so far.
func admitSeconds(g prometheus.Gatherer) float64 {
	mfs, err := g.Gather()
	if err != nil {
		return 0
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != "tug_plugin_call_duration_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "export" && l.GetValue() == hostabi.ExportAdmit {
					sum += m.GetHistogram().GetSampleSum()
				}
			}
		}
	}
	return sum
}

func serve(ctx context.Context, cfg apiserver.Config) (string, error) {
	srv, err := apiserver.New(ctx, cfg)
	if err != nil {
		return "", err
	}
	return listen(ctx, srv)
}

func listen(ctx context.Context, srv *apiserver.Server) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	go func() { _ = srv.Serve(ctx, ln) }()
	return "http://" + ln.Addr().String(), nil
}

const benchNS = "bench"

// prepare makes the namespace every policy has work in.
func prepare(ctx context.Context, cs kubernetes.Interface) error {
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: benchNS,
		Labels: map[string]string{"pod-security.kubernetes.io/enforce": "baseline"}}}, metav1.CreateOptions{}); err != nil {
		return err
	}
	if _, err := cs.CoreV1().ServiceAccounts(benchNS).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{}); err != nil {
		return err
	}
	if _, err := cs.CoreV1().LimitRanges(benchNS).Create(ctx, &corev1.LimitRange{ObjectMeta: metav1.ObjectMeta{Name: "limits"},
		Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{Type: corev1.LimitTypeContainer,
			Default:        corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("200m"), corev1.ResourceMemory: resource.MustParse("128Mi")},
			DefaultRequest: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("64Mi")},
			Max:            corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2")}}}}}, metav1.CreateOptions{}); err != nil {
		return err
	}
	_, err := cs.CoreV1().ResourceQuotas(benchNS).Create(ctx, &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Name: "quota"},
		Spec: corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{corev1.ResourcePods: resource.MustParse("1000000"),
			corev1.ResourceRequestsCPU: resource.MustParse("100000")}}}, metav1.CreateOptions{})
	return err
}

func creates(ctx context.Context, cs kubernetes.Interface, prefix string, n int) ([]time.Duration, error) {
	out := make([]time.Duration, 0, n)
	for i := range n {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-%d", prefix, i), Labels: map[string]string{"app": "bench"}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example/app:1",
				Ports: []corev1.ContainerPort{{ContainerPort: 8080}}}}}}
		start := time.Now()
		if _, err := cs.CoreV1().Pods(benchNS).Create(ctx, p, metav1.CreateOptions{}); err != nil {
			return nil, err
		}
		out = append(out, time.Since(start))
	}
	return out, nil
}

// timedAdmission measures how long each request spends in the chain itself (Mutate plus
// Validate), to tell the chain's cost from what it makes the rest of a create cost (a larger
// transaction with the quota's status, for one).
type timedAdmission struct {
	next apiserver.Admission
	mu   sync.Mutex
	cur  map[*apiserver.AdmissionRequest]time.Duration
	done []time.Duration
}

func (t *timedAdmission) reset() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.cur, t.done = map[*apiserver.AdmissionRequest]time.Duration{}, nil
}

func (t *timedAdmission) take() []time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.done
}

func (t *timedAdmission) Mutate(ctx context.Context, req *apiserver.AdmissionRequest) error {
	start := time.Now()
	err := t.next.Mutate(ctx, req)
	t.mu.Lock()
	t.cur[req] += time.Since(start)
	t.mu.Unlock()
	return err
}

func (t *timedAdmission) Validate(ctx context.Context, req *apiserver.AdmissionRequest) error {
	start := time.Now()
	err := t.next.Validate(ctx, req)
	t.mu.Lock()
	t.done = append(t.done, t.cur[req]+time.Since(start))
	delete(t.cur, req)
	t.mu.Unlock()
	return err
}
