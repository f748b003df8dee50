package runtime

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tugboat-io/tug/hostabi"
	"github.com/tugboat-io/tug/hostabi/abitest"
)

// kitGuest adapts one instance of a loaded module to the conformance kit. The exports every
// module has were checked at load, so they are known present.
type kitGuest struct {
	ctx  context.Context
	m    *Module
	inst *Instance
}

func (g kitGuest) Has(export string) bool {
	switch export {
	case hostabi.ExportMemory, hostabi.ExportABIVersion, hostabi.ExportAlloc:
		return true
	}
	return g.m.Exports(export)
}

// Call reports a status the guest returned as a status, and only the host's own failures
// (trap, deadline, memory) as errors, which is the distinction the kit draws.
func (g kitGuest) Call(export string, in []byte) ([]byte, hostabi.Status, error) {
	out, st, err := g.inst.Call(g.ctx, export, in)
	var pe *PluginError
	if errors.As(err, &pe) && pe.Cause == nil {
		return []byte(pe.Reason), pe.Status, nil
	}
	return out, st, err
}

func runKit(t *testing.T, name string, wasm []byte, config string) {
	ctx := context.Background()
	m, err := testRT.Load(ctx, name, wasm, PluginOptions{PoolSize: 1, Deadline: 10 * time.Second, Config: []byte(config)})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(ctx)
	inst, err := m.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Release()
	abitest.RunGuest(t, kitGuest{ctx: ctx, m: m, inst: inst})
}

// TestConformance runs the ABI conformance kit against a plugin from each language tug has one
// in: Go through the SDK, and C written from ABI.md alone.
func TestConformance(t *testing.T) {
	t.Run("go-sdk-nodelabel", func(t *testing.T) {
		runKit(t, "kit-nodelabel", buildSDKExample(t, "nodelabel"), `{"label":"zone","values":["a"]}`)
	})
	t.Run("c-deny-latest", func(t *testing.T) {
		runKit(t, "kit-c-deny-latest", buildCPlugin(t), "")
	})
}
