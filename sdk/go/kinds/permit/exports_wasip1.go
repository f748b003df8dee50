//go:build wasip1

package permit

import (
	"github.com/tugboat-io/tug/hostabi"
	"github.com/tugboat-io/tug/sdk/go/internal/dispatch"
	"github.com/tugboat-io/tug/sdk/go/internal/guest"
)

func init() { dispatch.Link(dispatch.KindPermit, true) }

//go:wasmexport tug_sched_permit
func permit(ptr, size uint32) int32 { return guest.Call(hostabi.ExportSchedPermit, ptr, size) }
