package apiserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/tugboat-io/tug/core/api"
	"github.com/tugboat-io/tug/core/store"
)

// maxSideRetries bounds how often one write is admitted again because an object admission
// charged changed under it: each retry means another writer charged first, so a burst of n
// concurrent creates against one quota needs up to n.
const maxSideRetries = 64

// statusSides turns admission's status updates into guarded side ops: each object is read
// from the store, must still be at the revision admission saw, and gets the new status and
// nothing else. An object that moved on returns a *store.SideChangedError, as the write
// itself would.
func (s *Server) statusSides(ctx context.Context, ups []StatusUpdate) ([]store.SideOp, error) {
	var sides []store.SideOp
	for _, u := range ups {
		r, err := s.resourceOfKind(ctx, u.APIVersion, u.Kind)
		if err != nil {
			return nil, err
		}
		rev, err := strconv.ParseInt(u.ResourceVersion, 10, 64)
		if err != nil || rev <= 0 {
			return nil, apierrors.NewInternalError(fmt.Errorf("admission: status update of %s %s/%s: resourceVersion %q is not one", u.Kind, u.Namespace, u.Name, u.ResourceVersion))
		}
		key := r.key(u.Namespace, u.Name)
		cur, err := s.objectAt(ctx, r, key, rev)
		if err != nil {
			return nil, err
		}
		next, err := withStatus(r.kind, cur, u.Status)
		if err != nil {
			return nil, apierrors.NewInternalError(fmt.Errorf("admission: status update of %s %s/%s: %w", u.Kind, u.Namespace, u.Name, err))
		}
		data, err := r.encodeStored(next)
		if err != nil {
			return nil, apierrors.NewInternalError(err)
		}
		sides = append(sides, store.Guarded(key, data, rev))
	}
	return sides, nil
}

// objectAt returns the object at key as it was at revision rev: the watch cache's copy when
// that is the one (the policy read it there, so it usually is), else the store's; one that
// moved on is a *store.SideChangedError. The guarded write checks rev again, so a cache
// copy that is already stale costs a retry, never a wrong write.
func (s *Server) objectAt(ctx context.Context, r *resource, key string, rev int64) (runtime.Object, error) {
	if obj, ok := r.cache.Get(key); ok && accessor(obj).GetResourceVersion() == strconv.FormatInt(rev, 10) {
		return obj, nil
	}
	kv, err := s.store.Get(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, &store.SideChangedError{Key: key, Revision: rev}
	}
	if err != nil {
		return nil, err
	}
	if kv.ModRevision != rev {
		return nil, &store.SideChangedError{Key: key, Revision: kv.ModRevision}
	}
	obj, err := r.decodeStored(key, kv.Value, kv.ModRevision)
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	return obj, nil
}

// withStatus returns cur with its status replaced by status (JSON).
func withStatus(k *api.Kind, cur runtime.Object, status json.RawMessage) (runtime.Object, error) {
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(cur)
	if err != nil {
		return nil, err
	}
	var st any
	if err := json.Unmarshal(status, &st); err != nil {
		return nil, fmt.Errorf("status: %w", err)
	}
	u["status"] = st
	next := k.New()
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u, next); err != nil {
		return nil, fmt.Errorf("status: %w", err)
	}
	next.GetObjectKind().SetGroupVersionKind(k.GVK)
	return next, nil
}

func (s *Server) resourceOfKind(ctx context.Context, apiVersion, kind string) (*resource, error) {
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("apiVersion %q: %v", apiVersion, err))
	}
	k, ok := s.registry.LookupKind(gv.WithKind(kind))
	if !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("no kind %s in %s is served", kind, apiVersion))
	}
	return s.resourceFor(ctx, k)
}

// awaitSide waits until the watch cache of the kind behind a changed side key has caught up
// with the change, so that admitting the request again reads the object's new state.
func (s *Server) awaitSide(ctx context.Context, ups []StatusUpdate, changed *store.SideChangedError) error {
	for _, u := range ups {
		r, err := s.resourceOfKind(ctx, u.APIVersion, u.Kind)
		if err != nil || r.key(u.Namespace, u.Name) != changed.Key {
			continue
		}
		return r.cache.WaitFresh(ctx, changed.Revision)
	}
	return nil
}

// sideRetry decides what a write does about err when admission charged other objects: a
// *store.SideChangedError means another writer charged first, so (within maxSideRetries)
// the caller waits for the cache to see the new state and admits the request again. Any
// other err, nil included, is not its business: it returns false, nil.
func (s *Server) sideRetry(ctx context.Context, areq *AdmissionRequest, err error, attempt int, gr schema.GroupResource, name string) (bool, error) {
	var changed *store.SideChangedError
	if areq == nil || !errors.As(err, &changed) {
		return false, nil
	}
	if attempt >= maxSideRetries {
		return false, apierrors.NewConflict(gr, name, fmt.Errorf("what admission charged for the request (%s) kept changing; try again", changed.Key))
	}
	if werr := s.awaitSide(ctx, areq.StatusUpdates, changed); werr != nil {
		return false, apierrors.NewTimeoutError(werr.Error(), 1)
	}
	return true, nil
}

type warningsKey struct{}

// AddWarning sends the client of the request ctx serves a warning (a Warning header), as an
// admission policy's response may ask. Outside a request it does nothing.
func AddWarning(ctx context.Context, msg string) {
	if rc, ok := ctx.Value(warningsKey{}).(*reqCtx); ok {
		rc.warnings = append(rc.warnings, msg)
	}
}

// AdmissionReader reads what admission policies declare they read, from the watch caches.
type AdmissionReader struct{ s *Server }

// AdmissionReader returns the server's reader for admission.
func (s *Server) AdmissionReader() *AdmissionReader { return &AdmissionReader{s: s} }

// Namespace returns the namespace, or nil when there is none. A namespace the cache does not
// hold yet is looked up in the store: a create right after its namespace's must not be
// refused because the cache is a moment behind.
func (a *AdmissionReader) Namespace(ctx context.Context, name string) (*corev1.Namespace, error) {
	obj, err := a.s.ObjectReader().Get(ctx, corev1.SchemeGroupVersion.WithKind("Namespace"), "", name)
	if err != nil || obj == nil {
		return nil, err
	}
	ns, _ := obj.(*corev1.Namespace)
	return ns, nil
}

// List returns the objects of the kind in namespace (every one for a cluster-scoped kind),
// as JSON with their apiVersion, kind and resourceVersion. The bytes are shared with the
// cache and later callers: read them, never change them.
func (a *AdmissionReader) List(ctx context.Context, apiVersion, kind, namespace string) ([]json.RawMessage, error) {
	r, err := a.s.resourceOfKind(ctx, apiVersion, kind)
	if err != nil {
		return nil, err
	}
	gvk := r.kind.GVK
	encoded, err := r.cache.ListEncoded(r.nsPrefix(namespace), func(o runtime.Object) ([]byte, error) { return encodeJSON(o, gvk) })
	if err != nil {
		return nil, err
	}
	out := make([]json.RawMessage, len(encoded))
	for i, b := range encoded {
		out[i] = b
	}
	return out, nil
}
