package runtime

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tugboat-io/tug/hostabi"
	"github.com/tugboat-io/tug/hostabi/abitest"
	"github.com/tugboat-io/tug/internal/wasmbuild"
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
	return kitResult(g.inst.Call(g.ctx, export, in))
}

// kitResult turns a call's result into the kit's terms: a guest's own non-OK status (a
// PluginError without a Cause) is an answer, not an error.
func kitResult(out []byte, st hostabi.Status, err error) ([]byte, hostabi.Status, error) {
	var pe *PluginError
	if errors.As(err, &pe) && pe.Cause == nil {
		return out, pe.Status, nil
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
	t.Run("go-default-plugins-hosted", func(t *testing.T) {
		runKit(t, "kit-defaults", wasmbuild.Build(t, filepath.Join("..", "plugins", "scheduler"), "./cmd/defaults"), "")
	})
}

// kitHost adapts the Runtime to the kit's host checks: each Load is a plugin version, and
// each call takes whatever instance the pool gives, as the scheduler and admission do.
type kitHost struct {
	t *testing.T
	n int
}

type moduleGuest struct{ m *Module }

func (h *kitHost) Load(wasm []byte) (abitest.Guest, error) {
	h.n++
	m, err := testRT.Load(context.Background(), fmt.Sprintf("kit-host-%d", h.n), wasm, PluginOptions{Deadline: 250 * time.Millisecond})
	if err != nil {
		h.t.Logf("refused: %v", err)
		return nil, err
	}
	return moduleGuest{m}, nil
}

func (h *kitHost) Close(g abitest.Guest) {
	if g != nil {
		_ = g.(moduleGuest).m.Close(context.Background())
	}
}

func (g moduleGuest) Has(export string) bool { return g.m.Exports(export) }

func (g moduleGuest) Call(export string, in []byte) ([]byte, hostabi.Status, error) {
	return kitResult(g.m.Call(context.Background(), export, in))
}

// TestHostConformance runs the kit's host checks against this runtime.
func TestHostConformance(t *testing.T) {
	abitest.RunHost(t, &kitHost{t: t})
}

// flawedHost wraps this runtime with one deliberate flaw, to show the kit catches it.
type flawedHost struct {
	kitHost
	flaw string
}

type flawedGuest struct {
	abitest.Guest
	flaw string
}

func (h *flawedHost) Load(wasm []byte) (abitest.Guest, error) {
	g, err := h.kitHost.Load(wasm)
	if err != nil && h.flaw == "loads-anything" {
		return flawedGuest{flaw: h.flaw}, nil
	}
	return flawedGuest{g, h.flaw}, err
}

func (h *flawedHost) Close(g abitest.Guest) {
	if fg, ok := g.(flawedGuest); ok && fg.Guest != nil {
		h.kitHost.Close(fg.Guest)
	}
}

func (g flawedGuest) Call(export string, in []byte) ([]byte, hostabi.Status, error) {
	if g.Guest == nil { // a module the runtime refused, "loaded" anyway
		return in, hostabi.StatusOK, nil
	}
	out, st, err := g.Guest.Call(export, in)
	switch g.flaw {
	case "swallows-failures":
		if err != nil {
			return nil, hostabi.StatusOK, nil
		}
	case "drops-bytes":
		out = out[:len(out)/2]
	case "loses-status":
		st = hostabi.StatusOK
	}
	return out, st, err
}

// TestHostKitCatchesFlaws runs the host checks against flawed hosts in a child test process
// (the kit fails the test it is given) and checks each flaw is reported.
func TestHostKitCatchesFlaws(t *testing.T) {
	if os.Getenv("TUG_HOST_FLAW") != "" {
		t.Skip("inside a child run")
	}
	for flaw, want := range map[string]string{
		"loads-anything":    "the host loaded a module with",
		"swallows-failures": "and no error",
		"drops-bytes":       "want the input back",
		"loses-status":      "a guest returning",
	} {
		t.Run(flaw, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestFlawedHost$", "-test.v")
			cmd.Env = append(os.Environ(), "TUG_HOST_FLAW="+flaw)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("the kit passed a host with flaw %s:\n%s", flaw, out)
			}
			if !strings.Contains(string(out), want) {
				t.Fatalf("the kit failed, but not with %q:\n%s", want, out)
			}
		})
	}
}

// TestFlawedHost is run by TestHostKitCatchesFlaws in a child process.
func TestFlawedHost(t *testing.T) {
	flaw := os.Getenv("TUG_HOST_FLAW")
	if flaw == "" {
		t.Skip("run by TestHostKitCatchesFlaws with TUG_HOST_FLAW set")
	}
	abitest.RunHost(t, &flawedHost{kitHost: kitHost{t: t}, flaw: flaw})
}
