package apiserver

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/tugboat-io/tug/core/api"
	"github.com/tugboat-io/tug/core/store"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
)

// serve dispatches a resource request by verb and subresource.
func (r *resource) serve(rc *reqCtx) error {
	ri := rc.ri
	if r.kind.Namespaced && ri.Namespace == "" && ri.Name != "" {
		return notFoundPath(ri.Path)
	}
	if !r.kind.Namespaced && ri.Namespace != "" {
		return notFoundPath(ri.Path)
	}
	if len(ri.Parts) > 3 {
		return notFoundPath(ri.Path)
	}
	if ri.Subresource != "" {
		if !r.kind.HasSubresource(ri.Subresource) {
			return notFoundPath(ri.Path)
		}
		return r.serveSubresource(rc)
	}
	switch ri.Verb {
	case "get":
		return r.handleGet(rc)
	case "list":
		return r.handleList(rc)
	case "watch":
		return r.handleWatch(rc)
	case "create":
		if ri.Name != "" {
			return methodNotAllowed("create", r.gr)
		}
		if r.kind.Namespaced && ri.Namespace == "" {
			return notFoundPath(ri.Path)
		}
		return r.handleCreate(rc)
	case "update":
		return r.handleUpdate(rc)
	case "patch":
		return r.handlePatch(rc)
	case "delete":
		return r.handleDelete(rc)
	case "deletecollection":
		return r.handleDeleteCollection(rc)
	}
	return methodNotAllowed(ri.Verb, r.gr)
}

func (rc *reqCtx) writeOpts() (writeOptions, error) {
	q := rc.r.URL.Query()
	opts := writeOptions{user: rc.user, subresource: rc.ri.Subresource, fieldManager: q.Get("fieldManager")}
	for _, d := range q["dryRun"] {
		if d != "All" {
			return opts, badRequest("dryRun: unsupported value %q (only All)", d)
		}
		opts.dryRun = true
	}
	return opts, nil
}

// respondWrite answers an update or patch: 201 when it created the object, 200 otherwise.
func (rc *reqCtx) respondWrite(out runtime.Object, created bool, err error) error {
	if err != nil {
		return err
	}
	if created {
		return rc.respond(http.StatusCreated, out)
	}
	return rc.respond(http.StatusOK, out)
}

// writeInput reads what every write carries: its options, the fieldValidation directive and
// the body.
func (rc *reqCtx) writeInput() (writeOptions, fieldValidation, []byte, error) {
	opts, err := rc.writeOpts()
	if err != nil {
		return opts, "", nil, err
	}
	fv, err := parseFieldValidation(rc.r)
	if err != nil {
		return opts, "", nil, err
	}
	body, err := readBody(rc.r, rc.s.cfg.MaxRequestBodyBytes)
	return opts, fv, body, err
}

// decodeRequest reads and decodes the body as the kind.
func (rc *reqCtx) decodeRequest() (runtime.Object, error) {
	fv, err := parseFieldValidation(rc.r)
	if err != nil {
		return nil, err
	}
	body, err := readBody(rc.r, rc.s.cfg.MaxRequestBodyBytes)
	if err != nil {
		return nil, err
	}
	obj, warnings, err := decodeFor(rc.kind, body, mediaTypeOf(rc.r), fv)
	if err != nil {
		return nil, err
	}
	rc.warnings = append(rc.warnings, warnings...)
	return obj, nil
}

func (r *resource) handleGet(rc *reqCtx) error {
	ctx := rc.r.Context()
	if rc.r.URL.Query().Get("resourceVersion") == "0" {
		if obj, ok := r.cache.Get(r.key(rc.ri.Namespace, rc.ri.Name)); ok {
			return rc.respond(http.StatusOK, obj)
		}
	}
	obj, _, err := r.get(ctx, rc.ri.Namespace, rc.ri.Name)
	if err != nil {
		return err
	}
	return rc.respond(http.StatusOK, obj)
}

// selectors parses labelSelector and fieldSelector into one filter. Unknown field labels are a
// BadRequest, as in kube-apiserver.
func (r *resource) selectors(rc *reqCtx) (func(runtime.Object) bool, bool, error) {
	q := rc.r.URL.Query()
	ls, err := labels.Parse(q.Get("labelSelector"))
	if err != nil {
		return nil, false, badRequest("unable to parse requirement: %v", err)
	}
	fs, err := fields.ParseSelector(q.Get("fieldSelector"))
	if err != nil {
		return nil, false, badRequest("invalid field selector: %v", err)
	}
	for _, req := range fs.Requirements() {
		if !api.ValidFieldLabel(r.kind, req.Field) {
			return nil, false, badRequest("field label not supported: %s", req.Field)
		}
	}
	if ls.Empty() && fs.Empty() {
		return nil, false, nil
	}
	k := r.kind
	return func(obj runtime.Object) bool {
		if !ls.Empty() && !ls.Matches(labels.Set(accessor(obj).GetLabels())) {
			return false
		}
		return fs.Empty() || fs.Matches(api.FieldSet(k, obj))
	}, true, nil
}

func (r *resource) handleList(rc *reqCtx) error {
	ctx := rc.r.Context()
	q := rc.r.URL.Query()
	filter, filtered, err := r.selectors(rc)
	if err != nil {
		return err
	}
	rvStr, match := q.Get("resourceVersion"), q.Get("resourceVersionMatch")
	var limit int64
	if l := q.Get("limit"); l != "" {
		if limit, err = strconv.ParseInt(l, 10, 64); err != nil || limit < 0 {
			return badRequest("limit: invalid value %q", l)
		}
	}
	cont := q.Get("continue")
	if cont != "" && rvStr != "" && rvStr != "0" {
		return badRequest("specifying resource version is not allowed when using continue")
	}
	if match != "" && match != "Exact" && match != "NotOlderThan" {
		return badRequest("resourceVersionMatch: unsupported value %q", match)
	}

	var items []runtime.Object
	var rev int64
	var next string
	var remaining *int64
	cached := false
	if cont == "" && rvStr == "" {
		// A consistent list is served from the watch cache once the cache has caught up with
		// etcd's current revision, as kube-apiserver's ConsistentListFromCache does; a list
		// longer than its limit goes to etcd, whose continue tokens page it.
		items, rev, cached = r.consistentFromCache(ctx, rc.ri.Namespace, filter, limit)
	}
	switch {
	case cached:
	case cont == "" && rvStr != "" && match != "Exact" && (limit == 0 || rvStr == "0"):
		// Served from the watch cache: "0" is any revision, N is at least N.
		if rvStr != "0" {
			want, err := strconv.ParseInt(rvStr, 10, 64)
			if err != nil {
				return badRequest("resourceVersion: invalid value %q", rvStr)
			}
			if err := r.cache.WaitFresh(ctx, want); err != nil {
				return apierrors.NewTimeoutError(err.Error(), 1)
			}
		}
		items, rev = r.cache.List(r.nsPrefix(rc.ri.Namespace), filter)
	default:
		var at int64
		if rvStr != "" && rvStr != "0" {
			if at, err = strconv.ParseInt(rvStr, 10, 64); err != nil {
				return badRequest("resourceVersion: invalid value %q", rvStr)
			}
		}
		items, rev, next, remaining, err = r.listStore(ctx, rc.ri.Namespace, at, limit, cont, filter)
		if err != nil {
			if errors.Is(err, store.ErrCompacted) {
				return apierrors.NewResourceExpired("The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results.")
			}
			return err
		}
		if filtered {
			remaining = nil
		}
	}
	return rc.respondList(items, rev, next, remaining)
}

// consistentFromCache lists from the watch cache if it can be made current with etcd within a
// short wait and the result fits in limit; ok=false sends the caller to etcd.
func (r *resource) consistentFromCache(ctx context.Context, ns string, filter func(runtime.Object) bool, limit int64) ([]runtime.Object, int64, bool) {
	now, err := r.s.store.Revision(ctx)
	if err != nil {
		return nil, 0, false
	}
	wctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if err := r.cache.WaitFresh(wctx, now); err != nil {
		return nil, 0, false
	}
	items, rev := r.cache.List(r.nsPrefix(ns), filter)
	if limit > 0 && int64(len(items)) > limit {
		return nil, 0, false
	}
	return items, rev, true
}

// listStore reads a consistent page from etcd. With a filter it keeps reading until the page
// holds limit matches or the prefix ends, like kube-apiserver.
func (r *resource) listStore(ctx context.Context, ns string, at, limit int64, cont string, filter func(runtime.Object) bool) (
	items []runtime.Object, rev int64, next string, remaining *int64, err error) {
	opts := store.ListOptions{Revision: at, Continue: cont}
	if limit > 0 {
		opts.Limit = limit
	}
	for {
		res, err := r.s.store.List(ctx, r.nsPrefix(ns), opts)
		if err != nil {
			if !errors.Is(err, store.ErrCompacted) && !errors.Is(err, store.ErrFuture) && cont != "" {
				return nil, 0, "", nil, badRequest("%v", err)
			}
			return nil, 0, "", nil, err
		}
		rev = res.Revision
		for _, kv := range res.Items {
			obj, err := r.decodeStored(kv.Key, kv.Value, kv.ModRevision)
			if err != nil {
				r.s.log.Error("skipping undecodable object", "key", kv.Key, "err", err)
				continue
			}
			if filter == nil || filter(obj) {
				items = append(items, obj)
			}
		}
		next = res.Continue
		if next == "" || limit == 0 || int64(len(items)) >= limit {
			if next != "" && res.RemainingCount > 0 {
				rc := res.RemainingCount
				remaining = &rc
			}
			return items, rev, next, remaining, nil
		}
		opts = store.ListOptions{Continue: next, Limit: limit - int64(len(items))}
	}
}

func (rc *reqCtx) respondList(items []runtime.Object, rev int64, next string, remaining *int64) error {
	out, ok := negotiate(rc.r)
	if !ok {
		return notAcceptable()
	}
	rv := strconv.FormatInt(rev, 10)
	switch out {
	case outTable:
		t := rc.res.table(items, includeObject(rc.r, "Metadata"))
		t.ResourceVersion, t.Continue, t.RemainingItemCount = rv, next, remaining
		b, err := encodeJSON(t, tableGVK)
		if err != nil {
			return err
		}
		writeJSON(rc.w, http.StatusOK, b)
		return nil
	case outMetadata:
		l := &metav1.PartialObjectMetadataList{}
		l.ResourceVersion, l.Continue, l.RemainingItemCount = rv, next, remaining
		for _, it := range items {
			l.Items = append(l.Items, *partialMeta(it, rc.kind.GVK))
		}
		b, err := encodeJSON(l, partialListGVK)
		if err != nil {
			return err
		}
		writeJSON(rc.w, http.StatusOK, b)
		return nil
	}
	list := rc.kind.NewList()
	if err := meta.SetList(list, items); err != nil {
		return err
	}
	lm, err := meta.ListAccessor(list)
	if err != nil {
		return err
	}
	lm.SetResourceVersion(rv)
	lm.SetContinue(next)
	lm.SetRemainingItemCount(remaining)
	listGVK := rc.kind.ListGVK()
	if out == outProtobuf && rc.res.protobuf {
		return writeProtobuf(rc.w, http.StatusOK, list, listGVK)
	}
	b, err := encodeJSON(list, listGVK)
	if err != nil {
		return err
	}
	writeJSON(rc.w, http.StatusOK, b)
	return nil
}

func (r *resource) handleCreate(rc *reqCtx) error {
	opts, err := rc.writeOpts()
	if err != nil {
		return err
	}
	obj, err := rc.decodeRequest()
	if err != nil {
		return err
	}
	out, err := r.create(rc.r.Context(), obj, rc.ri.Namespace, opts)
	if err != nil {
		return err
	}
	return rc.respond(http.StatusCreated, out)
}

func (r *resource) handleUpdate(rc *reqCtx) error {
	opts, err := rc.writeOpts()
	if err != nil {
		return err
	}
	obj, err := rc.decodeRequest()
	if err != nil {
		return err
	}
	if m := accessor(obj); m.GetName() != rc.ri.Name {
		return badRequest("the name of the object (%s) does not match the name on the URL (%s)", m.GetName(), rc.ri.Name)
	}
	var createIfMissing func() (runtime.Object, error)
	if r.kind.AllowCreateOnUpdate {
		createIfMissing = func() (runtime.Object, error) { return obj.DeepCopyObject(), nil }
	}
	out, created, err := r.update(rc.r.Context(), rc.ri.Namespace, rc.ri.Name, func(runtime.Object) (runtime.Object, error) {
		return obj.DeepCopyObject(), nil
	}, opts, createIfMissing)
	return rc.respondWrite(out, created, err)
}

func (r *resource) handlePatch(rc *reqCtx) error {
	opts, fv, body, err := rc.writeInput()
	if err != nil {
		return err
	}
	pt := mediaTypeOf(rc.r)
	switch pt {
	case mediaJSONPatch, mediaMergePatch, mediaApplyPatch:
	case mediaSMPatch:
		if r.kind.Unstructured {
			return unsupportedPatch(r.kind)
		}
	default:
		return unsupportedPatch(r.kind)
	}
	var createIfMissing func() (runtime.Object, error)
	if pt == mediaApplyPatch {
		if opts.fieldManager == "" {
			return badRequest("PATCH with apply requires the fieldManager query parameter")
		}
		createIfMissing = func() (runtime.Object, error) {
			obj, w, err := decodeFor(r.kind, body, mediaApplyPatch, fv)
			if err != nil {
				return nil, err
			}
			rc.warnings = append(rc.warnings, w...)
			if m := accessor(obj); m.GetName() != rc.ri.Name {
				return nil, badRequest("the name of the object (%s) does not match the name on the URL (%s)", m.GetName(), rc.ri.Name)
			}
			return obj, nil
		}
	}
	out, created, err := r.update(rc.r.Context(), rc.ri.Namespace, rc.ri.Name, func(cur runtime.Object) (runtime.Object, error) {
		next, warnings, err := r.applyPatch(cur, pt, body, fv)
		rc.warnings = append(rc.warnings, warnings...)
		return next, err
	}, opts, createIfMissing)
	return rc.respondWrite(out, created, err)
}

// deleteOptions merges a DeleteOptions body (JSON or protobuf) with the query parameters.
func (rc *reqCtx) deleteOptions() (*metav1.DeleteOptions, error) {
	opts := &metav1.DeleteOptions{}
	body, err := readBody(rc.r, rc.s.cfg.MaxRequestBodyBytes)
	if err != nil {
		return nil, err
	}
	if len(body) > 0 {
		gvk := metav1.SchemeGroupVersion.WithKind("DeleteOptions")
		media := mediaTypeOf(rc.r)
		dec := runtime.Decoder(plainJSON)
		if media == mediaProtobuf {
			dec = protoSerializer
		}
		if _, _, err := dec.Decode(body, &gvk, opts); err != nil {
			return nil, badRequest("invalid DeleteOptions: %v", err)
		}
	}
	q := rc.r.URL.Query()
	if g := q.Get("gracePeriodSeconds"); g != "" {
		v, err := strconv.ParseInt(g, 10, 64)
		if err != nil {
			return nil, badRequest("gracePeriodSeconds: invalid value %q", g)
		}
		opts.GracePeriodSeconds = &v
	}
	if p := q.Get("propagationPolicy"); p != "" {
		pp := metav1.DeletionPropagation(p)
		opts.PropagationPolicy = &pp
	}
	if o := q.Get("orphanDependents"); o != "" {
		b := isTrue(o)
		opts.OrphanDependents = &b
	}
	if opts.PropagationPolicy != nil {
		switch *opts.PropagationPolicy {
		case metav1.DeletePropagationForeground, metav1.DeletePropagationBackground, metav1.DeletePropagationOrphan:
		default:
			return nil, apierrors.NewInvalid(metav1.SchemeGroupVersion.WithKind("DeleteOptions").GroupKind(), "", nil)
		}
		if opts.OrphanDependents != nil {
			return nil, badRequest("orphanDependents and propagationPolicy cannot both be set")
		}
	}
	if q.Get("dryRun") == "All" {
		opts.DryRun = []string{"All"}
	}
	return opts, nil
}

func (r *resource) handleDelete(rc *reqCtx) error {
	opts, err := rc.deleteOptions()
	if err != nil {
		return err
	}
	obj, deleted, err := r.delete(rc.r.Context(), rc.ri.Namespace, rc.ri.Name, opts, rc.user)
	if err != nil {
		return err
	}
	if deleted {
		return rc.respond(http.StatusOK, obj)
	}
	return rc.respond(http.StatusAccepted, obj)
}

func (r *resource) handleDeleteCollection(rc *reqCtx) error {
	opts, err := rc.deleteOptions()
	if err != nil {
		return err
	}
	filter, _, err := r.selectors(rc)
	if err != nil {
		return err
	}
	ctx := rc.r.Context()
	items, rev, _, _, err := r.listStore(ctx, rc.ri.Namespace, 0, 0, "", filter)
	if err != nil {
		return err
	}
	var done []runtime.Object
	for _, it := range items {
		m := accessor(it)
		obj, _, err := r.delete(ctx, m.GetNamespace(), m.GetName(), opts, rc.user)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return err
		}
		done = append(done, obj)
	}
	return rc.respondList(done, rev, "", nil)
}

// delete runs a delete with its options: preconditions, propagation finalizers, graceful
// deletion. It reports whether the object is gone or only marked for deletion.
func (r *resource) delete(ctx context.Context, ns, name string, opts *metav1.DeleteOptions, user *UserInfo) (runtime.Object, bool, error) {
	dryRun := len(opts.DryRun) > 0
	for attempt := 0; ; attempt++ {
		cur, rev, err := r.get(ctx, ns, name)
		if err != nil {
			return nil, false, err
		}
		cm := accessor(cur)
		if p := opts.Preconditions; p != nil {
			if p.UID != nil && *p.UID != cm.GetUID() {
				return nil, false, apierrors.NewConflict(r.gr, name, fmt.Errorf("Precondition failed: UID in precondition: %v, UID in object meta: %v", *p.UID, cm.GetUID()))
			}
			if p.ResourceVersion != nil && *p.ResourceVersion != cm.GetResourceVersion() {
				return nil, false, apierrors.NewConflict(r.gr, name, fmt.Errorf("Precondition failed: ResourceVersion in precondition: %v, ResourceVersion in object meta: %v", *p.ResourceVersion, cm.GetResourceVersion()))
			}
		}
		areq := &AdmissionRequest{Operation: OpDelete, Kind: r.kind.GVK, Resource: r.kind.GroupVersion().WithResource(r.kind.Resource),
			Namespace: ns, Name: name, OldObject: cur, User: user, DryRun: dryRun}
		if err := r.s.admit.Validate(ctx, areq); err != nil {
			return nil, false, err
		}
		obj := cur.DeepCopyObject()
		m := accessor(obj)
		policy := metav1.DeletePropagationBackground
		if opts.PropagationPolicy != nil {
			policy = *opts.PropagationPolicy
		} else if opts.OrphanDependents != nil && *opts.OrphanDependents {
			policy = metav1.DeletePropagationOrphan
		}
		switch policy {
		case metav1.DeletePropagationForeground:
			m.SetFinalizers(addString(m.GetFinalizers(), metav1.FinalizerDeleteDependents))
		case metav1.DeletePropagationOrphan:
			m.SetFinalizers(addString(m.GetFinalizers(), metav1.FinalizerOrphanDependents))
		}
		marked := false
		if r.hooks.beginDelete != nil {
			if marked, err = r.hooks.beginDelete(ctx, obj, opts); err != nil {
				return nil, false, err
			}
		}
		if len(m.GetFinalizers()) == 0 && !marked {
			out, err := r.finalDelete(ctx, obj, rev, dryRun)
			if errors.Is(err, store.ErrConflict) && attempt < 20 {
				continue
			}
			if errors.Is(err, store.ErrNotFound) {
				return nil, false, apierrors.NewNotFound(r.gr, name)
			}
			return out, err == nil, err
		}
		// Marked for deletion: finalizers (or the node agent, for a pod) finish the job.
		if m.GetDeletionTimestamp() == nil {
			now := metav1.Now().Rfc3339Copy()
			m.SetDeletionTimestamp(&now)
			zero := int64(0)
			m.SetDeletionGracePeriodSeconds(&zero)
		}
		if dryRun {
			return obj, false, nil
		}
		data, err := r.encodeStored(obj)
		if err != nil {
			return nil, false, err
		}
		newRev, err := r.s.store.UpdateTTL(ctx, r.key(ns, name), data, rev, r.kind.TTL)
		if errors.Is(err, store.ErrConflict) && attempt < 20 {
			continue
		}
		if err != nil {
			return nil, false, err
		}
		r.setRV(obj, newRev)
		return obj, false, nil
	}
}

func addString(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}
