package scheduler

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/tugboat-io/tug/hostabi"
)

// After a node is chosen, kube-scheduler's order (ABI.md §4.10):
//
//   - the scheduling cycle assumes the pod onto the node (the caller, in its Cache), then runs
//     Reserve and Permit on the cycle's instances, which keep the pod's cycle state, and ends;
//   - the binding cycle, in the background so that a pod held by Permit does not hold up the
//     scheduling of others, waits while Permit plugins hold the pod (WaitOnPermit), runs
//     PreBind, binds (the caller: pods/binding) and runs PostBind.
//
// When Reserve or anything after it fails, every Reserve plugin's Unreserve runs, in reverse
// order, and the caller forgets the assumed pod and queues it again. The binding cycle's calls
// take instances of their own, brought up to date like a cycle's, and hand them the pod.

// maxPermitWait caps how long a Permit plugin may hold a pod (the framework's maxTimeout).
const maxPermitWait = 15 * time.Minute

// Rejected is a plugin refusing a pod after the choice of its node: at Reserve, Permit
// (including a wait that timed out or was rejected) or PreBind. Unlike a PluginError, the
// plugin worked; the pod does not fit there now.
type Rejected struct {
	Plugin string
	Point  string // Reserve, Permit, PreBind
	Node   string
	Code   hostabi.Code
	Reason string
}

func (r *Rejected) Error() string {
	return fmt.Sprintf("%s plugin %s rejected the pod on node %s: %s", r.Point, r.Plugin, r.Node, r.Reason)
}

// Cycle is a scheduling cycle's plugin instances, held from PreFilter until Release, so that
// Reserve and Permit reach the instances that keep the cycle's pod and state.
type Cycle struct {
	f        *Framework
	prof     *Profile
	pod      []byte
	hs       []*held
	byModule map[*Module]*held
}

// Release returns the cycle's instances; it may be called more than once.
func (c *Cycle) Release() {
	for _, h := range c.hs {
		h.release()
	}
	c.hs = nil
}

// bindingCall calls one plugin's extension point after the choice of node and decodes its
// verdict (empty output: success).
func bindingCall(ctx context.Context, h *held, p *Plugin, single, at string, in hostabi.BindingInput) (hostabi.BindingVerdict, error) {
	var v hostabi.BindingVerdict
	export, prefix, err := h.op(p, single, at)
	if err != nil {
		return v, err
	}
	body, err := json.Marshal(in)
	if err != nil {
		return v, err
	}
	out, st, err := h.inst.Call(ctx, export, append(prefix, body...))
	if err != nil || st != hostabi.StatusOK {
		return v, statusErr(st, err)
	}
	if len(out) > 0 {
		if err := json.Unmarshal(out, &v); err != nil {
			return v, fmt.Errorf("verdict %q: %w", out, err)
		}
	}
	if v.Code == hostabi.CodeError {
		return v, fmt.Errorf("%s", v.Reason)
	}
	return v, nil
}

// decide calls p at a point whose verdict goes on or rejects the pod (Reserve, PreBind): nil
// to go on (a plugin that failed under the Ignore policy too), a *Rejected, or a
// *PluginError.
func decide(ctx context.Context, h *held, p *Plugin, point, single, at string, in hostabi.BindingInput) error {
	v, err := bindingCall(ctx, h, p, single, at, in)
	if err == nil && v.Code != hostabi.CodeSuccess && v.Code != hostabi.CodeUnschedulable && v.Code != hostabi.CodeUnschedulableAndUnresolvable {
		err = fmt.Errorf("code %v is not a %s verdict", v.Code, point)
	}
	if err != nil {
		return fail(h, point, fmt.Errorf("%s: %w", p.Name, err))
	}
	if v.Code != hostabi.CodeSuccess {
		return &Rejected{Plugin: p.Name, Point: point, Node: in.Node, Code: v.Code, Reason: v.Reason}
	}
	return nil
}

// Reserve runs the profile's Reserve plugins in order for the cycle's pod on node. If one
// rejects the pod (a *Rejected) or fails (a *PluginError, under the Fail policy), every Reserve
// plugin's Unreserve runs, in reverse order, before Reserve returns.
func (c *Cycle) Reserve(ctx context.Context, node string) error {
	for _, p := range c.prof.Reserve {
		h := c.byModule[p.Module]
		if h == nil || h.skip {
			continue
		}
		if err := decide(ctx, h, p, "Reserve", hostabi.ExportSchedReserve, hostabi.ExportSchedReserveAt, hostabi.BindingInput{Node: node}); err != nil {
			c.unreserve(ctx, node)
			return err
		}
	}
	return nil
}

// unreserve runs Unreserve on the cycle's instances.
func (c *Cycle) unreserve(ctx context.Context, node string) {
	c.f.unreserveWith(ctx, c.prof, c.byModule, c.pod, node)
}

// Permit runs the profile's Permit plugins in order for the cycle's pod, key
// ("namespace/name"), on node. A plugin denying it (a *Rejected) or failing (a *PluginError)
// ends Permit there and runs Unreserve. Plugins asking to wait make the pod a waiting pod,
// which WaitOnPermit blocks on until every one of them allows it, or one rejects it or its
// timeout passes. A plugin's answer may also allow or reject other pods waiting at it.
func (c *Cycle) Permit(ctx context.Context, key, node string) error {
	f := c.f
	waits := map[string]time.Duration{}
	var order []string
	for _, p := range c.prof.Permit {
		h := c.byModule[p.Module]
		if h == nil || h.skip {
			continue
		}
		in := hostabi.BindingInput{Node: node, Waiting: f.waiting.at(p.Name)}
		v, err := bindingCall(ctx, h, p, hostabi.ExportSchedPermit, hostabi.ExportSchedPermitAt, in)
		if err == nil && v.Code == hostabi.CodeWait && v.TimeoutMillis <= 0 {
			err = fmt.Errorf("wait without a timeout")
		}
		if err == nil && v.Code != hostabi.CodeSuccess && v.Code != hostabi.CodeWait &&
			v.Code != hostabi.CodeUnschedulable && v.Code != hostabi.CodeUnschedulableAndUnresolvable {
			err = fmt.Errorf("code %v is not a Permit verdict", v.Code)
		}
		if err != nil {
			if err := fail(h, "Permit", fmt.Errorf("%s: %w", p.Name, err)); err != nil {
				c.unreserve(ctx, node)
				return err
			}
			continue
		}
		for _, other := range v.Allow {
			f.waiting.allow(other, p.Name)
		}
		for _, r := range v.Reject {
			f.waiting.reject(r.Pod, p.Name, fmt.Sprintf("rejected by plugin %s while waiting: %s", p.Name, r.Reason))
		}
		switch v.Code {
		case hostabi.CodeWait:
			waits[p.Name] = min(time.Duration(v.TimeoutMillis)*time.Millisecond, maxPermitWait)
			order = append(order, p.Name)
		case hostabi.CodeUnschedulable, hostabi.CodeUnschedulableAndUnresolvable:
			c.unreserve(ctx, node)
			return &Rejected{Plugin: p.Name, Point: "Permit", Node: node, Code: v.Code, Reason: v.Reason}
		}
	}
	if len(waits) > 0 {
		f.waiting.add(key, node, order, waits, f.afterFunc())
	}
	return nil
}

// WaitOnPermit blocks while Permit plugins hold the pod key, until every one of them allows
// it (nil), one rejects it or its timeout passes (a *Rejected), or ctx ends. A pod no plugin
// holds returns at once.
func (f *Framework) WaitOnPermit(ctx context.Context, key string) error {
	w := f.waiting.get(key)
	if w == nil {
		return nil
	}
	defer f.waiting.remove(key, w)
	select {
	case r := <-w.done:
		if r == nil {
			return nil
		}
		return r
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Allow allows the waiting pod key at plugin's Permit, as a plugin's answer can: the host's
// way in (an operator, a test). It reports whether the pod was waiting.
func (f *Framework) Allow(key, plugin string) bool { return f.waiting.allow(key, plugin) }

// Reject rejects a waiting pod (a deleted pod, say), naming plugin if one rejects it; it
// reports whether the pod was waiting.
func (f *Framework) Reject(key, plugin, reason string) bool {
	return f.waiting.reject(key, plugin, reason)
}

// Waiting lists the pods Permit plugins hold, sorted.
func (f *Framework) Waiting() []string { return f.waiting.keys() }

// PreBind runs the profile's PreBind plugins in order for pod on node, on instances of their
// own (the binding cycle). A rejection (a *Rejected) or failure (a *PluginError) stops it; the
// caller unreserves.
func (f *Framework) PreBind(ctx context.Context, prof *Profile, pod []byte, node string) error {
	if len(prof.PreBind) == 0 {
		return nil
	}
	hs, byModule, _, err := f.hold(ctx, prof.PreBind)
	defer releaseAll(hs)
	if err != nil {
		return err
	}
	for _, p := range prof.PreBind {
		h := byModule[p.Module]
		if h.skip {
			continue
		}
		if err := decide(ctx, h, p, "PreBind", hostabi.ExportSchedPreBind, hostabi.ExportSchedPreBindAt, hostabi.BindingInput{Node: node, Pod: pod}); err != nil {
			return err
		}
	}
	return nil
}

// Unreserve runs every Reserve plugin's Unreserve, in reverse order, for pod on node, on
// instances of its own: the binding cycle's way back. Failures are logged; Unreserve cannot
// fail.
func (f *Framework) Unreserve(ctx context.Context, prof *Profile, pod []byte, node string) {
	f.notify(ctx, reversed(prof.Reserve), "Unreserve", hostabi.ExportSchedUnreserve, hostabi.ExportSchedUnreserveAt, pod, node)
}

func (f *Framework) unreserveWith(ctx context.Context, prof *Profile, byModule map[*Module]*held, pod []byte, node string) {
	f.notifyWith(ctx, byModule, reversed(prof.Reserve), "Unreserve", hostabi.ExportSchedUnreserve, hostabi.ExportSchedUnreserveAt, pod, node)
}

// PostBind tells the profile's PostBind plugins, in order, that pod was bound to node.
// Failures are logged.
func (f *Framework) PostBind(ctx context.Context, prof *Profile, pod []byte, node string) {
	f.notify(ctx, prof.PostBind, "PostBind", hostabi.ExportSchedPostBind, hostabi.ExportSchedPostBindAt, pod, node)
}

// notify calls plugins, in order, at a point whose outcome changes nothing (Unreserve,
// PostBind), on instances of its own; failures are logged.
func (f *Framework) notify(ctx context.Context, plugins []*Plugin, point, single, at string, pod []byte, node string) {
	if len(plugins) == 0 {
		return
	}
	hs, byModule, _, err := f.hold(ctx, plugins)
	defer releaseAll(hs)
	if err != nil {
		f.Log.Warn(point+": plugins not reached", "node", node, "error", err)
	}
	f.notifyWith(ctx, byModule, plugins, point, single, at, pod, node)
}

func (f *Framework) notifyWith(ctx context.Context, byModule map[*Module]*held, plugins []*Plugin, point, single, at string, pod []byte, node string) {
	for _, p := range plugins {
		h := byModule[p.Module]
		if h == nil || h.skip {
			continue
		}
		if _, err := bindingCall(ctx, h, p, single, at, hostabi.BindingInput{Node: node, Pod: pod}); err != nil {
			f.Log.Warn(point+" failed", "plugin", p.Name, "node", node, "error", err)
		}
	}
}

func reversed(ps []*Plugin) []*Plugin {
	r := slices.Clone(ps)
	slices.Reverse(r)
	return r
}

func releaseAll(hs []*held) {
	for _, h := range hs {
		h.release()
	}
}

// afterFunc is how the framework sets a Permit timeout: time.AfterFunc unless a test set
// another clock (Framework.after).
func (f *Framework) afterFunc() func(time.Duration, func()) func() bool {
	if f.after != nil {
		return f.after
	}
	return func(d time.Duration, fn func()) func() bool { return time.AfterFunc(d, fn).Stop }
}

// waitingPods are the pods Permit plugins hold, by "namespace/name" (the framework's
// waitingPodsMap).
type waitingPods struct {
	mu   sync.Mutex
	pods map[string]*waitingPod
}

// waitingPod is one held pod: the plugins that have not allowed it yet, each with the stop of
// its timeout, and where its outcome is sent once (nil: allowed).
type waitingPod struct {
	node    string
	pending map[string]func() bool
	done    chan *Rejected
	settled bool
}

func newWaitingPods() *waitingPods { return &waitingPods{pods: map[string]*waitingPod{}} }

func (w *waitingPods) add(key, node string, order []string, waits map[string]time.Duration, after func(time.Duration, func()) func() bool) {
	wp := &waitingPod{node: node, pending: map[string]func() bool{}, done: make(chan *Rejected, 1)}
	w.mu.Lock()
	defer w.mu.Unlock()
	if old := w.pods[key]; old != nil {
		w.settleLocked(old, &Rejected{Point: "Permit", Node: old.node, Code: hostabi.CodeUnschedulable, Reason: "replaced by a newer attempt"})
	}
	w.pods[key] = wp
	for _, plugin := range order {
		d := waits[plugin]
		wp.pending[plugin] = after(d, func() {
			w.reject(key, plugin, fmt.Sprintf("rejected due to timeout after waiting %v at plugin %s", d, plugin))
		})
	}
}

func (w *waitingPods) get(key string) *waitingPod {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.pods[key]
}

func (w *waitingPods) remove(key string, wp *waitingPod) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.pods[key] == wp {
		delete(w.pods, key)
	}
}

// at lists the pods waiting at plugin's Permit.
func (w *waitingPods) at(plugin string) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var keys []string
	for k, wp := range w.pods {
		if _, ok := wp.pending[plugin]; ok && !wp.settled {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

func (w *waitingPods) keys() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var keys []string
	for k, wp := range w.pods {
		if !wp.settled {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

// allow takes plugin off the pod's pending plugins; the last one lets it go.
func (w *waitingPods) allow(key, plugin string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	wp := w.pods[key]
	if wp == nil || wp.settled {
		return false
	}
	if stop, ok := wp.pending[plugin]; ok {
		stop()
		delete(wp.pending, plugin)
	}
	if len(wp.pending) == 0 {
		w.settleLocked(wp, nil)
	}
	return true
}

func (w *waitingPods) reject(key, plugin, reason string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	wp := w.pods[key]
	if wp == nil || wp.settled {
		return false
	}
	w.settleLocked(wp, &Rejected{Plugin: plugin, Point: "Permit", Node: wp.node, Code: hostabi.CodeUnschedulable, Reason: reason})
	return true
}

func (w *waitingPods) settleLocked(wp *waitingPod, r *Rejected) {
	for _, stop := range wp.pending {
		stop()
	}
	wp.settled = true
	wp.done <- r
}
