package scheduler

import (
	"context"

	"github.com/tugboat-io/tug/hostabi"
	tugruntime "github.com/tugboat-io/tug/runtime"
)

// SlotPlugin makes a runtime Slot — a named wasm plugin, hot-swappable — a framework Plugin.
// Each cycle holds one instance of the active version; the cache generation an instance has
// applied rides on the instance (Instance.Value), so a fresh instance, or one of a version
// swapped in since, starts from nothing and is sent every node. A swap takes effect at the
// next cycle: a cycle in flight finishes on the version it acquired.
func SlotPlugin(name string, slot *tugruntime.Slot, filter, score bool, weight int64, ignore bool) *Plugin {
	return &Plugin{
		Name: name, Filter: filter, Score: score, Weight: weight, Ignore: ignore,
		Acquire: func(ctx context.Context) (Instance, func(), error) {
			in, err := slot.Acquire(ctx)
			if err != nil {
				return nil, nil, err
			}
			return wasmInstance{in}, in.Release, nil
		},
	}
}

type wasmInstance struct{ in *tugruntime.Instance }

func (w wasmInstance) Call(ctx context.Context, export string, input []byte) ([]byte, hostabi.Status, error) {
	return w.in.Call(ctx, export, input)
}

func (w wasmInstance) Has(export string) bool { return w.in.Module().Exports(export) }

func (w wasmInstance) Gen() uint64 {
	g, _ := w.in.Value().(uint64)
	return g
}

func (w wasmInstance) SetGen(g uint64) { w.in.SetValue(g) }
