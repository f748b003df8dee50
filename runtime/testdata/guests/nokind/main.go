//go:build wasip1

// Command nokind has the exports every module has and no operation of any kind but
// tug_sched_nodes, which alone makes no kind.
package main

import "github.com/tugboat-io/tug/runtime/testdata/guests/guestlib"

func main() {}

//go:wasmexport tug_abi_version
func abiVersion() uint32 { return 1 << 16 }

//go:wasmexport tug_alloc
func alloc(n uint32) uint32 { return guestlib.Alloc(n) }

//go:wasmexport tug_sched_nodes
func nodes(ptr, n uint32) uint32 { return 0 }
