package wasmtest

import (
	"slices"
	"sort"
	"testing"

	"github.com/tugboat-io/tug/hostabi"
	"github.com/tugboat-io/tug/hostabi/wasmbin"
)

// WantExports returns the exports a module built with the SDK has when it implements the
// given kinds: the memory, the WASI reactor's _initialize, the exports of every module, and
// each kind's operations (tug_sched_normalize with a score).
func WantExports(kinds ...hostabi.Kind) []string {
	want := []string{hostabi.ExportMemory, "_initialize", hostabi.ExportABIVersion, hostabi.ExportAlloc, hostabi.ExportConfigure}
	for _, k := range kinds {
		want = append(want, hostabi.RequiredExports[k]...)
		if k == hostabi.KindSchedulerScore {
			want = append(want, hostabi.ExportSchedNormalize)
		}
	}
	sort.Strings(want)
	return slices.Compact(want)
}

// CheckABI checks a module against ABI.md §2, §4, §5 and §7: its exports are exactly want,
// with the ABI's signatures, and it imports only the host's set_result and log and WASI
// preview 1.
func CheckABI(t *testing.T, m *wasmbin.Module, want []string) {
	t.Helper()
	var got []string
	for name := range m.Exports {
		got = append(got, name)
	}
	sort.Strings(got)
	if !slices.Equal(got, want) {
		t.Errorf("exports = %v\nwant      %v", got, want)
	}
	i32 := []wasmbin.ValueType{wasmbin.I32}
	sigs := map[string]wasmbin.FuncType{
		"_initialize":            {},
		hostabi.ExportABIVersion: {Results: i32},
		hostabi.ExportAlloc:      {Params: i32, Results: i32},
	}
	for _, name := range got {
		e := m.Exports[name]
		if name == hostabi.ExportMemory {
			if e.Kind != wasmbin.KindMemory {
				t.Errorf("export %s is a %s, want a memory", name, e.Kind)
			}
			continue
		}
		want, ok := sigs[name]
		if !ok {
			want = wasmbin.FuncType{Params: []wasmbin.ValueType{wasmbin.I32, wasmbin.I32}, Results: i32} // an operation
		}
		if e.Kind != wasmbin.KindFunc || !e.Type.Equal(want.Params, want.Results) {
			t.Errorf("export %s: %s %v, want func %v", name, e.Kind, e.Type, want)
		}
	}
	hostSigs := map[string]wasmbin.FuncType{
		hostabi.ImportSetResult: {Params: []wasmbin.ValueType{wasmbin.I32, wasmbin.I32}},
		hostabi.ImportLog:       {Params: []wasmbin.ValueType{wasmbin.I32, wasmbin.I32, wasmbin.I32}},
	}
	for _, imp := range m.Imports {
		switch imp.Module {
		case "wasi_snapshot_preview1":
		case hostabi.ImportModule:
			want, ok := hostSigs[imp.Name]
			if !ok {
				t.Errorf("imports %s.%s, which ABI v1.0 does not have", imp.Module, imp.Name)
			} else if imp.Kind != wasmbin.KindFunc || !imp.Type.Equal(want.Params, want.Results) {
				t.Errorf("import %s.%s: %s %v, want func %v", imp.Module, imp.Name, imp.Kind, imp.Type, want)
			}
		default:
			t.Errorf("imports %s.%s from a module the host does not provide", imp.Module, imp.Name)
		}
	}
}
