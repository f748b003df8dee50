package scheduler

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	pluginsv1alpha1 "github.com/tugboat-io/tug/core/api/plugins/v1alpha1"
	"github.com/tugboat-io/tug/core/scheduler"
	"github.com/tugboat-io/tug/hostabi"
	"github.com/tugboat-io/tug/internal/wasmbuild"
	"github.com/tugboat-io/tug/plugins/scheduler/defaults"
	tugruntime "github.com/tugboat-io/tug/runtime"
	"github.com/tugboat-io/tug/sdk/go/sdktest"
)

// The native side: the default plugins registered in this binary, reached through the SDK's
// fake host (the same dispatch code the wasm exports call).
func init() { defaults.Register() }

type nativeInstance struct {
	tb     testing.TB
	gen    uint64
	hosted []hostabi.HostedPlugin
}

func (n *nativeInstance) Call(_ context.Context, export string, in []byte) ([]byte, hostabi.Status, error) {
	st, out := sdktest.Call(n.tb, export, in)
	return out, st, nil
}
func (n *nativeInstance) Has(string) bool                { return false }
func (n *nativeInstance) Hosted() []hostabi.HostedPlugin { return n.hosted }
func (n *nativeInstance) Gen() uint64                    { return n.gen }
func (n *nativeInstance) SetGen(g uint64)                { n.gen = g }

func nativeModule(tb testing.TB) (*scheduler.Module, []hostabi.HostedPlugin) {
	if st, out := sdktest.Call(tb, hostabi.ExportConfigure, []byte(`{}`)); st != hostabi.StatusOK {
		tb.Fatalf("configure: %v %s", st, out)
	}
	st, out := sdktest.Call(tb, hostabi.ExportSchedPlugins, nil)
	var hp hostabi.HostedPlugins
	if err := json.Unmarshal(out, &hp); st != hostabi.StatusOK || err != nil {
		tb.Fatalf("plugins: %v %s %v", st, out, err)
	}
	inst := &nativeInstance{tb: tb, hosted: hp.Plugins}
	return &scheduler.Module{Name: "defaults-native", Acquire: func(context.Context) (scheduler.Instance, func(), error) {
		return inst, func() {}, nil
	}}, hp.Plugins
}

// wasmModule builds plugins/scheduler/cmd/defaults to wasm and loads it.
func wasmModule(tb testing.TB) (*scheduler.Module, []hostabi.HostedPlugin) {
	wasm := wasmbuild.Build(tb, filepath.Join("..", "..", "plugins", "scheduler"), "./cmd/defaults")
	ctx := context.Background()
	rt, err := tugruntime.New(ctx, tugruntime.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = rt.Close(ctx) })
	slot := rt.NewSlot("defaults")
	// 5000 nodes × 10 pods of resident state outgrow the default 64 MiB cap.
	if err := slot.Swap(ctx, wasm, tugruntime.PluginOptions{PoolSize: 1, Deadline: time.Minute, MemoryLimitPages: 16384}); err != nil {
		tb.Fatal(err)
	}
	return scheduler.SlotModule("defaults", slot, false), slot.Module().Hosted()
}

// cluster is 5000 nodes in three zones with 10 pods each, and the pod to place (1 cpu, 1Gi,
// a ScheduleAnyway zone spread).
func cluster(tb testing.TB) (*scheduler.Cache, []byte) { return clusterOf(tb, 5000) }

func clusterOf(tb testing.TB, nodes int) (*scheduler.Cache, []byte) {
	c := scheduler.NewCache(nil)
	zones := []string{"a", "b", "c"}
	alloc := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("16"), corev1.ResourceMemory: resource.MustParse("64Gi"),
		corev1.ResourcePods: resource.MustParse("110")}
	for i := range nodes {
		name := fmt.Sprintf("node-%04d", i)
		n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{
			"topology.kubernetes.io/zone": zones[i%3], "kubernetes.io/hostname": name}},
			Status: corev1.NodeStatus{Allocatable: alloc, Capacity: alloc}}
		if err := c.SetNode(n); err != nil {
			tb.Fatal(err)
		}
		for j := range 10 {
			p := pod(fmt.Sprintf("app-%d-%d", i, j), "500m", "1Gi")
			p.Labels = map[string]string{"app": fmt.Sprintf("app-%d", j)}
			p.Spec.NodeName = name
			if err := c.AddPod(p); err != nil {
				tb.Fatal(err)
			}
		}
	}
	p := pod("incoming", "1", "1Gi")
	p.Labels = map[string]string{"app": "web"}
	p.Spec.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{{MaxSkew: 1,
		TopologyKey: "topology.kubernetes.io/zone", WhenUnsatisfiable: corev1.ScheduleAnyway}}
	b, err := json.Marshal(p)
	if err != nil {
		tb.Fatal(err)
	}
	return c, b
}

func pod(name, cpu, mem string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "app:1", Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(mem)}}}}}}
}

// profile is tug up's default profile: every plugin, the module's default weights.
func profile(tb testing.TB, m *scheduler.Module, hosted []hostabi.HostedPlugin) *scheduler.Profile {
	prof, err := scheduler.BuildProfile(&pluginsv1alpha1.SchedulerProfileSpec{SchedulerName: corev1.DefaultSchedulerName}, m, hosted, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return prof
}

// BenchmarkChain is one scheduling cycle of the whole default chain over 5000 nodes, the
// plugins in wasm and natively. Every node is visited once before timing, so the plugins'
// per-node caches are warm (no node changes between cycles: the best case for them).
func BenchmarkChain(b *testing.B) {
	c, body := cluster(b)
	for _, side := range []struct {
		name string
		load func(testing.TB) (*scheduler.Module, []hostabi.HostedPlugin)
	}{{"wasm", wasmModule}, {"native", nativeModule}} {
		b.Run(side.name, func(b *testing.B) {
			m, hosted := side.load(b)
			prof := profile(b, m, hosted)
			fw := scheduler.NewFramework(c, 1)
			ctx := context.Background()
			var chosen string
			for range 11 {
				res, err := fw.Schedule(ctx, prof, body)
				if err != nil || res.Node == "" {
					b.Fatalf("warm-up: %+v %v", res, err)
				}
				chosen = res.Node
			}
			b.ResetTimer()
			for b.Loop() {
				if _, err := fw.Schedule(ctx, prof, body); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pods/s")
			b.Logf("%s: last warm-up cycle chose %s", side.name, chosen)
		})
	}
}

// TestWasmAndNativeAgree: the default chain decides the same in wasm as natively, pod after
// pod, as each placed pod is added to the cluster.
func TestWasmAndNativeAgree(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a wasm module with the Go toolchain; skipped in -short runs")
	}
	wm, wh := wasmModule(t)
	nm, nh := nativeModule(t)
	cw, _ := clusterOf(t, 300)
	cn, _ := clusterOf(t, 300)
	fw, fn := scheduler.NewFramework(cw, 7), scheduler.NewFramework(cn, 7)
	pw, pn := profile(t, wm, wh), profile(t, nm, nh)
	ctx := context.Background()
	for i := range 40 {
		p := pod(fmt.Sprintf("new-%d", i), []string{"250m", "1", "3"}[i%3], "512Mi")
		p.Labels = map[string]string{"app": fmt.Sprintf("web-%d", i%4)}
		p.Spec.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: "topology.kubernetes.io/zone",
			WhenUnsatisfiable: corev1.DoNotSchedule, LabelSelector: &metav1.LabelSelector{MatchLabels: p.Labels}}}
		if i%5 == 0 {
			p.Spec.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
				RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
					LabelSelector: &metav1.LabelSelector{MatchLabels: p.Labels}, TopologyKey: "kubernetes.io/hostname"}}}}
		}
		body, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		rw, err := fw.Schedule(ctx, pw, body)
		if err != nil {
			t.Fatalf("wasm: %v", err)
		}
		rn, err := fn.Schedule(ctx, pn, body)
		if err != nil {
			t.Fatalf("native: %v", err)
		}
		if rw.Node != rn.Node || rw.Feasible != rn.Feasible {
			t.Fatalf("pod %d: wasm chose %q of %d feasible, native %q of %d", i, rw.Node, rw.Feasible, rn.Node, rn.Feasible)
		}
		if rw.Node == "" {
			continue
		}
		p.Spec.NodeName = rw.Node
		if err := cw.AddPod(p); err != nil {
			t.Fatal(err)
		}
		if err := cn.AddPod(p); err != nil {
			t.Fatal(err)
		}
	}
}
