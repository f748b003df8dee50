package scheduler

import (
	"context"
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	pluginsv1alpha1 "github.com/tugboat-io/tug/core/api/plugins/v1alpha1"
)

// The default plugins in wasm over 5000 nodes with 10 pods each (kube-scheduler's weights,
// adaptive percentageOfNodesToScore: 500 nodes filtered and scored per cycle). Rerun:
//
//	go test -run '^$' -bench 'Default' -benchtime 10x ./core/scheduler/

// benchCluster fills a cache with 5000 nodes in three zones, 10 pods each, and returns it
// with the pod the benchmarks schedule (1 cpu, 1Gi, a ScheduleAnyway zone spread).
func benchCluster(b *testing.B) (*Cache, []byte) {
	c := NewCache(nil)
	zones := []string{"a", "b", "c"}
	for i := range 5000 {
		n := sizedNode(fmt.Sprintf("node-%04d", i), "16")
		n.Labels = map[string]string{"topology.kubernetes.io/zone": zones[i%3], "kubernetes.io/hostname": n.Name}
		if err := c.SetNode(n); err != nil {
			b.Fatal(err)
		}
		for j := range 10 {
			p := cpuPod(fmt.Sprintf("app-%d-%d", i, j), "500m")
			p.Labels = map[string]string{"app": fmt.Sprintf("app-%d", j)}
			p.Spec.NodeName = n.Name
			if err := c.AddPod(p); err != nil {
				b.Fatal(err)
			}
		}
	}
	pod := cpuPod("incoming", "1")
	pod.Labels = map[string]string{"app": "web"}
	pod.Spec.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: "topology.kubernetes.io/zone",
		WhenUnsatisfiable: corev1.ScheduleAnyway}}
	pod.Spec.Containers[0].Resources.Requests[corev1.ResourceMemory] = resource.MustParse("1Gi")
	return c, podJSON(b, pod)
}

// runCycles warms the instance (every node sent, every node visited once so per-node caches
// hold) and times cycles.
func runCycles(b *testing.B, c *Cache, prof *Profile, body []byte) {
	fw := NewFramework(c, 1)
	ctx := context.Background()
	for range 11 {
		if res, err := fw.Schedule(ctx, prof, body); err != nil || res.Node == "" {
			b.Fatalf("warm-up cycle: %+v, %v", res, err)
		}
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := fw.Schedule(ctx, prof, body); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDefaultChain is one cycle of the whole default chain, every plugin enabled.
func BenchmarkDefaultChain(b *testing.B) {
	// The resident state of 5000 nodes × 10 pods outgrows the default 64 MiB cap.
	slot := defaultsModuleWithMemory(b, `{}`, 16384)
	m := SlotModule("defaults", slot, false)
	prof, err := BuildProfile(&pluginsv1alpha1.SchedulerProfileSpec{SchedulerName: "default-scheduler"}, m, slot.Module().Hosted(), nil)
	if err != nil {
		b.Fatal(err)
	}
	c, body := benchCluster(b)
	runCycles(b, c, prof, body)
}

// BenchmarkDefaultPlugin is one cycle with a single default plugin enabled: where the
// chain's time goes.
func BenchmarkDefaultPlugin(b *testing.B) {
	c, body := benchCluster(b)
	all := defaultsModuleWithMemory(b, `{"enabled":["NodeName"]}`, 16384).Module().Hosted()
	for _, hp := range all {
		b.Run(hp.Name, func(b *testing.B) {
			slot := defaultsModuleWithMemory(b, `{"enabled":["`+hp.Name+`"]}`, 16384)
			prof := &Profile{Plugins: []*Plugin{{Name: hp.Name, Module: SlotModule(hp.Name, slot, false), Hosted: true,
				Filter: hp.Filter, Score: hp.Score, Weight: 1}}}
			runCycles(b, c, prof, body)
		})
	}
}
