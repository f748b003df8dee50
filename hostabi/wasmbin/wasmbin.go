// Package wasmbin reads the interface of a WebAssembly core module — its imports, exports,
// function signatures and memories — from the binary, without compiling it.
//
// The runtime uses it to refuse a module that cannot be a tug plugin before paying for
// compilation (a Go guest takes about a second to compile), with an error that names what is
// wrong; SDK tests use it to check what a built plugin imports and exports. It lives in the
// ABI module because it needs nothing but the standard library. It decodes only the sections it needs and skips the rest by their length; the full
// validation is still wazero's, at compile time.
package wasmbin

import (
	"bytes"
	"errors"
	"fmt"
)

// ValueType is a wasm value type, with the binary encoding as its value.
type ValueType byte

// Value types.
const (
	I32       ValueType = 0x7f
	I64       ValueType = 0x7e
	F32       ValueType = 0x7d
	F64       ValueType = 0x7c
	V128      ValueType = 0x7b
	FuncRef   ValueType = 0x70
	ExternRef ValueType = 0x6f
)

func (t ValueType) String() string {
	switch t {
	case I32:
		return "i32"
	case I64:
		return "i64"
	case F32:
		return "f32"
	case F64:
		return "f64"
	case V128:
		return "v128"
	case FuncRef:
		return "funcref"
	case ExternRef:
		return "externref"
	}
	return fmt.Sprintf("valtype(%#x)", byte(t))
}

// FuncType is a function signature.
type FuncType struct {
	Params, Results []ValueType
}

// Equal reports whether t has exactly the given params and results.
func (t FuncType) Equal(params, results []ValueType) bool {
	return bytes.Equal(vt(t.Params), vt(params)) && bytes.Equal(vt(t.Results), vt(results))
}

func vt(ts []ValueType) []byte {
	b := make([]byte, len(ts))
	for i, t := range ts {
		b[i] = byte(t)
	}
	return b
}

// String renders t as "(i32, i32) -> i32".
func (t FuncType) String() string {
	return "(" + list(t.Params) + ") -> " + results(t.Results)
}

func results(ts []ValueType) string {
	switch len(ts) {
	case 0:
		return "()"
	case 1:
		return ts[0].String()
	}
	return "(" + list(ts) + ")"
}

func list(ts []ValueType) string {
	var b bytes.Buffer
	for i, t := range ts {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(t.String())
	}
	return b.String()
}

// ExternKind is the kind of an import or export.
type ExternKind byte

// Extern kinds.
const (
	KindFunc   ExternKind = 0
	KindTable  ExternKind = 1
	KindMemory ExternKind = 2
	KindGlobal ExternKind = 3
	KindTag    ExternKind = 4
)

func (k ExternKind) String() string {
	switch k {
	case KindFunc:
		return "function"
	case KindTable:
		return "table"
	case KindMemory:
		return "memory"
	case KindGlobal:
		return "global"
	case KindTag:
		return "tag"
	}
	return fmt.Sprintf("kind(%d)", byte(k))
}

// Limits are a memory's size bounds in 64 KiB pages.
type Limits struct {
	Min    uint64
	Max    uint64
	HasMax bool
	Shared bool
	Is64   bool
}

// Import is one import. Type is set for functions, Memory for memories.
type Import struct {
	Module, Name string
	Kind         ExternKind
	Type         *FuncType
	Memory       *Limits
}

// Export is one export. Type is set for functions.
type Export struct {
	Name string
	Kind ExternKind
	Type *FuncType
}

// Module is the interface of a module.
type Module struct {
	Imports  []Import
	Exports  map[string]Export
	Memories []Limits // defined (not imported) memories
}

// ErrComponent is returned for a WebAssembly component (the component model), which is not a
// core module.
var ErrComponent = errors.New("a WebAssembly component, not a core module")

// Parse reads the interface of the core module in b.
func Parse(b []byte) (*Module, error) {
	if len(b) < 8 || !bytes.Equal(b[:4], []byte("\x00asm")) {
		return nil, errors.New("not a WebAssembly binary (bad magic number)")
	}
	switch {
	case bytes.Equal(b[4:8], []byte{1, 0, 0, 0}):
	case b[6] == 1 && b[7] == 0: // layer 1: component
		return nil, ErrComponent
	default:
		return nil, fmt.Errorf("unsupported WebAssembly binary version %x", b[4:8])
	}
	r := &reader{b: b, off: 8}
	m := &Module{Exports: map[string]Export{}}
	var (
		types     []FuncType
		funcTypes []uint32 // type index per function, imported functions first
	)
	funcType := func(idx uint32) (*FuncType, error) {
		if int(idx) >= len(types) {
			return nil, fmt.Errorf("type index %d out of range", idx)
		}
		t := types[idx]
		return &t, nil
	}
	for r.off < len(r.b) {
		id := r.byte()
		size := r.u32()
		if r.err != nil {
			break
		}
		end := r.off + int(size)
		if end > len(r.b) || end < r.off {
			return nil, fmt.Errorf("section %d at offset %d overruns the binary", id, r.off)
		}
		sec := &reader{b: r.b[:end], off: r.off}
		switch id {
		case 1: // type
			for n := sec.u32(); n > 0 && sec.err == nil; n-- {
				if form := sec.byte(); form != 0x60 && sec.err == nil {
					return nil, fmt.Errorf("type section: unsupported type form %#x", form)
				}
				types = append(types, FuncType{Params: sec.valtypes(), Results: sec.valtypes()})
			}
		case 2: // import
			for n := sec.u32(); n > 0 && sec.err == nil; n-- {
				im := Import{Module: sec.name(), Name: sec.name(), Kind: ExternKind(sec.byte())}
				switch im.Kind {
				case KindFunc:
					idx := sec.u32()
					t, err := funcType(idx)
					if err != nil && sec.err == nil {
						return nil, fmt.Errorf("import %s.%s: %w", im.Module, im.Name, err)
					}
					im.Type = t
					funcTypes = append(funcTypes, idx)
				case KindTable:
					sec.byte() // reftype
					sec.limits()
				case KindMemory:
					l := sec.limits()
					im.Memory = &l
				case KindGlobal:
					sec.byte() // valtype
					sec.byte() // mutability
				case KindTag:
					sec.byte() // attribute
					sec.u32()  // type index
				default:
					if sec.err == nil {
						return nil, fmt.Errorf("import %s.%s: unknown import kind %#x", im.Module, im.Name, byte(im.Kind))
					}
				}
				m.Imports = append(m.Imports, im)
			}
		case 3: // function
			for n := sec.u32(); n > 0 && sec.err == nil; n-- {
				funcTypes = append(funcTypes, sec.u32())
			}
		case 5: // memory
			for n := sec.u32(); n > 0 && sec.err == nil; n-- {
				m.Memories = append(m.Memories, sec.limits())
			}
		case 7: // export
			for n := sec.u32(); n > 0 && sec.err == nil; n-- {
				ex := Export{Name: sec.name(), Kind: ExternKind(sec.byte())}
				idx := sec.u32()
				if sec.err != nil {
					break
				}
				if ex.Kind == KindFunc {
					if int(idx) >= len(funcTypes) {
						return nil, fmt.Errorf("export %q: function index %d out of range", ex.Name, idx)
					}
					t, err := funcType(funcTypes[idx])
					if err != nil {
						return nil, fmt.Errorf("export %q: %w", ex.Name, err)
					}
					ex.Type = t
				}
				if _, dup := m.Exports[ex.Name]; dup {
					return nil, fmt.Errorf("duplicate export %q", ex.Name)
				}
				m.Exports[ex.Name] = ex
			}
		}
		if sec.err != nil {
			return nil, fmt.Errorf("section %d: %w", id, sec.err)
		}
		r.off = end
	}
	if r.err != nil {
		return nil, r.err
	}
	return m, nil
}

// reader decodes the binary format; the first error sticks and later reads return zeros.
type reader struct {
	b   []byte
	off int
	err error
}

var errEOF = errors.New("unexpected end of section")

func (r *reader) byte() byte {
	if r.err != nil {
		return 0
	}
	if r.off >= len(r.b) {
		r.err = errEOF
		return 0
	}
	c := r.b[r.off]
	r.off++
	return c
}

func (r *reader) uleb(bits uint) uint64 {
	var v uint64
	for shift := uint(0); ; shift += 7 {
		if shift >= bits+7 {
			if r.err == nil {
				r.err = fmt.Errorf("LEB128 integer at offset %d too long", r.off)
			}
			return 0
		}
		c := r.byte()
		if r.err != nil {
			return 0
		}
		v |= uint64(c&0x7f) << shift
		if c&0x80 == 0 {
			break
		}
	}
	if bits < 64 && v>>bits != 0 {
		r.err = fmt.Errorf("LEB128 integer at offset %d overflows %d bits", r.off, bits)
		return 0
	}
	return v
}

func (r *reader) u32() uint32 { return uint32(r.uleb(32)) }

func (r *reader) name() string {
	n := r.u32()
	if r.err != nil {
		return ""
	}
	if uint64(r.off)+uint64(n) > uint64(len(r.b)) {
		r.err = errEOF
		return ""
	}
	s := string(r.b[r.off : r.off+int(n)])
	r.off += int(n)
	return s
}

func (r *reader) valtypes() []ValueType {
	n := r.u32()
	if r.err != nil || uint64(n) > uint64(len(r.b)-r.off) {
		if r.err == nil {
			r.err = errEOF
		}
		return nil
	}
	ts := make([]ValueType, n)
	for i := range ts {
		ts[i] = ValueType(r.byte())
	}
	return ts
}

func (r *reader) limits() Limits {
	flags := r.byte()
	l := Limits{HasMax: flags&1 != 0, Shared: flags&2 != 0, Is64: flags&4 != 0}
	bits := uint(32)
	if l.Is64 {
		bits = 64
	}
	l.Min = r.uleb(bits)
	if l.HasMax {
		l.Max = r.uleb(bits)
	}
	if flags > 7 && r.err == nil {
		r.err = fmt.Errorf("unknown limits flags %#x", flags)
	}
	return l
}

// AppendSLEB appends v in signed LEB128, the encoding of i32.const's and i64.const's
// immediates. (encoding/binary's varints are zigzag-encoded, which is not it.)
func AppendSLEB(b []byte, v int64) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}
