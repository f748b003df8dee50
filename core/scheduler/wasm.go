package scheduler

import (
	"context"
	"fmt"
	"time"

	pluginsv1alpha1 "github.com/tugboat-io/tug/core/api/plugins/v1alpha1"

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

// nodesDeadline bounds a tug_sched_nodes call: a bulk copy of cluster state, which for a fresh
// instance is every node, so the per-decision deadline of the other operations (100 ms by
// default) does not fit it.
const nodesDeadline = 10 * time.Second

func (w wasmInstance) Call(ctx context.Context, export string, input []byte) ([]byte, hostabi.Status, error) {
	if export == hostabi.ExportSchedNodes {
		ctx = tugruntime.WithCallDeadline(ctx, nodesDeadline)
	}
	return w.in.Call(ctx, export, input)
}

func (w wasmInstance) Has(export string) bool { return w.in.Module().Exports(export) }

func (w wasmInstance) Hosted() []hostabi.HostedPlugin { return w.in.Module().Hosted() }

func (w wasmInstance) Gen() uint64 {
	g, _ := w.in.Value().(uint64)
	return g
}

func (w wasmInstance) SetGen(g uint64) { w.in.SetValue(g) }

// WasmModule makes a loaded runtime Module a framework Module: one version, fixed, as a
// profile's default plugins are (a changed profile loads a new one).
func WasmModule(m *tugruntime.Module) *Module {
	return &Module{
		Name: m.Name(), Ignore: m.Ignore(),
		Acquire: func(ctx context.Context) (Instance, func(), error) {
			in, err := m.Acquire(ctx)
			if err != nil {
				return nil, nil, err
			}
			return wasmInstance{in}, in.Release, nil
		},
	}
}

// Slots finds the cluster's WasmPlugins by name (the plugin manager).
type Slots interface {
	Slot(name string) (*tugruntime.Slot, bool)
}

// ProfileBuilder builds profiles of wasm plugins: the default plugins' module, loaded anew
// for each profile version with that version's configuration, and the cluster's WasmPlugins
// by name, which stay in their slots and follow their own swaps.
type ProfileBuilder struct {
	rt       *tugruntime.Runtime
	probe    *tugruntime.Module // kept open so that each profile's load reuses the compiled code
	wasm     []byte
	opts     tugruntime.PluginOptions
	slots    Slots
	defaults []hostabi.HostedPlugin
}

// NewProfileBuilder loads the default plugins' module once to learn its plugins. opts are the
// sandbox of each profile's instance (its Config is the profile's); slots may be nil.
func NewProfileBuilder(ctx context.Context, rt *tugruntime.Runtime, wasm []byte, opts tugruntime.PluginOptions, slots Slots) (*ProfileBuilder, error) {
	m, err := rt.Load(ctx, "tug-default-plugins", wasm, opts)
	if err != nil {
		return nil, fmt.Errorf("default scheduling plugins: %w", err)
	}
	if len(m.Hosted()) == 0 {
		_ = m.Close(ctx)
		return nil, fmt.Errorf("default scheduling plugins: the module hosts no plugins (tug_sched_plugins)")
	}
	return &ProfileBuilder{rt: rt, probe: m, wasm: wasm, opts: opts, slots: slots, defaults: m.Hosted()}, nil
}

// Build loads spec's chain. close releases it once the profile is replaced: cycles in flight
// on it finish first. The chain is resolved before the module is loaded, so a profile waiting
// for a WasmPlugin costs no instance per retry.
func (b *ProfileBuilder) Build(ctx context.Context, spec *pluginsv1alpha1.SchedulerProfileSpec) (*Profile, func(), error) {
	defaults := &Module{}
	prof, err := BuildProfile(spec, defaults, b.defaults, b.lookup)
	if err != nil {
		return nil, nil, err
	}
	opts := b.opts
	opts.Config = ModuleConfig(spec, b.defaults)
	m, err := b.rt.Load(ctx, "tug-default-plugins/"+spec.SchedulerName, b.wasm, opts)
	if err != nil {
		return nil, nil, profileErr(pluginsv1alpha1.ReasonInvalidConfig, "%v", err)
	}
	*defaults = *WasmModule(m)
	return prof, func() { _ = m.Close(context.Background()) }, nil
}

func (b *ProfileBuilder) lookup(name string) (*CustomPlugin, bool) {
	if b.slots == nil {
		return nil, false
	}
	slot, ok := b.slots.Slot(name)
	if !ok {
		return nil, false
	}
	m := slot.Module()
	if m == nil {
		return nil, false
	}
	return &CustomPlugin{Module: SlotModule(name, slot, m.Ignore()), Filter: m.Exports(hostabi.ExportSchedFilter),
		Score: m.Exports(hostabi.ExportSchedScore), Reserve: m.Exports(hostabi.ExportSchedReserve),
		Permit: m.Exports(hostabi.ExportSchedPermit), PreBind: m.Exports(hostabi.ExportSchedPreBind),
		PostBind: m.Exports(hostabi.ExportSchedPostBind), DefaultWeight: 1}, true
}
