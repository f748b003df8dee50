package controller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
)

// The namespace deleter empties a terminating namespace — every namespaced object of every
// resource the API server serves — and then removes the namespace's "kubernetes" finalizer,
// upon which the API server removes the namespace. Like the garbage collector it is
// mechanics fixed by the API, so it is Go in the core.
type nsDeleter struct {
	m     *Manager
	log   *slog.Logger
	store cache.Store
	queue workqueue.TypedRateLimitingInterface[string]
}

// contentPoll is how often a namespace whose objects are still going (pods stopping within
// their grace period, objects waiting for finalizers) is looked at again.
const contentPoll = time.Second

func (m *Manager) newNamespaceDeleter(inf cache.SharedIndexInformer) (*nsDeleter, error) {
	d := &nsDeleter{m: m, log: m.log.With("controller", "namespace"), store: inf.GetStore(),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "namespace"})}
	enqueue := func(obj any) {
		if u, ok := unstructuredOf(obj); ok && u.GetDeletionTimestamp() != nil {
			d.queue.Add(u.GetName())
		}
	}
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: enqueue, UpdateFunc: func(_, obj any) { enqueue(obj) },
	}); err != nil {
		return nil, err
	}
	return d, nil
}

// sync deletes what is left in a terminating namespace and asks to look again while objects
// remain; once none does, it finalizes the namespace.
func (d *nsDeleter) sync(ctx context.Context, name string) (time.Duration, error) {
	if _, ok, _ := d.store.GetByKey(name); !ok {
		return 0, nil
	}
	ns, err := d.m.client.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if ns.DeletionTimestamp == nil || !slices.Contains(ns.Spec.Finalizers, corev1.FinalizerKubernetes) {
		return 0, nil
	}
	resources, discoveryErr := d.namespacedResources()
	remaining := map[string]int{}
	var errs []error
	for _, r := range resources {
		n, err := d.empty(ctx, name, r)
		if err != nil {
			errs = append(errs, err)
		}
		if n > 0 {
			remaining[r.gvr.GroupResource().String()] = n
		}
	}
	if discoveryErr != nil || len(errs) > 0 || len(remaining) > 0 {
		d.reportRemaining(ctx, ns, remaining)
		if discoveryErr != nil {
			errs = append(errs, discoveryErr)
		}
		if len(errs) > 0 {
			return 0, errors.Join(errs...)
		}
		return contentPoll, nil
	}
	ns.Spec.Finalizers = slices.DeleteFunc(ns.Spec.Finalizers, func(f corev1.FinalizerName) bool { return f == corev1.FinalizerKubernetes })
	if _, err := d.m.client.CoreV1().Namespaces().Finalize(ctx, ns, metav1.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return 0, fmt.Errorf("finalize: %w", err)
	}
	d.log.Info("namespace emptied and finalized", "namespace", name)
	return 0, nil
}

type nsResource struct {
	gvr              schema.GroupVersionResource
	deleteCollection bool
}

// namespacedResources are the namespaced resources the API server serves that can be
// listed and deleted, from discovery.
func (d *nsDeleter) namespacedResources() ([]nsResource, error) {
	lists, err := d.m.client.Discovery().ServerPreferredNamespacedResources()
	var out []nsResource
	for _, l := range lists {
		gv, perr := schema.ParseGroupVersion(l.GroupVersion)
		if perr != nil {
			continue
		}
		for _, r := range l.APIResources {
			if strings.Contains(r.Name, "/") || !slices.Contains(r.Verbs, "list") || !slices.Contains(r.Verbs, "delete") {
				continue
			}
			out = append(out, nsResource{gv.WithResource(r.Name), slices.Contains(r.Verbs, "deletecollection")})
		}
	}
	if err != nil {
		// Part of discovery failed: go on with what it found, but do not finalize.
		return out, fmt.Errorf("discovery: %w", err)
	}
	return out, nil
}

// empty deletes every object of a resource in the namespace and returns how many there
// were (deleting ones included: the namespace waits for them).
func (d *nsDeleter) empty(ctx context.Context, ns string, r nsResource) (int, error) {
	client := d.m.dyn.Resource(r.gvr).Namespace(ns)
	list, err := client.List(ctx, metav1.ListOptions{})
	if apierrors.IsNotFound(err) || apierrors.IsMethodNotSupported(err) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("list %s: %w", r.gvr.GroupResource(), err)
	}
	if len(list.Items) == 0 {
		return 0, nil
	}
	bg := metav1.DeletePropagationBackground
	opts := metav1.DeleteOptions{PropagationPolicy: &bg}
	if r.deleteCollection {
		if err := client.DeleteCollection(ctx, opts, metav1.ListOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return len(list.Items), fmt.Errorf("delete %s: %w", r.gvr.GroupResource(), err)
		}
		return len(list.Items), nil
	}
	var errs []error
	for _, it := range list.Items {
		if it.GetDeletionTimestamp() != nil {
			continue
		}
		if err := client.Delete(ctx, it.GetName(), opts); err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("delete %s %s: %w", r.gvr.GroupResource(), it.GetName(), err))
		}
	}
	return len(list.Items), errors.Join(errs...)
}

// reportRemaining sets the namespace's NamespaceContentRemaining condition, as kube's
// namespace controller does, so that kubectl describe shows what it waits for.
func (d *nsDeleter) reportRemaining(ctx context.Context, ns *corev1.Namespace, remaining map[string]int) {
	var parts []string
	for r, n := range remaining {
		parts = append(parts, fmt.Sprintf("%s has %d resource instances", r, n))
	}
	sort.Strings(parts)
	cond := corev1.NamespaceCondition{Type: corev1.NamespaceContentRemaining, Status: corev1.ConditionFalse, Reason: "ContentDeleted",
		Message: "All content successfully deleted, may be waiting on finalization"}
	if len(parts) > 0 {
		cond.Status, cond.Reason, cond.Message = corev1.ConditionTrue, "SomeResourcesRemain", "Some resources are remaining: "+strings.Join(parts, ", ")
	}
	i := slices.IndexFunc(ns.Status.Conditions, func(c corev1.NamespaceCondition) bool { return c.Type == cond.Type })
	if i >= 0 && ns.Status.Conditions[i].Status == cond.Status && ns.Status.Conditions[i].Message == cond.Message {
		return
	}
	cond.LastTransitionTime = metav1.NewTime(d.m.now())
	if i >= 0 {
		ns.Status.Conditions[i] = cond
	} else {
		ns.Status.Conditions = append(ns.Status.Conditions, cond)
	}
	if _, err := d.m.client.CoreV1().Namespaces().UpdateStatus(ctx, ns, metav1.UpdateOptions{}); err != nil && ctx.Err() == nil {
		d.log.Debug("namespace condition not written", "namespace", ns.Name, "err", err)
	}
}
