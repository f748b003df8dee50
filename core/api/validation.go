package api

import (
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// validator checks a kind on create and on update.
type validator struct {
	create func(obj runtime.Object) field.ErrorList
	update func(obj, old runtime.Object) field.ErrorList
}

// validators holds each resource's validation, keyed by resource.
var validators = map[string]validator{}
