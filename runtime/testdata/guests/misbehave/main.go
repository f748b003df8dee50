//go:build wasip1

// Command misbehave is an admission plugin that misbehaves on request: its tug_admit input
// names the misbehaviour. Its tug_configure panics on a config containing "panic" and refuses
// one containing "refuse".
package main

import (
	"os"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"crypto/rand"

	"github.com/tugboat-io/tug/runtime/testdata/guests/guestlib"
)

var (
	count int      // "count" calls on this instance
	spin  uint64   // the infinite loop's work, so that it is not optimized away
	hoard [][]byte // what the memory bomb keeps alive
)

func main() {}

//go:wasmexport tug_abi_version
func abiVersion() uint32 { return 1 << 16 }

//go:wasmexport tug_alloc
func alloc(n uint32) uint32 { return guestlib.Alloc(n) }

//go:wasmexport tug_configure
func configure(ptr, n uint32) uint32 {
	cfg := string(guestlib.Input(ptr, n))
	switch {
	case strings.Contains(cfg, "panic"):
		panic("configure exploded")
	case strings.Contains(cfg, "refuse"):
		guestlib.SetResult([]byte("refusing: threshold must be positive"))
		return 3
	}
	return 0
}

//go:wasmexport tug_admit
func admit(ptr, n uint32) uint32 {
	in := string(guestlib.Input(ptr, n))
	switch {
	case in == "ok":
		guestlib.SetResult([]byte("fine"))
	case in == "count":
		count++
		guestlib.SetResult([]byte(strconv.Itoa(count)))
	case in == "loop":
		for {
			spin++
		}
	case in == "sleep":
		time.Sleep(time.Hour)
	case in == "panic":
		panic("boom")
	case in == "oob":
		// Past the end of a 32-bit memory: a wasm trap, not a Go panic.
		p := (*uint64)(unsafe.Pointer(uintptr(0xfffffff0)))
		guestlib.SetResult([]byte(strconv.FormatUint(*p, 10)))
	case in == "bomb":
		for {
			hoard = append(hoard, make([]byte, 1<<20))
		}
	case strings.HasPrefix(in, "huge:"):
		size, _ := strconv.Atoi(strings.TrimPrefix(in, "huge:"))
		guestlib.SetResult(make([]byte, size))
	case in == "status77":
		guestlib.SetResult([]byte("made up"))
		return 77
	case in == "error":
		guestlib.SetResult([]byte("nope"))
		return 1
	case in == "garbage":
		guestlib.SetResult([]byte{0xff, 0xfe, 0x00, 0x01, '{'})
	case in == "setresult-oob":
		guestlib.SetResultRaw(0xfffffff0, 64)
	case in == "exit":
		os.Exit(3)
	case in == "log":
		guestlib.Log(2, "hello from the guest")
		println("to stderr")
		os.Stdout.WriteString("to stdout\n")
	case in == "time":
		guestlib.SetResult([]byte(strconv.FormatInt(time.Now().UnixNano(), 10)))
	case in == "rand":
		b := make([]byte, 16)
		rand.Read(b)
		guestlib.SetResult(b)
	case in == "twice":
		guestlib.SetResult([]byte("first"))
		guestlib.SetResult([]byte("second"))
	default:
		guestlib.SetResult([]byte("unknown misbehaviour " + strconv.Quote(in)))
		return 2
	}
	return 0
}
