package abitest

import (
	"bytes"
	"testing"

	"github.com/tugboat-io/tug/hostabi"
)

// Host is a host implementation of ABI v1 as the kit drives it. Load loads a module; an
// error means the host refused it. The Guest it returns makes calls as ABI.md §2 says a host
// does: its error reports a guest failure the host caught (a trap, a deadline, an output it
// could not accept), while a guest that returns a status other than OK is not an error — Call
// returns that status and the guest's bytes. Close releases a loaded module.
type Host interface {
	Load(wasm []byte) (Guest, error)
	Close(Guest)
}

// RunHost checks h against ABI v1 with probe modules assembled by the kit: that bytes move
// both ways exactly, for every operation; that statuses and reasons come back; that the last
// set_result wins; that log is served at every level; that modules with a wrong version, a
// missing export, a wrong signature or an unknown import are refused at load; and that a guest
// that traps, loops, returns a status outside the ABI's, writes its result out of bounds or
// cannot allocate is contained — the call fails, and the host goes on serving. For the
// looping guest the host must apply a deadline of its own; the kit waits for it.
func RunHost(t *testing.T, h Host) {
	t.Helper()
	load := func(t *testing.T, p probe) Guest {
		t.Helper()
		g, err := h.Load(p.assemble())
		if err != nil {
			t.Fatalf("the host refused a valid module: %v", err)
		}
		t.Cleanup(func() { h.Close(g) })
		return g
	}
	// stillServes checks the module's echo after a failure.
	stillServes := func(t *testing.T, g Guest) {
		t.Helper()
		out, st, err := g.Call(hostabi.ExportReconcile, []byte("after"))
		if err != nil || st != hostabi.StatusOK || string(out) != "after" {
			t.Errorf("after the failure, a call of the same module answered %q, %v, %v; want the echo", out, st, err)
		}
	}

	t.Run("bytes move exactly", func(t *testing.T) {
		g := load(t, probe{version: v1, echoAll: true})
		big := bytes.Repeat([]byte("0123456789abcdef"), maxInput/16)
		for _, op := range []string{hostabi.ExportSchedNodes, hostabi.ExportSchedPreFilter, hostabi.ExportSchedFilter,
			hostabi.ExportSchedScore, hostabi.ExportSchedNormalize, hostabi.ExportAdmit, hostabi.ExportReconcile} {
			for _, in := range [][]byte{nil, []byte("x"), []byte("{\"a\":\"\u00e9\"}\x00\xff"), big} {
				out, st, err := g.Call(op, in)
				if err != nil || st != hostabi.StatusOK || !bytes.Equal(out, in) {
					t.Errorf("%s of %d bytes: got %d bytes, %v, %v; want the input back with OK", op, len(in), len(out), st, err)
				}
			}
		}
	})
	t.Run("statuses and reasons", func(t *testing.T) {
		for _, st := range []hostabi.Status{hostabi.StatusError, hostabi.StatusInvalidInput, hostabi.StatusInvalidConfig, hostabi.StatusUnsupported} {
			g := load(t, probe{version: v1, behaviour: bodyStatus(int32(st))})
			out, got, err := g.Call(hostabi.ExportAdmit, []byte("{}"))
			if err != nil || got != st || string(out) != "reason" {
				t.Errorf("a guest returning %v with reason %q: host answered %q, %v, %v", st, "reason", out, got, err)
			}
			stillServes(t, g)
		}
	})
	t.Run("last set_result wins", func(t *testing.T) {
		g := load(t, probe{version: v1, behaviour: bodyTwice})
		if out, st, err := g.Call(hostabi.ExportAdmit, nil); err != nil || st != hostabi.StatusOK || string(out) != "second" {
			t.Errorf("set_result twice: host answered %q, %v, %v; want %q", out, st, err, "second")
		}
	})
	t.Run("log", func(t *testing.T) {
		g := load(t, probe{version: v1, behaviour: bodyLog})
		if out, st, err := g.Call(hostabi.ExportAdmit, []byte("logged")); err != nil || st != hostabi.StatusOK || string(out) != "logged" {
			t.Errorf("a guest logging at every level: host answered %q, %v, %v", out, st, err)
		}
	})
	for _, c := range []struct {
		name string
		p    probe
	}{
		{"a trap", probe{version: v1, behaviour: bodyTrap}},
		{"an endless loop", probe{version: v1, behaviour: bodyLoop}},
		{"a status outside the ABI", probe{version: v1, behaviour: bodyStatus(77)}},
		{"a result out of bounds", probe{version: v1, behaviour: bodyOOBResult}},
		{"tug_alloc answering 0", probe{version: v1, behaviour: bodyEcho, allocZero: true}},
	} {
		t.Run("contains "+c.name, func(t *testing.T) {
			g := load(t, c.p)
			if out, st, err := g.Call(hostabi.ExportAdmit, []byte("input")); err == nil {
				t.Errorf("host answered %q, %v and no error", out, st)
			}
			if !c.p.allocZero {
				stillServes(t, g)
			}
		})
	}
	for _, c := range []struct {
		name string
		p    probe
	}{
		{"a major version it does not serve", probe{version: v1 + 1<<16, behaviour: bodyEcho}},
		{"a minor version newer than it serves", probe{version: v1 + 1, behaviour: bodyEcho}},
		{"no tug_alloc", probe{version: v1, behaviour: bodyEcho, noAlloc: true}},
		{"no exported memory", probe{version: v1, behaviour: bodyEcho, noMemoryExport: true}},
		{"an operation with the wrong signature", probe{version: v1, badSignature: true}},
		{"an import it does not provide", probe{version: v1, behaviour: bodyEcho, unknownImport: true}},
	} {
		t.Run("refuses "+c.name, func(t *testing.T) {
			g, err := h.Load(c.p.assemble())
			if err == nil {
				h.Close(g)
				t.Errorf("the host loaded a module with %s", c.name)
			}
		})
	}
}
