package wasmtest

import (
	"errors"
	"testing"

	"github.com/tugboat-io/tug/hostabi"
)

// A module exports exactly the kinds whose packages it imports: this one imports every kind
// but filter.
func TestKindsExportOnlyTheirOperations(t *testing.T) {
	m, err := Parse(Build(t, "testdata/allbutfilter"))
	if err != nil {
		t.Fatal(err)
	}
	CheckABI(t, m, WantExports(hostabi.KindSchedulerScore, hostabi.KindAdmission, hostabi.KindController))
	if _, ok := m.Exports[hostabi.ExportSchedFilter]; ok {
		t.Errorf("module exports %s without importing kinds/filter", hostabi.ExportSchedFilter)
	}
}

func TestParseRefusesMalformedModules(t *testing.T) {
	header := []byte("\x00asm\x01\x00\x00\x00")
	tests := map[string][]byte{
		"empty":                        {},
		"not wasm":                     []byte("\x7fELF\x02\x01\x01\x00"),
		"section past the end":         append(header, 7, 10, 1),
		"export name past its end":     append(header, 7, 3, 1, 9, 'a'),
		"export of a missing function": append(header, 7, 5, 1, 1, 'f', 0, 3),
	}
	for name, b := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := Parse(b); !errors.Is(err, ErrMalformed) {
				t.Errorf("Parse = %v, want ErrMalformed", err)
			}
		})
	}
}

func TestParse(t *testing.T) {
	// (module (type (func (param i32 i32) (result i32))) (import "m" "f" (func (type 0)))
	//   (func (type 0) unreachable) (memory 1) (export "op" (func 1)) (export "memory" (memory 0)))
	// without the code section, which Parse does not read.
	b := []byte("\x00asm\x01\x00\x00\x00")
	b = append(b, 1, 7, 1, 0x60, 2, I32, I32, 1, I32)                                 // types
	b = append(b, 2, 7, 1, 1, 'm', 1, 'f', 0, 0)                                      // imports
	b = append(b, 3, 2, 1, 0)                                                         // functions
	b = append(b, 5, 3, 1, 0, 1)                                                      // memory
	b = append(b, 7, 15, 2, 2, 'o', 'p', 0, 1, 6, 'm', 'e', 'm', 'o', 'r', 'y', 2, 0) // exports
	m, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	op := FuncType{Params: []byte{I32, I32}, Results: []byte{I32}}
	if len(m.Imports) != 1 || m.Imports[0].Module != "m" || m.Imports[0].Name != "f" || !sameType(*m.Imports[0].Type, op) {
		t.Errorf("imports = %+v", m.Imports)
	}
	if e := m.Exports["op"]; e.Kind != Func || !sameType(*e.Type, op) {
		t.Errorf("export op = %+v, want func %v", e, op)
	}
	if e := m.Exports["memory"]; e.Kind != Memory {
		t.Errorf("export memory = %+v", e)
	}
}
