//go:build wasip1

// Command badsig exports tug_admit with the wrong signature, and tug_sched_filter without the
// other exports a scheduler filter needs.
package main

import "github.com/tugboat-io/tug/runtime/testdata/guests/guestlib"

func main() {}

//go:wasmexport tug_abi_version
func abiVersion() uint32 { return 1 << 16 }

//go:wasmexport tug_alloc
func alloc(n uint32) uint32 { return guestlib.Alloc(n) }

//go:wasmexport tug_admit
func admit(ptr uint32) uint32 { return 0 }

//go:wasmexport tug_sched_filter
func filter(ptr, n uint32) uint32 { return 0 }
