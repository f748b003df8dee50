package fit_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/tugboat-io/tug/bench/plugins/guests/fit"
	"github.com/tugboat-io/tug/hostabi"
	tug "github.com/tugboat-io/tug/sdk/go"
	"github.com/tugboat-io/tug/sdk/go/sdktest"
)

func init() { fit.Register() }

// workloadEnv names a directory holding nodes.json (a tug_sched_nodes message), pod.json
// and ids.bin (a filter input frame), written by the harness in bench/plugins so that the
// native and the wasm runs get the same bytes.
const workloadEnv = "TUG_BENCH_WORKLOAD"

func read(b *testing.B, dir, name string) []byte {
	b.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		b.Fatal(err)
	}
	return raw
}

func call(b *testing.B, export string, in []byte) []byte {
	b.Helper()
	st, out := sdktest.Call(b, export, in)
	if st != hostabi.StatusOK {
		b.Fatalf("%s: %v: %s", export, st, out)
	}
	return out
}

// BenchmarkNativeFit is one scheduling cycle (pre-filter and one batched filter over every
// resident node) of the fit filter run natively through the SDK's operation handlers, with
// the encodings the host uses: the native counterpart of the wasm run in bench/plugins.
func BenchmarkNativeFit(b *testing.B) {
	dir := os.Getenv(workloadEnv)
	if dir == "" {
		b.Skipf("%s is not set; run go run ./bench/plugins from the repository root", workloadEnv)
	}
	nodes, pod, ids := read(b, dir, "nodes.json"), read(b, dir, "pod.json"), read(b, dir, "ids.bin")
	call(b, hostabi.ExportSchedNodes, nodes)
	// Warm up as the wasm side does before timing: the first cycle builds the plugin's
	// per-node sums, which every later cycle reuses.
	for range 20 {
		call(b, hostabi.ExportSchedPreFilter, pod)
		call(b, hostabi.ExportSchedFilter, ids)
	}
	rejected := 0
	b.ResetTimer()
	for b.Loop() {
		call(b, hostabi.ExportSchedPreFilter, pod)
		out := call(b, hostabi.ExportSchedFilter, ids)
		rejs, err := hostabi.DecodeFilterOutput(out)
		if err != nil {
			b.Fatal(err)
		}
		rejected = len(rejs)
	}
	b.ReportMetric(float64(rejected), "rejected/op")
}

func TestPodRequest(t *testing.T) {
	p, err := tug.DecodePod([]byte(`{"spec":{"containers":[
	  {"name":"a","resources":{"requests":{"cpu":"500m","memory":"1Gi"}}},
	  {"name":"b","resources":{"requests":{"cpu":"1","memory":"512Mi"}}}],
	  "initContainers":[{"name":"i","resources":{"requests":{"cpu":"2"}}}],
	  "overhead":{"cpu":"100m"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	c, m, err := fit.PodRequest(p)
	if err != nil || c != 2100 || m != 1536<<20 {
		t.Fatalf("PodRequest = %d, %d, %v; want 2100, %d", c, m, err, 1536<<20)
	}
}

func TestFilter(t *testing.T) {
	node := func(name, cpu, mem string) *tug.Node {
		return &tug.Node{ObjectMeta: tug.ObjectMeta{Name: name},
			Status: tug.NodeStatus{Allocatable: tug.ResourceList{"cpu": tug.Quantity(cpu), "memory": tug.Quantity(mem)}}}
	}
	used := `{"metadata":{"name":"u"},"spec":{"containers":[{"name":"c","resources":{"requests":{"cpu":"3","memory":"3Gi"}}}]}}`
	pod := `{"metadata":{"name":"p"},"spec":{"containers":[{"name":"c","resources":{"requests":{"cpu":"1","memory":"1Gi"}}}]}}`
	got := sdktest.Filter(t, pod,
		sdktest.WithPods(node("fits", "4", "4Gi"), used),
		sdktest.WithPods(node("cpu", "3500m", "8Gi"), used),
		sdktest.WithPods(node("mem", "8", "3.5Gi"), used),
		node("empty", "1", "1Gi"),
	)
	want := map[string]*tug.Status{"fits": nil, "empty": nil,
		"cpu": tug.Unschedulable(fit.ReasonCPU), "mem": tug.Unschedulable(fit.ReasonMemory)}
	for name, w := range want {
		if !got[name].Equal(w) {
			t.Errorf("node %s: %v, want %v", name, got[name], w)
		}
	}
}
