package scheduler

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/tugboat-io/tug/internal/wasmbuild"
	tugruntime "github.com/tugboat-io/tug/runtime"
)

// TestSlotPluginInWasm schedules with a real wasm plugin — the Go SDK's nodelabel example,
// built as an author builds it — through a runtime Slot, then swaps its configuration live.
func TestSlotPluginInWasm(t *testing.T) {
	ctx := context.Background()
	wasm, slot := nodeLabelSlot(t, "a")

	c := NewCache(nil)
	must(t, c.SetNode(labelled("in-a", map[string]string{"zone": "a"})))
	must(t, c.SetNode(labelled("in-b", map[string]string{"zone": "b"})))
	must(t, c.SetNode(labelled("nowhere", nil)))
	prof := &Profile{Plugins: []*Plugin{SlotPlugin("NodeLabel", slot, true, false, 1, false)}}
	fw := NewFramework(c, 1)
	res, err := fw.Schedule(ctx, prof, podJSON(t, pod("web", 0)))
	if err != nil {
		t.Fatal(err)
	}
	if res.Node != "in-a" || res.Diagnosis.Message() != "0/3 nodes are available: 2 node(s) didn't match zone." {
		t.Fatalf("node %q, diagnosis %q", res.Node, res.Diagnosis.Message())
	}
	// Only changes cross: relabel in-b into zone a; a node in the cache it was told about.
	must(t, c.SetNode(labelled("in-b", map[string]string{"zone": "a"})))
	must(t, c.SetNode(labelled("in-a", map[string]string{"zone": "c"})))
	if res, err = fw.Schedule(ctx, prof, podJSON(t, pod("web", 0))); err != nil || res.Node != "in-b" {
		t.Fatalf("after relabelling: node %q, %v; want in-b", res.Node, err)
	}
	// Swap the configuration: the new version's fresh instance is sent every node.
	if err := slot.Swap(ctx, wasm, zoneOptions("c")); err != nil {
		t.Fatal(err)
	}
	if res, err = fw.Schedule(ctx, prof, podJSON(t, pod("web", 0))); err != nil || res.Node != "in-a" {
		t.Fatalf("after the swap: node %q, %v; want in-a", res.Node, err)
	}
}

// nodeLabelSlot loads the Go SDK's nodelabel example, built as an author builds it, into a
// Slot passing nodes labelled zone=zone.
func nodeLabelSlot(t *testing.T, zone string) ([]byte, *tugruntime.Slot) {
	t.Helper()
	wasm := wasmbuild.Build(t, filepath.Join("..", "..", "sdk", "go", "examples", "nodelabel"), ".")
	return wasm, loadSlot(t, "NodeLabel", wasm, zoneOptions(zone))
}

// loadSlot loads wasm into a Slot of a runtime of its own, closed when the test ends.
func loadSlot(t testing.TB, name string, wasm []byte, opts tugruntime.PluginOptions) *tugruntime.Slot {
	t.Helper()
	ctx := context.Background()
	rt, err := tugruntime.New(ctx, tugruntime.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rt.Close(ctx) })
	slot := rt.NewSlot(name)
	if err := slot.Swap(ctx, wasm, opts); err != nil {
		t.Fatal(err)
	}
	return slot
}

func zoneOptions(zone string) tugruntime.PluginOptions {
	return tugruntime.PluginOptions{PoolSize: 1, Deadline: 10 * time.Second,
		Config: fmt.Appendf(nil, `{"label":"zone","values":[%q]}`, zone)}
}
