package apiserver

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/tugboat-io/tug/core/api"
	"github.com/tugboat-io/tug/core/store"
)

// kindHooks are the few places where Kubernetes itself gives a kind server-side mechanics beyond
// its strategy: services hold allocated addresses, namespaces terminate in phases, pods on a
// node are deleted gracefully. Everything else is generic.
type kindHooks struct {
	// beforeCreate and beforeUpdate allocate what the object needs and return the side keys to
	// claim and release atomically with the write.
	beforeCreate func(ctx context.Context, obj runtime.Object, dryRun bool) ([]store.SideOp, error)
	beforeUpdate func(ctx context.Context, next, cur runtime.Object, dryRun bool) ([]store.SideOp, error)
	// onDelete returns the side keys an object releases when it is removed.
	onDelete func(obj runtime.Object) []store.SideOp
	// claimConflict is told which side key was taken: an error if the client asked for that
	// value, nil to retry with a fresh pick.
	claimConflict func(requested runtime.Object, key string) error
	// finalizable adds a kind's own condition for a terminating object to go (namespaces wait
	// for spec.finalizers too).
	finalizable func(obj runtime.Object) bool
	// beginDelete decides how a delete starts: return graceful=true with the object marked
	// (deletionTimestamp and whatever else) to store it instead of removing it.
	beginDelete func(ctx context.Context, obj runtime.Object, opts *metav1.DeleteOptions) (marked bool, err error)
}

func (h kindHooks) canFinalize(obj runtime.Object) bool {
	return h.finalizable == nil || h.finalizable(obj)
}

var (
	gvkService   = schema.GroupVersionKind{Version: "v1", Kind: "Service"}
	gvkNamespace = schema.GroupVersionKind{Version: "v1", Kind: "Namespace"}
	gvkPod       = schema.GroupVersionKind{Version: "v1", Kind: "Pod"}
	gvkNode      = schema.GroupVersionKind{Version: "v1", Kind: "Node"}
)

func hooksFor(s *Server, k *api.Kind) kindHooks {
	switch k.GVK {
	case gvkService:
		return s.alloc.hooks()
	case gvkNamespace:
		return namespaceHooks(s)
	case gvkPod:
		return podHooks()
	case gvkCRD:
		return crdHooks()
	}
	if k.Unstructured {
		return customResourceHooks(s, k)
	}
	return kindHooks{}
}

// systemNamespaces exist in every cluster and cannot be deleted.
var systemNamespaces = []string{"default", "kube-system", "kube-public", "kube-node-lease"}

func namespaceHooks(s *Server) kindHooks {
	return kindHooks{
		finalizable: func(obj runtime.Object) bool { return len(obj.(*corev1.Namespace).Spec.Finalizers) == 0 },
		beginDelete: func(_ context.Context, obj runtime.Object, _ *metav1.DeleteOptions) (bool, error) {
			ns := obj.(*corev1.Namespace)
			for _, n := range systemNamespaces {
				if ns.Name == n {
					return false, apierrors.NewForbidden(schema.GroupResource{Resource: "namespaces"}, ns.Name,
						fmt.Errorf("this namespace may not be deleted"))
				}
			}
			// A namespace terminates: it stays, phase Terminating, until whatever empties it
			// removes its spec finalizers through the finalize subresource.
			if len(ns.Spec.Finalizers) == 0 && len(ns.Finalizers) == 0 {
				return false, nil
			}
			if ns.DeletionTimestamp == nil {
				now := metav1.NewTime(time.Now().UTC().Truncate(time.Second))
				ns.DeletionTimestamp = &now
			}
			ns.Status.Phase = corev1.NamespaceTerminating
			s.terminating.Store(ns.UID, true)
			return true, nil
		},
	}
}

func podHooks() kindHooks {
	return kindHooks{
		beginDelete: func(_ context.Context, obj runtime.Object, opts *metav1.DeleteOptions) (bool, error) {
			pod := obj.(*corev1.Pod)
			// A pod that never reached a node, or has finished, has nothing to stop: it goes
			// at once. Otherwise the node agent stops it within the grace period and then
			// deletes it with grace 0.
			if pod.Spec.NodeName == "" || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
				return false, nil
			}
			grace := int64(corev1.DefaultTerminationGracePeriodSeconds)
			if pod.Spec.TerminationGracePeriodSeconds != nil {
				grace = *pod.Spec.TerminationGracePeriodSeconds
			}
			if opts.GracePeriodSeconds != nil {
				grace = *opts.GracePeriodSeconds
			}
			if grace <= 0 {
				return false, nil
			}
			if pod.DeletionGracePeriodSeconds != nil && *pod.DeletionGracePeriodSeconds <= grace {
				return true, nil // already terminating at least this fast
			}
			deadline := metav1.NewTime(time.Now().UTC().Add(time.Duration(grace) * time.Second).Truncate(time.Second))
			pod.DeletionTimestamp = &deadline
			pod.DeletionGracePeriodSeconds = &grace
			return true, nil
		},
	}
}

// checkNamespaceOpen refuses creates into a missing or terminating namespace, as the
// NamespaceLifecycle admission plugin does.
func (s *Server) checkNamespaceOpen(ctx context.Context, name string) error {
	k, _ := s.registry.LookupKind(gvkNamespace)
	r, err := s.resourceFor(ctx, k)
	if err != nil {
		return err
	}
	obj, ok := r.cache.Get(r.key("", name))
	if !ok {
		// The cache may not have seen a namespace created a moment ago.
		if obj, _, err = r.get(ctx, "", name); err != nil {
			if apierrors.IsNotFound(err) {
				return apierrors.NewNotFound(schema.GroupResource{Resource: "namespaces"}, name)
			}
			return err
		}
	}
	ns := obj.(*corev1.Namespace)
	// The cache may lag a delete this server just made; the terminating set does not.
	_, marked := s.terminating.Load(ns.UID)
	if marked || ns.DeletionTimestamp != nil || ns.Status.Phase == corev1.NamespaceTerminating {
		return apierrors.NewForbidden(schema.GroupResource{Resource: "namespaces"}, name,
			fmt.Errorf("unable to create new content in namespace %s because it is being terminated", name))
	}
	return nil
}

func (s *Server) ensureSystemNamespaces(ctx context.Context) error {
	k, _ := s.registry.LookupKind(gvkNamespace)
	r, err := s.resourceFor(ctx, k)
	if err != nil {
		return err
	}
	for _, n := range systemNamespaces {
		if _, _, err := r.get(ctx, "", n); err == nil {
			continue
		}
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: n}}
		if _, err := r.create(ctx, ns, "", writeOptions{user: &UserInfo{Name: "system:apiserver"}}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("apiserver: creating namespace %s: %w", n, err)
		}
	}
	return nil
}
