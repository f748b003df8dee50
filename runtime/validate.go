package runtime

import (
	"fmt"
	"slices"
	"strings"

	"github.com/tugboat-io/tug/hostabi"
	"github.com/tugboat-io/tug/hostabi/wasmbin"
)

// wasiModule is the import module name of WASI preview 1, which guests may import (ABI.md §6).
const wasiModule = "wasi_snapshot_preview1"

// operations are the operation exports of ABI v1.6; all have the signature (i32, i32) -> i32.
var operations = []string{
	hostabi.ExportSchedPlugins,
	hostabi.ExportSchedFilterAt,
	hostabi.ExportSchedScoreAt,
	hostabi.ExportSchedNormalizeAt,
	hostabi.ExportSchedPostFilterAt,
	hostabi.ExportSchedReserve,
	hostabi.ExportSchedUnreserve,
	hostabi.ExportSchedPermit,
	hostabi.ExportSchedPreBind,
	hostabi.ExportSchedPostBind,
	hostabi.ExportSchedReserveAt,
	hostabi.ExportSchedUnreserveAt,
	hostabi.ExportSchedPermitAt,
	hostabi.ExportSchedPreBindAt,
	hostabi.ExportSchedPostBindAt,
	hostabi.ExportConfigure,
	hostabi.ExportSchedNodes,
	hostabi.ExportSchedPreFilter,
	hostabi.ExportSchedFilter,
	hostabi.ExportSchedScore,
	hostabi.ExportSchedNormalize,
	hostabi.ExportAdmit,
	hostabi.ExportReconcile,
}

// kindOrder is the order kinds are listed in, in Module.Kinds and in messages.
var kindOrder = []hostabi.Kind{
	hostabi.KindSchedulerFilter,
	hostabi.KindSchedulerScore,
	hostabi.KindAdmission,
	hostabi.KindController,
}

var (
	i32        = wasmbin.I32
	sigOp      = wasmbin.FuncType{Params: []wasmbin.ValueType{i32, i32}, Results: []wasmbin.ValueType{i32}}
	sigVersion = wasmbin.FuncType{Results: []wasmbin.ValueType{i32}}
	sigAlloc   = wasmbin.FuncType{Params: []wasmbin.ValueType{i32}, Results: []wasmbin.ValueType{i32}}
	sigInit    = wasmbin.FuncType{}
	// hostImports are the functions of module tug:host/v1 (ABI.md §5).
	hostImports = map[string]wasmbin.FuncType{
		hostabi.ImportSetResult: {Params: []wasmbin.ValueType{i32, i32}},
		hostabi.ImportLog:       {Params: []wasmbin.ValueType{i32, i32, i32}},
	}
)

// moduleInfo is what the static checks learn about a module.
type moduleInfo struct {
	kinds      []hostabi.Kind
	ops        map[string]bool // operation exports present
	minPages   uint64          // the memory's initial size
	initialize bool            // exports _initialize (a reactor)
	hosted     bool            // hosts several scheduling plugins (ABI.md §4.7)
}

// inspect checks the interface of a module against ABI.md — everything that can be checked
// without running it — and reports every problem it finds, not only the first.
func inspect(m *wasmbin.Module, wasi map[string]wasmbin.FuncType) (*moduleInfo, error) {
	info := &moduleInfo{ops: map[string]bool{}}
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	// The memory: defined by the module, 32-bit, not shared, exported as "memory".
	switch ex, ok := m.Exports[hostabi.ExportMemory]; {
	case !ok:
		add("missing export %q (a memory)", hostabi.ExportMemory)
	case ex.Kind != wasmbin.KindMemory:
		add("export %q is a %s, want a memory", hostabi.ExportMemory, ex.Kind)
	}
	switch len(m.Memories) {
	case 0:
	case 1:
		mem := m.Memories[0]
		info.minPages = mem.Min
		if mem.Is64 {
			add("its memory is 64-bit; the ABI uses 32-bit offsets")
		}
		if mem.Shared {
			add("its memory is shared; plugins are single-threaded")
		}
	default:
		add("defines %d memories; a plugin has one", len(m.Memories))
	}

	// The exports every module has.
	fn := func(name string, want wasmbin.FuncType) bool {
		ex, ok := m.Exports[name]
		switch {
		case !ok:
			return false
		case ex.Kind != wasmbin.KindFunc:
			add("export %q is a %s, want a function %s", name, ex.Kind, want)
		case !ex.Type.Equal(want.Params, want.Results):
			add("export %q has signature %s, want %s", name, ex.Type, want)
		}
		return true
	}
	if !fn(hostabi.ExportABIVersion, sigVersion) {
		add("missing export %q %s", hostabi.ExportABIVersion, sigVersion)
	}
	if !fn(hostabi.ExportAlloc, sigAlloc) {
		add("missing export %q %s", hostabi.ExportAlloc, sigAlloc)
	}
	info.initialize = fn("_initialize", sigInit)
	if _, ok := m.Exports["_start"]; ok {
		add("exports _start, so it is a command, not a reactor: build it as a library " +
			"(Go and TinyGo: -buildmode=c-shared; C: -mexec-model=reactor)")
	}

	// Operations, and the kinds they make up.
	for _, op := range operations {
		if fn(op, sigOp) {
			info.ops[op] = true
		}
	}
	for _, k := range kindOrder {
		if hosted := hostabi.HostedRequiredExports[k]; hosted != nil && hasAll(info.ops, hosted) {
			info.kinds = append(info.kinds, k)
			info.hosted = true
			continue
		}
		var missing, markers []string
		for _, op := range hostabi.RequiredExports[k] {
			if !info.ops[op] {
				missing = append(missing, op)
			} else if !sharedRequirement(k, op) {
				markers = append(markers, op)
			}
		}
		switch {
		case len(missing) == 0:
			info.kinds = append(info.kinds, k)
		case len(markers) > 0:
			add("exports %s but not %s, which kind %s requires", strings.Join(markers, ", "), strings.Join(missing, ", "), k)
		}
	}
	at := info.ops[hostabi.ExportSchedFilterAt] || info.ops[hostabi.ExportSchedScoreAt] || info.ops[hostabi.ExportSchedNormalizeAt]
	switch {
	case at && !info.ops[hostabi.ExportSchedPlugins]:
		add("exports per-plugin scheduling operations (_at) without %s, which lists the plugins", hostabi.ExportSchedPlugins)
	case info.ops[hostabi.ExportSchedPlugins] && !info.ops[hostabi.ExportSchedFilterAt] && !info.ops[hostabi.ExportSchedScoreAt]:
		add("exports %s but neither %s nor %s", hostabi.ExportSchedPlugins, hostabi.ExportSchedFilterAt, hostabi.ExportSchedScoreAt)
	case info.ops[hostabi.ExportSchedPlugins] && !info.hosted:
		add("exports %s but not %s and %s, which hosted plugins require", hostabi.ExportSchedPlugins, hostabi.ExportSchedNodes, hostabi.ExportSchedPreFilter)
	case info.ops[hostabi.ExportSchedNormalizeAt] && !info.ops[hostabi.ExportSchedScoreAt]:
		add("exports %s without %s", hostabi.ExportSchedNormalizeAt, hostabi.ExportSchedScoreAt)
	}
	if info.ops[hostabi.ExportSchedNormalize] && !info.ops[hostabi.ExportSchedScore] {
		add("exports %s without %s", hostabi.ExportSchedNormalize, hostabi.ExportSchedScore)
	}
	if info.ops[hostabi.ExportSchedReserve] != info.ops[hostabi.ExportSchedUnreserve] {
		add("exports one of %s and %s without the other", hostabi.ExportSchedReserve, hostabi.ExportSchedUnreserve)
	}
	if info.ops[hostabi.ExportSchedReserveAt] != info.ops[hostabi.ExportSchedUnreserveAt] {
		add("exports one of %s and %s without the other", hostabi.ExportSchedReserveAt, hostabi.ExportSchedUnreserveAt)
	}
	for _, op := range []string{hostabi.ExportSchedReserve, hostabi.ExportSchedPermit, hostabi.ExportSchedPreBind, hostabi.ExportSchedPostBind} {
		if info.ops[op] && !info.ops[hostabi.ExportSchedFilter] && !info.ops[hostabi.ExportSchedScore] {
			add("exports %s but is neither a scheduler filter nor a scheduler score (ABI.md §4.10)", op)
		}
	}
	if len(info.kinds) == 0 && len(problems) == 0 {
		var kinds []string
		for _, k := range kindOrder {
			kinds = append(kinds, fmt.Sprintf("%s (%s)", k, strings.Join(hostabi.RequiredExports[k], ", ")))
		}
		add("implements no plugin kind; export the operations of one of: %s", strings.Join(kinds, "; "))
	}

	// Imports: tug:host/v1 and WASI preview 1, nothing else.
	seen := map[string]bool{}
	for _, im := range m.Imports {
		key := im.Module + "\x00" + im.Name
		if seen[key] {
			continue
		}
		seen[key] = true
		var want wasmbin.FuncType
		var ok bool
		switch im.Module {
		case hostabi.ImportModule:
			if want, ok = hostImports[im.Name]; !ok {
				add("imports unknown host function %s.%s (v1.%d provides %s)", im.Module, im.Name, hostabi.Minor, strings.Join(sortedKeys(hostImports), ", "))
				continue
			}
		case wasiModule:
			if want, ok = wasi[im.Name]; !ok {
				add("imports %s.%s, which is not a WASI preview 1 function", im.Module, im.Name)
				continue
			}
		default:
			add("imports %s.%s from module %q; only %s and %s are provided", im.Module, im.Name, im.Module, hostabi.ImportModule, wasiModule)
			continue
		}
		switch {
		case im.Kind != wasmbin.KindFunc:
			add("imports %s.%s as a %s, want a function", im.Module, im.Name, im.Kind)
		case !im.Type.Equal(want.Params, want.Results):
			add("imports %s.%s with signature %s, want %s", im.Module, im.Name, im.Type, want)
		}
	}

	if len(problems) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrInvalidModule, strings.Join(problems, "; "))
	}
	return info, nil
}

func hasAll(ops map[string]bool, want []string) bool {
	for _, op := range want {
		if !ops[op] {
			return false
		}
	}
	return true
}

// sharedRequirement reports whether op is required by a kind other than k too, so that its
// presence alone does not say the module means to be a k.
func sharedRequirement(k hostabi.Kind, op string) bool {
	for other, ops := range hostabi.RequiredExports {
		if other != k && slices.Contains(ops, op) {
			return true
		}
	}
	return false
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
