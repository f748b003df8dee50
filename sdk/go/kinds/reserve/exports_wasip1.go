//go:build wasip1

package reserve

import (
	"github.com/tugboat-io/tug/hostabi"
	"github.com/tugboat-io/tug/sdk/go/internal/dispatch"
	"github.com/tugboat-io/tug/sdk/go/internal/guest"
)

func init() { dispatch.Link(dispatch.KindReserve, true) }

//go:wasmexport tug_sched_reserve
func reserve(ptr, size uint32) int32 { return guest.Call(hostabi.ExportSchedReserve, ptr, size) }

//go:wasmexport tug_sched_unreserve
func unreserve(ptr, size uint32) int32 { return guest.Call(hostabi.ExportSchedUnreserve, ptr, size) }
