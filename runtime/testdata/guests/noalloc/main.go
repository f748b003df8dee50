//go:build wasip1

// Command noalloc lacks tug_alloc.
package main

func main() {}

//go:wasmexport tug_abi_version
func abiVersion() uint32 { return 1 << 16 }

//go:wasmexport tug_admit
func admit(ptr, n uint32) uint32 { return 0 }
