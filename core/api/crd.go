package api

import (
	"fmt"
	"strings"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/client-go/util/jsonpath"
)

// CustomResourceDefinitions (apiextensions.k8s.io/v1) are served like any kind; what makes their
// custom resources served is the API server's CRD controller, which turns each established
// definition into Kinds with CustomResourceKinds.

// The CRD conditions and reasons the API server writes, as kube-apiextensions-apiserver's
// naming, establishing and finalizing controllers write them.
const (
	ReasonNoConflicts                = "NoConflicts"
	ReasonInitialNamesAccepted       = "InitialNamesAccepted"
	ReasonNotAccepted                = "NotAccepted"
	ReasonInstanceDeletionPending    = "InstanceDeletionPending"
	ReasonInstanceDeletionInProgress = "InstanceDeletionInProgress"
)

// protectedGroupSuffixes are the groups kube reserves for APIs reviewed by the Kubernetes
// project: a CRD in them must carry the approval annotation.
var protectedGroupSuffixes = []string{".k8s.io", ".kubernetes.io"}

func crdKind() *Kind {
	return &Kind{
		GVK: apiextensionsv1.SchemeGroupVersion.WithKind("CustomResourceDefinition"), Resource: "customresourcedefinitions",
		Singular: "customresourcedefinition", ShortNames: []string{"crd", "crds"}, Categories: []string{"api-extensions"},
		Subresources: []string{SubStatus}, HasStatus: true, BumpsGeneration: true,
		New:     func() runtime.Object { return &apiextensionsv1.CustomResourceDefinition{} },
		NewList: func() runtime.Object { return &apiextensionsv1.CustomResourceDefinitionList{} },
	}
}

func init() {
	defaulters["customresourcedefinitions"] = defaulter(defaultCRD)
	validators["customresourcedefinitions"] = validator{
		create: func(obj runtime.Object) field.ErrorList {
			crd, ok := obj.(*apiextensionsv1.CustomResourceDefinition)
			if !ok {
				return wrongType(obj)
			}
			return dedupe(validateCRD(crd))
		},
		update: func(obj, old runtime.Object) field.ErrorList {
			crd, ok1 := obj.(*apiextensionsv1.CustomResourceDefinition)
			prev, ok2 := old.(*apiextensionsv1.CustomResourceDefinition)
			if !ok1 || !ok2 {
				return wrongType(obj)
			}
			return dedupe(append(genericMetaUpdate(crd, prev), validateCRDUpdate(crd, prev)...))
		},
	}
	tables["customresourcedefinitions"] = crdTable
}

// defaultCRD applies the v1 defaults (singular, listKind, conversion None) and records the
// storage version in status.storedVersions, which kube's strategy does on every write so that
// a version once used for storage is never dropped while objects may still be stored in it.
func defaultCRD(crd *apiextensionsv1.CustomResourceDefinition) {
	apiextensionsv1.SetDefaults_CustomResourceDefinitionSpec(&crd.Spec)
	for _, v := range crd.Spec.Versions {
		if v.Storage && !sets.New(crd.Status.StoredVersions...).Has(v.Name) {
			crd.Status.StoredVersions = append(crd.Status.StoredVersions, v.Name)
		}
	}
	// status.conditions has no omitempty: nil would be written as null, which kubectl wait
	// --for condition=… rejects instead of waiting ("accessor error: <nil>"); the API server
	// writes an empty list, as Kubernetes' does.
	if crd.Status.Conditions == nil {
		crd.Status.Conditions = []apiextensionsv1.CustomResourceDefinitionCondition{}
	}
}

func validateCRD(crd *apiextensionsv1.CustomResourceDefinition) field.ErrorList {
	errs := apivalidation.ValidateObjectMeta(&crd.ObjectMeta, false, apivalidation.NameIsDNSSubdomain, metadataPath)
	spec := &crd.Spec
	if want := spec.Names.Plural + "." + spec.Group; crd.Name != want {
		errs = append(errs, field.Invalid(metadataPath.Child("name"), crd.Name, fmt.Sprintf("must be spec.names.plural+\".\"+spec.group (%q)", want)))
	}
	for _, suffix := range protectedGroupSuffixes {
		if spec.Group == strings.TrimPrefix(suffix, ".") || strings.HasSuffix(spec.Group, suffix) {
			if crd.Annotations[apiextensionsv1.KubeAPIApprovedAnnotation] == "" {
				errs = append(errs, field.Required(metadataPath.Child("annotations").Key(apiextensionsv1.KubeAPIApprovedAnnotation),
					fmt.Sprintf("protected groups must have approval annotation %q, see https://github.com/kubernetes/enhancements/pull/1111", apiextensionsv1.KubeAPIApprovedAnnotation)))
			}
		}
	}
	return append(errs, validateCRDSpec(spec, field.NewPath("spec"))...)
}

func validateCRDSpec(spec *apiextensionsv1.CustomResourceDefinitionSpec, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	switch {
	case spec.Group == "":
		errs = append(errs, field.Required(path.Child("group"), ""))
	default:
		for _, msg := range validation.IsDNS1123Subdomain(spec.Group) {
			errs = append(errs, field.Invalid(path.Child("group"), spec.Group, msg))
		}
		if len(strings.Split(spec.Group, ".")) < 2 {
			errs = append(errs, field.Invalid(path.Child("group"), spec.Group, "should be a domain with at least one dot"))
		}
	}
	scopes := []string{string(apiextensionsv1.NamespaceScoped), string(apiextensionsv1.ClusterScoped)}
	switch spec.Scope {
	case "":
		errs = append(errs, field.Required(path.Child("scope"), ""))
	case apiextensionsv1.NamespaceScoped, apiextensionsv1.ClusterScoped:
	default:
		errs = append(errs, field.NotSupported(path.Child("scope"), spec.Scope, scopes))
	}
	errs = append(errs, validateCRDNames(&spec.Names, path.Child("names"))...)
	if c := spec.Conversion; c != nil && c.Strategy != apiextensionsv1.NoneConverter {
		// Webhook conversion calls out to a service; tug stores and serves every version
		// with the None strategy (only apiVersion rewritten), so anything else is refused
		// rather than silently served wrong.
		errs = append(errs, field.NotSupported(path.Child("conversion", "strategy"), c.Strategy, []string{string(apiextensionsv1.NoneConverter)}))
	}
	vpath := path.Child("versions")
	if len(spec.Versions) == 0 {
		return append(errs, field.Required(vpath, "must have exactly one version marked as storage version"))
	}
	storage, served := 0, 0
	seen := map[string]bool{}
	for i := range spec.Versions {
		v := &spec.Versions[i]
		at := vpath.Index(i)
		if v.Storage {
			storage++
		}
		if v.Served {
			served++
		}
		switch {
		case v.Name == "":
			errs = append(errs, field.Required(at.Child("name"), ""))
		case seen[v.Name]:
			errs = append(errs, field.Invalid(vpath, spec.Versions, "must contain unique version names"))
		default:
			for _, msg := range validation.IsDNS1035Label(v.Name) {
				errs = append(errs, field.Invalid(at.Child("name"), v.Name, msg))
			}
		}
		seen[v.Name] = true
		errs = append(errs, validateCRDVersion(v, at)...)
	}
	if storage != 1 {
		errs = append(errs, field.Invalid(vpath, spec.Versions, "must have exactly one version marked as storage version"))
	}
	if served == 0 {
		errs = append(errs, field.Invalid(vpath, spec.Versions, "must have at least one version marked as served"))
	}
	return errs
}

func validateCRDNames(n *apiextensionsv1.CustomResourceDefinitionNames, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	label := func(p *field.Path, v string, required bool) {
		if v == "" {
			if required {
				errs = append(errs, field.Required(p, ""))
			}
			return
		}
		for _, msg := range validation.IsDNS1035Label(strings.ToLower(v)) {
			errs = append(errs, field.Invalid(p, v, msg))
		}
	}
	label(path.Child("plural"), n.Plural, true)
	label(path.Child("singular"), n.Singular, false)
	label(path.Child("kind"), n.Kind, true)
	label(path.Child("listKind"), n.ListKind, true)
	if n.Plural != "" && n.Plural != strings.ToLower(n.Plural) {
		errs = append(errs, field.Invalid(path.Child("plural"), n.Plural, "must be lower case"))
	}
	if n.Kind != "" && n.Kind == n.ListKind {
		errs = append(errs, field.Invalid(path.Child("listKind"), n.ListKind, "kind and listKind may not be the same"))
	}
	for i, s := range n.ShortNames {
		label(path.Child("shortNames").Index(i), s, true)
	}
	for i, c := range n.Categories {
		label(path.Child("categories").Index(i), c, true)
	}
	return errs
}

var printerColumnTypes = []string{"integer", "number", "string", "boolean", "date"}
var printerColumnFormats = []string{"int32", "int64", "float", "double", "byte", "date", "date-time", "password"}

func validateCRDVersion(v *apiextensionsv1.CustomResourceDefinitionVersion, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	spath := path.Child("schema", "openAPIV3Schema")
	if v.Schema == nil || v.Schema.OpenAPIV3Schema == nil {
		// v1 requires a schema for every version, served or not: it is what pruning works from.
		errs = append(errs, field.Required(spath, "schemas are required"))
	} else {
		errs = append(errs, ValidateCRSchema(v.Schema.OpenAPIV3Schema, spath)...)
	}
	if sr := v.Subresources; sr != nil && sr.Scale != nil {
		sc, sp := sr.Scale, path.Child("subresources", "scale")
		errs = append(errs, validateScalePath(sc.SpecReplicasPath, sp.Child("specReplicasPath"), true, ".spec.")...)
		errs = append(errs, validateScalePath(sc.StatusReplicasPath, sp.Child("statusReplicasPath"), true, ".status.")...)
		if sc.LabelSelectorPath != nil {
			errs = append(errs, validateScalePath(*sc.LabelSelectorPath, sp.Child("labelSelectorPath"), false, ".spec.", ".status.")...)
		}
	}
	for i, c := range v.AdditionalPrinterColumns {
		at := path.Child("additionalPrinterColumns").Index(i)
		if c.Name == "" {
			errs = append(errs, field.Required(at.Child("name"), ""))
		}
		if !oneOf(c.Type, printerColumnTypes...) {
			errs = append(errs, field.NotSupported(at.Child("type"), c.Type, printerColumnTypes))
		}
		if c.Format != "" && !oneOf(c.Format, printerColumnFormats...) {
			errs = append(errs, field.NotSupported(at.Child("format"), c.Format, printerColumnFormats))
		}
		if c.JSONPath == "" {
			errs = append(errs, field.Required(at.Child("jsonPath"), ""))
		} else if _, err := parseColumnPath(c.JSONPath); err != nil {
			errs = append(errs, field.Invalid(at.Child("jsonPath"), c.JSONPath, "must be a simple json path: "+err.Error()))
		}
		if c.Priority < 0 {
			errs = append(errs, field.Invalid(at.Child("priority"), c.Priority, isNegativeErrorMsg))
		}
	}
	return errs
}

// validateScalePath checks a scale path: a simple JSON path (".spec.replicas") under one of
// the given prefixes.
func validateScalePath(p string, path *field.Path, required bool, prefixes ...string) field.ErrorList {
	if p == "" {
		if required {
			return field.ErrorList{field.Required(path, "")}
		}
		return nil
	}
	ok := false
	for _, pre := range prefixes {
		ok = ok || strings.HasPrefix(p, pre)
	}
	if !ok {
		return field.ErrorList{field.Invalid(path, p, "should be a json path under "+strings.Join(prefixes, " or "))}
	}
	if _, err := scalePathFields(p); err != nil {
		return field.ErrorList{field.Invalid(path, p, err.Error())}
	}
	return nil
}

// scalePathFields splits ".spec.replicas" into its fields; only plain field names are allowed,
// as kube allows for scale paths.
func scalePathFields(p string) ([]string, error) {
	parts := strings.Split(strings.TrimPrefix(p, "."), ".")
	for _, f := range parts {
		if f == "" || strings.ContainsAny(f, "[]*\\\"'{}") {
			return nil, fmt.Errorf("must be a simple json path of field names like .spec.replicas")
		}
	}
	return parts, nil
}

func parseColumnPath(p string) (*jsonpath.JSONPath, error) {
	jp := jsonpath.New("column").AllowMissingKeys(true)
	if err := jp.Parse("{" + p + "}"); err != nil {
		return nil, err
	}
	return jp, nil
}

func validateCRDUpdate(crd, old *apiextensionsv1.CustomResourceDefinition) field.ErrorList {
	errs := validateCRD(crd)
	spec := field.NewPath("spec")
	if crd.Spec.Group != old.Spec.Group {
		errs = append(errs, field.Invalid(spec.Child("group"), crd.Spec.Group, fieldImmutableMsg))
	}
	if crd.Spec.Names.Plural != old.Spec.Names.Plural {
		errs = append(errs, field.Invalid(spec.Child("names", "plural"), crd.Spec.Names.Plural, fieldImmutableMsg))
	}
	// Once established, clients and stored objects rely on the scope and the kind.
	if CRDCondition(old, apiextensionsv1.Established) == apiextensionsv1.ConditionTrue {
		if crd.Spec.Scope != old.Spec.Scope {
			errs = append(errs, field.Invalid(spec.Child("scope"), crd.Spec.Scope, fieldImmutableMsg))
		}
		if crd.Spec.Names.Kind != old.Spec.Names.Kind {
			errs = append(errs, field.Invalid(spec.Child("names", "kind"), crd.Spec.Names.Kind, fieldImmutableMsg))
		}
	}
	versions := sets.New[string]()
	for _, v := range crd.Spec.Versions {
		versions.Insert(v.Name)
	}
	for i, sv := range crd.Status.StoredVersions {
		if !versions.Has(sv) {
			errs = append(errs, field.Invalid(field.NewPath("status", "storedVersions").Index(i), sv, "must appear in spec.versions"))
		}
	}
	return errs
}

// genericMetaUpdate is the update check of apimachinery's object metadata rules, which the
// apiextensions API applies (to CRDs and custom resources alike) instead of the core API's:
// finalizers need only be qualified names, like the CRD cleanup finalizer itself.
func genericMetaUpdate(obj, old metav1.Object) field.ErrorList {
	var errs field.ErrorList
	for _, e := range apivalidation.ValidateObjectMetaAccessorUpdate(obj, old, metadataPath) {
		if e.Field != "metadata.resourceVersion" {
			errs = append(errs, e)
		}
	}
	return errs
}

// CRDCondition returns the status of a CRD condition, "" when absent.
func CRDCondition(crd *apiextensionsv1.CustomResourceDefinition, t apiextensionsv1.CustomResourceDefinitionConditionType) apiextensionsv1.ConditionStatus {
	for _, c := range crd.Status.Conditions {
		if c.Type == t {
			return c.Status
		}
	}
	return ""
}

// SetCRDCondition sets a condition, keeping its transition time when the status is unchanged.
// It reports whether anything changed.
func SetCRDCondition(crd *apiextensionsv1.CustomResourceDefinition, c apiextensionsv1.CustomResourceDefinitionCondition, now metav1.Time) bool {
	for i := range crd.Status.Conditions {
		old := &crd.Status.Conditions[i]
		if old.Type != c.Type {
			continue
		}
		if old.Status == c.Status && old.Reason == c.Reason && old.Message == c.Message {
			return false
		}
		c.LastTransitionTime = old.LastTransitionTime
		if old.Status != c.Status {
			c.LastTransitionTime = now
		}
		*old = c
		return true
	}
	c.LastTransitionTime = now
	crd.Status.Conditions = append(crd.Status.Conditions, c)
	return true
}

// CRDNamesConflict says why a CRD's names cannot be served next to the kinds already served,
// "" when they can. Like kube's naming controller it compares within the CRD's group: the
// plural and singular against every served resource name, the kind and list kind against
// every kind, the short names against every short name. others must not include the CRD's
// own kinds.
func CRDNamesConflict(crd *apiextensionsv1.CustomResourceDefinition, others []*Kind) string {
	n := crd.Spec.Names
	for _, k := range others {
		if k.GVK.Group != crd.Spec.Group {
			continue
		}
		resources := sets.New(k.Resource)
		if k.Singular != "" {
			resources.Insert(k.Singular)
		}
		switch {
		case resources.Has(n.Plural):
			return fmt.Sprintf("%q is already in use", n.Plural)
		case n.Singular != "" && resources.Has(n.Singular):
			return fmt.Sprintf("%q is already in use", n.Singular)
		case k.GVK.Kind == n.Kind || k.ListGVK().Kind == n.Kind:
			return fmt.Sprintf("%q is already in use", n.Kind)
		case n.ListKind != "" && (k.GVK.Kind == n.ListKind || k.ListGVK().Kind == n.ListKind):
			return fmt.Sprintf("%q is already in use", n.ListKind)
		}
		for _, s := range n.ShortNames {
			if sets.New(k.ShortNames...).Has(s) {
				return fmt.Sprintf("%q is already in use", s)
			}
		}
	}
	return ""
}

// crdTable is kube's: the name and when it was created.
var crdTable = printer(columns(
	nameColumn(),
	metav1.TableColumnDefinition{Name: "Created At", Type: "date", Description: ageDescription},
), func(crd *apiextensionsv1.CustomResourceDefinition) []any {
	return []any{crd.Name, crd.CreationTimestamp.UTC().Format("2006-01-02T15:04:05Z")}
})
