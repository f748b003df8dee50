package apiserver

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// ObjectReader reads served objects from the watch caches, for the request stages that decide
// on objects other than the request's: RBAC's roles and bindings, the node authorizer's pods,
// the pod a service account token is bound to. The objects are the caches' own: callers must
// not change them.
type ObjectReader struct{ s *Server }

// ObjectReader returns the server's reader.
func (s *Server) ObjectReader() *ObjectReader { return &ObjectReader{s: s} }

func (o *ObjectReader) resource(ctx context.Context, gvk schema.GroupVersionKind) (*resource, error) {
	k, ok := o.s.registry.LookupKind(gvk)
	if !ok {
		return nil, fmt.Errorf("kind %s is not served", gvk)
	}
	return o.s.resourceFor(ctx, k)
}

// List returns the objects of the kind in namespace (every namespace for ""), those filter
// accepts when it is not nil.
func (o *ObjectReader) List(ctx context.Context, gvk schema.GroupVersionKind, namespace string, filter func(runtime.Object) bool) ([]runtime.Object, error) {
	r, err := o.resource(ctx, gvk)
	if err != nil {
		return nil, err
	}
	objs, _ := r.cache.List(r.nsPrefix(namespace), filter)
	return objs, nil
}

// Get returns the object, or nil when it does not exist. An object the cache does not hold is
// looked up in the store: one created a moment ago (a pod whose token is presented at once, a
// namespace a create follows) must not be taken for missing because the cache is behind.
func (o *ObjectReader) Get(ctx context.Context, gvk schema.GroupVersionKind, namespace, name string) (runtime.Object, error) {
	r, err := o.resource(ctx, gvk)
	if err != nil {
		return nil, err
	}
	if obj, ok := r.cache.Get(r.key(namespace, name)); ok {
		return obj, nil
	}
	obj, _, err := r.get(ctx, namespace, name)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return obj, nil
}
