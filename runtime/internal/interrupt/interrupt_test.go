package interrupt

import (
	"bytes"
	"context"
	"encoding/binary"
	goruntime "runtime"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// module assembles a module from sections (id, payload).
func module(secs ...[]byte) []byte {
	out := []byte("\x00asm\x01\x00\x00\x00")
	for _, s := range secs {
		out = append(out, s[0])
		out = binary.AppendUvarint(out, uint64(len(s)-1))
		out = append(out, s[1:]...)
	}
	return out
}

func sec(id byte, parts ...[]byte) []byte { return append([]byte{id}, bytes.Join(parts, nil)...) }

func name(s string) []byte { return append([]byte{byte(len(s))}, s...) }

// body is a function body without locals; sized one with its locals spelled out.
func body(code ...byte) []byte { return sized(append([]byte{0x00}, code...)...) }

func sized(b ...byte) []byte { return append([]byte{byte(len(b))}, b...) }

// spinner has one imported global (so the new global's index is 2, not 0), one defined
// global, and exports:
//
//	spin()              loops forever
//	sum(n i32) i32      adds 1..n in a loop (nested in a block, to check the rewrite keeps
//	                    branch targets)
var spinner = module(
	sec(1, []byte{2}, []byte{0x60, 0, 0}, []byte{0x60, 1, 0x7f, 1, 0x7f}),
	sec(2, []byte{1}, name("env"), name("g"), []byte{0x03, 0x7f, 0x00}),
	sec(3, []byte{2, 0, 1}),
	sec(5, []byte{1, 0x00, 0x01}),
	sec(6, []byte{1, 0x7f, 0x01, 0x41, 0x07, 0x0b}),
	sec(7, []byte{2}, name("spin"), []byte{0, 0}, name("sum"), []byte{0, 1}),
	sec(10, []byte{2},
		body(0x03, 0x40, 0x0c, 0x00, 0x0b, 0x0b), // loop br 0 end end
		sized(1, 1, 0x7f, // one local i32 (the sum); param 0 counts down
			0x02, 0x40, // block
			0x03, 0x40, // loop
			0x20, 0x00, 0x45, 0x0d, 0x01, // local.get 0; i32.eqz; br_if 1
			0x20, 0x01, 0x20, 0x00, 0x6a, 0x21, 0x01, // sum += n
			0x20, 0x00, 0x41, 0x01, 0x6b, 0x21, 0x00, // n--
			0x0c, 0x00, // br 0
			0x0b, 0x0b, // end loop, end block
			0x20, 0x01, 0x0b)),
	sec(0, name(".debug_info"), []byte{1, 2, 3}),
	sec(0, name("name"), []byte{}),
)

func instantiate(t *testing.T, bin []byte) (api.Module, api.MutableGlobal) {
	t.Helper()
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	t.Cleanup(func() { r.Close(ctx) })
	// The global spinner imports, from a module (wazero's host modules export only functions).
	host := module(sec(6, []byte{1, 0x7f, 0x00, 0x41, 0x00, 0x0b}), sec(7, []byte{1}, name("g"), []byte{0x03, 0x00}))
	if _, err := r.InstantiateWithConfig(ctx, host, wazero.NewModuleConfig().WithName("env")); err != nil {
		t.Fatal(err)
	}
	out, err := Instrument(bin)
	if err != nil {
		t.Fatal(err)
	}
	mod, err := r.Instantiate(ctx, out)
	if err != nil {
		t.Fatalf("instrumented module does not instantiate: %v", err)
	}
	g, ok := mod.ExportedGlobal(Export).(api.MutableGlobal)
	if !ok {
		t.Fatalf("no mutable global exported as %q", Export)
	}
	return mod, g
}

func TestInstrumentKeepsBehaviour(t *testing.T) {
	mod, g := instantiate(t, spinner)
	res, err := mod.ExportedFunction("sum").Call(context.Background(), 100)
	if err != nil {
		t.Fatal(err)
	}
	if res[0] != 5050 {
		t.Fatalf("sum(100) = %d, want 5050", res[0])
	}
	if g.Get() != 0 {
		t.Fatalf("interrupt global starts at %d, want 0", g.Get())
	}
	out, _ := Instrument(spinner)
	if bytes.Contains(out, []byte(".debug_info")) {
		t.Error("DWARF section kept; its code offsets no longer hold")
	}
	if !bytes.Contains(out, []byte("name")) {
		t.Error("name section dropped")
	}
}

// withoutMemory is spinner without its memory section: the flag is checked at every loop head.
var withoutMemory = bytes.Replace(spinner, []byte{5, 3, 1, 0x00, 0x01}, nil, 1)

func TestInterruptStopsLoop(t *testing.T) {
	for name, bin := range map[string][]byte{"with memory": spinner, "without memory": withoutMemory} {
		t.Run(name, func(t *testing.T) { testInterruptStopsLoop(t, bin, name == "with memory") })
	}
}

func testInterruptStopsLoop(t *testing.T, bin []byte, gc bool) {
	mod, g := instantiate(t, bin)
	done := make(chan error, 1)
	go func() {
		_, err := mod.ExportedFunction("spin").Call(context.Background())
		done <- err
	}()
	time.Sleep(20 * time.Millisecond)
	if gc {
		// The guest's visits to Go let the runtime stop the world while it spins.
		gcDone := make(chan struct{})
		go func() { goruntime.GC(); close(gcDone) }()
		select {
		case <-gcDone:
		case <-time.After(30 * time.Second):
			t.Fatal("a GC could not stop the world while the guest looped")
		}
	}
	g.Set(1)
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "unreachable") {
			t.Fatalf("spin returned %v, want an unreachable trap", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("setting the interrupt global did not stop the loop")
	}
	// A cleared flag lets code run again.
	g.Set(0)
	if _, err := mod.ExportedFunction("sum").Call(context.Background(), 3); err != nil {
		t.Fatalf("after clearing the flag: %v", err)
	}
}

func TestInstrumentAddsMissingSections(t *testing.T) {
	// (module (func (export "f") loop end)) without a global section; and a module with
	// no export section at all.
	for name, bin := range map[string][]byte{
		"no global section": module(sec(1, []byte{1, 0x60, 0, 0}), sec(3, []byte{1, 0}),
			sec(7, []byte{1}, []byte{1, 'f'}, []byte{0, 0}), sec(10, []byte{1}, body(0x03, 0x40, 0x0b, 0x0b))),
		"no export section": module(sec(1, []byte{1, 0x60, 0, 0}), sec(3, []byte{1, 0}),
			sec(10, []byte{1}, body(0x03, 0x40, 0x0b, 0x0b))),
		"empty module": module(),
	} {
		t.Run(name, func(t *testing.T) {
			instantiate(t, bin)
		})
	}
}

func TestInstrumentRefuses(t *testing.T) {
	for name, bin := range map[string][]byte{
		"not wasm":      []byte("hello world"),
		"reserved name": module(sec(6, []byte{1, 0x7f, 0x00, 0x41, 0x00, 0x0b}), sec(7, []byte{1}, name(Export), []byte{0x03, 0x00})),
		"bad opcode":    module(sec(1, []byte{1, 0x60, 0, 0}), sec(3, []byte{1, 0}), sec(10, []byte{1}, body(0xff, 0x0b))),
		"truncated":     spinner[:len(spinner)-40],
	} {
		if _, err := Instrument(bin); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// FuzzInstrument: Instrument never panics, and whatever wazero compiles still compiles after
// instrumenting.
func FuzzInstrument(f *testing.F) {
	f.Add(spinner)
	f.Add(module())
	f.Fuzz(func(t *testing.T, bin []byte) {
		out, err := Instrument(bin)
		if err != nil {
			return
		}
		ctx := context.Background()
		r := wazero.NewRuntime(ctx)
		defer r.Close(ctx)
		if _, err := r.CompileModule(ctx, bin); err != nil {
			return
		}
		if _, err := r.CompileModule(ctx, out); err != nil {
			t.Fatalf("compiles before instrumenting but not after: %v", err)
		}
	})
}

// BenchmarkLoopHead is the cost of one iteration of spinner's sum loop (a few i32 ops on
// locals): as compiled, instrumented, and under wazero's own WithCloseOnContextDone checks.
func BenchmarkLoopHead(b *testing.B) {
	const n = 1 << 20
	instrumented, err := Instrument(spinner)
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		bin   []byte
		close bool
	}{
		{"plain", spinner, false},
		{"instrumented", instrumented, false},
		{"wazero-close-on-context-done", spinner, true},
	} {
		b.Run(c.name, func(b *testing.B) {
			ctx := context.Background()
			r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler().WithCloseOnContextDone(c.close))
			defer r.Close(ctx)
			host := module(sec(6, []byte{1, 0x7f, 0x00, 0x41, 0x00, 0x0b}), sec(7, []byte{1}, name("g"), []byte{0x03, 0x00}))
			if _, err := r.InstantiateWithConfig(ctx, host, wazero.NewModuleConfig().WithName("env")); err != nil {
				b.Fatal(err)
			}
			mod, err := r.Instantiate(ctx, c.bin)
			if err != nil {
				b.Fatal(err)
			}
			sum := mod.ExportedFunction("sum")
			b.ResetTimer()
			for b.Loop() {
				if _, err := sum.Call(ctx, n); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/iteration")
		})
	}
}
