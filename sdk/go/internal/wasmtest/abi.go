package wasmtest

import (
	"slices"
	"sort"
	"testing"

	"github.com/tugboat-io/tug/hostabi"
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
func CheckABI(t *testing.T, m *Module, want []string) {
	t.Helper()
	var got []string
	for name := range m.Exports {
		got = append(got, name)
	}
	sort.Strings(got)
	if !slices.Equal(got, want) {
		t.Errorf("exports = %v\nwant      %v", got, want)
	}
	i32 := []byte{I32}
	sigs := map[string]FuncType{
		"_initialize":            {},
		hostabi.ExportABIVersion: {Results: i32},
		hostabi.ExportAlloc:      {Params: i32, Results: i32},
	}
	for _, name := range got {
		e := m.Exports[name]
		if name == hostabi.ExportMemory {
			if e.Kind != Memory {
				t.Errorf("export %s is a %s, want a memory", name, e.Kind)
			}
			continue
		}
		want, ok := sigs[name]
		if !ok {
			want = FuncType{Params: []byte{I32, I32}, Results: i32} // an operation
		}
		if e.Kind != Func || !sameType(*e.Type, want) {
			t.Errorf("export %s: %s %v, want func %v", name, e.Kind, e.Type, want)
		}
	}
	hostSigs := map[string]FuncType{
		hostabi.ImportSetResult: {Params: []byte{I32, I32}},
		hostabi.ImportLog:       {Params: []byte{I32, I32, I32}},
	}
	for _, imp := range m.Imports {
		switch imp.Module {
		case "wasi_snapshot_preview1":
		case hostabi.ImportModule:
			want, ok := hostSigs[imp.Name]
			if !ok {
				t.Errorf("imports %s.%s, which ABI v1.0 does not have", imp.Module, imp.Name)
			} else if imp.Kind != Func || !sameType(*imp.Type, want) {
				t.Errorf("import %s.%s: %s %v, want func %v", imp.Module, imp.Name, imp.Kind, imp.Type, want)
			}
		default:
			t.Errorf("imports %s.%s from a module the host does not provide", imp.Module, imp.Name)
		}
	}
}

func sameType(a, b FuncType) bool {
	return slices.Equal(a.Params, b.Params) && slices.Equal(a.Results, b.Results)
}
