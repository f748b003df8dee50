package apiserver

import (
	"reflect"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
)

// Objects are compared and copied field by field through reflection so the handlers stay
// generic: every served kind is a struct with TypeMeta, ObjectMeta, and then either Spec and
// Status or top-level data fields (ConfigMap.Data, Endpoints.Subsets …) — or, for custom
// resources, an unstructured map with the same top-level names.

func structOf(obj runtime.Object) reflect.Value {
	v := reflect.ValueOf(obj)
	for v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	return v
}

// copyStatus sets dst.Status to src.Status.
func copyStatus(dst, src runtime.Object) {
	if du, ok := dst.(*unstructured.Unstructured); ok {
		su, _ := src.(*unstructured.Unstructured)
		if st, found := su.Object["status"]; su != nil && found {
			du.Object["status"] = runtime.DeepCopyJSONValue(st)
		} else {
			delete(du.Object, "status")
		}
		return
	}
	d, s := structOf(dst), structOf(src)
	if f := d.FieldByName("Status"); f.IsValid() && f.CanSet() {
		f.Set(s.FieldByName("Status"))
	}
}

// dataEqual reports whether a and b agree on everything but TypeMeta, ObjectMeta and Status: the
// part whose change bumps metadata.generation. A custom resource without a status subresource
// (withStatus false) has no such split, and any change but metadata counts, as in kube.
func dataEqual(a, b runtime.Object, withStatus bool) bool {
	if ua, ok := a.(*unstructured.Unstructured); ok {
		ub, ok := b.(*unstructured.Unstructured)
		if !ok {
			return false
		}
		skip := map[string]bool{"apiVersion": true, "kind": true, "metadata": true, "status": withStatus}
		for k, v := range ua.Object {
			if !skip[k] && !reflect.DeepEqual(v, ub.Object[k]) {
				return false
			}
		}
		for k := range ub.Object {
			if _, ok := ua.Object[k]; !ok && !skip[k] {
				return false
			}
		}
		return true
	}
	va, vb := structOf(a), structOf(b)
	t := va.Type()
	for i := 0; i < t.NumField(); i++ {
		switch t.Field(i).Name {
		case "TypeMeta", "ObjectMeta", "Status":
			continue
		}
		if !reflect.DeepEqual(va.Field(i).Interface(), vb.Field(i).Interface()) {
			return false
		}
	}
	return true
}

func accessor(obj runtime.Object) metav1.Object {
	m, err := meta.Accessor(obj)
	if err != nil {
		panic("apiserver: served object without metadata: " + err.Error())
	}
	return m
}
