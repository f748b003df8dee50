//go:build wasip1

package sched

import (
	"github.com/tugboat-io/tug/hostabi"
	"github.com/tugboat-io/tug/sdk/go/internal/guest"
)

//go:wasmexport tug_sched_nodes
func nodes(ptr, size uint32) int32 { return guest.Call(hostabi.ExportSchedNodes, ptr, size) }

//go:wasmexport tug_sched_prefilter
func prefilter(ptr, size uint32) int32 {
	return guest.Call(hostabi.ExportSchedPreFilter, ptr, size)
}
