package api

import (
	"fmt"
	"reflect"
	"sort"
	"strings"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/listtype"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	openapierrors "k8s.io/kube-openapi/pkg/validation/errors"
	"k8s.io/kube-openapi/pkg/validation/spec"
	"k8s.io/kube-openapi/pkg/validation/strfmt"
	"k8s.io/kube-openapi/pkg/validation/validate"
)

// CRSchema is one version's openAPIV3Schema made ready to use on custom resources: the
// structural form (what pruning and defaulting walk) and its kube-openapi form (what value
// validation runs). The library parts are kube's own — the structural schema and the pruning
// algorithm of k8s.io/apiextensions-apiserver, the validator of k8s.io/kube-openapi — so
// objects are judged as kube-apiserver judges them; defaulting and the mapping of validation
// results onto field errors are tug's.
type CRSchema struct {
	structural *structuralschema.Structural
	openAPI    *spec.Schema
}

// structuralOf converts a v1 schema to kube's structural form.
func structuralOf(props *apiextensionsv1.JSONSchemaProps) (*structuralschema.Structural, error) {
	internal := &apiextensions.JSONSchemaProps{}
	if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(props, internal, nil); err != nil {
		return nil, fmt.Errorf("converting schema: %w", err)
	}
	return structuralschema.NewStructural(internal)
}

// CompileCRSchema prepares a schema that ValidateCRSchema accepted.
func CompileCRSchema(props *apiextensionsv1.JSONSchemaProps) (*CRSchema, error) {
	s, err := structuralOf(props)
	if err != nil {
		return nil, err
	}
	o := s.ToKubeOpenAPI()
	intOrStringTypes(o)
	return &CRSchema{structural: s, openAPI: o}, nil
}

// intOrStringTypes lets the validator accept both an integer and a string where the schema says
// x-kubernetes-int-or-string, which kube-openapi does not know about on its own.
func intOrStringTypes(s *spec.Schema) {
	if s == nil {
		return
	}
	if v, ok := s.Extensions.GetBool("x-kubernetes-int-or-string"); ok && v {
		s.Type = spec.StringOrArray{"integer", "string"}
	}
	for k, p := range s.Properties {
		intOrStringTypes(&p)
		s.Properties[k] = p
	}
	if s.Items != nil {
		intOrStringTypes(s.Items.Schema)
	}
	if s.AdditionalProperties != nil {
		intOrStringTypes(s.AdditionalProperties.Schema)
	}
}

// ValidateCRSchema checks a CRD version's schema the way kube does for v1: structural (every
// field typed outside of value validation, metadata restricted at the root), an object at
// the root, and defaults that are valid against their own schema.
func ValidateCRSchema(props *apiextensionsv1.JSONSchemaProps, path *field.Path) field.ErrorList {
	s, err := structuralOf(props)
	if err != nil {
		return field.ErrorList{field.Invalid(path, "", err.Error())}
	}
	errs := structuralschema.ValidateStructural(path, s)
	if s.Type != "object" {
		errs = append(errs, field.Invalid(path.Child("type"), s.Type, "must be object at the root"))
	}
	errs = append(errs, validateTypes(s, path, true)...)
	errs = append(errs, validateDefaults(s, path, true)...)
	return errs
}

// validateTypes requires a type on every specified field, except where the extensions say
// the value is free-form, as kube requires for structural schemas.
func validateTypes(s *structuralschema.Structural, path *field.Path, root bool) field.ErrorList {
	if s == nil {
		return nil
	}
	var errs field.ErrorList
	if s.Type == "" && !s.XIntOrString && !s.XPreserveUnknownFields && !root {
		errs = append(errs, field.Required(path.Child("type"), "must not be empty for specified object fields"))
	}
	for _, k := range sortedKeys(s.Properties) {
		p := s.Properties[k]
		errs = append(errs, validateTypes(&p, path.Child("properties").Key(k), false)...)
	}
	errs = append(errs, validateTypes(s.Items, path.Child("items"), false)...)
	if s.AdditionalProperties != nil {
		errs = append(errs, validateTypes(s.AdditionalProperties.Structural, path.Child("additionalProperties"), false)...)
	}
	return errs
}

// validateDefaults checks every default against the schema it defaults, and that it holds no
// field the schema would prune.
func validateDefaults(s *structuralschema.Structural, path *field.Path, root bool) field.ErrorList {
	if s == nil {
		return nil
	}
	var errs field.ErrorList
	if d := s.Default.Object; d != nil {
		if root {
			errs = append(errs, field.Forbidden(path.Child("default"), "must not be set at the root"))
		} else {
			o := s.ToKubeOpenAPI()
			intOrStringTypes(o)
			for _, e := range schemaErrors(o, runtime.DeepCopyJSONValue(d)) {
				errs = append(errs, field.Invalid(path.Child("default"), d, e.ErrorBody()))
			}
			copied := runtime.DeepCopyJSONValue(d)
			if pruned := pruning.PruneWithOptions(copied, s, false, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true}); len(pruned) > 0 {
				errs = append(errs, field.Invalid(path.Child("default"), d, "must not have unknown fields: "+strings.Join(pruned, ", ")))
			}
		}
	}
	for _, k := range sortedKeys(s.Properties) {
		p := s.Properties[k]
		errs = append(errs, validateDefaults(&p, path.Child("properties").Key(k), false)...)
	}
	errs = append(errs, validateDefaults(s.Items, path.Child("items"), false)...)
	if s.AdditionalProperties != nil {
		errs = append(errs, validateDefaults(s.AdditionalProperties.Structural, path.Child("additionalProperties"), false)...)
	}
	return errs
}

// Prune removes what the schema does not declare (outside x-kubernetes-preserve-unknown-fields)
// and unknown metadata fields, and returns the removed paths ("spec.foo").
func (c *CRSchema) Prune(obj map[string]any) []string {
	opts := structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true}
	pruned := pruning.PruneWithOptions(obj, c.structural, true, opts)
	pruned = append(pruned, pruneMetadata(obj)...)
	sort.Strings(pruned)
	return pruned
}

// objectMetaFields are the JSON names of ObjectMeta's fields: all metadata may hold.
var objectMetaFields = func() map[string]bool {
	out := map[string]bool{}
	t := reflect.TypeOf(metav1.ObjectMeta{})
	for i := 0; i < t.NumField(); i++ {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			out[name] = true
		}
	}
	return out
}()

func pruneMetadata(obj map[string]any) []string {
	m, ok := obj["metadata"].(map[string]any)
	if !ok {
		return nil
	}
	var pruned []string
	for k := range m {
		if !objectMetaFields[k] {
			delete(m, k)
			pruned = append(pruned, "metadata."+k)
		}
	}
	return pruned
}

// Default fills in the schema's defaults where a field is missing, or null without being
// nullable, top down, so defaults nested inside a defaulted object apply too.
func (c *CRSchema) Default(obj map[string]any) {
	applyDefaults(obj, c.structural, true)
}

func applyDefaults(x any, s *structuralschema.Structural, root bool) {
	if s == nil {
		return
	}
	switch x := x.(type) {
	case map[string]any:
		for k, p := range s.Properties {
			if root && (k == "metadata" || k == "apiVersion" || k == "kind") {
				continue
			}
			if p.Default.Object == nil {
				continue
			}
			if v, found := x[k]; !found || (v == nil && !p.Nullable) {
				x[k] = runtime.DeepCopyJSONValue(p.Default.Object)
			}
		}
		for k, v := range x {
			if root && k == "metadata" {
				continue
			}
			if p, ok := s.Properties[k]; ok {
				applyDefaults(v, &p, false)
			} else if s.AdditionalProperties != nil {
				applyDefaults(v, s.AdditionalProperties.Structural, false)
			}
		}
	case []any:
		for i := range x {
			if x[i] == nil && s.Items != nil && s.Items.Default.Object != nil && !s.Items.Nullable {
				x[i] = runtime.DeepCopyJSONValue(s.Items.Default.Object)
			}
			applyDefaults(x[i], s.Items, false)
		}
	}
}

// Validate checks obj against the schema: values (types, required, enum, bounds, patterns,
// formats), list sets and maps, and embedded resources' apiVersion and kind. Errors name the
// field ("spec.replicas").
func (c *CRSchema) Validate(obj map[string]any) field.ErrorList {
	errs := schemaErrors(c.openAPI, obj)
	errs = append(errs, listtype.ValidateListSetsAndMaps(nil, c.structural, obj)...)
	errs = append(errs, validateEmbedded(obj, c.structural, nil)...)
	return errs
}

// schemaErrors runs kube-openapi's validator (a fresh one per call: validators keep state
// while they run) and maps its results to field errors.
func schemaErrors(s *spec.Schema, value any) field.ErrorList {
	res := validate.NewSchemaValidator(s, nil, "", strfmt.Default).Validate(value)
	var errs field.ErrorList
	var add func(err error)
	add = func(err error) {
		switch e := err.(type) {
		case *openapierrors.CompositeError:
			for _, inner := range e.Errors {
				add(inner)
			}
		case *openapierrors.Validation:
			errs = append(errs, validationError(e))
		default:
			errs = append(errs, field.Invalid(nil, nil, err.Error()))
		}
	}
	for _, err := range res.Errors {
		add(err)
	}
	return errs
}

// validationError turns one kube-openapi result into the field error kube reports for it.
func validationError(e *openapierrors.Validation) *field.Error {
	name := e.Name
	if name == "" || name == "." {
		name = "<root>"
	}
	// kube-openapi names the field by its dotted path already; one path element holding it
	// prints it as it is.
	p := field.NewPath(name)
	switch e.Code() {
	case openapierrors.RequiredFailCode:
		return field.Required(p, "")
	case openapierrors.EnumFailCode:
		var valid []string
		for _, v := range e.Values {
			valid = append(valid, fmt.Sprint(v))
		}
		return field.NotSupported(p, e.Value, valid)
	case openapierrors.TooLongFailCode:
		if max, ok := e.Valid.(int64); ok {
			return field.TooLong(p, e.Value, int(max))
		}
	case openapierrors.MaxItemsFailCode:
		if max, ok := e.Valid.(int64); ok {
			actual, _ := e.Value.(int64)
			return field.TooMany(p, int(actual), int(max))
		}
	}
	return field.Invalid(p, e.Value, e.Error())
}

// validateEmbedded requires apiVersion and kind of every x-kubernetes-embedded-resource object.
func validateEmbedded(x any, s *structuralschema.Structural, path *field.Path) field.ErrorList {
	if s == nil || x == nil {
		return nil
	}
	var errs field.ErrorList
	switch x := x.(type) {
	case map[string]any:
		if s.XEmbeddedResource {
			for _, k := range []string{"apiVersion", "kind"} {
				if v, _ := x[k].(string); v == "" {
					errs = append(errs, field.Required(path.Child(k), "must not be empty"))
				}
			}
		}
		for _, k := range sortedKeys(x) {
			if path == nil && k == "metadata" {
				continue
			}
			if p, ok := s.Properties[k]; ok {
				errs = append(errs, validateEmbedded(x[k], &p, childPath(path, k))...)
			} else if s.AdditionalProperties != nil {
				errs = append(errs, validateEmbedded(x[k], s.AdditionalProperties.Structural, childPath(path, k))...)
			}
		}
	case []any:
		for i, v := range x {
			errs = append(errs, validateEmbedded(v, s.Items, path.Index(i))...)
		}
	}
	return errs
}

func childPath(p *field.Path, k string) *field.Path {
	if p == nil {
		return field.NewPath(k)
	}
	return p.Child(k)
}
