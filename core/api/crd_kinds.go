package api

import (
	"bytes"
	"fmt"
	"reflect"
	"sort"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apimachinery/pkg/version"
	"k8s.io/client-go/util/jsonpath"
)

// CustomResourceKinds returns one Kind per served version of an accepted CRD, preferred version
// first (kube's version priority: v2 before v1 before v1beta1). Every version reads and writes
// the same objects: with the None conversion strategy a stored object is served in any version
// by rewriting its apiVersion, which the server does by decoding it as the requested kind.
func CustomResourceKinds(crd *apiextensionsv1.CustomResourceDefinition) ([]*Kind, error) {
	var kinds []*Kind
	for i := range crd.Spec.Versions {
		v := &crd.Spec.Versions[i]
		if !v.Served {
			continue
		}
		k, err := customResourceKind(crd, v)
		if err != nil {
			return nil, fmt.Errorf("crd %s version %s: %w", crd.Name, v.Name, err)
		}
		kinds = append(kinds, k)
	}
	sort.SliceStable(kinds, func(i, j int) bool {
		return version.CompareKubeAwareVersionStrings(kinds[i].GVK.Version, kinds[j].GVK.Version) > 0
	})
	return kinds, nil
}

func customResourceKind(crd *apiextensionsv1.CustomResourceDefinition, v *apiextensionsv1.CustomResourceDefinitionVersion) (*Kind, error) {
	if v.Schema == nil || v.Schema.OpenAPIV3Schema == nil {
		return nil, fmt.Errorf("no schema")
	}
	sch, err := CompileCRSchema(v.Schema.OpenAPIV3Schema)
	if err != nil {
		return nil, err
	}
	names := crd.Spec.Names
	k := &Kind{
		GVK:      gvk(crd.Spec.Group, v.Name, names.Kind),
		Resource: names.Plural, Singular: names.Singular, ShortNames: names.ShortNames, Categories: names.Categories,
		ListKind: names.ListKind, Namespaced: crd.Spec.Scope == apiextensionsv1.NamespaceScoped,
		Unstructured: true, BumpsGeneration: true,
		New:     func() runtime.Object { return &unstructured.Unstructured{Object: map[string]any{}} },
		NewList: func() runtime.Object { return &unstructured.UnstructuredList{Object: map[string]any{}} },
	}
	if sr := v.Subresources; sr != nil {
		if sr.Status != nil {
			k.Subresources = append(k.Subresources, SubStatus)
			k.HasStatus = true
		}
		if sc := sr.Scale; sc != nil {
			k.Subresources = append(k.Subresources, SubScale)
			if k.Scale, err = customScale(sc); err != nil {
				return nil, err
			}
		}
	}
	hasStatus, namespaced := k.HasStatus, k.Namespaced
	k.PrepareForCreate = func(obj runtime.Object) {
		// With a status subresource, status is the controllers' to write, through it.
		if u, ok := obj.(*unstructured.Unstructured); ok && hasStatus {
			delete(u.Object, "status")
		}
	}
	k.Prune = func(obj runtime.Object) []string {
		if u, ok := obj.(*unstructured.Unstructured); ok {
			return sch.Prune(u.Object)
		}
		return nil
	}
	k.Default = func(obj runtime.Object) {
		if u, ok := obj.(*unstructured.Unstructured); ok {
			sch.Default(u.Object)
		}
	}
	k.Validate = func(obj runtime.Object) field.ErrorList {
		return validateCustomResource(obj, sch, namespaced)
	}
	k.ValidateUpdate = func(obj, old runtime.Object) field.ErrorList {
		n, ok1 := obj.(*unstructured.Unstructured)
		o, ok2 := old.(*unstructured.Unstructured)
		if !ok1 || !ok2 {
			return wrongType(obj)
		}
		errs := genericMetaUpdate(n, o)
		return dedupe(append(errs, validateCustomResource(obj, sch, namespaced)...))
	}
	if k.Columns, k.Row, err = customColumns(v.AdditionalPrinterColumns); err != nil {
		return nil, err
	}
	return k, nil
}

// validateCustomResource checks metadata by apimachinery's rules (a DNS subdomain name, labels,
// annotations, qualified finalizers, owner references), then the schema.
func validateCustomResource(obj runtime.Object, sch *CRSchema, namespaced bool) field.ErrorList {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return wrongType(obj)
	}
	var errs field.ErrorList
	om := &metav1.ObjectMeta{}
	if raw, ok := u.Object["metadata"].(map[string]any); !ok {
		errs = append(errs, field.Required(metadataPath, "must be an object"))
	} else if err := runtime.DefaultUnstructuredConverter.FromUnstructured(raw, om); err != nil {
		errs = append(errs, field.Invalid(metadataPath, raw, err.Error()))
	} else {
		errs = append(errs, apivalidation.ValidateObjectMeta(om, namespaced, apivalidation.NameIsDNSSubdomain, metadataPath)...)
	}
	errs = append(errs, sch.Validate(u.Object)...)
	return dedupe(errs)
}

// customScale reads and writes replicas at the CRD's paths, as kube's scale subresource for
// custom resources does: a missing replicas field reads as 0.
func customScale(sc *apiextensionsv1.CustomResourceSubresourceScale) (*ScaleFuncs, error) {
	spec, err := scalePathFields(sc.SpecReplicasPath)
	if err != nil {
		return nil, err
	}
	status, err := scalePathFields(sc.StatusReplicasPath)
	if err != nil {
		return nil, err
	}
	var selector []string
	if sc.LabelSelectorPath != nil && *sc.LabelSelectorPath != "" {
		if selector, err = scalePathFields(*sc.LabelSelectorPath); err != nil {
			return nil, err
		}
	}
	return &ScaleFuncs{
		Get: func(obj runtime.Object) (int32, int32, string) {
			u, ok := obj.(*unstructured.Unstructured)
			if !ok {
				return 0, 0, ""
			}
			specN, _, _ := unstructured.NestedInt64(u.Object, spec...)
			statusN, _, _ := unstructured.NestedInt64(u.Object, status...)
			sel := ""
			if selector != nil {
				sel, _, _ = unstructured.NestedString(u.Object, selector...)
			}
			return int32(specN), int32(statusN), sel
		},
		Set: func(obj runtime.Object, n int32) {
			if u, ok := obj.(*unstructured.Unstructured); ok {
				_ = unstructured.SetNestedField(u.Object, int64(n), spec...)
			}
		},
	}, nil
}

// defaultCustomColumns are kube's for a CRD version without printer columns: the age.
var defaultCustomColumns = []apiextensionsv1.CustomResourceColumnDefinition{
	{Name: "Age", Type: "date", Description: ageDescription, JSONPath: ".metadata.creationTimestamp"},
}

// customColumns builds the Table of a custom resource: its name, then the CRD's printer
// columns, each a JSON path into the object, as kube's CRD table convertor prints them.
func customColumns(defs []apiextensionsv1.CustomResourceColumnDefinition) ([]metav1.TableColumnDefinition, func(runtime.Object) []any, error) {
	if len(defs) == 0 {
		defs = defaultCustomColumns
	}
	cols := []metav1.TableColumnDefinition{nameColumn()}
	for _, d := range defs {
		if _, err := parseColumnPath(d.JSONPath); err != nil {
			return nil, nil, fmt.Errorf("printer column %s: %w", d.Name, err)
		}
		cols = append(cols, metav1.TableColumnDefinition{Name: d.Name, Type: d.Type, Format: d.Format, Description: d.Description, Priority: d.Priority})
	}
	row := func(obj runtime.Object) []any {
		cells := make([]any, 0, len(cols))
		u, ok := obj.(*unstructured.Unstructured)
		if !ok {
			return fallbackRow(obj, cols)
		}
		cells = append(cells, u.GetName())
		for _, d := range defs {
			cells = append(cells, columnCell(u.Object, d))
		}
		return cells
	}
	return cols, row, nil
}

// columnCell evaluates one printer column. A JSONPath holds evaluation state, so each cell
// parses its own: rows are printed concurrently.
func columnCell(obj map[string]any, d apiextensionsv1.CustomResourceColumnDefinition) any {
	jp, err := parseColumnPath(d.JSONPath)
	if err != nil {
		return nil
	}
	results, err := jp.FindResults(obj)
	if err != nil || len(results) == 0 || len(results[0]) == 0 {
		return nil
	}
	value := results[0][0].Interface()
	switch d.Type {
	case "string":
		var buf bytes.Buffer
		if err := printValue(jp, &buf, results[0][0]); err != nil {
			return nil
		}
		return buf.String()
	case "integer":
		switch n := value.(type) {
		case int64:
			return n
		case float64:
			return int64(n)
		}
	case "number":
		switch n := value.(type) {
		case int64:
			return float64(n)
		case float64:
			return n
		}
	case "boolean":
		if b, ok := value.(bool); ok {
			return b
		}
	case "date":
		if s, ok := value.(string); ok {
			t, err := time.Parse(time.RFC3339, s)
			if err != nil {
				return nil
			}
			return translateAge(metav1.NewTime(t))
		}
	}
	return nil
}

func printValue(jp *jsonpath.JSONPath, buf *bytes.Buffer, v reflect.Value) error {
	return jp.PrintResults(buf, []reflect.Value{v})
}
