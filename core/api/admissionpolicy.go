package api

import (
	"encoding/json"
	"strings"

	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	pluginsv1alpha1 "github.com/tugboat-io/tug/core/api/plugins/v1alpha1"
)

func admissionPolicyKind() *Kind {
	return &Kind{
		GVK: pluginsv1alpha1.SchemeGroupVersion.WithKind("AdmissionPolicy"), Resource: "admissionpolicies", Singular: "admissionpolicy",
		ShortNames: []string{"ap"}, Categories: []string{"tug"}, Subresources: []string{SubStatus},
		HasStatus: true, BumpsGeneration: true,
		New:     func() runtime.Object { return &pluginsv1alpha1.AdmissionPolicy{} },
		NewList: func() runtime.Object { return &pluginsv1alpha1.AdmissionPolicyList{} },
	}
}

// DefaultAdmissionTimeoutMilliseconds bounds a policy's call when its spec says nothing.
const DefaultAdmissionTimeoutMilliseconds = 1000

// DefaultAdmissionOrder places a policy whose spec says nothing after the built-in ones.
const DefaultAdmissionOrder = 1000

func defaultAdmissionPolicy(p *pluginsv1alpha1.AdmissionPolicy) {
	s := &p.Spec
	if s.FailurePolicy == "" {
		s.FailurePolicy = pluginsv1alpha1.FailurePolicyFail
	}
	if s.TimeoutMilliseconds == nil {
		v := int32(DefaultAdmissionTimeoutMilliseconds)
		s.TimeoutMilliseconds = &v
	}
	if s.Order == nil {
		v := int32(DefaultAdmissionOrder)
		s.Order = &v
	}
	for i := range s.Rules {
		if s.Rules[i].Scope == "" {
			s.Rules[i].Scope = "*"
		}
	}
	for i := range s.Reads {
		if s.Reads[i].Scope == "" {
			s.Reads[i].Scope = pluginsv1alpha1.ReadNamespace
		}
	}
}

var admissionOperations = []string{"CREATE", "UPDATE", "DELETE", "*"}

func validateAdmissionPolicy(p *pluginsv1alpha1.AdmissionPolicy) field.ErrorList {
	errs := validateMeta(&p.ObjectMeta, false, apivalidation.NameIsDNSSubdomain)
	spec := field.NewPath("spec")
	s := &p.Spec
	if s.Plugin != "" {
		for _, msg := range validation.IsDNS1123Subdomain(s.Plugin) {
			errs = append(errs, field.Invalid(spec.Child("plugin"), s.Plugin, msg))
		}
	}
	types := []string{pluginsv1alpha1.PolicyMutating, pluginsv1alpha1.PolicyValidating}
	if !oneOf(s.Type, types...) {
		errs = append(errs, field.NotSupported(spec.Child("type"), s.Type, types))
	}
	if len(s.Rules) == 0 {
		errs = append(errs, field.Required(spec.Child("rules"), "a policy with no rules matches nothing"))
	}
	for i, r := range s.Rules {
		at := spec.Child("rules").Index(i)
		for what, list := range map[string][]string{"operations": r.Operations, "apiGroups": r.APIGroups, "apiVersions": r.APIVersions, "resources": r.Resources} {
			if len(list) == 0 {
				errs = append(errs, field.Required(at.Child(what), `name at least one, or "*"`))
			}
		}
		for j, op := range r.Operations {
			if !oneOf(op, admissionOperations...) {
				errs = append(errs, field.NotSupported(at.Child("operations").Index(j), op, admissionOperations))
			}
		}
		for j, res := range r.Resources {
			name, sub, _ := strings.Cut(res, "/")
			if name == "" || strings.Contains(sub, "/") || (name == "*" && sub == "" && strings.Contains(res, "/")) {
				errs = append(errs, field.Invalid(at.Child("resources").Index(j), res, `must be a resource, "resource/subresource", "*" or "*/subresource"`))
			}
		}
		if sc := r.Scope; sc != "" && !oneOf(sc, "Cluster", "Namespaced", "*") {
			errs = append(errs, field.NotSupported(at.Child("scope"), sc, []string{"Cluster", "Namespaced", "*"}))
		}
	}
	opts := metav1validation.LabelSelectorValidationOptions{}
	if s.NamespaceSelector != nil {
		errs = append(errs, metav1validation.ValidateLabelSelector(s.NamespaceSelector, opts, spec.Child("namespaceSelector"))...)
	}
	for i, g := range s.MatchUserGroups {
		if g == "" {
			errs = append(errs, field.Required(spec.Child("matchUserGroups").Index(i), "a group name"))
		}
	}
	if s.ObjectSelector != nil {
		errs = append(errs, metav1validation.ValidateLabelSelector(s.ObjectSelector, opts, spec.Child("objectSelector"))...)
	}
	policies := []string{pluginsv1alpha1.FailurePolicyFail, pluginsv1alpha1.FailurePolicyIgnore}
	if fp := s.FailurePolicy; fp != "" && !oneOf(fp, policies...) {
		errs = append(errs, field.NotSupported(spec.Child("failurePolicy"), fp, policies))
	}
	if t := s.TimeoutMilliseconds; t != nil && (*t < 1 || *t > 30000) {
		errs = append(errs, field.Invalid(spec.Child("timeoutMilliseconds"), *t, "must be between 1 and 30000"))
	}
	if c := s.Config; c != nil && len(c.Raw) > 0 {
		var obj map[string]any
		if err := json.Unmarshal(c.Raw, &obj); err != nil || obj == nil {
			errs = append(errs, field.Invalid(spec.Child("config"), string(c.Raw), "must be a JSON object"))
		}
	}
	scopes := []string{pluginsv1alpha1.ReadNamespace, pluginsv1alpha1.ReadRequestNamespace}
	seen := map[pluginsv1alpha1.KindReference]bool{}
	for i, r := range s.Reads {
		at := spec.Child("reads").Index(i)
		errs = append(errs, validateKindReference(r.KindReference, at)...)
		if seen[r.KindReference] {
			errs = append(errs, field.Duplicate(at, r.APIVersion+"/"+r.Kind))
		}
		seen[r.KindReference] = true
		switch r.Scope {
		case "", pluginsv1alpha1.ReadNamespace:
		case pluginsv1alpha1.ReadRequestNamespace:
			if r.KindReference != (pluginsv1alpha1.KindReference{APIVersion: "v1", Kind: "Namespace"}) {
				errs = append(errs, field.Invalid(at.Child("scope"), r.Scope, "RequestNamespace reads the v1 Namespace kind only"))
			}
		default:
			errs = append(errs, field.NotSupported(at.Child("scope"), r.Scope, scopes))
		}
		if r.WriteStatus && r.Scope == pluginsv1alpha1.ReadRequestNamespace {
			errs = append(errs, field.Invalid(at.Child("writeStatus"), true, "a policy may not write the namespace's status"))
		}
	}
	return errs
}

func validateAdmissionPolicyUpdate(p, old *pluginsv1alpha1.AdmissionPolicy) field.ErrorList {
	return append(validateMetaUpdate(p, old), validateAdmissionPolicy(p)...)
}

var admissionPolicyTable = printer(columns(
	nameColumn(),
	column("Type", "string", "Mutating or Validating."),
	column("Plugin", "string", "The WasmPlugin deciding, or (built-in)."),
	column("Failure Policy", "string", "What a failing plugin means: Fail denies, Ignore admits."),
	column("Active", "string", "Whether the policy is applied with its spec's plugin."),
	column("Reason", "string", "Why it is or is not active."),
	ageColumn(),
), func(p *pluginsv1alpha1.AdmissionPolicy) []any {
	active, reason := "Unknown", ""
	for _, cond := range p.Status.Conditions {
		if cond.Type == pluginsv1alpha1.ConditionPolicyActive {
			active, reason = string(cond.Status), cond.Reason
		}
	}
	plugin := p.Spec.Plugin
	if plugin == "" {
		plugin = "(built-in)"
	}
	return []any{p.Name, p.Spec.Type, plugin, p.Spec.FailurePolicy, active, reason, translateAge(p.CreationTimestamp)}
})
