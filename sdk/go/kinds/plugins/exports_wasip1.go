//go:build wasip1

package plugins

import (
	"github.com/tugboat-io/tug/hostabi"
	"github.com/tugboat-io/tug/sdk/go/internal/dispatch"
	"github.com/tugboat-io/tug/sdk/go/internal/guest"
	_ "github.com/tugboat-io/tug/sdk/go/internal/sched"
)

func init() { dispatch.Link(dispatch.KindHosted, true) }

//go:wasmexport tug_sched_plugins
func plugins(ptr, size uint32) int32 { return guest.Call(hostabi.ExportSchedPlugins, ptr, size) }

//go:wasmexport tug_sched_filter_at
func filterAt(ptr, size uint32) int32 { return guest.Call(hostabi.ExportSchedFilterAt, ptr, size) }

//go:wasmexport tug_sched_score_at
func scoreAt(ptr, size uint32) int32 { return guest.Call(hostabi.ExportSchedScoreAt, ptr, size) }

//go:wasmexport tug_sched_postfilter_at
func postFilterAt(ptr, size uint32) int32 {
	return guest.Call(hostabi.ExportSchedPostFilterAt, ptr, size)
}

//go:wasmexport tug_sched_normalize_at
func normalizeAt(ptr, size uint32) int32 {
	return guest.Call(hostabi.ExportSchedNormalizeAt, ptr, size)
}

//go:wasmexport tug_sched_reserve_at
func reserveAt(ptr, size uint32) int32 { return guest.Call(hostabi.ExportSchedReserveAt, ptr, size) }

//go:wasmexport tug_sched_unreserve_at
func unreserveAt(ptr, size uint32) int32 {
	return guest.Call(hostabi.ExportSchedUnreserveAt, ptr, size)
}

//go:wasmexport tug_sched_permit_at
func permitAt(ptr, size uint32) int32 { return guest.Call(hostabi.ExportSchedPermitAt, ptr, size) }

//go:wasmexport tug_sched_prebind_at
func preBindAt(ptr, size uint32) int32 { return guest.Call(hostabi.ExportSchedPreBindAt, ptr, size) }

//go:wasmexport tug_sched_postbind_at
func postBindAt(ptr, size uint32) int32 { return guest.Call(hostabi.ExportSchedPostBindAt, ptr, size) }
