package controller

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
)

// The garbage collector carries out what owner references and deletion propagation ask
// for, over the kinds the controllers follow:
//
//   - background: an object all of whose owners are gone is deleted;
//   - foreground: an owner marked with the foregroundDeletion finalizer has its dependents
//     deleted (in the foreground too) and loses the finalizer once they are gone;
//   - orphan: an owner marked with the orphan finalizer has its owner reference removed
//     from every dependent, then loses the finalizer.
//
// It is mechanics, not policy — what deleting an owner means is fixed by the API — so it is
// Go in the core, not a plugin.
type gc struct {
	m     *Manager
	log   *slog.Logger
	queue workqueue.TypedRateLimitingInterface[gcItem]

	// The kinds followed, which grow as controllers come: by resource and by apiVersion/kind.
	mu        sync.RWMutex
	informers map[schema.GroupVersionResource]cache.SharedIndexInformer
	byKind    map[string]Kind
}

type gcItem struct {
	gvr             schema.GroupVersionResource
	namespace, name string
}

func (it gcItem) String() string { return it.gvr.Resource + "/" + objectKey(it.namespace, it.name) }

// dependentsPoll is how often an owner waiting for its dependents to go is looked at again.
const dependentsPoll = 500 * time.Millisecond

func (m *Manager) newGC() *gc {
	return &gc{m: m, log: m.log.With("controller", "garbage-collector"),
		informers: map[schema.GroupVersionResource]cache.SharedIndexInformer{}, byKind: map[string]Kind{},
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[gcItem](),
			workqueue.TypedRateLimitingQueueConfig[gcItem]{Name: "garbage-collector"})}
}

// watch makes the collector follow a kind through its informer.
func (g *gc) watch(k Kind, inf cache.SharedIndexInformer) error {
	gvr := k.GVR()
	g.mu.Lock()
	g.informers[gvr], g.byKind[k.Key()] = inf, k
	g.mu.Unlock()
	_, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { g.changed(gvr, obj) },
		UpdateFunc: func(_, obj any) { g.changed(gvr, obj) },
		DeleteFunc: func(obj any) { g.gone(obj) },
	})
	if err != nil {
		return err
	}
	g.recheckOwnedBy(k)
	return nil
}

// recheckOwnedBy queues again the objects owned by objects of kind k: until k was watched
// their owners counted as alive (a kind the collector does not follow), and an owner deleted
// before then — while no controller manager ran — would never have been noticed.
func (g *gc) recheckOwnedBy(k Kind) {
	g.mu.RLock()
	infs := make(map[schema.GroupVersionResource]cache.SharedIndexInformer, len(g.informers))
	for gvr, inf := range g.informers {
		infs[gvr] = inf
	}
	g.mu.RUnlock()
	for gvr, inf := range infs {
		for _, obj := range inf.GetStore().List() {
			u, ok := unstructuredOf(obj)
			if !ok {
				continue
			}
			for _, ref := range u.GetOwnerReferences() {
				if ref.APIVersion+"/"+ref.Kind == k.Key() {
					g.queue.Add(gcItem{gvr, u.GetNamespace(), u.GetName()})
					break
				}
			}
		}
	}
}

func (g *gc) informer(gvr schema.GroupVersionResource) (cache.SharedIndexInformer, bool) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	inf, ok := g.informers[gvr]
	return inf, ok
}

func (g *gc) changed(gvr schema.GroupVersionResource, obj any) {
	u, ok := unstructuredOf(obj)
	if !ok {
		return
	}
	if len(u.GetOwnerReferences()) > 0 || (u.GetDeletionTimestamp() != nil && hasPropagationFinalizer(u)) {
		g.queue.Add(gcItem{gvr, u.GetNamespace(), u.GetName()})
	}
}

// gone looks at an object's dependents once it is gone.
func (g *gc) gone(obj any) {
	u, ok := unstructuredOf(obj)
	if !ok {
		return
	}
	for _, d := range g.dependents(u.GetUID()) {
		g.queue.Add(d.item)
	}
}

func hasPropagationFinalizer(u *unstructured.Unstructured) bool {
	f := u.GetFinalizers()
	return slices.Contains(f, metav1.FinalizerOrphanDependents) || slices.Contains(f, metav1.FinalizerDeleteDependents)
}

type dependent struct {
	item gcItem
	obj  *unstructured.Unstructured
}

// dependents are the objects naming uid as an owner.
func (g *gc) dependents(uid types.UID) []dependent {
	var out []dependent
	g.mu.RLock()
	defer g.mu.RUnlock()
	for gvr, inf := range g.informers {
		items, err := inf.GetIndexer().ByIndex(ownerIndex, string(uid))
		if err != nil {
			continue
		}
		for _, it := range items {
			u := it.(*unstructured.Unstructured)
			out = append(out, dependent{gcItem{gvr, u.GetNamespace(), u.GetName()}, u})
		}
	}
	return out
}

func (g *gc) start(ctx context.Context, wg *sync.WaitGroup) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		work(ctx, g.queue, g.log, slog.LevelDebug, "garbage collection failed; retrying", g.process)
	}()
}

func (g *gc) process(ctx context.Context, it gcItem) (time.Duration, error) {
	inf, ok := g.informer(it.gvr)
	if !ok {
		return 0, nil
	}
	obj, exists, err := inf.GetStore().GetByKey(objectKey(it.namespace, it.name))
	if err != nil || !exists {
		return 0, err
	}
	u := obj.(*unstructured.Unstructured)
	if u.GetDeletionTimestamp() != nil && hasPropagationFinalizer(u) {
		return g.finalize(ctx, it, u)
	}
	return 0, g.collect(ctx, it, u)
}

// collect deletes u when every owner is gone; when the owners left are being deleted in
// the foreground, u goes in the foreground too.
func (g *gc) collect(ctx context.Context, it gcItem, u *unstructured.Unstructured) error {
	refs := u.GetOwnerReferences()
	if len(refs) == 0 || u.GetDeletionTimestamp() != nil {
		return nil
	}
	foreground := false
	for _, ref := range refs {
		switch st, err := g.owner(ctx, u.GetNamespace(), ref); {
		case err != nil:
			return err
		case st == ownerAlive:
			return nil
		case st == ownerDeletingDependents:
			foreground = true
		}
	}
	policy := metav1.DeletePropagationBackground
	if foreground {
		policy = metav1.DeletePropagationForeground
	}
	uid := u.GetUID()
	err := g.m.dyn.Resource(it.gvr).Namespace(u.GetNamespace()).Delete(ctx, u.GetName(),
		metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}, PropagationPolicy: &policy})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("delete %s %s: %w", it.gvr.Resource, u.GetName(), err)
	}
	if err == nil {
		g.log.Debug("deleted an object whose owners are gone", "object", it.gvr.Resource+"/"+objectKey(u.GetNamespace(), u.GetName()), "propagation", policy)
	}
	return nil
}

// ownerState is what became of an owner.
type ownerState int

const (
	ownerGone               ownerState = iota // deleted, or its name taken by another object
	ownerAlive                                // there (or of a kind the collector does not follow)
	ownerDeletingDependents                   // being deleted in the foreground
)

// owner looks up the owner ref names: in the cache, and when the cache lacks it (it may lag
// behind a new owner) from the API server.
func (g *gc) owner(ctx context.Context, ns string, ref metav1.OwnerReference) (ownerState, error) {
	g.mu.RLock()
	k, ok := g.byKind[ref.APIVersion+"/"+ref.Kind]
	g.mu.RUnlock()
	if !ok {
		return ownerAlive, nil
	}
	inf, _ := g.informer(k.GVR())
	if !k.Namespaced {
		ns = ""
	}
	var u *unstructured.Unstructured
	if obj, exists, err := inf.GetStore().GetByKey(objectKey(ns, ref.Name)); err == nil && exists {
		u = obj.(*unstructured.Unstructured)
	}
	if u == nil || u.GetUID() != ref.UID {
		var err error
		u, err = g.m.dyn.Resource(k.GVR()).Namespace(ns).Get(ctx, ref.Name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			return ownerGone, nil
		case err != nil:
			return ownerGone, err
		}
	}
	switch {
	case u.GetUID() != ref.UID:
		return ownerGone, nil
	case u.GetDeletionTimestamp() != nil && slices.Contains(u.GetFinalizers(), metav1.FinalizerDeleteDependents):
		return ownerDeletingDependents, nil
	}
	return ownerAlive, nil
}

// finalize carries out an owner's propagation finalizer.
func (g *gc) finalize(ctx context.Context, it gcItem, owner *unstructured.Unstructured) (time.Duration, error) {
	deps := g.dependents(owner.GetUID())
	fins := owner.GetFinalizers()
	if slices.Contains(fins, metav1.FinalizerOrphanDependents) {
		for _, d := range deps {
			if err := g.orphan(ctx, d, owner.GetUID()); err != nil {
				return 0, err
			}
		}
		return 0, g.dropFinalizer(ctx, it, owner, metav1.FinalizerOrphanDependents)
	}
	// Foreground: dependents first.
	waiting := false
	for _, d := range deps {
		waiting = true
		if d.obj.GetDeletionTimestamp() != nil {
			continue
		}
		uid := d.obj.GetUID()
		fg := metav1.DeletePropagationForeground
		err := g.m.dyn.Resource(d.item.gvr).Namespace(d.item.namespace).Delete(ctx, d.item.name,
			metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}, PropagationPolicy: &fg})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			return 0, fmt.Errorf("delete dependent %s %s: %w", d.item.gvr.Resource, d.item.name, err)
		}
	}
	if waiting {
		return dependentsPoll, nil
	}
	return 0, g.dropFinalizer(ctx, it, owner, metav1.FinalizerDeleteDependents)
}

// orphan removes the owner reference to uid from a dependent.
func (g *gc) orphan(ctx context.Context, d dependent, uid types.UID) error {
	next := d.obj.DeepCopy()
	refs := slices.DeleteFunc(next.GetOwnerReferences(), func(r metav1.OwnerReference) bool { return r.UID == uid })
	next.SetOwnerReferences(refs)
	_, err := g.m.dyn.Resource(d.item.gvr).Namespace(d.item.namespace).Update(ctx, next, metav1.UpdateOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("orphan %s %s: %w", d.item.gvr.Resource, d.item.name, err)
	}
	return nil
}

func (g *gc) dropFinalizer(ctx context.Context, it gcItem, owner *unstructured.Unstructured, fin string) error {
	next := owner.DeepCopy()
	next.SetFinalizers(slices.DeleteFunc(next.GetFinalizers(), func(f string) bool { return f == fin }))
	_, err := g.m.dyn.Resource(it.gvr).Namespace(it.namespace).Update(ctx, next, metav1.UpdateOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("remove finalizer %s from %s %s: %w", fin, it.gvr.Resource, it.name, err)
	}
	return nil
}
