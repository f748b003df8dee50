package controller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
)

// claim adopts and releases a parent's children by its label selector, as kube's
// controller ref manager does for ReplicaSets, Jobs and the rest: an orphan of a child kind
// in the parent's namespace that the selector matches becomes the parent's child, and a
// child that stops matching (relabelled by hand, say, to take a pod out for debugging) is
// let go. It reports whether it changed anything, so that the parent is decided again
// with the children as they now are. A parent being deleted claims nothing.
func (r *runner) claim(ctx context.Context, parent *unstructured.Unstructured) (bool, error) {
	if !r.c.Claims || parent.GetDeletionTimestamp() != nil {
		return false, nil
	}
	sel, err := selectorOf(parent)
	if err != nil || sel == nil || sel.Empty() {
		return false, err // no selector (or a match-everything one, which kube refuses): nothing to claim
	}
	changed := false
	var errs []error
	for _, src := range r.children {
		items, err := src.informer.GetIndexer().ByIndex(cache.NamespaceIndex, parent.GetNamespace())
		if err != nil {
			return false, err
		}
		for _, it := range items {
			u := it.(*unstructured.Unstructured)
			ref := metav1.GetControllerOfNoCopy(u)
			matches := sel.Matches(labels.Set(u.GetLabels()))
			switch {
			case u.GetDeletionTimestamp() != nil:
			case ref == nil && matches:
				errs = append(errs, r.setOwners(ctx, src.kind, u, append(u.GetOwnerReferences(), controllerRef(parent))))
				changed = true
			case ref != nil && ref.UID == parent.GetUID() && !matches:
				var keep []metav1.OwnerReference
				for _, o := range u.GetOwnerReferences() {
					if o.UID != parent.GetUID() {
						keep = append(keep, o)
					}
				}
				errs = append(errs, r.setOwners(ctx, src.kind, u, keep))
				changed = true
			}
		}
	}
	return changed, errors.Join(errs...)
}

// setOwners writes an object's owner references, at the resourceVersion it was read at.
func (r *runner) setOwners(ctx context.Context, k Kind, u *unstructured.Unstructured, refs []metav1.OwnerReference) error {
	if refs == nil {
		refs = []metav1.OwnerReference{}
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"ownerReferences": refs, "resourceVersion": u.GetResourceVersion()}})
	if err != nil {
		return err
	}
	_, err = r.m.dyn.Resource(k.GVR()).Namespace(u.GetNamespace()).Patch(ctx, u.GetName(), types.MergePatchType, patch, metav1.PatchOptions{})
	if err != nil && !apierrors.IsConflict(err) && !apierrors.IsNotFound(err) {
		return fmt.Errorf("owner references of %s %s: %w", k.Kind, u.GetName(), err)
	}
	return nil
}

// selectorOf is a parent's spec.selector: a LabelSelector, or a ReplicationController's map.
func selectorOf(parent *unstructured.Unstructured) (labels.Selector, error) {
	raw, ok, _ := unstructured.NestedFieldNoCopy(parent.Object, "spec", "selector")
	if !ok || raw == nil {
		return nil, nil
	}
	m, ok := raw.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("spec.selector is not an object")
	}
	_, hasLabels := m["matchLabels"]
	_, hasExprs := m["matchExpressions"]
	if !hasLabels && !hasExprs {
		set := labels.Set{}
		for k, v := range m {
			s, ok := v.(string)
			if !ok {
				return nil, fmt.Errorf("spec.selector.%s is not a string", k)
			}
			set[k] = s
		}
		return labels.SelectorFromSet(set), nil
	}
	var ls metav1.LabelSelector
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(m, &ls); err != nil {
		return nil, fmt.Errorf("spec.selector: %w", err)
	}
	return metav1.LabelSelectorAsSelector(&ls)
}
