// Package wasmtest builds plugins to wasm in tests and reads what a module imports and
// exports, with a parser of the few wasm sections that takes nothing but the standard
// library. It is for the SDK's own tests.
package wasmtest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Build compiles the main package in dir as the ABI asks (GOOS=wasip1 GOARCH=wasm,
// -buildmode=c-shared) and returns the module's bytes. It skips the test in -short mode and
// when no go command is on PATH.
func Build(t *testing.T, dir string) []byte {
	t.Helper()
	if testing.Short() {
		t.Skip("building a wasm module takes seconds; skipped in -short mode")
	}
	gocmd, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go command on PATH to build the wasm module: %v", err)
	}
	out := filepath.Join(t.TempDir(), "plugin.wasm")
	cmd := exec.Command(gocmd, "build", "-buildmode=c-shared", "-o", out, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared %s: %v\n%s", dir, err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// ExternKind is what an import or export is.
type ExternKind byte

// Extern kinds, numbered as in the binary format.
const (
	Func   ExternKind = 0
	Table  ExternKind = 1
	Memory ExternKind = 2
	Global ExternKind = 3
)

func (k ExternKind) String() string {
	switch k {
	case Func:
		return "func"
	case Table:
		return "table"
	case Memory:
		return "memory"
	case Global:
		return "global"
	}
	return fmt.Sprintf("kind(%d)", byte(k))
}

// FuncType is a function signature, with value types as their binary codes (0x7f i32,
// 0x7e i64, 0x7d f32, 0x7c f64).
type FuncType struct {
	Params, Results []byte
}

// Value types.
const (
	I32 byte = 0x7f
	I64 byte = 0x7e
)

func (f FuncType) String() string {
	name := func(ts []byte) string {
		var b bytes.Buffer
		b.WriteByte('(')
		for i, t := range ts {
			if i > 0 {
				b.WriteString(", ")
			}
			switch t {
			case I32:
				b.WriteString("i32")
			case I64:
				b.WriteString("i64")
			case 0x7d:
				b.WriteString("f32")
			case 0x7c:
				b.WriteString("f64")
			default:
				fmt.Fprintf(&b, "0x%x", t)
			}
		}
		b.WriteByte(')')
		return b.String()
	}
	return name(f.Params) + " -> " + name(f.Results)
}

// Import is one import of a module.
type Import struct {
	Module, Name string
	Kind         ExternKind
	Type         *FuncType // for functions
}

// Export is one export of a module.
type Export struct {
	Name string
	Kind ExternKind
	Type *FuncType // for functions
}

// Module is what Parse reads from a module.
type Module struct {
	Imports []Import
	Exports map[string]Export
}

// ErrMalformed is wrapped by Parse's errors.
var ErrMalformed = errors.New("malformed wasm module")

// Parse reads the type, import, function and export sections of a wasm module.
func Parse(b []byte) (*Module, error) {
	r := &reader{b: b}
	if !bytes.HasPrefix(b, []byte("\x00asm\x01\x00\x00\x00")) {
		return nil, fmt.Errorf("%w: not a wasm 1.0 binary", ErrMalformed)
	}
	r.off = 8
	var (
		types     []FuncType
		funcTypes []uint32 // type index per function, imported functions first
		m         = &Module{Exports: map[string]Export{}}
		exports   []struct {
			name  string
			kind  ExternKind
			index uint32
		}
	)
	for r.off < len(b) && r.err == nil {
		id := r.byte()
		size := r.u32()
		body := r.bytes(int(size))
		if r.err != nil {
			break
		}
		s := &reader{b: body}
		switch id {
		case 1: // types
			for n := s.u32(); n > 0 && s.err == nil; n-- {
				if s.byte() != 0x60 {
					s.fail("function type without 0x60")
				}
				params := s.bytes(int(s.u32()))
				results := s.bytes(int(s.u32()))
				types = append(types, FuncType{Params: params, Results: results})
			}
		case 2: // imports
			for n := s.u32(); n > 0 && s.err == nil; n-- {
				imp := Import{Module: s.name(), Name: s.name(), Kind: ExternKind(s.byte())}
				switch imp.Kind {
				case Func:
					funcTypes = append(funcTypes, s.u32())
				case Table:
					s.byte()
					s.limits()
				case Memory:
					s.limits()
				case Global:
					s.byte()
					s.byte()
				default:
					s.fail("unknown import kind")
				}
				m.Imports = append(m.Imports, imp)
			}
		case 3: // functions
			for n := s.u32(); n > 0 && s.err == nil; n-- {
				funcTypes = append(funcTypes, s.u32())
			}
		case 7: // exports
			for n := s.u32(); n > 0 && s.err == nil; n-- {
				e := struct {
					name  string
					kind  ExternKind
					index uint32
				}{s.name(), ExternKind(s.byte()), s.u32()}
				exports = append(exports, e)
			}
		}
		if s.err != nil {
			return nil, fmt.Errorf("%w: section %d: %v", ErrMalformed, id, s.err)
		}
	}
	if r.err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, r.err)
	}
	typeOf := func(fn uint32) (*FuncType, error) {
		if int(fn) >= len(funcTypes) || int(funcTypes[fn]) >= len(types) {
			return nil, fmt.Errorf("%w: function %d has no type", ErrMalformed, fn)
		}
		ft := types[funcTypes[fn]]
		return &ft, nil
	}
	fn := uint32(0)
	for i := range m.Imports {
		if m.Imports[i].Kind == Func {
			ft, err := typeOf(fn)
			if err != nil {
				return nil, err
			}
			m.Imports[i].Type = ft
			fn++
		}
	}
	for _, e := range exports {
		ex := Export{Name: e.name, Kind: e.kind}
		if e.kind == Func {
			ft, err := typeOf(e.index)
			if err != nil {
				return nil, err
			}
			ex.Type = ft
		}
		m.Exports[e.name] = ex
	}
	return m, nil
}

type reader struct {
	b   []byte
	off int
	err error
}

func (r *reader) fail(msg string) {
	if r.err == nil {
		r.err = fmt.Errorf("at byte %d: %s", r.off, msg)
	}
}

func (r *reader) byte() byte {
	if r.err != nil || r.off >= len(r.b) {
		r.fail("unexpected end")
		return 0
	}
	c := r.b[r.off]
	r.off++
	return c
}

// u32 reads an unsigned LEB128 number of at most 32 bits.
func (r *reader) u32() uint32 {
	var v uint32
	for shift := 0; shift < 35; shift += 7 {
		c := r.byte()
		if r.err != nil {
			return 0
		}
		v |= uint32(c&0x7f) << shift
		if c < 0x80 {
			return v
		}
	}
	r.fail("LEB128 number too long")
	return 0
}

func (r *reader) bytes(n int) []byte {
	if r.err != nil || n < 0 || n > len(r.b)-r.off {
		r.fail("unexpected end")
		return nil
	}
	b := r.b[r.off : r.off+n]
	r.off += n
	return b
}

func (r *reader) name() string { return string(r.bytes(int(r.u32()))) }

func (r *reader) limits() {
	if r.byte()&1 == 1 { // has a maximum
		r.u32()
	}
	r.u32()
}
