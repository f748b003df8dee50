package runtime

import (
	"context"
	"testing"

	"github.com/tugboat-io/tug/hostabi"
)

// BenchmarkCallTrivial measures the host's per-call overhead: take an instance from the pool,
// tug_alloc, copy, call an export that does nothing, classify, return the instance. The guest
// is a Go reactor, so Go's own cost of entering a //go:wasmexport function is included.
func BenchmarkCallTrivial(b *testing.B) {
	m := load(b, "bench-trivial", "minimal", PluginOptions{PoolSize: 1})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := m.Call(ctx, hostabi.ExportAdmit, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCallFilter is a realistic small call: a filter over 64 candidate nodes, half of
// them rejected, on an Acquire'd instance.
func BenchmarkCallFilter(b *testing.B) {
	m := load(b, "bench-filter", "filter-a", PluginOptions{PoolSize: 1})
	ctx := context.Background()
	ids := make([]uint32, 64)
	for i := range ids {
		ids[i] = uint32(i)
	}
	input := encodeIDs(ids...)
	inst, err := m.Acquire(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer inst.Release()
	b.SetBytes(int64(len(input)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := inst.Call(ctx, hostabi.ExportSchedFilter, input); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkInstantiate measures bringing up a fresh instance of a compiled module — what a
// discarded instance costs, and what Load pays after compiling: instantiation, Go's
// _initialize, and closing it again.
func BenchmarkInstantiate(b *testing.B) {
	m := load(b, "bench-instantiate", "minimal", PluginOptions{})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		in, err := m.newInstance(ctx, false)
		if err != nil {
			b.Fatal(err)
		}
		in.close(ctx)
	}
}
