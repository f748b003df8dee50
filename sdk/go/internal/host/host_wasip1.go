//go:build wasip1

package host

import (
	"runtime"
	"unsafe"
)

//go:wasmimport tug:host/v1 set_result
func setResult(ptr unsafe.Pointer, size uint32)

//go:wasmimport tug:host/v1 log
func hostLog(level int32, ptr unsafe.Pointer, size uint32)

// SetResult reports the current call's output, or with a non-zero status its reason. The
// host copies the bytes before the import returns.
func SetResult(b []byte) {
	setResult(unsafe.Pointer(unsafe.SliceData(b)), uint32(len(b)))
	runtime.KeepAlive(b)
}

// Log sends a message to the host's log.
func Log(level int32, msg string) {
	hostLog(level, unsafe.Pointer(unsafe.StringData(msg)), uint32(len(msg)))
	runtime.KeepAlive(msg)
}

// SetLogSink does nothing in a wasm module: messages always go to the host.
func SetLogSink(func(level int32, msg string)) (restore func()) { return func() {} }
