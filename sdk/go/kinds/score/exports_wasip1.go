//go:build wasip1

package score

import (
	"github.com/tugboat-io/tug/hostabi"
	"github.com/tugboat-io/tug/sdk/go/internal/dispatch"
	"github.com/tugboat-io/tug/sdk/go/internal/guest"
	_ "github.com/tugboat-io/tug/sdk/go/internal/sched"
)

func init() { dispatch.Link(hostabi.KindSchedulerScore, true) }

//go:wasmexport tug_sched_score
func score(ptr, size uint32) int32 { return guest.Call(hostabi.ExportSchedScore, ptr, size) }

//go:wasmexport tug_sched_normalize
func normalize(ptr, size uint32) int32 { return guest.Call(hostabi.ExportSchedNormalize, ptr, size) }
