//go:build wasip1

package filter

import (
	"github.com/tugboat-io/tug/hostabi"
	"github.com/tugboat-io/tug/sdk/go/internal/dispatch"
	"github.com/tugboat-io/tug/sdk/go/internal/guest"
	_ "github.com/tugboat-io/tug/sdk/go/internal/sched"
)

func init() { dispatch.Link(hostabi.KindSchedulerFilter, true) }

//go:wasmexport tug_sched_filter
func filter(ptr, size uint32) int32 { return guest.Call(hostabi.ExportSchedFilter, ptr, size) }
