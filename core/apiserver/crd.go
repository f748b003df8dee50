package apiserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/tugboat-io/tug/core/api"
	"github.com/tugboat-io/tug/core/store"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
)

// The CRD controller does inside the API server what kube-apiextensions-apiserver's naming,
// establishing and finalizing controllers do: it follows CustomResourceDefinitions and, for
// each, accepts its names (or says which one is taken), registers one Kind per served version
// so the custom resources are served with no restart, records NamesAccepted and Established
// in the CRD's status, and on deletion removes every custom resource before letting the CRD
// go. Every API server of a cluster runs it: registration is local to each server, and the
// status it writes is the same from all of them, so concurrent writes are no-ops.

var gvkCRD = apiextensionsv1.SchemeGroupVersion.WithKind("CustomResourceDefinition")

// systemUser is who the API server acts as for its own writes.
var systemUser = &UserInfo{Name: "system:apiserver", Groups: []string{"system:masters"}}

// crdRetry is how soon a CRD is looked at again when its cleanup waits on custom resources
// that still have finalizers, or a write failed.
const crdRetry = time.Second

type crdController struct {
	s   *Server
	log *slog.Logger

	mu     sync.Mutex
	served map[string]*servedCRD // by CRD name

	qmu     sync.Mutex
	pending map[string]bool
	wake    chan struct{}
}

// servedCRD is what one CRD registered.
type servedCRD struct {
	uid         types.UID
	generation  int64
	gr          schema.GroupResource
	kinds       []*api.Kind // preferred version first; all share one storage prefix
	terminating bool
}

func newCRDController(s *Server) *crdController {
	return &crdController{s: s, log: s.log.With("controller", "crd"), served: map[string]*servedCRD{},
		pending: map[string]bool{}, wake: make(chan struct{}, 1)}
}

func (c *crdController) resource(ctx context.Context) (*resource, error) {
	k, ok := c.s.registry.LookupKind(gvkCRD)
	if !ok {
		return nil, errors.New("apiserver: customresourcedefinitions are not served")
	}
	return c.s.resourceFor(ctx, k)
}

// restore serves, at start, the CRDs that were established before: their custom resources
// answer from the first request, before the controller has looked at anything. Older CRDs
// first, so the one that held a name before keeps it.
func (c *crdController) restore(ctx context.Context) error {
	res, err := c.resource(ctx)
	if err != nil {
		return err
	}
	objs, _ := res.cache.List(res.prefix, nil)
	crds := make([]*apiextensionsv1.CustomResourceDefinition, 0, len(objs))
	for _, o := range objs {
		crds = append(crds, o.(*apiextensionsv1.CustomResourceDefinition))
	}
	sort.SliceStable(crds, func(i, j int) bool { return crds[i].CreationTimestamp.Before(&crds[j].CreationTimestamp) })
	for _, crd := range crds {
		if api.CRDCondition(crd, apiextensionsv1.Established) != apiextensionsv1.ConditionTrue {
			continue
		}
		if why := api.CRDNamesConflict(crd, c.othersThan(crd.Name)); why != "" {
			c.log.Warn("not serving custom resources: names conflict", "crd", crd.Name, "reason", why)
			continue
		}
		if err := c.serve(ctx, crd); err != nil {
			c.log.Error("not serving custom resources", "crd", crd.Name, "err", err)
		}
	}
	return nil
}

// run follows the CRDs until ctx ends: one goroutine watches and queues names, one works
// through the queue, so a long cleanup never holds up the watch.
func (c *crdController) run(ctx context.Context) {
	go c.work(ctx)
	for ctx.Err() == nil {
		if err := c.follow(ctx); err != nil && ctx.Err() == nil {
			c.log.Warn("watch of customresourcedefinitions ended, restarting", "err", err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(crdRetry):
		}
	}
}

func (c *crdController) follow(ctx context.Context) error {
	res, err := c.resource(ctx)
	if err != nil {
		return err
	}
	w, err := res.cache.Watch(store.WatchOptions{Initial: true})
	if err != nil {
		return err
	}
	defer w.Stop()
	for _, ev := range w.Initial {
		c.enqueueEvent(ev)
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.C:
			if !ok {
				return w.Err()
			}
			if ev.Type != watch.Bookmark {
				c.enqueueEvent(ev)
			}
		}
	}
}

func (c *crdController) enqueueEvent(ev *store.CacheEvent) {
	if obj := ev.Object(); obj != nil {
		c.enqueue(accessor(obj).GetName())
	}
}

func (c *crdController) enqueue(name string) {
	c.qmu.Lock()
	c.pending[name] = true
	c.qmu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *crdController) enqueueAfter(ctx context.Context, name string, d time.Duration) {
	t := time.AfterFunc(d, func() {
		if ctx.Err() == nil {
			c.enqueue(name)
		}
	})
	context.AfterFunc(ctx, func() { t.Stop() })
}

func (c *crdController) work(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.wake:
		}
		c.qmu.Lock()
		names := make([]string, 0, len(c.pending))
		for n := range c.pending {
			names = append(names, n)
		}
		c.pending = map[string]bool{}
		c.qmu.Unlock()
		sort.Strings(names)
		for _, name := range names {
			if err := c.reconcile(ctx, name); err != nil && ctx.Err() == nil {
				c.log.Warn("reconciling customresourcedefinition, will retry", "crd", name, "err", err)
				c.enqueueAfter(ctx, name, crdRetry)
			}
		}
	}
}

// reconcile brings one CRD's serving and status in line with its spec.
func (c *crdController) reconcile(ctx context.Context, name string) error {
	res, err := c.resource(ctx)
	if err != nil {
		return err
	}
	obj, _, err := res.get(ctx, "", name)
	if apierrors.IsNotFound(err) {
		if c.unserve(name) {
			c.log.Info("stopped serving custom resources", "crd", name)
			c.requeueNotAccepted(res)
		}
		return nil
	}
	if err != nil {
		return err
	}
	crd := obj.(*apiextensionsv1.CustomResourceDefinition)
	if crd.DeletionTimestamp != nil {
		return c.finalize(ctx, res, crd)
	}
	now := metav1.Now().Rfc3339Copy()
	if why := api.CRDNamesConflict(crd, c.othersThan(name)); why != "" {
		if c.unserve(name) {
			c.requeueNotAccepted(res)
		}
		return c.writeStatus(ctx, res, name, func(crd *apiextensionsv1.CustomResourceDefinition) {
			api.SetCRDCondition(crd, apiextensionsv1.CustomResourceDefinitionCondition{Type: apiextensionsv1.NamesAccepted,
				Status: apiextensionsv1.ConditionFalse, Reason: "NameConflict", Message: why}, now)
			api.SetCRDCondition(crd, apiextensionsv1.CustomResourceDefinitionCondition{Type: apiextensionsv1.Established,
				Status: apiextensionsv1.ConditionFalse, Reason: api.ReasonNotAccepted, Message: "not all names are accepted"}, now)
		})
	}
	if err := c.serve(ctx, crd); err != nil {
		c.log.Error("cannot serve custom resources", "crd", name, "err", err)
		return c.writeStatus(ctx, res, name, func(crd *apiextensionsv1.CustomResourceDefinition) {
			api.SetCRDCondition(crd, apiextensionsv1.CustomResourceDefinitionCondition{Type: apiextensionsv1.Established,
				Status: apiextensionsv1.ConditionFalse, Reason: "InstallationFailure", Message: err.Error()}, now)
		})
	}
	return c.writeStatus(ctx, res, name, func(crd *apiextensionsv1.CustomResourceDefinition) {
		crd.Status.AcceptedNames = crd.Spec.Names
		api.SetCRDCondition(crd, apiextensionsv1.CustomResourceDefinitionCondition{Type: apiextensionsv1.NamesAccepted,
			Status: apiextensionsv1.ConditionTrue, Reason: api.ReasonNoConflicts, Message: "no conflicts found"}, now)
		api.SetCRDCondition(crd, apiextensionsv1.CustomResourceDefinitionCondition{Type: apiextensionsv1.Established,
			Status: apiextensionsv1.ConditionTrue, Reason: api.ReasonInitialNamesAccepted, Message: "the initial names have been accepted"}, now)
	})
}

// othersThan returns every served kind but the ones the named CRD registered.
func (c *crdController) othersThan(name string) []*api.Kind {
	c.mu.Lock()
	own := map[*api.Kind]bool{}
	if sc := c.served[name]; sc != nil {
		for _, k := range sc.kinds {
			own[k] = true
		}
	}
	c.mu.Unlock()
	var out []*api.Kind
	for _, k := range c.s.registry.All() {
		if !own[k] {
			out = append(out, k)
		}
	}
	return out
}

// serve registers the CRD's kinds, replacing what an earlier generation registered. The new
// kinds' watch caches are started before they are visible, so the first request is served
// from a loaded cache.
func (c *crdController) serve(ctx context.Context, crd *apiextensionsv1.CustomResourceDefinition) error {
	c.mu.Lock()
	cur := c.served[crd.Name]
	c.mu.Unlock()
	if cur != nil && cur.uid == crd.UID && cur.generation == crd.Generation {
		return nil
	}
	kinds, err := api.CustomResourceKinds(crd)
	if err != nil {
		return err
	}
	c.unserve(crd.Name)
	if err := c.s.registry.Add(kinds...); err != nil {
		c.s.registry.Remove(kinds...)
		return fmt.Errorf("registering kinds: %w", err)
	}
	for _, k := range kinds {
		if _, err := c.s.resourceFor(ctx, k); err != nil {
			c.s.registry.Remove(kinds...)
			for _, k := range kinds {
				c.s.dropResource(k)
			}
			return fmt.Errorf("starting the watch cache of %s: %w", k.GVK, err)
		}
	}
	c.mu.Lock()
	c.served[crd.Name] = &servedCRD{uid: crd.UID, generation: crd.Generation, kinds: kinds,
		gr: schema.GroupResource{Group: crd.Spec.Group, Resource: crd.Spec.Names.Plural}}
	c.mu.Unlock()
	versions := make([]string, 0, len(kinds))
	for _, k := range kinds {
		versions = append(versions, k.GVK.Version)
	}
	c.log.Info("serving custom resources", "crd", crd.Name, "kind", crd.Spec.Names.Kind, "versions", versions, "generation", crd.Generation)
	return nil
}

// unserve unregisters what the CRD registered; it reports whether there was anything.
func (c *crdController) unserve(name string) bool {
	c.mu.Lock()
	sc := c.served[name]
	delete(c.served, name)
	c.mu.Unlock()
	if sc == nil {
		return false
	}
	c.s.registry.Remove(sc.kinds...)
	for _, k := range sc.kinds {
		c.s.dropResource(k)
	}
	return true
}

// requeueNotAccepted looks again at CRDs whose names were taken: the names may be free now.
func (c *crdController) requeueNotAccepted(res *resource) {
	objs, _ := res.cache.List(res.prefix, nil)
	for _, o := range objs {
		crd := o.(*apiextensionsv1.CustomResourceDefinition)
		if api.CRDCondition(crd, apiextensionsv1.NamesAccepted) != apiextensionsv1.ConditionTrue {
			c.enqueue(crd.Name)
		}
	}
}

// terminating reports whether the custom resources of gr are being cleaned up: no new ones.
func (c *crdController) terminating(gr schema.GroupResource) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, sc := range c.served {
		if sc.gr == gr && sc.terminating {
			return true
		}
	}
	return false
}

// finalize runs a deleted CRD's cleanup: delete every custom resource, wait for the ones with
// finalizers of their own, then drop the cleanup finalizer so the CRD goes.
func (c *crdController) finalize(ctx context.Context, res *resource, crd *apiextensionsv1.CustomResourceDefinition) error {
	if !hasString(crd.Finalizers, apiextensionsv1.CustomResourceCleanupFinalizer) {
		return nil // other finalizers hold it; nothing of ours to do
	}
	c.mu.Lock()
	sc := c.served[crd.Name]
	if sc != nil && sc.uid == crd.UID {
		sc.terminating = true
	} else {
		sc = nil
	}
	c.mu.Unlock()
	if sc != nil {
		now := metav1.Now().Rfc3339Copy()
		if err := c.writeStatus(ctx, res, crd.Name, func(crd *apiextensionsv1.CustomResourceDefinition) {
			api.SetCRDCondition(crd, apiextensionsv1.CustomResourceDefinitionCondition{Type: apiextensionsv1.Terminating,
				Status: apiextensionsv1.ConditionTrue, Reason: api.ReasonInstanceDeletionInProgress, Message: "CustomResource deletion is in progress"}, now)
		}); err != nil {
			return err
		}
		remaining, err := c.deleteInstances(ctx, sc.kinds[0])
		if err != nil {
			return err
		}
		if remaining > 0 {
			c.log.Info("waiting for custom resources to go", "crd", crd.Name, "remaining", remaining)
			c.enqueueAfter(ctx, crd.Name, crdRetry)
			return nil
		}
	}
	_, _, err := res.update(ctx, "", crd.Name, func(cur runtime.Object) (runtime.Object, error) {
		next := cur.(*apiextensionsv1.CustomResourceDefinition)
		next.ResourceVersion = ""
		next.Finalizers = removeString(next.Finalizers, apiextensionsv1.CustomResourceCleanupFinalizer)
		return next, nil
	}, writeOptions{user: systemUser}, nil)
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("removing the cleanup finalizer: %w", err)
	}
	if c.unserve(crd.Name) {
		c.log.Info("stopped serving custom resources", "crd", crd.Name)
		c.requeueNotAccepted(res)
	}
	return nil
}

// deleteInstances deletes every custom resource of the kind (all versions share its storage)
// and returns how many are still there, held by their finalizers.
func (c *crdController) deleteInstances(ctx context.Context, k *api.Kind) (int, error) {
	r, err := c.s.resourceFor(ctx, k)
	if err != nil {
		return 0, err
	}
	items, _, _, _, err := r.listStore(ctx, "", 0, 0, "", nil)
	if err != nil {
		return 0, err
	}
	remaining := 0
	for _, it := range items {
		m := accessor(it)
		_, deleted, err := r.delete(ctx, m.GetNamespace(), m.GetName(), &metav1.DeleteOptions{}, systemUser)
		switch {
		case apierrors.IsNotFound(err):
		case err != nil:
			return 0, fmt.Errorf("deleting %s %s/%s: %w", k.GVK.Kind, m.GetNamespace(), m.GetName(), err)
		case !deleted:
			remaining++
		}
	}
	return remaining, nil
}

// writeStatus changes the CRD's status through the status subresource's rules; a change that
// changes nothing writes nothing.
func (c *crdController) writeStatus(ctx context.Context, res *resource, name string, mutate func(*apiextensionsv1.CustomResourceDefinition)) error {
	_, _, err := res.update(ctx, "", name, func(cur runtime.Object) (runtime.Object, error) {
		crd := cur.(*apiextensionsv1.CustomResourceDefinition)
		crd.ResourceVersion = ""
		mutate(crd)
		return crd, nil
	}, writeOptions{user: systemUser, subresource: api.SubStatus}, nil)
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// crdHooks start a CRD's deletion the way kube does: the cleanup finalizer and the
// Terminating condition go on in the same write as the deletion timestamp.
func crdHooks() kindHooks {
	return kindHooks{
		beginDelete: func(_ context.Context, obj runtime.Object, _ *metav1.DeleteOptions) (bool, error) {
			crd := obj.(*apiextensionsv1.CustomResourceDefinition)
			crd.Finalizers = addString(crd.Finalizers, apiextensionsv1.CustomResourceCleanupFinalizer)
			api.SetCRDCondition(crd, apiextensionsv1.CustomResourceDefinitionCondition{Type: apiextensionsv1.Terminating,
				Status: apiextensionsv1.ConditionTrue, Reason: api.ReasonInstanceDeletionPending,
				Message: "CustomResourceDefinition marked for deletion; CustomResource deletion will begin soon"}, metav1.Now().Rfc3339Copy())
			return true, nil
		},
	}
}

// customResourceHooks refuse new custom resources while their CRD is being cleaned up, so the
// cleanup ends.
func customResourceHooks(s *Server, k *api.Kind) kindHooks {
	gr := k.GroupResource()
	return kindHooks{
		beforeCreate: func(context.Context, runtime.Object, bool) ([]store.SideOp, error) {
			if s.crds != nil && s.crds.terminating(gr) {
				err := apierrors.NewMethodNotSupported(gr, "create")
				err.ErrStatus.Message = "create not allowed while custom resource definition is terminating"
				return nil, err
			}
			return nil, nil
		},
	}
}

func hasString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func removeString(list []string, s string) []string {
	out := list[:0:0]
	for _, x := range list {
		if x != s {
			out = append(out, x)
		}
	}
	return out
}
