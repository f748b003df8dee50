//go:build wasip1

package guest

import (
	"runtime"
	"unsafe"

	"github.com/tugboat-io/tug/hostabi"
	"github.com/tugboat-io/tug/sdk/go/internal/dispatch"
	"github.com/tugboat-io/tug/sdk/go/internal/host"
)

// maxAlloc is the largest input tug_alloc hands out; a larger request answers 0 (out of
// memory) instead of trapping in the allocator.
const maxAlloc = 1 << 30

// input is the region the last tug_alloc returned. Holding it here keeps it alive until the
// next tug_alloc; Go's collector does not move objects, so its address stays valid.
var input []byte

func init() { dispatch.SetInModule(true) }

//go:wasmexport tug_abi_version
func abiVersion() int32 { return hostabi.Version }

// largeInput is the input size from which tug_alloc collects garbage first (see alloc).
const largeInput = 1 << 20

//go:wasmexport tug_alloc
func alloc(size uint32) uint32 {
	if size > maxAlloc {
		return 0
	}
	if size >= largeInput {
		// Megabyte inputs (a reconcile of a thousand pods) leave megabytes of garbage
		// in spans of varied sizes; with the collector off until GOMEMLIMIT (ABI.md §6),
		// which wasm memory cannot give back, the heap crept past its cap over a long
		// rollout. Collecting before each such input keeps it near what is live; it
		// costs a few milliseconds against the hundreds the call takes.
		input = nil
		runtime.GC()
	}
	// A zero-byte request still gets a distinct, non-zero address: 0 means out of memory.
	input = make([]byte, max(size, 1))
	return uint32(uintptr(unsafe.Pointer(unsafe.SliceData(input))))
}

//go:wasmexport tug_configure
func configure(ptr, size uint32) int32 { return Call(hostabi.ExportConfigure, ptr, size) }

// yieldEvery is how many calls pass between two yields to the Go scheduler (see Call).
const yieldEvery = 8

var calls uint64

// Call runs an operation on the input region (ptr, size), reports its result with
// set_result and returns its status.
func Call(export string, ptr, size uint32) int32 {
	st, out := hostabi.StatusInvalidInput, []byte("input region was not allocated with tug_alloc")
	if in, ok := region(ptr, size); ok {
		st, out = dispatch.Call(export, in)
	}
	if len(out) > 0 {
		host.SetResult(out)
	}
	// The Go runtime's own goroutines — the GC's mark workers, the sweeper — run only when
	// the goroutine serving an export yields, and a reactor's export never blocks. Without
	// this a collection never finishes and the heap grows until the memory cap kills the
	// instance (docs/BENCHMARKS.md). A yield costs a few microseconds in wasm, so not every
	// call yields.
	if calls++; calls%yieldEvery == 0 {
		runtime.Gosched()
	}
	return int32(st)
}

// region returns the bytes (ptr, size) name, which must lie in the last tug_alloc region:
// the guest reads no memory it did not hand out.
func region(ptr, size uint32) ([]byte, bool) {
	if size == 0 {
		return nil, true
	}
	if len(input) == 0 {
		return nil, false
	}
	base := uint32(uintptr(unsafe.Pointer(unsafe.SliceData(input))))
	if ptr < base || uint64(ptr)+uint64(size) > uint64(base)+uint64(len(input)) {
		return nil, false
	}
	off := ptr - base
	return input[off : off+size], true
}
