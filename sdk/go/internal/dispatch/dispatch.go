// Package dispatch connects the ABI glue to the SDK: package tug registers one handler per
// operation export, and the wasm exports (internal/guest, internal/sched, kinds/…) and the
// native fake host (sdktest) call them with the operation's input bytes. It also records,
// in a wasm module, which kinds' exports are linked in, so that the SDK can tell a plugin
// that registered a kind it does not export, or exports a kind it did not register.
package dispatch

import "github.com/tugboat-io/tug/hostabi"

// Handler runs one operation: the input bytes in, a status and the result bytes out (the
// output, or with a non-zero status a reason). The result may be reused by the next call.
type Handler func(in []byte) (hostabi.Status, []byte)

var (
	handlers = map[string]Handler{}
	inModule bool
	linked   = map[hostabi.Kind]bool{}
)

// Handle sets the handler of an operation export.
func Handle(export string, h Handler) { handlers[export] = h }

// Call runs the handler of an operation export.
func Call(export string, in []byte) (hostabi.Status, []byte) {
	h := handlers[export]
	if h == nil {
		return hostabi.StatusUnsupported, []byte(export + " is not implemented: the plugin does not import the tug SDK")
	}
	return h(in)
}

// SetInModule records whether the code runs as a wasm module with the SDK's exports.
func SetInModule(v bool) { inModule = v }

// InModule reports whether the code runs as a wasm module with the SDK's exports.
func InModule() bool { return inModule }

// KindHosted marks, in Link, the exports of a module hosting several scheduling plugins
// (kinds/plugins); it is not a kind of its own to the host.
const KindHosted hostabi.Kind = "scheduler-hosted"

// KindReserve, KindPermit, KindPreBind and KindPostBind mark, in Link, the optional exports
// of a single scheduling plugin's extension points after the choice of a node (ABI.md
// §4.10: kinds/reserve, kinds/permit, kinds/prebind, kinds/postbind); the host sees them
// as exports of a filter or score, not as kinds.
const (
	KindReserve  hostabi.Kind = "scheduler-reserve"
	KindPermit   hostabi.Kind = "scheduler-permit"
	KindPreBind  hostabi.Kind = "scheduler-prebind"
	KindPostBind hostabi.Kind = "scheduler-postbind"
)

// Link records whether the module exports the operations of a kind.
func Link(k hostabi.Kind, v bool) { linked[k] = v }

// Linked reports whether the module exports the operations of a kind.
func Linked(k hostabi.Kind) bool { return linked[k] }
