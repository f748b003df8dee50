//go:build wasip1

package admission

import (
	"github.com/tugboat-io/tug/hostabi"
	"github.com/tugboat-io/tug/sdk/go/internal/dispatch"
	"github.com/tugboat-io/tug/sdk/go/internal/guest"
)

func init() { dispatch.Link(hostabi.KindAdmission, true) }

//go:wasmexport tug_admit
func admit(ptr, size uint32) int32 { return guest.Call(hostabi.ExportAdmit, ptr, size) }
