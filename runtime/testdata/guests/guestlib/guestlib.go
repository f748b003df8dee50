//go:build wasip1

// Package guestlib is the little each test guest needs to speak the tug host ABI without the
// SDK: a keep-alive allocator for tug_alloc, views of guest memory, and the two host imports.
// Guests define their own //go:wasmexport functions, so that each guest's exports are exactly
// what its main.go says.
package guestlib

import (
	"runtime"
	"unsafe"
)

var inputs uint64

// live keeps the regions handed out by Alloc reachable until Free; the host writes a call's
// input there after tug_alloc returns, so the GC must not reclaim them.
var live = map[uintptr][]byte{}

// Alloc returns the offset of a fresh region of size bytes, or 0 when size is 0.
func Alloc(size uint32) uint32 {
	if size == 0 {
		return 0
	}
	b := make([]byte, size)
	p := uintptr(unsafe.Pointer(&b[0]))
	live[p] = b
	return uint32(p)
}

// Input returns a copy of the region [ptr, ptr+n) and frees it. Every 8th call it first
// yields to the Go scheduler so that the runtime's collector can finish (a reactor's export
// never blocks; the SDK yields as often, for the same reason).
func Input(ptr, n uint32) []byte {
	if inputs++; inputs%8 == 0 {
		runtime.Gosched()
	}
	if n == 0 {
		return nil
	}
	b := live[uintptr(ptr)]
	delete(live, uintptr(ptr))
	if b == nil {
		b = unsafe.Slice((*byte)(unsafe.Pointer(uintptr(ptr))), n)
	}
	return append([]byte(nil), b[:n]...)
}

//go:wasmimport tug:host/v1 set_result
func setResult(ptr unsafe.Pointer, n uint32)

//go:wasmimport tug:host/v1 log
func hostLog(level int32, ptr unsafe.Pointer, n uint32)

// SetResult hands b to the host as the call's result (or reason, with a non-zero status).
func SetResult(b []byte) {
	if len(b) == 0 {
		setResult(nil, 0)
		return
	}
	setResult(unsafe.Pointer(&b[0]), uint32(len(b)))
}

// Log logs msg at level (0 debug … 3 error) through the host.
func Log(level int32, msg string) {
	b := []byte(msg)
	if len(b) == 0 {
		hostLog(level, nil, 0)
		return
	}
	hostLog(level, unsafe.Pointer(&b[0]), uint32(len(b)))
}

// SetResultRaw passes set_result an arbitrary region, for guests that misbehave on purpose.
func SetResultRaw(ptr, n uint32) { setResult(unsafe.Pointer(uintptr(ptr)), n) }
