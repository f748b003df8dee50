package controller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"github.com/tugboat-io/tug/hostabi"
)

// runner runs one controller: its queue of parents and its workers.
type runner struct {
	m       *Manager
	c       Controller
	log     *slog.Logger
	parents cache.SharedIndexInformer
	// children and related by Kind.Key().
	children map[string]childSource
	related  map[string]relatedSource
	queue    workqueue.TypedRateLimitingInterface[string]
	pending  *pending
	encoded  *jsonCache
	// plugin decides; a new plugin swaps in between reconciles (controllerset.go).
	plugin atomic.Pointer[pluginHolder]
	// regs are the runner's event handlers on shared informers, removed when it stops.
	regs    []registration
	workers sync.WaitGroup

	mu       sync.Mutex
	failures map[string]string // the last failure reported on each parent, to not repeat it
	// progress of the child and related informers, for a Fresh controller (fresh.go).
	progress []*progress
}

type pluginHolder struct{ Plugin }

type registration struct {
	informer cache.SharedIndexInformer
	reg      cache.ResourceEventHandlerRegistration
}

func (r *runner) setPlugin(p Plugin) { r.plugin.Store(&pluginHolder{p}) }

// requeueAll queues every parent: a new plugin decides them all again.
func (r *runner) requeueAll() {
	for _, key := range r.parents.GetStore().ListKeys() {
		r.queue.Add(key)
	}
}

// requeueAllAfter queues every parent after d.
func (r *runner) requeueAllAfter(d time.Duration) {
	for _, key := range r.parents.GetStore().ListKeys() {
		r.queue.AddAfter(key, d)
	}
}

// handle adds the runner's event handler to a shared informer.
func (r *runner) handle(inf cache.SharedIndexInformer, h cache.ResourceEventHandler) error {
	reg, err := inf.AddEventHandler(h)
	if err != nil {
		return err
	}
	r.regs = append(r.regs, registration{inf, reg})
	return nil
}

// stop ends the runner: its handlers come off the informers, its queue shuts down, and it
// returns once the reconciles in flight are done.
func (r *runner) stop() {
	for _, reg := range r.regs {
		_ = reg.informer.RemoveEventHandler(reg.reg)
	}
	r.queue.ShutDown()
	r.workers.Wait()
}

type childSource struct {
	kind     Kind
	informer cache.SharedIndexInformer
}

type relatedSource struct {
	Relation
	informer cache.SharedIndexInformer
}

// nodeIndex indexes pods by the node they are bound to.
const nodeIndex = "spec.nodeName"

func podNode(obj any) ([]string, error) {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return nil, nil
	}
	if n, _, _ := unstructured.NestedString(u.Object, "spec", "nodeName"); n != "" {
		return []string{n}, nil
	}
	return nil, nil
}

func (m *Manager) newRunner(c Controller, informerFor func(Kind) (cache.SharedIndexInformer, error)) (_ *runner, err error) {
	r := &runner{m: m, c: c, log: m.log.With("controller", c.Name), children: map[string]childSource{}, related: map[string]relatedSource{},
		pending: newPending(), encoded: newJSONCache(), failures: map[string]string{},
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: c.Name})}
	r.setPlugin(c.Plugin)
	defer func() {
		if err != nil {
			r.stop() // the handlers added so far come off
		}
	}()
	if r.parents, err = informerFor(c.Parent); err != nil {
		return nil, err
	}
	if err := r.handle(r.parents, cache.ResourceEventHandlerFuncs{
		AddFunc:    r.enqueueObject,
		UpdateFunc: func(_, obj any) { r.enqueueObject(obj) },
		DeleteFunc: func(obj any) {
			if u, ok := unstructuredOf(obj); ok {
				r.pending.forget(u.GetUID())
				// A parent made again under the name gets its own failure events.
				r.mu.Lock()
				delete(r.failures, objectKey(u.GetNamespace(), u.GetName()))
				r.mu.Unlock()
			}
			r.enqueueObject(obj)
		},
	}); err != nil {
		return nil, err
	}
	for _, k := range c.Children {
		inf, err := informerFor(k)
		if err != nil {
			return nil, err
		}
		r.children[k.Key()] = childSource{k, inf}
		if c.Fresh {
			if err := r.track(inf); err != nil {
				return nil, err
			}
		}
		key := k.Key()
		if err := r.handle(inf, cache.ResourceEventHandlerFuncs{
			AddFunc:    func(obj any) { r.childChanged(key, obj, false) },
			UpdateFunc: func(_, obj any) { r.childChanged(key, obj, false) },
			DeleteFunc: func(obj any) { r.encoded.forget(obj); r.childChanged(key, obj, true) },
		}); err != nil {
			return nil, err
		}
	}
	for _, rel := range c.Related {
		inf, err := informerFor(rel.Kind)
		if err != nil {
			return nil, err
		}
		if _, ok := inf.GetIndexer().GetIndexers()[nodeIndex]; rel.Scope == OnNode && !ok {
			return nil, fmt.Errorf("related %s: only pods relate to a node", rel.Kind.Key())
		}
		r.related[rel.Kind.Key()] = relatedSource{rel, inf}
		if c.Fresh {
			if err := r.track(inf); err != nil {
				return nil, err
			}
		}
		if err := r.handle(inf, cache.ResourceEventHandlerFuncs{
			AddFunc:    func(obj any) { r.relatedChanged(rel, nil, obj) },
			UpdateFunc: func(old, obj any) { r.relatedChanged(rel, old, obj) },
			DeleteFunc: func(obj any) { r.encoded.forget(obj); r.relatedChanged(rel, nil, obj) },
		}); err != nil {
			return nil, err
		}
	}
	return r, nil
}

func (r *runner) enqueueObject(obj any) {
	if u, ok := unstructuredOf(obj); ok {
		r.queue.Add(objectKey(u.GetNamespace(), u.GetName()))
	}
}

// objectKey is an informer store's key: "namespace/name", or "name" when cluster-scoped.
func objectKey(ns, name string) string { return cache.NewObjectName(ns, name).String() }

// childChanged wakes the child's controlling parent, if it is of this controller's kind.
func (r *runner) childChanged(kind string, obj any, gone bool) {
	u, ok := unstructuredOf(obj)
	if !ok {
		return
	}
	ref := metav1.GetControllerOfNoCopy(u)
	if ref == nil || ref.Kind != r.c.Parent.Kind || ref.APIVersion != r.c.Parent.APIVersion() {
		return
	}
	r.pending.observe(ref.UID, kind, u, gone)
	r.queue.Add(objectKey(r.parentNamespace(u), ref.Name))
}

// parentNamespace is the namespace of a parent an object of u's namespace names: none when
// parents are cluster-scoped.
func (r *runner) parentNamespace(u *unstructured.Unstructured) string {
	if r.c.Parent.Namespaced {
		return u.GetNamespace()
	}
	return ""
}

// relatedChanged wakes every parent the object may concern, as the relation's scope and
// selector say; old is the object before an update, nil for an add or delete.
func (r *runner) relatedChanged(rel Relation, old, obj any) {
	u, ok := unstructuredOf(obj)
	if !ok {
		return
	}
	var before *unstructured.Unstructured
	if old != nil {
		before, _ = unstructuredOf(old)
	}
	if rel.IgnoreStatus && before != nil && sameButStatus(before, u) {
		return
	}
	kind := rel.Kind
	wake := r.queue.Add
	if rel.Coalesce > 0 {
		// The delaying queue keeps one entry per key, due at the earliest time asked: later
		// changes of the burst join it.
		wake = func(key string) { r.queue.AddAfter(key, rel.Coalesce) }
	}
	switch rel.Scope {
	case OnNode:
		if names, _ := podNode(u); len(names) == 1 {
			wake(objectKey("", names[0]))
		}
		return
	case SameName:
		if u.GetNamespace() == rel.Namespace {
			wake(objectKey(r.parentNamespace(u), u.GetName()))
		}
		return
	case Inside:
		wake(objectKey("", u.GetNamespace()))
		return
	}
	for _, p := range r.parents.GetStore().List() {
		pu := p.(*unstructured.Unstructured)
		if kind.Namespaced && r.c.Parent.Namespaced && pu.GetNamespace() != u.GetNamespace() {
			continue
		}
		if rel.Selector != nil && !selects(pu, rel.Selector, u) && (before == nil || !selects(pu, rel.Selector, before)) {
			continue
		}
		wake(objectKey(pu.GetNamespace(), pu.GetName()))
	}
}

func (r *runner) start(ctx context.Context) {
	workers := r.c.Workers
	if workers <= 0 {
		workers = 2
	}
	for range workers {
		r.workers.Add(1)
		go func() {
			defer r.workers.Done()
			for r.next(ctx) {
			}
		}()
	}
}

func (r *runner) next(ctx context.Context) bool {
	key, quit := r.queue.Get()
	if quit {
		return false
	}
	defer r.queue.Done(key)
	// A bug of the host side of one reconcile must not take the process down with it.
	defer func() {
		if p := recover(); p != nil {
			r.log.Error("reconcile panicked; retrying", "parent", key, "panic", p)
			r.queue.AddRateLimited(key)
		}
	}()
	after, err := r.reconcile(ctx, key)
	switch {
	case err != nil:
		if ctx.Err() == nil {
			r.log.Debug("reconcile failed; retrying", "parent", key, "err", err, "retries", r.queue.NumRequeues(key))
		}
		r.queue.AddRateLimited(key)
	default:
		r.queue.Forget(key)
		if after > 0 {
			r.queue.AddAfter(key, after)
		}
	}
	return true
}

// reconcile gathers a parent's input, asks the plugin, and applies the answer. It returns
// when the plugin asked to be called again.
func (r *runner) reconcile(ctx context.Context, key string) (time.Duration, error) {
	item, exists, err := r.parents.GetStore().GetByKey(key)
	if err != nil || !exists {
		return 0, err
	}
	parent := item.(*unstructured.Unstructured)
	if changed, err := r.claim(ctx, parent); err != nil || changed {
		// Decided again once the watch shows the children adopted or released.
		if err == nil {
			return time.Second, nil
		}
		return 0, err
	}
	if r.c.Fresh {
		if wait := r.freshWait(parent); wait > 0 {
			return wait, nil
		}
	}
	now := r.m.now()
	req, observed, err := r.request(parent, now)
	if err != nil {
		return 0, err
	}
	in := encodeRequest(req)
	out, st, err := r.plugin.Load().Call(ctx, hostabi.ExportReconcile, in)
	if err == nil && st != hostabi.StatusOK {
		err = fmt.Errorf("plugin answered %s: %s", st, out)
	}
	if err != nil {
		if ctx.Err() != nil {
			return 0, err
		}
		r.failed(ctx, key, parent, "ReconcileFailed", err)
		return 0, err
	}
	var res hostabi.ReconcileResult
	if err := json.Unmarshal(out, &res); err != nil {
		err = fmt.Errorf("malformed reconcile result: %w", err)
		r.failed(ctx, key, parent, "ReconcileFailed", err)
		return 0, err
	}
	if err := r.apply(ctx, parent, observed, &res, now); err != nil {
		// A conflict means "decide again"; not found, that the parent went meanwhile.
		if !apierrors.IsConflict(err) && !apierrors.IsNotFound(err) && ctx.Err() == nil {
			r.failed(ctx, key, parent, "ApplyFailed", err)
		}
		return 0, err
	}
	r.mu.Lock()
	delete(r.failures, key)
	r.mu.Unlock()
	var after time.Duration
	if res.RequeueAfterSeconds > 0 {
		after = time.Duration(res.RequeueAfterSeconds * float64(time.Second))
	}
	return after, nil
}

// relatedKey is where request files the related objects of a kind the reconcile may delete
// among the observed objects, apart from children of the same kind.
func relatedKey(key string) string { return "related:" + key }

// request builds the reconcile's input and returns the children it observed by kind key
// (and the deletable related objects by relatedKey).
func (r *runner) request(parent *unstructured.Unstructured, now time.Time) (*hostabi.ReconcileRequest, map[string][]*unstructured.Unstructured, error) {
	praw, err := parent.MarshalJSON()
	if err != nil {
		return nil, nil, fmt.Errorf("encode parent: %w", err)
	}
	req := &hostabi.ReconcileRequest{Parent: praw, Now: now.UTC().Format(time.RFC3339Nano),
		Children: map[string][]json.RawMessage{}}
	observed := map[string][]*unstructured.Unstructured{}
	for key, src := range r.children {
		items, err := src.informer.GetIndexer().ByIndex(ownerIndex, string(parent.GetUID()))
		if err != nil {
			return nil, nil, err
		}
		var owned []*unstructured.Unstructured
		for _, it := range items {
			u := it.(*unstructured.Unstructured)
			if ref := metav1.GetControllerOfNoCopy(u); ref != nil && ref.UID == parent.GetUID() {
				owned = append(owned, u)
			}
		}
		owned = r.pending.merge(parent.GetUID(), key, owned, now)
		observed[key] = owned
		list := make([]json.RawMessage, 0, len(owned))
		for _, u := range owned {
			b, err := r.encoded.encode(u)
			if err != nil {
				return nil, nil, fmt.Errorf("encode %s %s: %w", src.kind.Kind, u.GetName(), err)
			}
			list = append(list, b)
		}
		req.Children[key] = list
	}
	for key, src := range r.related {
		var items []any
		switch {
		case src.Scope == OnNode:
			items, err = src.informer.GetIndexer().ByIndex(nodeIndex, parent.GetName())
		case src.Scope == Inside:
			items, err = src.informer.GetIndexer().ByIndex(cache.NamespaceIndex, parent.GetName())
		case src.Scope == SameName:
			var it any
			var ok bool
			if it, ok, err = src.informer.GetStore().GetByKey(objectKey(src.Namespace, parent.GetName())); ok {
				items = []any{it}
			}
		case src.Kind.Namespaced && r.c.Parent.Namespaced:
			items, err = src.informer.GetIndexer().ByIndex(cache.NamespaceIndex, parent.GetNamespace())
		default:
			items = src.informer.GetStore().List()
		}
		if err != nil {
			return nil, nil, err
		}
		if req.Related == nil {
			req.Related = map[string][]json.RawMessage{}
		}
		var sel labels.Selector
		if src.Selector != nil {
			sel = selectorAt(parent, src.Selector)
		}
		list := make([]json.RawMessage, 0, len(items))
		for _, it := range items {
			u := it.(*unstructured.Unstructured)
			if sel != nil && !sel.Matches(labels.Set(u.GetLabels())) {
				continue
			}
			b, err := r.encoded.encode(u)
			if err != nil {
				return nil, nil, err
			}
			list = append(list, b)
			if src.Deletable {
				observed[relatedKey(key)] = append(observed[relatedKey(key)], u)
			}
		}
		req.Related[key] = list
	}
	return req, observed, nil
}

// failed reports a failure on the parent as a Warning event, once per distinct message.
func (r *runner) failed(ctx context.Context, key string, parent *unstructured.Unstructured, reason string, err error) {
	msg := err.Error()
	r.mu.Lock()
	same := r.failures[key] == msg
	r.failures[key] = msg
	r.mu.Unlock()
	if same {
		return
	}
	r.log.Warn("reconcile failed", "parent", key, "reason", reason, "err", err)
	r.m.event(ctx, r.c.Name, parent, corev1.EventTypeWarning, reason, fmt.Sprintf("controller %s: %s", r.c.Name, msg))
}

// event records an event on obj.
func (m *Manager) event(ctx context.Context, controller string, obj *unstructured.Unstructured, typ, reason, msg string) {
	now := metav1.NewTime(m.now())
	ns := obj.GetNamespace()
	if ns == "" {
		ns = metav1.NamespaceDefault
	}
	if len(msg) > 1024 {
		msg = msg[:1021] + "..."
	}
	ev := &corev1.Event{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s.%x", obj.GetName(), now.UnixNano()), Namespace: ns},
		InvolvedObject: corev1.ObjectReference{Kind: obj.GetKind(), APIVersion: obj.GetAPIVersion(), Namespace: obj.GetNamespace(),
			Name: obj.GetName(), UID: obj.GetUID(), ResourceVersion: obj.GetResourceVersion()},
		Type: typ, Reason: reason, Message: msg, Count: 1, FirstTimestamp: now, LastTimestamp: now,
		Source:              corev1.EventSource{Component: "tug-controller-manager"},
		ReportingController: "tug.dev/" + controller,
	}
	if _, err := m.client.CoreV1().Events(ns).Create(ctx, ev, metav1.CreateOptions{}); err != nil && ctx.Err() == nil {
		m.log.Debug("event not written", "object", objectKey(obj.GetNamespace(), obj.GetName()), "reason", reason, "err", err)
	}
}

// errorsOf joins errors; when every one is a conflict (which only means "decide again") it
// returns the first, so that the caller can tell.
func errorsOf(errs []error) error {
	var first error
	for _, e := range errs {
		if e == nil {
			continue
		}
		if !apierrors.IsConflict(e) {
			return errors.Join(errs...)
		}
		if first == nil {
			first = e
		}
	}
	return first
}

// selects says whether the map of labels at path in parent picks obj; a parent without one
// picks nothing, as a Service without a selector has no endpoints made for it.
func selects(parent *unstructured.Unstructured, path []string, obj *unstructured.Unstructured) bool {
	return selectorAt(parent, path).Matches(labels.Set(obj.GetLabels()))
}

// selectorAt is the selector of the map of labels at path in parent: labels.Nothing() when
// there is none.
func selectorAt(parent *unstructured.Unstructured, path []string) labels.Selector {
	sel, ok, _ := unstructured.NestedStringMap(parent.Object, path...)
	if !ok || len(sel) == 0 {
		return labels.Nothing()
	}
	return labels.SelectorFromValidatedSet(sel)
}

// sameButStatus says whether two versions of an object differ only in status (and in what
// every write changes: resourceVersion, managedFields).
func sameButStatus(a, b *unstructured.Unstructured) bool {
	return equality.Semantic.DeepEqual(withoutStatus(a.Object), withoutStatus(b.Object))
}

func withoutStatus(obj map[string]any) map[string]any {
	out := make(map[string]any, len(obj))
	for k, v := range obj {
		if k != "status" {
			out[k] = v
		}
	}
	if md, ok := obj["metadata"].(map[string]any); ok {
		m := make(map[string]any, len(md))
		for k, v := range md {
			if k != "resourceVersion" && k != "managedFields" {
				m[k] = v
			}
		}
		out["metadata"] = m
	}
	return out
}
