package scheduler

import (
	"context"

	"github.com/tugboat-io/tug/hostabi"
	tugruntime "github.com/tugboat-io/tug/runtime"
)

// SlotModule makes a runtime Slot — a named wasm plugin module, hot-swappable — a framework
// Module. Each cycle holds one instance of the active version; the cache generation an
// instance has applied rides on the instance (Instance.Value), so a fresh instance, or one of
// a version swapped in since, starts from nothing and is sent every node. A swap takes effect
// at the next cycle: a cycle in flight finishes on the version it acquired.
func SlotModule(name string, slot *tugruntime.Slot, ignore bool) *Module {
	return &Module{
		Name: name, Ignore: ignore,
		Acquire: func(ctx context.Context) (Instance, func(), error) {
			in, err := slot.Acquire(ctx)
			if err != nil {
				return nil, nil, err
			}
			return wasmInstance{in}, in.Release, nil
		},
	}
}

// SlotPlugin is a profile plugin that is a whole module (one plugin per module).
func SlotPlugin(name string, slot *tugruntime.Slot, filter, score bool, weight int64, ignore bool) *Plugin {
	return &Plugin{Name: name, Module: SlotModule(name, slot, ignore), Filter: filter, Score: score, Weight: weight}
}

type wasmInstance struct{ in *tugruntime.Instance }

func (w wasmInstance) Call(ctx context.Context, export string, input []byte) ([]byte, hostabi.Status, error) {
	return w.in.Call(ctx, export, input)
}

func (w wasmInstance) Has(export string) bool { return w.in.Module().Exports(export) }

func (w wasmInstance) Hosted() []hostabi.HostedPlugin { return w.in.Module().Hosted() }

func (w wasmInstance) Gen() uint64 {
	g, _ := w.in.Value().(uint64)
	return g
}

func (w wasmInstance) SetGen(g uint64) { w.in.SetValue(g) }
