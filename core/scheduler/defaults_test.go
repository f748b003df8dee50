package scheduler

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

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
	if len(hosted) != 11 || hosted[0].Name != "NodeName" || !hosted[10].PostFilter || !hosted[2].Filter || !hosted[2].Score || hosted[2].Weight != 3 {
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

// TestPreemptionWithDefaultPlugins: no node fits a high-priority pod; the chain's what-ifs
// find, per node, the fewest lower-priority pods whose going makes room, and DefaultPreemption
// (in wasm) picks the node whose victims matter least. Equal or higher priority pods are never
// victims; a pod with preemptionPolicy Never preempts nothing.
func TestPreemptionWithDefaultPlugins(t *testing.T) {
	slot := defaultsModule(t, `{"enabled":["NodeResourcesFit","DefaultPreemption"]}`)
	m := SlotModule("defaults", slot, false)
	prof := &Profile{Plugins: []*Plugin{
		{Name: "NodeResourcesFit", Module: m, Hosted: true, Filter: true, Score: true, Weight: 1},
		{Name: "DefaultPreemption", Module: m, Hosted: true, PostFilter: true},
	}}
	c := NewCache(nil)
	on := func(name, node, cpu string, prio int32) {
		p := cpuPod(name, cpu)
		p.Spec.NodeName, p.Spec.Priority = node, &prio
		must(t, c.AddPod(p))
	}
	// a: two 1-cpu pods of priority 10 and one of 100: preempting for 2 cpu takes both 10s.
	// b: one 2-cpu pod of priority 5 and one 1-cpu of 1: takes only the 2-cpu one... whose
	// priority 5 is lower than a's 10, so b wins. c: full of equal-priority pods, no room.
	must(t, c.SetNode(sizedNode("a", "3")))
	must(t, c.SetNode(sizedNode("b", "3")))
	must(t, c.SetNode(sizedNode("c", "3")))
	on("a-1", "a", "1", 10)
	on("a-2", "a", "1", 10)
	on("a-3", "a", "1", 100)
	on("b-1", "b", "2", 5)
	on("b-2", "b", "1", 1)
	on("c-1", "c", "3", 1000)
	fw := NewFramework(c, 1)
	ctx := context.Background()
	high := cpuPod("high", "2")
	prio := int32(1000)
	high.Spec.Priority = &prio
	res, err := fw.Schedule(ctx, prof, podJSON(t, high))
	if err != nil {
		t.Fatal(err)
	}
	if res.Node != "" || res.Preemption == nil {
		t.Fatalf("no node fits, yet: node %q, preemption %+v", res.Node, res.Preemption)
	}
	var victims []string
	for _, v := range res.Preemption.Victims {
		victims = append(victims, v.Name)
	}
	if res.Preemption.Node != "b" || len(victims) != 1 || victims[0] != "b-1" {
		t.Fatalf("preempt on %s victims %v, want b [b-1]", res.Preemption.Node, victims)
	}
	// The what-ifs left every node as it was: the same pod, asked again, decides the same.
	if res, err = fw.Schedule(ctx, prof, podJSON(t, high)); err != nil || res.Preemption == nil || res.Preemption.Node != "b" {
		t.Fatalf("second attempt: %+v, %v", res.Preemption, err)
	}
	// Once the victim is gone, the pod fits there.
	c.RemovePod(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "b-1"}})
	if res, err = fw.Schedule(ctx, prof, podJSON(t, high)); err != nil || res.Node != "b" {
		t.Fatalf("after the victim went: node %q (%v)", res.Node, err)
	}
	must(t, c.AddPod(func() *corev1.Pod { p := cpuPod("b-1", "2"); p.Spec.NodeName = "b"; return p }()))

	never := high.DeepCopy()
	policy := corev1.PreemptNever
	never.Spec.PreemptionPolicy = &policy
	if res, err = fw.Schedule(ctx, prof, podJSON(t, never)); err != nil || res.Preemption != nil {
		t.Fatalf("preemptionPolicy Never preempted: %+v, %v", res.Preemption, err)
	}
}
