package runtime

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tugboat-io/tug/hostabi"
	"github.com/tugboat-io/tug/internal/wasmbuild"
)

// buildSDKExample builds sdk/go/examples/NAME as a plugin author would: its own module,
// GOOS=wasip1 GOARCH=wasm, -buildmode=c-shared.
func buildSDKExample(t *testing.T, name string) []byte {
	t.Helper()
	return wasmbuild.Build(t, filepath.Join("..", "sdk", "go", "examples", name), ".")
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

// TestSDKGuestCollectsGarbage: an SDK plugin serving many calls that each allocate stays under
// its cap: its collector completes. (When this test was written, without GOMEMLIMIT, it caught
// the SDK not yielding to the Go scheduler: 8160 pre-filters of a 20 KB pod filled this 32 MiB
// cap. With the runtime's GOMEMLIMIT the collector completes even without the yields, so the
// test now guards collection under the runtime's settings; the SDK's yields remain for hosts
// that set no memory limit.)
func TestSDKGuestCollectsGarbage(t *testing.T) {
	ctx := context.Background()
	inst := nodelabelInstance(t, "nodelabel-gc", 512)
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

// Inputs of megabytes (a controller handed a thousand pods) are collected before the next
// one arrives: the heap stays near what is live instead of creeping up to the cap (which
// wasm memory cannot give back), as it did over a 1000-pod rollout.
func TestSDKGuestCollectsGarbageOfLargeInputs(t *testing.T) {
	ctx := context.Background()
	inst := nodelabelInstance(t, "nodelabel-gc-large", 1024)
	pod := []byte(`{"metadata":{"name":"p","annotations":{"big":"` + strings.Repeat("x", 4<<20) + `"}}}`)
	// 4 MiB in and as much decoded per call, 64 MiB cap: 100 calls allocate ~800 MB.
	for i := range 100 {
		if _, _, err := inst.Call(ctx, hostabi.ExportSchedPreFilter, pod); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if inst.Generation() != 1 {
		t.Errorf("the instance was replaced (generation %d)", inst.Generation())
	}
	// Two inputs and their decodings are about 16 MiB; without the collection the heap
	// grew to GOMEMLIMIT (51 MiB).
	if mem := inst.MemoryBytes(); mem > 32<<20 {
		t.Errorf("guest memory after 100 calls of 4 MiB: %d MiB, want at most 32", mem>>20)
	}
}

// nodelabelInstance loads the SDK's nodelabel example under a memory cap of pages and
// returns an instance of it, released and closed when the test ends.
func nodelabelInstance(t *testing.T, name string, pages uint32) *Instance {
	t.Helper()
	ctx := context.Background()
	m, err := testRT.Load(ctx, name, buildSDKExample(t, "nodelabel"), PluginOptions{PoolSize: 1, Deadline: 10 * time.Second,
		MemoryLimitPages: pages, Config: []byte(`{"label":"zone","values":["a"]}`)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close(ctx) })
	inst, err := m.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(inst.Release)
	return inst
}
