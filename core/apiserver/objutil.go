package apiserver

import (
	"reflect"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// Objects are compared and copied field by field through reflection so the handlers stay
// generic: every served kind is a struct with TypeMeta, ObjectMeta, and then either Spec and
// Status or top-level data fields (ConfigMap.Data, Endpoints.Subsets …).

func structOf(obj runtime.Object) reflect.Value {
	v := reflect.ValueOf(obj)
	for v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	return v
}

// copyStatus sets dst.Status to src.Status.
func copyStatus(dst, src runtime.Object) {
	d, s := structOf(dst), structOf(src)
	if f := d.FieldByName("Status"); f.IsValid() && f.CanSet() {
		f.Set(s.FieldByName("Status"))
	}
}

// dataEqual reports whether a and b agree on everything but TypeMeta, ObjectMeta and Status: the
// part whose change bumps metadata.generation.
func dataEqual(a, b runtime.Object) bool {
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
