//go:build wasip1

package controller

import (
	"github.com/tugboat-io/tug/hostabi"
	"github.com/tugboat-io/tug/sdk/go/internal/dispatch"
	"github.com/tugboat-io/tug/sdk/go/internal/guest"
)

func init() { dispatch.Link(hostabi.KindController, true) }

//go:wasmexport tug_reconcile
func reconcile(ptr, size uint32) int32 { return guest.Call(hostabi.ExportReconcile, ptr, size) }
