//go:build wasip1

// Command badimport imports a host function v1 does not have.
package main

import "github.com/tugboat-io/tug/runtime/testdata/guests/guestlib"

//go:wasmimport tug:host/v1 open_socket
func openSocket(port uint32) uint32

func main() {}

//go:wasmexport tug_abi_version
func abiVersion() uint32 { return 1 << 16 }

//go:wasmexport tug_alloc
func alloc(n uint32) uint32 { return guestlib.Alloc(n) }

//go:wasmexport tug_admit
func admit(ptr, n uint32) uint32 { return openSocket(n) }
