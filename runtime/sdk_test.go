package runtime

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tugboat-io/tug/hostabi"
)

// buildSDKExample builds sdk/go/examples/NAME as a plugin author would: its own module,
// GOOS=wasip1 GOARCH=wasm, -buildmode=c-shared.
func buildSDKExample(t *testing.T, name string) []byte {
	t.Helper()
	return buildGoModule(t, filepath.Join("..", "sdk", "go", "examples", name), ".")
}

// buildGoModule builds the Go package pkg of the module in dir to wasm as a plugin.
func buildGoModule(t *testing.T, dir, pkg string) []byte {
	t.Helper()
	if testing.Short() {
		t.Skip("builds a wasm module with the Go toolchain; skipped in -short runs")
	}
	out := filepath.Join(t.TempDir(), "plugin.wasm")
	build := exec.Command("go", "build", "-buildmode=c-shared", "-o", out, pkg)
	build.Dir = dir
	build.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building %s in %s: %v\n%s", pkg, dir, err, b)
	}
	wasm, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return wasm
}

// TestSDKPluginRunsInHost builds the Go SDK's nodelabel example exactly as a plugin author would
// (GOOS=wasip1, -buildmode=c-shared, its own module) and drives it through the host the way the
// scheduler will: configure, resident node state, pre-filter, then one batched filter call.
func TestSDKPluginRunsInHost(t *testing.T) {
	wasm := buildSDKExample(t, "nodelabel")
	ctx := context.Background()
	m, err := testRT.Load(ctx, "nodelabel", wasm, PluginOptions{PoolSize: 1, Deadline: 10 * time.Second,
		Config: []byte(`{"label":"zone","values":["a"]}`)})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(ctx)
	if k := m.Kinds(); len(k) != 1 || k[0] != hostabi.KindSchedulerFilter {
		t.Fatalf("kinds %v, want exactly scheduler-filter", m.Kinds())
	}
	if _, err := testRT.Load(ctx, "nodelabel-bad", wasm, PluginOptions{Config: []byte(`{"label":"zone"}`)}); err == nil {
		t.Fatal("a configuration the plugin refuses was accepted")
	}

	inst, err := m.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Release()
	call := func(export string, in []byte) []byte {
		t.Helper()
		res, st, err := inst.Call(ctx, export, in)
		if err != nil || st != hostabi.StatusOK {
			t.Fatalf("%s: status %v, err %v, result %q", export, st, err, res)
		}
		return res
	}
	call(hostabi.ExportSchedNodes, []byte(`{"set":[
	  {"id":1,"node":{"metadata":{"name":"n1","labels":{"zone":"a"}}}},
	  {"id":2,"node":{"metadata":{"name":"n2","labels":{"zone":"b"}}}},
	  {"id":3,"node":{"metadata":{"name":"n3"}}},
	  {"id":4,"node":{"metadata":{"name":"n4","labels":{"zone":"a"}}}}]}`))
	call(hostabi.ExportSchedPreFilter, []byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"default"},
	  "spec":{"containers":[{"name":"c","image":"busybox"}]}}`))
	res := call(hostabi.ExportSchedFilter, hostabi.AppendNodeIDs(nil, []uint32{1, 2, 3, 4}))
	rejected, err := hostabi.DecodeFilterOutput(res)
	if err != nil {
		t.Fatal(err)
	}
	got := map[uint32]hostabi.Rejection{}
	for _, r := range rejected {
		got[r.NodeID] = r
	}
	if len(got) != 2 || got[2].Reason != "node(s) didn't match zone" || got[3].Code != hostabi.CodeUnschedulableAndUnresolvable {
		t.Fatalf("rejections %+v, want nodes 2 and 3 as unresolvable \"node(s) didn't match zone\"", rejected)
	}
	// Only changed nodes cross the boundary: relabelling node 2 changes its verdict.
	call(hostabi.ExportSchedNodes, []byte(`{"set":[{"id":2,"node":{"metadata":{"name":"n2","labels":{"zone":"a"}}}}],"remove":[4]}`))
	res = call(hostabi.ExportSchedFilter, hostabi.AppendNodeIDs(nil, []uint32{1, 2, 3}))
	if rejected, err = hostabi.DecodeFilterOutput(res); err != nil || len(rejected) != 1 || rejected[0].NodeID != 3 {
		t.Fatalf("after the update: %+v, %v; want only node 3 rejected", rejected, err)
	}
}

// TestSDKGuestCollectsGarbage: an SDK plugin serving many calls that each allocate keeps a
// bounded heap. A Go reactor's collector only finishes when the export yields to the Go
// scheduler; before the SDK yielded, 8160 pre-filters of a 20 KB pod filled this 32 MiB cap and the
// instance was discarded with its resident state.
func TestSDKGuestCollectsGarbage(t *testing.T) {
	wasm := buildSDKExample(t, "nodelabel")
	ctx := context.Background()
	m, err := testRT.Load(ctx, "nodelabel-gc", wasm, PluginOptions{PoolSize: 1, Deadline: 10 * time.Second,
		MemoryLimitPages: 512, Config: []byte(`{"label":"zone","values":["a"]}`)})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(ctx)
	inst, err := m.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Release()
	pod := []byte(`{"metadata":{"name":"p","annotations":{"big":"` + strings.Repeat("x", 20<<10) + `"}}}`)
	// 20 KB in and about as much decoded per call: 10000 calls allocate ~400 MB in all.
	for i := range 10000 {
		if _, _, err := inst.Call(ctx, hostabi.ExportSchedPreFilter, pod); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if inst.Generation() != 1 {
		t.Errorf("the instance was replaced (generation %d)", inst.Generation())
	}
	// (The heap may grow to GOMEMLIMIT, 80% of the cap, before a collection: that it stayed
	// under the cap for ~400 MB of allocations is what the generation shows.)
	t.Logf("guest memory after 10000 calls: %d MiB of a 32 MiB cap", inst.MemoryBytes()>>20)
}
