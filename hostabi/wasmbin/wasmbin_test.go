package wasmbin

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// module assembles a binary from sections given as (id, contents).
func module(sections ...[]byte) []byte {
	b := []byte("\x00asm\x01\x00\x00\x00")
	for _, s := range sections {
		b = append(b, s[0])
		b = append(b, byte(len(s)-1)) // sizes here are < 128: one LEB byte
		b = append(b, s[1:]...)
	}
	return b
}

func str(s string) []byte { return append([]byte{byte(len(s))}, s...) }

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

func TestParse(t *testing.T) {
	bin := module(
		// types: 0 = (i32, i32) -> i32, 1 = () -> i32
		cat([]byte{1, 2}, []byte{0x60, 2, 0x7f, 0x7f, 1, 0x7f}, []byte{0x60, 0, 1, 0x7f}),
		// imports: tug:host/v1.set_result (type 0), env.mem (memory, min 1)
		cat([]byte{2, 2}, str("tug:host/v1"), str("set_result"), []byte{0, 0},
			str("env"), str("mem"), []byte{2, 0, 1}),
		// functions: one of type 1
		[]byte{3, 1, 1},
		// memory: min 2 max 3
		[]byte{5, 1, 1, 2, 3},
		// a custom section, skipped
		cat([]byte{0}, str("name"), []byte{1, 2, 3}),
		// exports: version = func 1 (the defined one), memory = memory 0
		cat([]byte{7, 2}, str("version"), []byte{0, 1}, str("memory"), []byte{2, 0}),
	)
	m, err := Parse(bin)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Imports) != 2 || m.Imports[0].Module != "tug:host/v1" || m.Imports[0].Name != "set_result" ||
		m.Imports[0].Type.String() != "(i32, i32) -> i32" {
		t.Errorf("imports: %+v", m.Imports)
	}
	if im := m.Imports[1]; im.Kind != KindMemory || im.Memory == nil || im.Memory.Min != 1 {
		t.Errorf("memory import: %+v", im)
	}
	if len(m.Memories) != 1 || m.Memories[0] != (Limits{Min: 2, Max: 3, HasMax: true}) {
		t.Errorf("memories: %+v", m.Memories)
	}
	v, ok := m.Exports["version"]
	if !ok || v.Kind != KindFunc || v.Type.String() != "() -> i32" || !v.Type.Equal(nil, []ValueType{I32}) {
		t.Errorf("export version: %+v", v)
	}
	if e := m.Exports["memory"]; e.Kind != KindMemory || e.Type != nil {
		t.Errorf("export memory: %+v", e)
	}
}

func TestParseErrors(t *testing.T) {
	valid := module(cat([]byte{1, 1}, []byte{0x60, 0, 0}))
	for _, tc := range []struct {
		name string
		bin  []byte
		want string
	}{
		{"empty", nil, "bad magic"},
		{"text format", []byte("(module)"), "bad magic"},
		{"version 2", []byte("\x00asm\x02\x00\x00\x00"), "unsupported WebAssembly binary version"},
		{"component", []byte("\x00asm\x0d\x00\x01\x00"), "component"},
		{"section overruns", append(valid[:len(valid):len(valid)], 1, 100, 0), "overruns"},
		{"truncated section", module([]byte{1, 1}), "unexpected end"},
		{"bad type form", module([]byte{1, 1, 0x5f}), "unsupported type form"},
		{"export of a missing function", module(cat([]byte{7, 1}, str("f"), []byte{0, 5})), "function index 5 out of range"},
		{"import of a missing type", module(cat([]byte{2, 1}, str("m"), str("f"), []byte{0, 9})), "type index 9 out of range"},
		{"duplicate export", module(cat([]byte{5, 1, 0, 1}), cat([]byte{7, 2}, str("m"), []byte{2, 0}, str("m"), []byte{2, 0})), "duplicate export"},
		{"overlong LEB", module([]byte{3, 6, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}), "LEB128"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.bin)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Parse: %v, want an error containing %q", err, tc.want)
			}
		})
	}
	if _, err := Parse([]byte("\x00asm\x0d\x00\x01\x00")); !errors.Is(err, ErrComponent) {
		t.Errorf("component: %v", err)
	}
}

// FuzzParse: Parse never panics, whatever the bytes. (go test runs the seeds; go test -fuzz
// explores.)
func FuzzParse(f *testing.F) {
	f.Add([]byte("\x00asm\x01\x00\x00\x00"))
	f.Add(module(cat([]byte{1, 1}, []byte{0x60, 0, 0}), []byte{3, 1, 0}, cat([]byte{7, 1}, str("f"), []byte{0, 0})))
	f.Add(module([]byte{5, 1, 5, 1, 2, 3}))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = Parse(b)
	})
}

func TestAppendSLEB(t *testing.T) {
	for v, want := range map[int64][]byte{
		0: {0x00}, 1: {0x01}, 63: {0x3f}, 64: {0xc0, 0x00}, -1: {0x7f}, -64: {0x40}, -65: {0xbf, 0x7f},
		8192: {0x80, 0xc0, 0x00}, 1 << 16: {0x80, 0x80, 0x04},
	} {
		if got := AppendSLEB(nil, v); !bytes.Equal(got, want) {
			t.Errorf("AppendSLEB(%d) = %x, want %x", v, got, want)
		}
	}
}
