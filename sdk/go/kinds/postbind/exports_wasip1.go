//go:build wasip1

package postbind

import (
	"github.com/tugboat-io/tug/hostabi"
	"github.com/tugboat-io/tug/sdk/go/internal/dispatch"
	"github.com/tugboat-io/tug/sdk/go/internal/guest"
)

func init() { dispatch.Link(dispatch.KindPostBind, true) }

//go:wasmexport tug_sched_postbind
func postBind(ptr, size uint32) int32 { return guest.Call(hostabi.ExportSchedPostBind, ptr, size) }
