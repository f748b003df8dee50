package api

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	pluginsv1alpha1 "github.com/tugboat-io/tug/core/api/plugins/v1alpha1"
)

func TestAdmissionPolicyValidation(t *testing.T) {
	ref := func(v, k string) pluginsv1alpha1.KindReference {
		return pluginsv1alpha1.KindReference{APIVersion: v, Kind: k}
	}
	i32 := func(v int32) *int32 { return &v }
	for _, tt := range []struct {
		name  string
		mut   func(*pluginsv1alpha1.AdmissionPolicySpec)
		field string
		typ   field.ErrorType
	}{
		{"valid", func(*pluginsv1alpha1.AdmissionPolicySpec) {}, "", ""},
		{"built-in, reads", func(s *pluginsv1alpha1.AdmissionPolicySpec) {
			s.Plugin = ""
			s.Reads = []pluginsv1alpha1.AdmissionRead{{KindReference: ref("v1", "ResourceQuota"), Required: true, WriteStatus: true},
				{KindReference: ref("v1", "Namespace"), Scope: pluginsv1alpha1.ReadRequestNamespace}}
		}, "", ""},
		{"no type", func(s *pluginsv1alpha1.AdmissionPolicySpec) { s.Type = "" }, "spec.type", field.ErrorTypeNotSupported},
		{"no rules", func(s *pluginsv1alpha1.AdmissionPolicySpec) { s.Rules = nil }, "spec.rules", field.ErrorTypeRequired},
		{"empty operations", func(s *pluginsv1alpha1.AdmissionPolicySpec) { s.Rules[0].Operations = nil }, "spec.rules[0].operations", field.ErrorTypeRequired},
		{"bad operation", func(s *pluginsv1alpha1.AdmissionPolicySpec) { s.Rules[0].Operations = []string{"CONNECT"} }, "spec.rules[0].operations[0]", field.ErrorTypeNotSupported},
		{"bad resource", func(s *pluginsv1alpha1.AdmissionPolicySpec) { s.Rules[0].Resources = []string{"pods/a/b"} }, "spec.rules[0].resources[0]", field.ErrorTypeInvalid},
		{"bad scope", func(s *pluginsv1alpha1.AdmissionPolicySpec) { s.Rules[0].Scope = "Everywhere" }, "spec.rules[0].scope", field.ErrorTypeNotSupported},
		{"bad failure policy", func(s *pluginsv1alpha1.AdmissionPolicySpec) { s.FailurePolicy = "Maybe" }, "spec.failurePolicy", field.ErrorTypeNotSupported},
		{"timeout too long", func(s *pluginsv1alpha1.AdmissionPolicySpec) { s.TimeoutMilliseconds = i32(30001) }, "spec.timeoutMilliseconds", field.ErrorTypeInvalid},
		{"config not an object", func(s *pluginsv1alpha1.AdmissionPolicySpec) { s.Config = &runtime.RawExtension{Raw: []byte(`[1]`)} }, "spec.config", field.ErrorTypeInvalid},
		{"bad selector", func(s *pluginsv1alpha1.AdmissionPolicySpec) {
			s.NamespaceSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"a b": "c"}}
		}, "spec.namespaceSelector.matchLabels", field.ErrorTypeInvalid},
		{"request namespace of pods", func(s *pluginsv1alpha1.AdmissionPolicySpec) {
			s.Reads = []pluginsv1alpha1.AdmissionRead{{KindReference: ref("v1", "Pod"), Scope: pluginsv1alpha1.ReadRequestNamespace}}
		}, "spec.reads[0].scope", field.ErrorTypeInvalid},
		{"duplicate read", func(s *pluginsv1alpha1.AdmissionPolicySpec) {
			s.Reads = []pluginsv1alpha1.AdmissionRead{{KindReference: ref("v1", "Secret")}, {KindReference: ref("v1", "Secret")}}
		}, "spec.reads[1]", field.ErrorTypeDuplicate},
		{"read without kind", func(s *pluginsv1alpha1.AdmissionPolicySpec) {
			s.Reads = []pluginsv1alpha1.AdmissionRead{{KindReference: ref("v1", "")}}
		}, "spec.reads[0].kind", field.ErrorTypeRequired},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := &pluginsv1alpha1.AdmissionPolicy{ObjectMeta: metav1.ObjectMeta{Name: "team-label"},
				Spec: pluginsv1alpha1.AdmissionPolicySpec{Plugin: "team-label", Type: pluginsv1alpha1.PolicyValidating,
					Rules: []pluginsv1alpha1.RuleWithOperations{{Operations: []string{"CREATE"}, APIGroups: []string{"apps"},
						APIVersions: []string{"v1"}, Resources: []string{"deployments"}}}}}
			tt.mut(&p.Spec)
			defaulters["admissionpolicies"](p)
			errs := validators["admissionpolicies"].create(p)
			if tt.field == "" {
				if len(errs) > 0 {
					t.Fatalf("unexpected errors: %v", errs)
				}
				if *p.Spec.TimeoutMilliseconds != DefaultAdmissionTimeoutMilliseconds || *p.Spec.Order != DefaultAdmissionOrder || p.Spec.FailurePolicy != "Fail" {
					t.Fatalf("defaults not applied: %+v", p.Spec)
				}
				return
			}
			if len(errs) != 1 || errs[0].Field != tt.field || errs[0].Type != tt.typ {
				t.Fatalf("got %v, want one %s at %s", errs, tt.typ, tt.field)
			}
		})
	}
}
