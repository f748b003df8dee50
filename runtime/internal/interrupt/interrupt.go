package interrupt

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/tugboat-io/tug/hostabi/wasmbin"
)

// Export is the name under which an instrumented module exports its interrupt global.
// A module that already exports this name is refused.
const Export = "tug.interrupt"

// Period is how many loop heads a guest passes between two visits to Go (and looks at the
// interrupt global); at a few nanoseconds per loop head, a visit every few tens of
// microseconds.
const Period = 8192

// Section ids of the binary format (WebAssembly core spec §5.5).
const (
	secCustom    = 0
	secImport    = 2
	secMemory    = 5
	secGlobal    = 6
	secExport    = 7
	secCode      = 10
	externGlobal = 0x03
)

// order ranks the non-custom sections in the order the binary format requires.
var order = map[byte]int{1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 13: 6, 6: 7, 7: 8, 8: 9, 9: 10, 12: 11, 10: 12, 11: 13}

type section struct {
	id      byte
	payload []byte
}

// Instrument returns a copy of the module bin with the interrupt global exported as Export
// and checked at the head of every loop. It also drops DWARF custom sections (".debug_*"),
// whose code offsets the rewrite invalidates; the "name" section stays, so traps still name
// functions. bin must be a module wazero would accept; Instrument checks only what it reads.
func Instrument(bin []byte) ([]byte, error) {
	if len(bin) < 8 || !bytes.Equal(bin[:4], []byte("\x00asm")) {
		return nil, errors.New("not a wasm module (no \\0asm header)")
	}
	r := &reader{b: bin[8:]}
	var secs []section
	for !r.done() {
		id := r.byte()
		n := r.u32()
		secs = append(secs, section{id: id, payload: r.bytes(n)})
		if r.err != nil {
			return nil, fmt.Errorf("section %d: %w", id, r.err)
		}
	}

	// The new globals' indexes follow every imported and defined global.
	var importedGlobals, definedGlobals, memories uint32
	for _, s := range secs {
		var err error
		switch s.id {
		case secImport:
			importedGlobals, memories, err = countImports(s.payload)
		case secMemory:
			var n uint32
			n, err = (&reader{b: s.payload}).count()
			memories += n
		case secGlobal:
			definedGlobals, err = (&reader{b: s.payload}).count()
		case secExport:
			err = checkExports(s.payload)
		}
		if err != nil {
			return nil, err
		}
	}
	flag, budget := importedGlobals+definedGlobals, importedGlobals+definedGlobals+1
	check := loopCheck(flag, budget, memories > 0)

	out := append(make([]byte, 0, len(bin)+len(bin)/8), bin[:8]...)
	emitted := map[byte]bool{}
	emit := func(id byte, payload []byte) {
		out = append(out, id)
		out = binary.AppendUvarint(out, uint64(len(payload)))
		out = append(out, payload...)
		emitted[id] = true
	}
	// A module without a global or export section gets one, in its place in the order.
	ensure := func(next int) {
		for _, id := range []byte{secGlobal, secExport} {
			if !emitted[id] && next > order[id] {
				emit(id, appendEntries(id, nil, flag))
			}
		}
	}
	for _, s := range secs {
		if s.id == secCustom {
			if isDWARF(s.payload) {
				continue
			}
			out = append(out, s.id)
			out = binary.AppendUvarint(out, uint64(len(s.payload)))
			out = append(out, s.payload...)
			continue
		}
		ensure(order[s.id])
		switch s.id {
		case secGlobal, secExport:
			emit(s.id, appendEntries(s.id, s.payload, flag))
		case secCode:
			code, err := instrumentCode(s.payload, check)
			if err != nil {
				return nil, err
			}
			emit(s.id, code)
		default:
			emit(s.id, s.payload)
		}
	}
	ensure(len(order) + 1)
	return out, nil
}

// loopCheck is the code inserted at every loop head. With a memory to call memory.grow on:
//
//	budget--
//	if budget == 0 {
//	  budget = Period
//	  drop(memory.grow(0))   // a visit to Go, where the Go scheduler can preempt or stop us
//	  if flag { unreachable }
//	}
//
// Without one, the flag is looked at every time. The visit matters as much as the flag:
// compiled guest code is not preemptible, so a guest that never left it would hold up the Go
// runtime's stop-the-world phases (the GC's among them), and with them the very timer that
// sets the flag.
func loopCheck(flag, budget uint32, memory bool) []byte {
	get := func(b []byte, g uint32) []byte { return binary.AppendUvarint(append(b, 0x23), uint64(g)) }
	set := func(b []byte, g uint32) []byte { return binary.AppendUvarint(append(b, 0x24), uint64(g)) }
	trapIfFlag := append(get(nil, flag), 0x04, 0x40, 0x00, 0x0b) // if (empty) unreachable end
	if !memory {
		return trapIfFlag
	}
	c := get(nil, budget)
	c = append(c, 0x41, 0x01, 0x6b) // i32.const 1; i32.sub
	c = set(c, budget)
	c = get(c, budget)
	c = append(c, 0x45, 0x04, 0x40) // i32.eqz; if (empty)
	c = wasmbin.AppendSLEB(append(c, 0x41), Period)
	c = set(c, budget)
	c = append(c, 0x41, 0x00, 0x40, 0x00, 0x1a) // i32.const 0; memory.grow 0; drop
	c = append(c, trapIfFlag...)
	return append(c, 0x0b) // end
}

// appendEntries appends tug's entries to the global or export section payload (count,
// entries), or makes the section when payload is nil: the flag (exported as Export) and the
// budget, both mutable i32s.
func appendEntries(id byte, payload []byte, flag uint32) []byte {
	var entries [][]byte
	if id == secGlobal {
		entries = [][]byte{
			{0x7f, 0x01, 0x41, 0x00, 0x0b},                       // flag: i32 mut (i32.const 0) end
			wasmbin.AppendSLEB([]byte{0x7f, 0x01, 0x41}, Period), // budget
		}
		entries[1] = append(entries[1], 0x0b)
	} else {
		e := binary.AppendUvarint(nil, uint64(len(Export)))
		e = append(e, Export...)
		e = append(e, externGlobal)
		entries = [][]byte{binary.AppendUvarint(e, uint64(flag))}
	}
	var n uint32
	var rest []byte
	if payload != nil {
		r := &reader{b: payload}
		n = r.u32()
		rest = r.b[r.off:]
	}
	out := binary.AppendUvarint(nil, uint64(n)+uint64(len(entries)))
	out = append(out, rest...)
	for _, e := range entries {
		out = append(out, e...)
	}
	return out
}

func isDWARF(payload []byte) bool {
	r := &reader{b: payload}
	name := r.bytes(r.u32())
	return r.err == nil && strings.HasPrefix(string(name), ".debug_")
}

func countImports(payload []byte) (globals, memories uint32, err error) {
	r := &reader{b: payload}
	n := r.u32()
	for i := uint32(0); i < n && r.err == nil; i++ {
		r.bytes(r.u32()) // module
		r.bytes(r.u32()) // name
		switch kind := r.byte(); kind {
		case 0x00: // func: type index
			r.u32()
		case 0x01: // table: reftype, limits
			r.byte()
			r.limits()
		case 0x02: // memory: limits
			r.limits()
			memories++
		case externGlobal: // global: valtype, mutability
			r.byte()
			r.byte()
			globals++
		default:
			return 0, 0, fmt.Errorf("import section: import %d has unknown kind %#x", i, kind)
		}
	}
	if r.err != nil {
		return 0, 0, fmt.Errorf("import section: %w", r.err)
	}
	return globals, memories, nil
}

func checkExports(payload []byte) error {
	r := &reader{b: payload}
	n := r.u32()
	for i := uint32(0); i < n && r.err == nil; i++ {
		if string(r.bytes(r.u32())) == Export {
			return fmt.Errorf("the module exports %q, a name tug reserves", Export)
		}
		r.byte()
		r.u32()
	}
	if r.err != nil {
		return fmt.Errorf("export section: %w", r.err)
	}
	return nil
}

// instrumentCode rewrites every function body of a code section payload.
func instrumentCode(payload, check []byte) ([]byte, error) {
	r := &reader{b: payload}
	n := r.u32()
	out := binary.AppendUvarint(make([]byte, 0, len(payload)+len(payload)/8), uint64(n))
	var body []byte
	for i := uint32(0); i < n; i++ {
		b := r.bytes(r.u32())
		if r.err != nil {
			return nil, fmt.Errorf("code section: function body %d: %w", i, r.err)
		}
		var err error
		body, err = instrumentBody(body[:0], b, check)
		if err != nil {
			return nil, fmt.Errorf("code section: function body %d: %w", i, err)
		}
		out = binary.AppendUvarint(out, uint64(len(body)))
		out = append(out, body...)
	}
	if !r.done() {
		return nil, errors.New("code section: bytes after the last function body")
	}
	return out, nil
}

// instrumentBody appends body to out with check inserted after every loop's block type.
func instrumentBody(out, body, check []byte) ([]byte, error) {
	r := &reader{b: body}
	groups := r.u32()
	for i := uint32(0); i < groups && r.err == nil; i++ {
		r.u32()  // count
		r.byte() // valtype
	}
	copied := 0
	for r.err == nil && !r.done() {
		op := r.byte()
		if err := r.immediates(op); err != nil {
			return nil, fmt.Errorf("offset %d: %w", r.off, err)
		}
		if op == 0x03 && r.err == nil { // loop bt
			out = append(out, body[copied:r.off]...)
			out = append(out, check...)
			copied = r.off
		}
	}
	if r.err != nil {
		return nil, r.err
	}
	return append(out, body[copied:]...), nil
}
