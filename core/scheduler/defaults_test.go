package scheduler

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/tugboat-io/tug/hostabi"
	"github.com/tugboat-io/tug/internal/wasmbuild"
	tugruntime "github.com/tugboat-io/tug/runtime"
)

// defaultsModule builds plugins/scheduler/cmd/defaults — every default plugin in one module —
// to wasm and loads it into a Slot with config.
func defaultsModule(t testing.TB, config string) *tugruntime.Slot {
	t.Helper()
	return defaultsModuleWithMemory(t, config, 0)
}

// defaultsModuleWithMemory is defaultsModule with a memory cap of pages (0: the default).
func defaultsModuleWithMemory(t testing.TB, config string, pages uint32) *tugruntime.Slot {
	t.Helper()
	wasm := wasmbuild.Build(t, filepath.Join("..", "..", "plugins", "scheduler"), "./cmd/defaults")
	return loadSlot(t, "defaults", wasm, tugruntime.PluginOptions{PoolSize: 1, Deadline: time.Minute,
		Config: []byte(config), MemoryLimitPages: pages})
}

func sizedNode(name, cpu string, taints ...corev1.Taint) *corev1.Node {
	n := node(name)
	n.Spec.Taints = taints
	n.Status.Allocatable = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu),
		corev1.ResourceMemory: resource.MustParse("8Gi"), corev1.ResourcePods: resource.MustParse("110")}
	return n
}

func cpuPod(name, cpu string) *corev1.Pod {
	p := pod(name, 0)
	p.Spec.Containers = []corev1.Container{{Name: "c", Image: "app", Resources: corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)}}}}
	return p
}

// TestDefaultPluginsInOneModule runs a chain of default plugins hosted in one wasm module
// (ABI.md §4.7) through the framework: the module lists its plugins, the profile enables
// three, filters and scores reach each by index, and the diagnosis names kube-scheduler's
// reasons.
func TestDefaultPluginsInOneModule(t *testing.T) {
	slot := defaultsModule(t, `{"enabled":["TaintToleration","NodeResourcesFit","NodeResourcesBalancedAllocation"],
		"config":{"NodeResourcesFit":{"scoringStrategy":{"type":"MostAllocated"}}}}`)
	hosted := slot.Module().Hosted()
	if len(hosted) != 10 || hosted[0].Name != "NodeName" || !hosted[2].Filter || !hosted[2].Score || hosted[2].Weight != 3 {
		t.Fatalf("hosted plugins %+v", hosted)
	}
	m := SlotModule("defaults", slot, false)
	prof := &Profile{Plugins: []*Plugin{
		{Name: "TaintToleration", Module: m, Hosted: true, Filter: true, Score: true, Weight: 3},
		{Name: "NodeResourcesFit", Module: m, Hosted: true, Filter: true, Score: true, Weight: 1},
		{Name: "NodeResourcesBalancedAllocation", Module: m, Hosted: true, Score: true, Weight: 1},
	}}
	gpu := corev1.Taint{Key: "gpu", Value: "true", Effect: corev1.TaintEffectNoSchedule}
	c := NewCache(nil)
	must(t, c.SetNode(sizedNode("gpu-1", "8", gpu)))
	must(t, c.SetNode(sizedNode("gpu-2", "8", gpu)))
	must(t, c.SetNode(sizedNode("small", "1")))
	must(t, c.SetNode(sizedNode("busy", "4")))
	must(t, c.SetNode(sizedNode("idle", "4")))
	must(t, c.AddPod(func() *corev1.Pod { p := cpuPod("resident", "2"); p.Spec.NodeName = "busy"; return p }()))
	fw := NewFramework(c, 1)
	ctx := context.Background()

	// MostAllocated prefers the busier of the two that fit.
	res, err := fw.Schedule(ctx, prof, podJSON(t, cpuPod("web", "2")))
	if err != nil {
		t.Fatal(err)
	}
	if res.Node != "busy" || res.Feasible != 2 {
		t.Fatalf("chose %q of %d feasible, want busy of 2 (scores %v, rejected %v)", res.Node, res.Feasible, res.Scores, res.Diagnosis.Rejected)
	}
	// Nothing fits 5 cpu: kube-scheduler's message, per-plugin reasons.
	res, err = fw.Schedule(ctx, prof, podJSON(t, cpuPod("big", "5")))
	if err != nil {
		t.Fatal(err)
	}
	want := "0/5 nodes are available: 2 node(s) had untolerated taint {gpu: true}, 3 Insufficient cpu."
	if res.Node != "" || res.Diagnosis.Message() != want {
		t.Fatalf("got %q, %q; want no node and %q", res.Node, res.Diagnosis.Message(), want)
	}
	if v := res.Diagnosis.Rejected["gpu-1"]; v.Plugin != "TaintToleration" || v.Code != hostabi.CodeUnschedulableAndUnresolvable {
		t.Errorf("gpu-1 rejected by %+v", v)
	}
	if v := res.Diagnosis.Rejected["idle"]; v.Plugin != "NodeResourcesFit" || v.Code != hostabi.CodeUnschedulable {
		t.Errorf("idle rejected by %+v", v)
	}
	// A tolerating pod may use the GPU nodes.
	tol := cpuPod("gpu-job", "6")
	tol.Spec.Tolerations = []corev1.Toleration{{Key: "gpu", Operator: corev1.TolerationOpExists}}
	if res, err = fw.Schedule(ctx, prof, podJSON(t, tol)); err != nil || (res.Node != "gpu-1" && res.Node != "gpu-2") {
		t.Fatalf("a tolerating pod went to %q (%v)", res.Node, err)
	}
	// A plugin the module does not host fails the cycle, naming it.
	bad := &Profile{Plugins: []*Plugin{{Name: "NoSuchPlugin", Module: m, Hosted: true, Filter: true}}}
	if _, err := fw.Schedule(ctx, bad, podJSON(t, cpuPod("x", "1"))); err == nil {
		t.Fatal("a profile naming a plugin the module lacks scheduled")
	}
}
