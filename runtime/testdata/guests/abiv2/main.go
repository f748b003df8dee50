//go:build wasip1

// Command abiv2 claims ABI 2.0, which this host does not serve.
package main

import "github.com/tugboat-io/tug/runtime/testdata/guests/guestlib"

func main() {}

//go:wasmexport tug_abi_version
func abiVersion() uint32 { return 2 << 16 }

//go:wasmexport tug_alloc
func alloc(n uint32) uint32 { return guestlib.Alloc(n) }

//go:wasmexport tug_admit
func admit(ptr, n uint32) uint32 { return 0 }
