package apiserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/tugboat-io/tug/core/api"
	"github.com/tugboat-io/tug/core/store"
)

// resource serves one kind: its keys, encoding, watch cache and the write paths every verb
// shares.
type resource struct {
	s      *Server
	kind   *api.Kind
	prefix string // "/core/pods/": the store prefix of every object of the kind
	cache  *store.Cache
	gr     schema.GroupResource
	hooks  kindHooks
	// protobuf says the kind's objects have a protobuf encoding (decided once, not per
	// request).
	protobuf bool
	// stop ends the watch cache, for kinds that stop being served (custom resources).
	stop context.CancelFunc
}

func newResource(s *Server, k *api.Kind) *resource {
	group := k.GVK.Group
	if group == "" {
		group = "core"
	}
	r := &resource{s: s, kind: k, prefix: "/" + group + "/" + k.Resource + "/", gr: k.GroupResource()}
	r.cache = store.NewCache(s.store, r.prefix, s.cfg.WatchCacheSize, r.decodeStored, s.log)
	r.hooks = hooksFor(s, k)
	r.protobuf = hasProtobuf(k)
	return r
}

// key is /<group>/<resource>/<namespace>/<name>, or without namespace for cluster-scoped kinds.
func (r *resource) key(ns, name string) string {
	if r.kind.Namespaced {
		return r.prefix + ns + "/" + name
	}
	return r.prefix + name
}

// nsPrefix narrows a list or watch to one namespace ("" for all).
func (r *resource) nsPrefix(ns string) string {
	if r.kind.Namespaced && ns != "" {
		return r.prefix + ns + "/"
	}
	return r.prefix
}

// decodeStored reads a stored object; its resourceVersion is the etcd revision, never stored.
func (r *resource) decodeStored(_ string, value []byte, rev int64) (runtime.Object, error) {
	obj := r.kind.New()
	if _, _, err := plainJSON.Decode(value, &r.kind.GVK, obj); err != nil {
		return nil, fmt.Errorf("decoding stored %s: %w", r.kind.GVK.Kind, err)
	}
	obj.GetObjectKind().SetGroupVersionKind(r.kind.GVK)
	accessor(obj).SetResourceVersion(strconv.FormatInt(rev, 10))
	return obj, nil
}

// encodeStored writes obj for the store without its resourceVersion. obj is not modified.
func (r *resource) encodeStored(obj runtime.Object) ([]byte, error) {
	m := accessor(obj)
	rv := m.GetResourceVersion()
	m.SetResourceVersion("")
	b, err := encodeJSON(obj, r.kind.GVK)
	m.SetResourceVersion(rv)
	return b, err
}

func (r *resource) setRV(obj runtime.Object, rev int64) {
	accessor(obj).SetResourceVersion(strconv.FormatInt(rev, 10))
}

// get reads one object consistently from the store.
func (r *resource) get(ctx context.Context, ns, name string) (runtime.Object, int64, error) {
	obj, kv, err := r.getKV(ctx, ns, name)
	return obj, kv.ModRevision, err
}

// getKV is get that also returns the stored bytes.
func (r *resource) getKV(ctx context.Context, ns, name string) (runtime.Object, store.KV, error) {
	kv, err := r.s.store.Get(ctx, r.key(ns, name))
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, store.KV{}, apierrors.NewNotFound(r.gr, name)
		}
		return nil, store.KV{}, err
	}
	obj, err := r.decodeStored(kv.Key, kv.Value, kv.ModRevision)
	return obj, kv, err
}

// writeOptions are the options every write takes.
type writeOptions struct {
	dryRun      bool
	user        *UserInfo
	subresource string
	// fieldManager is recorded for apply; unused otherwise.
	fieldManager string
}

// create stores a new object after defaulting, admission and validation. ns is the namespace
// from the URL.
func (r *resource) create(ctx context.Context, obj runtime.Object, ns string, opts writeOptions) (runtime.Object, error) {
	m := accessor(obj)
	if r.kind.Namespaced {
		if m.GetNamespace() == "" {
			m.SetNamespace(ns)
		} else if ns != "" && m.GetNamespace() != ns {
			return nil, badRequest("the namespace of the provided object does not match the namespace sent on the request")
		}
		if err := r.s.checkNamespaceOpen(ctx, m.GetNamespace()); err != nil {
			return nil, err
		}
	} else {
		m.SetNamespace("")
	}
	generated := m.GetName() == "" && m.GetGenerateName() != ""
	if m.GetName() == "" && !generated {
		return nil, apierrors.NewInvalid(r.kind.GVK.GroupKind(), "", field.ErrorList{
			field.Required(field.NewPath("metadata", "name"), "name or generateName is required")})
	}
	m.SetUID(types.UID(uuid.NewUUID()))
	m.SetCreationTimestamp(metav1.NewTime(time.Now().UTC().Truncate(time.Second)))
	m.SetResourceVersion("")
	m.SetDeletionTimestamp(nil)
	m.SetDeletionGracePeriodSeconds(nil)
	m.SetGeneration(0)
	if r.kind.BumpsGeneration {
		m.SetGeneration(1)
	}
	if r.kind.PrepareForCreate != nil {
		r.kind.PrepareForCreate(obj)
	}
	if r.kind.SetRequester != nil {
		r.kind.SetRequester(obj, opts.user)
	}
	if r.kind.Default != nil {
		r.kind.Default(obj)
	}

	// Each attempt starts from the object as requested, so a retried allocation (a generated
	// name, a ClusterIP) picks afresh while anything the client chose stays as chosen.
	base := obj
	for attempt := 0; ; attempt++ {
		obj = base.DeepCopyObject()
		m = accessor(obj)
		if generated {
			m.SetName(m.GetGenerateName() + utilrand.String(5))
		}
		areq := &AdmissionRequest{Operation: OpCreate, Kind: r.kind.GVK, Resource: r.kind.GroupVersion().WithResource(r.kind.Resource),
			Namespace: m.GetNamespace(), Name: m.GetName(), Object: obj, User: opts.user, DryRun: opts.dryRun}
		if err := r.s.admit.Mutate(ctx, areq); err != nil {
			return nil, err
		}
		if r.kind.Validate != nil {
			if errs := r.kind.Validate(obj); len(errs) > 0 {
				return nil, apierrors.NewInvalid(r.kind.GVK.GroupKind(), m.GetName(), errs)
			}
		}
		if err := r.s.admit.Validate(ctx, areq); err != nil {
			return nil, err
		}
		var sides []store.SideOp
		if r.hooks.beforeCreate != nil {
			var err error
			if sides, err = r.hooks.beforeCreate(ctx, obj, opts.dryRun); err != nil {
				return nil, err
			}
		}
		if opts.dryRun {
			return obj, nil
		}
		charges, err := r.s.statusSides(ctx, areq.StatusUpdates)
		if retry, serr := r.s.sideRetry(ctx, areq, err, attempt, r.gr, m.GetName()); retry {
			continue
		} else if serr != nil {
			return nil, serr
		}
		if err != nil {
			return nil, err
		}
		sides = append(sides, charges...)
		data, err := r.encodeStored(obj)
		if err != nil {
			return nil, apierrors.NewInternalError(err)
		}
		rev, err := r.s.store.CreateTTL(ctx, r.key(m.GetNamespace(), m.GetName()), data, r.kind.TTL, sides...)
		var claimed *store.ClaimedError
		if retry, serr := r.s.sideRetry(ctx, areq, err, attempt, r.gr, m.GetName()); retry {
			continue
		} else if serr != nil {
			return nil, serr
		}
		switch {
		case err == nil:
			r.setRV(obj, rev)
			return obj, nil
		case errors.Is(err, store.ErrExists) && generated && attempt < 8:
			continue
		case errors.As(err, &claimed) && r.hooks.claimConflict != nil:
			if cerr := r.hooks.claimConflict(base, claimed.Key); cerr != nil {
				return nil, cerr
			}
			if attempt < 32 {
				continue
			}
			return nil, apierrors.NewInternalError(err)
		case errors.Is(err, store.ErrExists):
			return nil, apierrors.NewAlreadyExists(r.gr, m.GetName())
		default:
			return nil, err
		}
	}
}

// updateFunc turns the current object into the desired one. It may return a precondition
// error (Conflict) that ends the update without retrying.
type updateFunc func(cur runtime.Object) (runtime.Object, error)

// update is kube-apiserver's GuaranteedUpdate: read, transform, prepare, write guarded by the
// read revision; on a conflict the transform runs again on the fresh object, unless the client
// pinned a resourceVersion, in which case the conflict is theirs to see. createIfMissing handles
// PUT of a missing object for kinds that allow it, and apply.
func (r *resource) update(ctx context.Context, ns, name string, fn updateFunc, opts writeOptions,
	createIfMissing func() (runtime.Object, error)) (runtime.Object, bool, error) {
	// The first attempt starts from the watch cache's copy when it has one, as
	// kube-apiserver's GuaranteedUpdate does: most updates (a node's status writes, a
	// scheduler's bindings) are of objects the cache holds current, and the write is guarded
	// by the revision, so a stale copy costs a retry from etcd, never a lost update.
	fromCache := !opts.dryRun // a dry run writes nothing that would catch a stale copy
	for attempt := 0; ; attempt++ {
		var cur runtime.Object
		var kv store.KV
		var err error
		cached := false
		if fromCache {
			fromCache = false
			if obj, rev, ok := r.cache.GetRevision(r.key(ns, name)); ok {
				// A copy: the cache's objects are shared, and the update path sets fields
				// on the current object (its kind and resourceVersion while encoding).
				cur, kv, cached = obj.DeepCopyObject(), store.KV{Key: r.key(ns, name), ModRevision: rev}, true
			}
		}
		if !cached {
			cur, kv, err = r.getKV(ctx, ns, name)
		}
		rev := kv.ModRevision
		if apierrors.IsNotFound(err) && createIfMissing != nil {
			obj, err := createIfMissing()
			if err != nil {
				return nil, false, err
			}
			created, err := r.create(ctx, obj, ns, opts)
			if apierrors.IsAlreadyExists(err) && attempt < 5 {
				continue
			}
			return created, true, err
		}
		if err != nil {
			return nil, false, err
		}
		// stale reports, for a decision made on the cache's copy (a refusal, a conflict, a
		// write that changes nothing), whether etcd has moved past that copy, so that the
		// update must run again from etcd; when it has not, the decision stands as made,
		// without running the transform and admission a second time. stored, when not nil,
		// must also be what etcd holds, byte for byte (the no-op rule below).
		stale := func(stored []byte) bool {
			got, err := r.s.store.Get(ctx, kv.Key)
			return err != nil || got.ModRevision != rev || got.Stale || (stored != nil && !bytes.Equal(stored, got.Value))
		}
		next, err := fn(cur.DeepCopyObject())
		if err != nil {
			if cached && stale(nil) {
				continue // judged against a copy etcd has moved past
			}
			return nil, false, err
		}
		pinned := accessor(next).GetResourceVersion()
		if pinned != "" && pinned != strconv.FormatInt(rev, 10) {
			if cached && stale(nil) {
				continue // the cache is behind the client: etcd decides
			}
			return nil, false, apierrors.NewConflict(r.gr, name, errors.New(conflictMessage))
		}
		out, err := r.prepareUpdate(ctx, next, cur, opts)
		if retry, serr := r.s.sideRetry(ctx, out.areq, err, attempt, r.gr, name); retry {
			continue
		} else if serr != nil {
			return nil, false, serr
		}
		if err != nil {
			if cached && stale(nil) {
				continue // refused (validation, admission) on a copy etcd has moved past
			}
			return nil, false, err
		}
		if out.deleteNow {
			obj, err := r.finalDelete(ctx, out.obj, rev, opts.dryRun)
			if errors.Is(err, store.ErrConflict) && pinned == "" && attempt < 20 {
				continue
			}
			return obj, false, err
		}
		data, err := r.encodeStored(out.obj)
		if err != nil {
			return nil, false, apierrors.NewInternalError(err)
		}
		if cached {
			// The no-op rule below compares with the stored bytes, which the cache does not
			// keep: a write that would change the cached object's encoding not at all is
			// checked against etcd's value (and whether it must be re-encrypted) there.
			if stored, err := r.encodeStored(cur); err != nil {
				continue
			} else if bytes.Equal(data, stored) {
				if stale(data) {
					continue
				}
				return cur, false, nil // a no-op keeps the resourceVersion, as below
			}
		}
		// Compared with the stored bytes themselves: what is written is what is there. A
		// value stored under an old encryption key (or unencrypted) is written anyway, so
		// that replacing every object re-encrypts it, as with kube-apiserver.
		if (bytes.Equal(data, kv.Value) && !kv.Stale) || opts.dryRun {
			// A no-op write keeps the resourceVersion, as kube-apiserver does, so repeated
			// applies of the same manifest change nothing.
			if opts.dryRun {
				return out.obj, false, nil
			}
			return cur, false, nil
		}
		newRev, err := r.s.store.UpdateTTL(ctx, r.key(ns, name), data, rev, r.kind.TTL, out.sides...)
		var claimed *store.ClaimedError
		if retry, serr := r.s.sideRetry(ctx, out.areq, err, attempt, r.gr, name); retry {
			continue
		} else if serr != nil {
			return nil, false, serr
		}
		switch {
		case err == nil:
			r.setRV(out.obj, newRev)
			return out.obj, false, nil
		case errors.Is(err, store.ErrConflict) && pinned == "" && attempt < 20:
			continue
		case errors.Is(err, store.ErrConflict):
			return nil, false, apierrors.NewConflict(r.gr, name, errors.New(conflictMessage))
		case errors.Is(err, store.ErrNotFound):
			if attempt < 5 {
				continue
			}
			return nil, false, apierrors.NewNotFound(r.gr, name)
		case errors.As(err, &claimed) && r.hooks.claimConflict != nil:
			if cerr := r.hooks.claimConflict(out.requested, claimed.Key); cerr != nil {
				return nil, false, cerr
			}
			if attempt < 32 {
				continue
			}
			return nil, false, apierrors.NewInternalError(err)
		default:
			return nil, false, err
		}
	}
}

type prepared struct {
	obj       runtime.Object
	requested runtime.Object // as it was before the allocation hook
	sides     []store.SideOp
	deleteNow bool
	// areq is the admission request, whose status updates a retry waits on.
	areq *AdmissionRequest
}

// prepareUpdate applies the server's rules for an update of cur to next: identity and
// lifecycle metadata cannot change, the main resource never changes status (and the status
// subresource changes only status, which its updateFunc has already arranged), the kind's own
// rules for the write path (Kind.Updates) apply after defaulting, generation follows the spec,
// then admission and validation run.
func (r *resource) prepareUpdate(ctx context.Context, next, cur runtime.Object, opts writeOptions) (prepared, error) {
	nm, cm := accessor(next), accessor(cur)
	if nm.GetUID() != "" && nm.GetUID() != cm.GetUID() {
		return prepared{}, apierrors.NewConflict(r.gr, cm.GetName(), fmt.Errorf("Precondition failed: UID in precondition: %v, UID in object meta: %v", cm.GetUID(), nm.GetUID()))
	}
	if nm.GetName() != cm.GetName() {
		return prepared{}, badRequest("the name of the object (%s) does not match the name on the URL (%s)", nm.GetName(), cm.GetName())
	}
	if r.kind.Namespaced && nm.GetNamespace() != "" && nm.GetNamespace() != cm.GetNamespace() {
		return prepared{}, badRequest("the namespace of the provided object does not match the namespace sent on the request")
	}
	nm.SetNamespace(cm.GetNamespace())
	nm.SetUID(cm.GetUID())
	nm.SetCreationTimestamp(cm.GetCreationTimestamp())
	nm.SetDeletionTimestamp(cm.GetDeletionTimestamp())
	nm.SetDeletionGracePeriodSeconds(cm.GetDeletionGracePeriodSeconds())
	nm.SetGenerateName(cm.GetGenerateName())
	nm.SetResourceVersion(cm.GetResourceVersion())
	nm.SetGeneration(cm.GetGeneration())
	if r.kind.HasStatus && opts.subresource == "" {
		copyStatus(next, cur)
	}
	if r.kind.Default != nil {
		r.kind.Default(next)
	}
	path := r.kind.Updates[opts.subresource]
	if path.Prepare != nil {
		path.Prepare(next, cur)
	}
	if r.kind.BumpsGeneration && !dataEqual(next, cur, r.kind.HasStatus || !r.kind.Unstructured) {
		nm.SetGeneration(cm.GetGeneration() + 1)
	}
	// A terminating object whose finalizers are all gone is deleted by this update.
	if cm.GetDeletionTimestamp() != nil && len(nm.GetFinalizers()) == 0 && r.hooks.canFinalize(next) {
		return prepared{obj: next, deleteNow: true}, nil
	}
	areq := &AdmissionRequest{Operation: OpUpdate, Kind: r.kind.GVK, Resource: r.kind.GroupVersion().WithResource(r.kind.Resource),
		Subresource: opts.subresource, Namespace: cm.GetNamespace(), Name: cm.GetName(), Object: next, OldObject: cur,
		User: opts.user, DryRun: opts.dryRun}
	if err := r.s.admit.Mutate(ctx, areq); err != nil {
		return prepared{}, err
	}
	validateUpdate := r.kind.ValidateUpdate
	if path.Validate != nil {
		validateUpdate = path.Validate
	}
	if validateUpdate != nil {
		if errs := validateUpdate(next, cur); len(errs) > 0 {
			return prepared{}, apierrors.NewInvalid(r.kind.GVK.GroupKind(), cm.GetName(), errs)
		}
	} else if r.kind.Validate != nil {
		if errs := r.kind.Validate(next); len(errs) > 0 {
			return prepared{}, apierrors.NewInvalid(r.kind.GVK.GroupKind(), cm.GetName(), errs)
		}
	}
	if err := r.s.admit.Validate(ctx, areq); err != nil {
		return prepared{}, err
	}
	var sides []store.SideOp
	requested := next
	if r.hooks.beforeUpdate != nil {
		requested = next.DeepCopyObject()
		var err error
		if sides, err = r.hooks.beforeUpdate(ctx, next, cur, opts.dryRun); err != nil {
			return prepared{}, err
		}
	}
	if !opts.dryRun {
		charges, err := r.s.statusSides(ctx, areq.StatusUpdates)
		if err != nil {
			return prepared{areq: areq}, err
		}
		sides = append(sides, charges...)
	}
	return prepared{obj: next, sides: sides, requested: requested, areq: areq}, nil
}

// finalDelete removes obj (read at rev) from the store, releasing what it holds.
func (r *resource) finalDelete(ctx context.Context, obj runtime.Object, rev int64, dryRun bool) (runtime.Object, error) {
	var sides []store.SideOp
	if r.hooks.onDelete != nil {
		sides = r.hooks.onDelete(obj)
	}
	if dryRun {
		return obj, nil
	}
	m := accessor(obj)
	_, delRev, err := r.s.store.Delete(ctx, r.key(m.GetNamespace(), m.GetName()), rev, sides...)
	if err != nil {
		return nil, err
	}
	r.setRV(obj, delRev)
	return obj, nil
}
