package tug

import (
	"fmt"

	// Every module has the exports tug_abi_version, tug_alloc and tug_configure.
	_ "github.com/tugboat-io/tug/sdk/go/internal/guest"
)

// reg is the plugin: what it registered, and the state the SDK keeps for it between calls.
var reg struct {
	configure func(raw []byte) error
	filter    Filter
	score     Score
	admit     Admitter
	reconcile Reconciler
	hosted    []hostedPlugin // RegisterPlugin's, in order
	// The extension points after the choice of a node (binding.go).
	reserve  Reserve
	permit   Permit
	preBind  PreBind
	postBind PostBind

	nodes nodeTable   // resident node state (ABI.md §4.1)
	pod   *Pod        // the current scheduling cycle's pod, from prefilter
	state *CycleState // the current cycle's state
	// What the cycle's pre-filters skipped: by hosted plugin name, "" for the one plugin.
	skipFilter, skipScore map[string]bool
	out                   []byte      // the last output, reused
	rejs                  []rejection // filter's rejections, reused
	scores                []int64     // score's scores, reused
}

// RegisterConfigure makes f receive the plugin's configuration (the config of its
// WasmPlugin or profile entry, JSON; "{}" when none) before any other call; an error
// refuses the configuration, and the host reports its message. A plugin that registers
// none accepts only an empty configuration. Call it once, from init.
func RegisterConfigure(f func(raw []byte) error) {
	mustRegister("RegisterConfigure", f == nil, reg.configure != nil)
	reg.configure = f
}

func mustRegister(fn string, isNil, again bool) {
	switch {
	case isNil:
		panic(fmt.Sprintf("tug.%s: nil implementation", fn))
	case again:
		panic(fmt.Sprintf("tug.%s: called twice; a plugin registers one implementation per kind", fn))
	}
}
