package tug

import (
	"encoding/json"
	"slices"
	"time"

	"github.com/tugboat-io/tug/hostabi"
)

// The extension points after the choice of a node (ABI.md §4.10), in the framework's order:
// Reserve and Permit end the scheduling cycle, on the instance that keeps the cycle's pod and
// CycleState; PreBind, the host's bind and PostBind make the binding cycle, which the host
// runs in the background, possibly on another instance. Unreserve undoes Reserve when
// anything after it fails, in either cycle.

// Reserve is implemented by a plugin that sets something aside for the pod on the chosen
// node before it is bound (the framework's ReservePlugin): Reserve runs once the node is
// chosen, and a non-success Status stops the pod there. Unreserve runs, on every Reserve
// plugin in reverse order, when Reserve or any later stage fails: it must undo what Reserve
// did, and must not fail. Reserve sees the cycle's CycleState; Unreserve, which may run in the
// binding cycle on another instance, gets an empty one.
type Reserve interface {
	Reserve(state *CycleState, pod *Pod, node string) *Status
	Unreserve(state *CycleState, pod *Pod, node string)
}

// Permit is implemented by a plugin that approves, denies or delays the binding of the pod
// to the chosen node (the framework's PermitPlugin): success approves; a Status with
// CodeWait holds the pod for at most the returned duration (15 minutes at most), until this
// plugin, deciding about another pod, allows or rejects it — or the host rejects it when the
// time is up; any other code denies. waiting are the pods held at this plugin now, which a
// Permit may allow or reject (a gang's last member allowing the others). Permit sees the
// cycle's CycleState.
type Permit interface {
	Permit(state *CycleState, pod *Pod, node string, waiting *WaitingPods) (*Status, time.Duration)
}

// PreBind is implemented by a plugin that prepares the binding (the framework's
// PreBindPlugin: provisioning a volume, say). It runs in the binding cycle, after Permit,
// with an empty CycleState; a non-success Status fails the binding, and the pod is tried
// again.
type PreBind interface {
	PreBind(state *CycleState, pod *Pod, node string) *Status
}

// PostBind is implemented by a plugin told that the pod was bound (the framework's
// PostBindPlugin), for cleaning up. It is informational: it cannot fail the binding.
type PostBind interface {
	PostBind(state *CycleState, pod *Pod, node string)
}

// WaitingPods are the pods waiting at a Permit plugin, by "namespace/name". The pods are
// assumed on their nodes, so a plugin finds them among its resident nodes' pods.
type WaitingPods struct {
	keys   []string
	allow  []string
	reject []hostabi.WaitingRejection
}

// Keys returns the waiting pods' "namespace/name".
func (w *WaitingPods) Keys() []string { return slices.Clone(w.keys) }

// Allow lets a waiting pod go on, as far as this plugin is concerned.
func (w *WaitingPods) Allow(key string) { w.allow = append(w.allow, key) }

// Reject rejects a waiting pod with a reason; it is scheduled again later.
func (w *WaitingPods) Reject(key, reason string) {
	w.reject = append(w.reject, hostabi.WaitingRejection{Pod: key, Reason: reason})
}

// maxPermitWait is the longest a Permit may hold a pod (the framework's maxTimeout).
const maxPermitWait = 15 * time.Minute

// RegisterReserve makes r the plugin's Reserve and Unreserve. The module must also register a
// Filter or a Score and import github.com/tugboat-io/tug/sdk/go/kinds/reserve. Call it once,
// from init.
func RegisterReserve(r Reserve) {
	mustRegister("RegisterReserve", r == nil, reg.reserve != nil)
	reg.reserve = r
}

// RegisterPermit makes p the plugin's Permit; the module imports
// github.com/tugboat-io/tug/sdk/go/kinds/permit.
func RegisterPermit(p Permit) {
	mustRegister("RegisterPermit", p == nil, reg.permit != nil)
	reg.permit = p
}

// RegisterPreBind makes p the plugin's PreBind; the module imports
// github.com/tugboat-io/tug/sdk/go/kinds/prebind.
func RegisterPreBind(p PreBind) {
	mustRegister("RegisterPreBind", p == nil, reg.preBind != nil)
	reg.preBind = p
}

// RegisterPostBind makes p the plugin's PostBind; the module imports
// github.com/tugboat-io/tug/sdk/go/kinds/postbind.
func RegisterPostBind(p PostBind) {
	mustRegister("RegisterPostBind", p == nil, reg.postBind != nil)
	reg.postBind = p
}

// bindingCall decodes the input of a §4.10 operation. With cycle, the pod is the cycle's (the
// instance ran its pre-filter) and so is the CycleState; otherwise the input carries the pod
// and the state starts empty.
func bindingCall(export string, in []byte, cycle bool) (hostabi.BindingInput, *Pod, *CycleState, hostabi.Status, []byte) {
	var input hostabi.BindingInput
	if err := json.Unmarshal(in, &input); err != nil || input.Node == "" {
		st, out := fail(hostabi.StatusInvalidInput, "%s: input %q is not {\"node\": …}: %v", export, in, err)
		return input, nil, nil, st, out
	}
	if cycle {
		if reg.pod == nil {
			st, out := fail(hostabi.StatusInvalidInput, "%s before %s: no pod in this cycle", export, hostabi.ExportSchedPreFilter)
			return input, nil, nil, st, out
		}
		return input, reg.pod, reg.state, hostabi.StatusOK, nil
	}
	if len(input.Pod) == 0 {
		st, out := fail(hostabi.StatusInvalidInput, "%s: the input has no pod", export)
		return input, nil, nil, st, out
	}
	pod, err := DecodePod(input.Pod)
	if err != nil {
		st, out := fail(hostabi.StatusInvalidInput, "%s: %v", export, err)
		return input, nil, nil, st, out
	}
	return input, pod, &CycleState{}, hostabi.StatusOK, nil
}

// bindingVerdict is the output of Reserve, Permit and PreBind: empty for success.
func bindingVerdict(export string, st *Status, v hostabi.BindingVerdict) (hostabi.Status, []byte) {
	switch st.Code() {
	case CodeSuccess, CodeWait, CodeUnschedulable, CodeUnschedulableAndUnresolvable, CodeError:
	default:
		return fail(hostabi.StatusError, "%s returned %s, which it may not", export, st.Code())
	}
	v.Code, v.Reason = st.Code(), st.Message()
	if v.Code == CodeSuccess && len(v.Allow) == 0 && len(v.Reject) == 0 {
		return ok(nil)
	}
	out, err := json.Marshal(v)
	if err != nil {
		return fail(hostabi.StatusError, "encode %s verdict: %v", export, err)
	}
	return ok(out)
}

func runReserve(export string, r Reserve, in []byte) (hostabi.Status, []byte) {
	input, pod, state, st, out := bindingCall(export, in, true)
	if st != hostabi.StatusOK {
		return st, out
	}
	s := r.Reserve(state, pod, input.Node)
	if s.Code() == CodeWait {
		return fail(hostabi.StatusError, "Reserve returned Wait: only Permit may")
	}
	return bindingVerdict(export, s, hostabi.BindingVerdict{})
}

func runUnreserve(export string, r Reserve, in []byte) (hostabi.Status, []byte) {
	input, pod, state, st, out := bindingCall(export, in, false)
	if st != hostabi.StatusOK {
		return st, out
	}
	r.Unreserve(state, pod, input.Node)
	return ok(nil)
}

func runPermit(export string, p Permit, in []byte) (hostabi.Status, []byte) {
	input, pod, state, st, out := bindingCall(export, in, true)
	if st != hostabi.StatusOK {
		return st, out
	}
	waiting := &WaitingPods{keys: input.Waiting}
	s, timeout := p.Permit(state, pod, input.Node, waiting)
	v := hostabi.BindingVerdict{Allow: waiting.allow, Reject: waiting.reject}
	if s.Code() == CodeWait {
		v.TimeoutMillis = min(timeout, maxPermitWait).Milliseconds()
		if v.TimeoutMillis <= 0 {
			return fail(hostabi.StatusError, "Permit returned Wait with timeout %v: wait for some time, or allow", timeout)
		}
	}
	return bindingVerdict(export, s, v)
}

func runPreBind(export string, p PreBind, in []byte) (hostabi.Status, []byte) {
	input, pod, state, st, out := bindingCall(export, in, false)
	if st != hostabi.StatusOK {
		return st, out
	}
	s := p.PreBind(state, pod, input.Node)
	if s.Code() == CodeWait {
		return fail(hostabi.StatusError, "PreBind returned Wait: only Permit may")
	}
	return bindingVerdict(export, s, hostabi.BindingVerdict{})
}

func runPostBind(export string, p PostBind, in []byte) (hostabi.Status, []byte) {
	input, pod, state, st, out := bindingCall(export, in, false)
	if st != hostabi.StatusOK {
		return st, out
	}
	p.PostBind(state, pod, input.Node)
	return ok(nil)
}

// singleOp is a single plugin's operation at a point: run with what the plugin registered
// there, or UNSUPPORTED.
func singleOp[T any](export, register string, impl func() T, run func(string, T, []byte) (hostabi.Status, []byte)) func([]byte) (hostabi.Status, []byte) {
	return func(in []byte) (hostabi.Status, []byte) {
		i := impl()
		if any(i) == nil {
			return unsupported(export, register)
		}
		return run(export, i, in)
	}
}

// hostedOp is a hosted plugin's operation at a point (ABI.md §4.7): the plugin by its index,
// which must have the point.
func hostedOp[T any](export, what string, impl func(*hostedPlugin) T, run func(string, T, []byte) (hostabi.Status, []byte)) func([]byte) (hostabi.Status, []byte) {
	return func(in []byte) (hostabi.Status, []byte) {
		h, rest, st, out := hostedAt(export, in)
		if st != hostabi.StatusOK {
			return st, out
		}
		i := impl(h)
		if any(i) == nil {
			return fail(hostabi.StatusInvalidInput, "%s: plugin %s does not %s", export, h.name, what)
		}
		return run(export, i, rest)
	}
}

// bindingOps are the operations of ABI.md §4.10, by export.
func bindingOps() map[string]func([]byte) (hostabi.Status, []byte) {
	reserve := func() Reserve { return reg.reserve }
	hReserve := func(h *hostedPlugin) Reserve { return h.reserve }
	return map[string]func([]byte) (hostabi.Status, []byte){
		hostabi.ExportSchedReserve:   singleOp(hostabi.ExportSchedReserve, "RegisterReserve", reserve, runReserve),
		hostabi.ExportSchedUnreserve: singleOp(hostabi.ExportSchedUnreserve, "RegisterReserve", reserve, runUnreserve),
		hostabi.ExportSchedPermit:    singleOp(hostabi.ExportSchedPermit, "RegisterPermit", func() Permit { return reg.permit }, runPermit),
		hostabi.ExportSchedPreBind:   singleOp(hostabi.ExportSchedPreBind, "RegisterPreBind", func() PreBind { return reg.preBind }, runPreBind),
		hostabi.ExportSchedPostBind:  singleOp(hostabi.ExportSchedPostBind, "RegisterPostBind", func() PostBind { return reg.postBind }, runPostBind),

		hostabi.ExportSchedReserveAt:   hostedOp(hostabi.ExportSchedReserveAt, "reserve", hReserve, runReserve),
		hostabi.ExportSchedUnreserveAt: hostedOp(hostabi.ExportSchedUnreserveAt, "reserve", hReserve, runUnreserve),
		hostabi.ExportSchedPermitAt:    hostedOp(hostabi.ExportSchedPermitAt, "permit", func(h *hostedPlugin) Permit { return h.permit }, runPermit),
		hostabi.ExportSchedPreBindAt:   hostedOp(hostabi.ExportSchedPreBindAt, "pre-bind", func(h *hostedPlugin) PreBind { return h.preBind }, runPreBind),
		hostabi.ExportSchedPostBindAt:  hostedOp(hostabi.ExportSchedPostBindAt, "post-bind", func(h *hostedPlugin) PostBind { return h.postBnd }, runPostBind),
	}
}
