//go:build wasip1

package prebind

import (
	"github.com/tugboat-io/tug/hostabi"
	"github.com/tugboat-io/tug/sdk/go/internal/dispatch"
	"github.com/tugboat-io/tug/sdk/go/internal/guest"
)

func init() { dispatch.Link(dispatch.KindPreBind, true) }

//go:wasmexport tug_sched_prebind
func preBind(ptr, size uint32) int32 { return guest.Call(hostabi.ExportSchedPreBind, ptr, size) }
