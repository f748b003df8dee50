//go:build wasip1

// Command minimal is the smallest valid plugin: an admission export that answers OK with no
// result, and no tug_configure. The benchmarks call it.
package main

import "github.com/tugboat-io/tug/runtime/testdata/guests/guestlib"

func main() {}

//go:wasmexport tug_abi_version
func abiVersion() uint32 { return 1 << 16 }

//go:wasmexport tug_alloc
func alloc(n uint32) uint32 { return guestlib.Alloc(n) }

//go:wasmexport tug_admit
func admit(ptr, n uint32) uint32 {
	guestlib.Input(ptr, n)
	return 0
}
