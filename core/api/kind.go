package api

import (
	"fmt"
	"sort"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/tugboat-io/tug/core/auth/user"
)

// Subresource names the API server knows how to serve.
const (
	SubStatus  = "status"
	SubScale   = "scale"
	SubBinding = "binding"
	SubLog     = "log"
	// SubExec runs a command in a pod's container (kubectl exec), through its node agent.
	SubExec     = "exec"
	SubFinalize = "finalize"
	// SubModule carries a WasmPlugin's module bytes (application/wasm), streamed.
	SubModule = "module"
	// SubApproval carries a CertificateSigningRequest's approval: writes change only
	// status.conditions.
	SubApproval = "approval"
	// SubToken issues a ServiceAccount's tokens (TokenRequest); nothing is stored.
	SubToken = "token"
)

// Kind describes one served resource and the strategy applied to it. Only GVK, Resource, New
// and NewList are required; every nil func means "nothing special".
type Kind struct {
	GVK        schema.GroupVersionKind
	Resource   string // plural, lower case: "deployments"
	Singular   string // "deployment"
	ShortNames []string
	Categories []string
	Namespaced bool
	// Subresources served besides the main resource, e.g. SubStatus, SubScale.
	Subresources []string

	New     func() runtime.Object
	NewList func() runtime.Object

	// Default fills defaults the way the Kubernetes API does on create and update.
	Default func(obj runtime.Object)
	// PrepareForCreate clears what a client may not set on create (status, mostly).
	PrepareForCreate func(obj runtime.Object)
	// SetRequester records on create who asked, after PrepareForCreate: a CSR carries its
	// requester in spec so that approvers and signers can trust it. u is nil when nobody
	// authenticated the request.
	SetRequester func(obj runtime.Object, u *user.Info)
	// Validate checks a new object; ValidateUpdate checks an update against the old one
	// (immutable fields). Both return causes naming each field.
	Validate       func(obj runtime.Object) field.ErrorList
	ValidateUpdate func(obj, old runtime.Object) field.ErrorList
	// Updates holds what differs, per write path, from the generic update rules: keyed by
	// subresource, "" for the main resource. Most kinds have none.
	Updates map[string]UpdateStrategy
	// HasStatus means the main resource never changes status and the status subresource
	// changes only status.
	HasStatus bool
	// BumpsGeneration means metadata.generation increments when spec changes.
	BumpsGeneration bool
	// AllowCreateOnUpdate lets PUT create a missing object (endpoints, leases).
	AllowCreateOnUpdate bool
	// TTL makes objects expire that long after their last write (Events: one hour).
	TTL time.Duration

	// Columns and Row produce the Table `kubectl get` prints. Columns with Priority 1 show
	// only under -o wide. Row returns one cell per column, in order.
	Columns []metav1.TableColumnDefinition
	Row     func(obj runtime.Object) []any

	// Fields returns the attributes field selectors match, beyond metadata.name and
	// metadata.namespace, which every kind has.
	Fields func(obj runtime.Object) fields.Set

	// Scale reads and writes replicas for kinds serving the scale subresource.
	Scale *ScaleFuncs

	// ListKind names the list type ("" means Kind+"List"); custom resources may choose it.
	ListKind string
	// Unstructured means objects are *unstructured.Unstructured: custom resources, which have
	// no Go type. They are served in JSON (and YAML) only, as kube-apiserver serves them, and
	// strategic merge patch, which needs a Go type's patch tags, is refused.
	Unstructured bool
	// Prune drops the fields of a decoded request body that the kind's schema does not
	// declare and returns their paths, so the server can warn about them or, under
	// fieldValidation=Strict, refuse the request. Typed kinds drop unknown fields while
	// decoding and leave this nil.
	Prune func(obj runtime.Object) []string
}

// UpdateStrategy is one write path's own update rules, kube's per-subresource strategies: a
// CertificateSigningRequest's spec never changes after create, its approval path changes only
// conditions and its status path everything in status but the approval.
type UpdateStrategy struct {
	// Prepare resets, after defaulting, what the path may not change in obj, given the stored
	// old object.
	Prepare func(obj, old runtime.Object)
	// Validate, when set, replaces ValidateUpdate for the path.
	Validate func(obj, old runtime.Object) field.ErrorList
}

// ScaleFuncs adapts a kind to the autoscaling/v1 Scale subresource.
type ScaleFuncs struct {
	// Get returns spec replicas, status replicas and the label selector string.
	Get func(obj runtime.Object) (spec, status int32, selector string)
	Set func(obj runtime.Object, replicas int32)
}

// ListGVK returns the group/version/kind of the kind's list type.
func (k *Kind) ListGVK() schema.GroupVersionKind {
	gvk := k.GVK
	if k.ListKind != "" {
		gvk.Kind = k.ListKind
	} else {
		gvk.Kind += "List"
	}
	return gvk
}

// GroupVersion returns the kind's group/version.
func (k *Kind) GroupVersion() schema.GroupVersion { return k.GVK.GroupVersion() }

// GroupResource returns the kind's group and plural resource.
func (k *Kind) GroupResource() schema.GroupResource {
	return schema.GroupResource{Group: k.GVK.Group, Resource: k.Resource}
}

// HasSubresource reports whether sub is served for this kind.
func (k *Kind) HasSubresource(sub string) bool {
	for _, s := range k.Subresources {
		if s == sub {
			return true
		}
	}
	return false
}

// Registry is the set of served kinds. It is safe for concurrent use; kinds may be added while
// the server runs (custom resources).
type Registry struct {
	mu       sync.RWMutex
	byGVR    map[schema.GroupVersionResource]*Kind
	byGVK    map[schema.GroupVersionKind]*Kind
	versions map[string][]string // group → versions, preferred first
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{
		byGVR:    map[schema.GroupVersionResource]*Kind{},
		byGVK:    map[schema.GroupVersionKind]*Kind{},
		versions: map[string][]string{},
	}
}

// Add registers kinds. A second kind with the same resource or GVK is an error.
func (r *Registry) Add(kinds ...*Kind) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, k := range kinds {
		gvr := k.GroupVersion().WithResource(k.Resource)
		if _, ok := r.byGVR[gvr]; ok {
			return fmt.Errorf("api: resource %s registered twice", gvr)
		}
		if _, ok := r.byGVK[k.GVK]; ok {
			return fmt.Errorf("api: kind %s registered twice", k.GVK)
		}
		if k.New == nil || k.NewList == nil || k.Resource == "" {
			return fmt.Errorf("api: kind %s needs Resource, New and NewList", k.GVK)
		}
		r.byGVR[gvr] = k
		r.byGVK[k.GVK] = k
		found := false
		for _, v := range r.versions[k.GVK.Group] {
			if v == k.GVK.Version {
				found = true
			}
		}
		if !found {
			r.versions[k.GVK.Group] = append(r.versions[k.GVK.Group], k.GVK.Version)
		}
	}
	return nil
}

// Remove unregisters kinds (custom resources whose definition went away or changed). A group
// version left without kinds is no longer listed. Kinds not registered are ignored.
func (r *Registry) Remove(kinds ...*Kind) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, k := range kinds {
		gvr := k.GroupVersion().WithResource(k.Resource)
		if r.byGVR[gvr] != k {
			continue
		}
		delete(r.byGVR, gvr)
		delete(r.byGVK, k.GVK)
		left := false
		for other := range r.byGVR {
			if other.Group == gvr.Group && other.Version == gvr.Version {
				left = true
				break
			}
		}
		if left {
			continue
		}
		vs := r.versions[k.GVK.Group][:0:0]
		for _, v := range r.versions[k.GVK.Group] {
			if v != k.GVK.Version {
				vs = append(vs, v)
			}
		}
		if len(vs) == 0 {
			delete(r.versions, k.GVK.Group)
		} else {
			r.versions[k.GVK.Group] = vs
		}
	}
}

// Lookup finds the kind serving group/version/resource.
func (r *Registry) Lookup(gvr schema.GroupVersionResource) (*Kind, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	k, ok := r.byGVR[gvr]
	return k, ok
}

// LookupKind finds the kind by group/version/kind.
func (r *Registry) LookupKind(gvk schema.GroupVersionKind) (*Kind, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	k, ok := r.byGVK[gvk]
	return k, ok
}

// Groups returns the served groups, the core group ("") first, then sorted by name.
func (r *Registry) Groups() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var gs []string
	for g := range r.versions {
		gs = append(gs, g)
	}
	sort.Slice(gs, func(i, j int) bool {
		if gs[i] == "" || gs[j] == "" {
			return gs[i] == ""
		}
		return gs[i] < gs[j]
	})
	return gs
}

// Versions returns the served versions of a group, preferred first.
func (r *Registry) Versions(group string) []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return append([]string(nil), r.versions[group]...)
}

// KindsOf returns the kinds served under group/version, sorted by resource.
func (r *Registry) KindsOf(gv schema.GroupVersion) []*Kind {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var ks []*Kind
	for gvr, k := range r.byGVR {
		if gvr.GroupVersion() == gv {
			ks = append(ks, k)
		}
	}
	sort.Slice(ks, func(i, j int) bool { return ks[i].Resource < ks[j].Resource })
	return ks
}

// All returns every kind, sorted by group then resource.
func (r *Registry) All() []*Kind {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var ks []*Kind
	for _, k := range r.byGVR {
		ks = append(ks, k)
	}
	sort.Slice(ks, func(i, j int) bool {
		if ks[i].GVK.Group != ks[j].GVK.Group {
			return ks[i].GVK.Group < ks[j].GVK.Group
		}
		return ks[i].Resource < ks[j].Resource
	})
	return ks
}
