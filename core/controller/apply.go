package controller

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	utiljson "k8s.io/apimachinery/pkg/util/json"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"

	"github.com/tugboat-io/tug/hostabi"
)

// writeParallelism bounds the child writes one reconcile has in flight: a ReplicaSet scaling
// to hundreds of pods should not wait for each create in turn, nor flood the API server.
const writeParallelism = 16

// apply carries out a reconcile's result. Every child write is checked against the
// controller's declared child kinds and the parent's ownership; errors are joined, and a
// conflict alone only means the decision must be made again.
func (r *runner) apply(ctx context.Context, parent *unstructured.Unstructured, observed map[string][]*unstructured.Unstructured,
	res *hostabi.ReconcileResult, now time.Time) error {
	var ops []func() error
	declared := map[string]bool{}
	for key, desired := range res.Children {
		src, ok := r.children[key]
		if !ok {
			return fmt.Errorf("the result declares %s, which is not a child kind of controller %s", key, r.c.Name)
		}
		declared[key] = true
		// Children are matched by namespace and name: a cluster-scoped parent's may be
		// in several namespaces.
		byName := map[string]*unstructured.Unstructured{}
		for _, o := range observed[key] {
			byName[objectKey(o.GetNamespace(), o.GetName())] = o
		}
		keep := map[string]bool{}
		for _, raw := range desired {
			obj, err := decodeChild(raw)
			if err != nil {
				return fmt.Errorf("declared %s: %w", key, err)
			}
			if obj.GetName() == "" {
				return fmt.Errorf("declared %s without a name", key)
			}
			if err := place(src.kind, parent, obj); err != nil {
				return err
			}
			id := objectKey(obj.GetNamespace(), obj.GetName())
			keep[id] = true
			if cur, ok := byName[id]; ok {
				if op := r.update(ctx, src.kind, parent, cur, obj); op != nil {
					ops = append(ops, op)
				}
				continue
			}
			ops = append(ops, r.create(ctx, src.kind, parent, obj, now))
		}
		for name, cur := range byName {
			if !keep[name] && cur.GetDeletionTimestamp() == nil {
				ops = append(ops, r.delete(ctx, src.kind, parent, cur.GetNamespace(), cur.GetName(), cur.GetUID(), now))
			}
		}
	}
	kindOf := func(obj *unstructured.Unstructured, what string) (childSource, error) {
		key := obj.GetAPIVersion() + "/" + obj.GetKind()
		src, ok := r.children[key]
		switch {
		case !ok:
			return childSource{}, fmt.Errorf("%s %s: not a child kind of controller %s", what, key, r.c.Name)
		case declared[key]:
			return childSource{}, fmt.Errorf("%s %s: the result declares that kind's children too", what, key)
		}
		return src, nil
	}
	for _, raw := range res.Create {
		obj, err := decodeChild(raw)
		if err != nil {
			return fmt.Errorf("create: %w", err)
		}
		key := obj.GetAPIVersion() + "/" + obj.GetKind()
		if rel, ok := r.related[key]; ok && rel.Creatable && r.children[key].informer == nil {
			if obj.GetName() == "" || len(obj.GetOwnerReferences()) > 0 {
				// Unowned creates are not remembered as pending: a name makes a second one a
				// no-op, and owners would make the collector delete them.
				return fmt.Errorf("create %s: an unowned object needs a name and no owner references", key)
			}
			ops = append(ops, r.createUnowned(ctx, rel.Kind, parent, obj))
			continue
		}
		src, err := kindOf(obj, "create")
		if err != nil {
			return err
		}
		if obj.GetName() == "" && obj.GetGenerateName() == "" {
			return fmt.Errorf("create %s: neither name nor generateName", src.kind.Key())
		}
		ops = append(ops, r.create(ctx, src.kind, parent, obj, now))
	}
	for _, raw := range res.Update {
		obj, err := decodeChild(raw)
		if err != nil {
			return fmt.Errorf("update: %w", err)
		}
		src, err := kindOf(obj, "update")
		if err != nil {
			return err
		}
		if err := place(src.kind, parent, obj); err != nil {
			return err
		}
		var cur *unstructured.Unstructured
		for _, o := range observed[src.kind.Key()] {
			if o.GetName() == obj.GetName() && o.GetNamespace() == obj.GetNamespace() {
				cur = o
			}
		}
		if cur == nil {
			return fmt.Errorf("update %s %s: not a child of %s", src.kind.Key(), objectKey(obj.GetNamespace(), obj.GetName()), parent.GetName())
		}
		if op := r.update(ctx, src.kind, parent, cur, obj); op != nil {
			ops = append(ops, op)
		}
	}
	for _, ref := range res.Delete {
		key := ref.APIVersion + "/" + ref.Kind
		src, ok := r.children[key]
		candidates := observed[key]
		if rel, isRel := r.related[key]; isRel && rel.Deletable && !ok {
			src, ok, candidates = childSource{kind: rel.Kind}, true, observed[relatedKey(key)]
		}
		if !ok || declared[key] {
			return fmt.Errorf("delete %s %s: not a child kind of controller %s, or declared too", key, ref.Name, r.c.Name)
		}
		var matches []*unstructured.Unstructured
		for _, o := range candidates {
			if o.GetName() == ref.Name && (ref.UID == "" || string(o.GetUID()) == ref.UID) &&
				(ref.Namespace == "" || o.GetNamespace() == ref.Namespace) {
				matches = append(matches, o)
			}
		}
		if len(matches) > 1 {
			return fmt.Errorf("delete %s %s: %d objects of the name in different namespaces; name the uid or the namespace", key, ref.Name, len(matches))
		}
		if len(matches) == 0 {
			continue // gone already, or not this parent's: nothing to do
		}
		cur := matches[0]
		ops = append(ops, r.delete(ctx, src.kind, parent, cur.GetNamespace(), ref.Name, cur.GetUID(), now))
	}
	errs := runAll(ops)
	if res.DeleteParent {
		for _, ev := range res.Events {
			r.m.event(ctx, r.c.Name, parent, ev.Type, ev.Reason, ev.Message)
		}
		uid := parent.GetUID()
		bg := metav1.DeletePropagationBackground
		err := r.m.dyn.Resource(r.c.Parent.GVR()).Namespace(parent.GetNamespace()).Delete(ctx, parent.GetName(),
			metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}, PropagationPolicy: &bg})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			errs = append(errs, fmt.Errorf("delete %s: %w", parent.GetName(), err))
		}
		return errorsOf(errs)
	}
	// The status is written to the parent as annotated (its new resourceVersion); when that
	// fails, the next reconcile writes both.
	if annotated, err := r.annotate(ctx, parent, res.ParentAnnotations); err != nil {
		errs = append(errs, err)
	} else if patched, err := r.patchParent(ctx, annotated, res.ParentPatch); err != nil {
		errs = append(errs, err)
	} else {
		errs = append(errs, r.setStatus(ctx, patched, res.Status))
	}
	for _, ev := range res.Events {
		r.m.event(ctx, r.c.Name, parent, ev.Type, ev.Reason, ev.Message)
	}
	return errorsOf(errs)
}

// runAll runs the writes, writeParallelism at a time, and returns their errors.
func runAll(ops []func() error) []error {
	errs := make([]error, len(ops))
	sem := make(chan struct{}, writeParallelism)
	var wg sync.WaitGroup
	for i, op := range ops {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			errs[i] = op()
		}()
	}
	wg.Wait()
	return errs
}

func decodeChild(raw json.RawMessage) (*unstructured.Unstructured, error) {
	obj := &unstructured.Unstructured{}
	if err := obj.UnmarshalJSON(raw); err != nil {
		return nil, err
	}
	return obj, nil
}

// controllerRef is the owner reference a child of parent carries.
func controllerRef(parent *unstructured.Unstructured) metav1.OwnerReference {
	yes := true
	return metav1.OwnerReference{APIVersion: parent.GetAPIVersion(), Kind: parent.GetKind(), Name: parent.GetName(),
		UID: parent.GetUID(), Controller: &yes, BlockOwnerDeletion: &yes}
}

// own makes obj a child of parent: its namespace, and the controller reference, which a
// plugin may set but not point elsewhere.
func own(k Kind, parent, obj *unstructured.Unstructured) error {
	if err := place(k, parent, obj); err != nil {
		return err
	}
	refs := obj.GetOwnerReferences()
	for _, ref := range refs {
		if ref.Controller != nil && *ref.Controller {
			if ref.UID != parent.GetUID() {
				return fmt.Errorf("%s %s: its controller reference names %s, not the parent", k.Kind, obj.GetName(), ref.Name)
			}
			return nil
		}
	}
	obj.SetOwnerReferences(append(refs, controllerRef(parent)))
	return nil
}

// place puts an object a reconcile writes in its namespace: the parent's, when the parent
// is namespaced; the Namespace's own, when the parent is one; and when the parent is
// otherwise cluster-scoped, the one the plugin names.
func place(k Kind, parent, obj *unstructured.Unstructured) error {
	if !k.Namespaced {
		obj.SetNamespace("")
		return nil
	}
	want := parent.GetNamespace()
	if parent.GetAPIVersion() == Namespaces.APIVersion() && parent.GetKind() == Namespaces.Kind {
		want = parent.GetName()
	}
	ns := obj.GetNamespace()
	switch {
	case want == "" && ns == "":
		return fmt.Errorf("%s %s: no namespace, and the parent %s has none to give", k.Kind, obj.GetName(), parent.GetName())
	case want == "":
	case ns != "" && ns != want:
		return fmt.Errorf("%s %s: namespace %q is not the parent's %q", k.Kind, obj.GetName(), ns, want)
	default:
		obj.SetNamespace(want)
	}
	return nil
}

// createUnowned creates a related object the controller may create: placed like a child,
// but not owned, and made already when one of its name exists.
func (r *runner) createUnowned(ctx context.Context, k Kind, parent, obj *unstructured.Unstructured) func() error {
	return func() error {
		if err := place(k, parent, obj); err != nil {
			return err
		}
		obj.SetResourceVersion("")
		obj.SetUID("")
		_, err := r.m.dyn.Resource(k.GVR()).Namespace(obj.GetNamespace()).Create(ctx, obj, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create %s %s: %w", k.Kind, obj.GetName()+obj.GetGenerateName(), err)
		}
		return nil
	}
}

// adopt makes an existing object of a child's name the parent's child when nothing
// controls it — an Endpoints written before its Service had a selector, a default
// ServiceAccount made by hand — as kube's controllers adopt orphans. It returns a conflict
// either way, so that the parent is decided again with the object observed.
func (r *runner) adopt(ctx context.Context, k Kind, parent, obj *unstructured.Unstructured, exists error) error {
	client := r.m.dyn.Resource(k.GVR()).Namespace(obj.GetNamespace())
	cur, err := client.Get(ctx, obj.GetName(), metav1.GetOptions{})
	if err != nil {
		return apierrors.NewConflict(k.GVR().GroupResource(), obj.GetName(), exists)
	}
	if ref := metav1.GetControllerOfNoCopy(cur); ref != nil {
		if ref.UID == parent.GetUID() {
			return apierrors.NewConflict(k.GVR().GroupResource(), obj.GetName(), exists)
		}
		return fmt.Errorf("create %s %s: it exists, controlled by %s %s", k.Kind, obj.GetName(), ref.Kind, ref.Name)
	}
	// As kube's controllers: only an object that carries the labels the child would, and
	// only while neither it nor the parent is going.
	for key, v := range obj.GetLabels() {
		if got, ok := cur.GetLabels()[key]; !ok || got != v {
			return fmt.Errorf("create %s %s: an object of the name exists without the label %s=%s, so it is not adopted", k.Kind, obj.GetName(), key, v)
		}
	}
	if cur.GetDeletionTimestamp() != nil || parent.GetDeletionTimestamp() != nil {
		return apierrors.NewConflict(k.GVR().GroupResource(), obj.GetName(), exists)
	}
	cur.SetOwnerReferences(append(cur.GetOwnerReferences(), controllerRef(parent)))
	if _, err := client.Update(ctx, cur, metav1.UpdateOptions{}); err != nil && !apierrors.IsConflict(err) {
		return fmt.Errorf("adopt %s %s: %w", k.Kind, obj.GetName(), err)
	}
	r.log.Info("adopted an orphan", "parent", objectKey(parent.GetNamespace(), parent.GetName()), "kind", k.Kind, "name", obj.GetName())
	return apierrors.NewConflict(k.GVR().GroupResource(), obj.GetName(), exists)
}

func (r *runner) create(ctx context.Context, k Kind, parent, obj *unstructured.Unstructured, now time.Time) func() error {
	return func() error {
		if err := own(k, parent, obj); err != nil {
			return err
		}
		obj.SetResourceVersion("")
		obj.SetUID("")
		created, err := r.m.dyn.Resource(k.GVR()).Namespace(obj.GetNamespace()).Create(ctx, obj, metav1.CreateOptions{})
		if err != nil {
			if apierrors.IsAlreadyExists(err) {
				// Made by an earlier reconcile the watch has not shown yet (decide again), or
				// an orphan to adopt.
				return r.adopt(ctx, k, parent, obj, err)
			}
			return fmt.Errorf("create %s %s: %w", k.Kind, obj.GetName()+obj.GetGenerateName(), err)
		}
		r.pending.created(parent.GetUID(), k.Key(), created, now)
		return nil
	}
}

// update returns the write that makes cur what desired says — its labels, annotations,
// owner references and every top-level field but status — or nil when cur already is.
func (r *runner) update(ctx context.Context, k Kind, parent, cur, desired *unstructured.Unstructured) func() error {
	next := cur.DeepCopy()
	if err := own(k, parent, desired); err != nil {
		return func() error { return err }
	}
	next.SetLabels(desired.GetLabels())
	next.SetAnnotations(desired.GetAnnotations())
	next.SetOwnerReferences(desired.GetOwnerReferences())
	for f, v := range desired.Object {
		switch f {
		case "apiVersion", "kind", "metadata", "status":
		default:
			next.Object[f] = v
		}
	}
	if covers(cur.Object, next.Object) {
		return nil
	}
	if rv := desired.GetResourceVersion(); rv != "" {
		next.SetResourceVersion(rv)
	}
	return func() error {
		_, err := r.m.dyn.Resource(k.GVR()).Namespace(next.GetNamespace()).Update(ctx, next, metav1.UpdateOptions{})
		if err != nil && !apierrors.IsConflict(err) {
			return fmt.Errorf("update %s %s: %w", k.Kind, next.GetName(), err)
		}
		return err
	}
}

func (r *runner) delete(ctx context.Context, k Kind, parent *unstructured.Unstructured, ns, name string, uid types.UID, now time.Time) func() error {
	return func() error {
		bg := metav1.DeletePropagationBackground
		err := r.m.dyn.Resource(k.GVR()).Namespace(ns).Delete(ctx, name,
			metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}, PropagationPolicy: &bg})
		switch {
		case err == nil:
			if _, child := r.children[k.Key()]; child {
				r.pending.deleted(parent.GetUID(), k.Key(), name, uid, now)
			}
		case apierrors.IsNotFound(err):
			err = nil
		case apierrors.IsConflict(err):
			// Another object of the name: the one decided on is gone.
			err = nil
		default:
			err = fmt.Errorf("delete %s %s: %w", k.Kind, name, err)
		}
		return err
	}
}

// patchParent applies a reconcile's merge patch of the parent's metadata and spec, at the
// resourceVersion the reconcile read, and returns the parent as written.
func (r *runner) patchParent(ctx context.Context, parent *unstructured.Unstructured, patch json.RawMessage) (*unstructured.Unstructured, error) {
	if len(patch) == 0 || string(patch) == "null" {
		return parent, nil
	}
	var p map[string]any
	if err := utiljson.Unmarshal(patch, &p); err != nil {
		return nil, fmt.Errorf("parentPatch: %w", err)
	}
	for f := range p {
		if f != "metadata" && f != "spec" {
			return nil, fmt.Errorf("parentPatch: may change metadata and spec, not %q", f)
		}
	}
	cur, err := parent.MarshalJSON()
	if err != nil {
		return nil, err
	}
	next, err := jsonpatch.MergePatch(cur, patch)
	if err != nil {
		return nil, fmt.Errorf("parentPatch: %w", err)
	}
	var after map[string]any
	if err := utiljson.Unmarshal(next, &after); err != nil {
		return nil, fmt.Errorf("parentPatch: %w", err)
	}
	if covers(parent.Object, after) && covers(after, parent.Object) {
		return parent, nil
	}
	p["metadata"] = withResourceVersion(p["metadata"], parent.GetResourceVersion())
	body, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	out, err := r.m.dyn.Resource(r.c.Parent.GVR()).Namespace(parent.GetNamespace()).Patch(ctx, parent.GetName(), types.MergePatchType, body, metav1.PatchOptions{})
	switch {
	case apierrors.IsConflict(err) || apierrors.IsNotFound(err):
		return nil, err
	case err != nil:
		return nil, fmt.Errorf("patch %s: %w", parent.GetName(), err)
	}
	return out, nil
}

// withResourceVersion adds a resourceVersion precondition to a patch's metadata.
func withResourceVersion(meta any, rv string) map[string]any {
	m, _ := meta.(map[string]any)
	out := make(map[string]any, len(m)+1)
	for k, v := range m {
		out[k] = v
	}
	out["resourceVersion"] = rv
	return out
}

// annotate merges annotations into the parent's, returning the parent as written.
func (r *runner) annotate(ctx context.Context, parent *unstructured.Unstructured, ann map[string]string) (*unstructured.Unstructured, error) {
	cur := parent.GetAnnotations()
	changed := false
	for k, v := range ann {
		if got, ok := cur[k]; !ok || got != v {
			changed = true
		}
	}
	if !changed {
		return parent, nil
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": ann, "resourceVersion": parent.GetResourceVersion()}})
	if err != nil {
		return nil, err
	}
	out, err := r.m.dyn.Resource(r.c.Parent.GVR()).Namespace(parent.GetNamespace()).Patch(ctx, parent.GetName(), types.MergePatchType, patch, metav1.PatchOptions{})
	switch {
	case apierrors.IsConflict(err) || apierrors.IsNotFound(err):
		return nil, err
	case err != nil:
		return nil, fmt.Errorf("annotate %s: %w", parent.GetName(), err)
	}
	return out, nil
}

// setStatus writes the parent's status through the status subresource when it differs.
func (r *runner) setStatus(ctx context.Context, parent *unstructured.Unstructured, status json.RawMessage) error {
	if len(status) == 0 || string(status) == "null" {
		return nil
	}
	var want any
	if err := utiljson.Unmarshal(status, &want); err != nil {
		return fmt.Errorf("status: %w", err)
	}
	if reflect.DeepEqual(parent.Object["status"], want) {
		return nil
	}
	next := parent.DeepCopy()
	next.Object["status"] = want
	_, err := r.m.dyn.Resource(r.c.Parent.GVR()).Namespace(parent.GetNamespace()).UpdateStatus(ctx, next, metav1.UpdateOptions{})
	if err != nil && !apierrors.IsConflict(err) && !apierrors.IsNotFound(err) {
		return fmt.Errorf("status of %s: %w", parent.GetName(), err)
	}
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// covers reports whether have already says everything want does: the same values, where a
// field want leaves out or sets to its zero value may be absent from have. The API server
// fills defaults into what it stores, so a plugin that writes a child without them must not
// make the host update it on every reconcile.
func covers(have, want any) bool {
	switch w := want.(type) {
	case map[string]any:
		h, ok := have.(map[string]any)
		if !ok {
			return have == nil && len(w) == 0
		}
		for k, wv := range w {
			hv, ok := h[k]
			if !ok {
				if !isZero(wv) {
					return false
				}
				continue
			}
			if !covers(hv, wv) {
				return false
			}
		}
		return true
	case []any:
		h, ok := have.([]any)
		if !ok {
			return have == nil && len(w) == 0
		}
		if len(h) != len(w) {
			return false
		}
		for i := range w {
			if !covers(h[i], w[i]) {
				return false
			}
		}
		return true
	case nil:
		return true
	}
	return numEqual(have, want) || reflect.DeepEqual(have, want)
}

func isZero(v any) bool {
	switch v := v.(type) {
	case nil:
		return true
	case string:
		return v == ""
	case bool:
		return !v
	case map[string]any:
		return len(v) == 0
	case []any:
		return len(v) == 0
	}
	f, ok := number(v)
	return ok && f == 0
}

// numEqual compares numbers across the types JSON decoders produce (int64, float64).
func numEqual(a, b any) bool {
	fa, oka := number(a)
	fb, okb := number(b)
	return oka && okb && fa == fb
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case int64:
		return float64(n), true
	case int:
		return float64(n), true
	case int32:
		return float64(n), true
	case float64:
		return n, true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	}
	return 0, false
}
