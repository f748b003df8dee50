//go:build wasip1

// Command filter is the well-behaved test guest: a scheduler filter that rejects the nodes
// whose id is odd, with reason "odd" (configurable), and an admission export that reports the
// build's tag, so that the hot-swap test can tell versions apart.
//
// It avoids encoding/json and fmt to stay small: wazero compiles a smaller module faster.
package main

import (
	"encoding/binary"
	"strconv"
	"strings"

	"github.com/tugboat-io/tug/runtime/testdata/guests/guestlib"
)

// tag is set with -ldflags "-X main.tag=…".
var tag = "untagged"

var (
	reason = "odd"
	nodes  int    // node state updates received
	pod    []byte // the cycle's pod, from prefilter
	calls  int    // tug_admit calls on this instance
)

func main() {}

//go:wasmexport tug_abi_version
func abiVersion() uint32 { return 1 << 16 }

//go:wasmexport tug_alloc
func alloc(n uint32) uint32 { return guestlib.Alloc(n) }

// configure accepts {} or {"reason": "…"}; anything else is refused.
//
//go:wasmexport tug_configure
func configure(ptr, n uint32) uint32 {
	cfg := strings.TrimSpace(string(guestlib.Input(ptr, n)))
	if !strings.HasPrefix(cfg, "{") || !strings.HasSuffix(cfg, "}") {
		guestlib.SetResult([]byte("config is not a JSON object"))
		return 3
	}
	body := strings.TrimSpace(cfg[1 : len(cfg)-1])
	if body == "" {
		return 0
	}
	key, value, _ := strings.Cut(body, ":")
	key, value = strings.TrimSpace(key), strings.TrimSpace(value)
	if key != `"reason"` {
		guestlib.SetResult([]byte("unknown field " + key))
		return 3
	}
	r, err := strconv.Unquote(value)
	if err != nil || r == "" {
		guestlib.SetResult([]byte("reason must be a non-empty string"))
		return 3
	}
	reason = r
	return 0
}

//go:wasmexport tug_sched_nodes
func schedNodes(ptr, n uint32) uint32 {
	guestlib.Input(ptr, n)
	nodes++
	return 0
}

//go:wasmexport tug_sched_prefilter
func prefilter(ptr, n uint32) uint32 {
	pod = guestlib.Input(ptr, n)
	return 0
}

// filter reads "u32 count | u32 id × count" and rejects the odd ids (ABI.md §4.3).
//
//go:wasmexport tug_sched_filter
func filter(ptr, n uint32) uint32 {
	in := guestlib.Input(ptr, n)
	if len(in) < 4 || uint64(len(in)) != 4+4*uint64(binary.LittleEndian.Uint32(in)) {
		guestlib.SetResult([]byte("malformed candidate list"))
		return 2
	}
	count := binary.LittleEndian.Uint32(in)
	out := binary.LittleEndian.AppendUint32(nil, 0)
	var rejected uint32
	for i := uint32(0); i < count; i++ {
		id := binary.LittleEndian.Uint32(in[4+4*i:])
		if id%2 == 1 {
			rejected++
			out = binary.LittleEndian.AppendUint32(out, id)
			out = binary.LittleEndian.AppendUint32(out, 2) // Unschedulable
			out = binary.LittleEndian.AppendUint32(out, uint32(len(reason)))
			out = append(out, reason...)
		}
	}
	binary.LittleEndian.PutUint32(out, rejected)
	guestlib.SetResult(out)
	return 0
}

// admit answers {"allowed":true,"tag":"…","calls":N,"nodes":M}; calls counts this instance's
// tug_admit calls, nodes its tug_sched_nodes calls.
//
//go:wasmexport tug_admit
func admit(ptr, n uint32) uint32 {
	guestlib.Input(ptr, n)
	calls++
	guestlib.SetResult([]byte(`{"allowed":true,"tag":"` + tag + `","calls":` + strconv.Itoa(calls) +
		`,"nodes":` + strconv.Itoa(nodes) + `}`))
	return 0
}
