package rbac

import (
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/tugboat-io/tug/core/apiserver"
)

func res(verb, group, resource, sub, ns, name string) apiserver.Attributes {
	return apiserver.Attributes{Verb: verb, Group: group, Resource: resource, Subresource: sub, Namespace: ns, Name: name, ResourceRequest: true}
}

func path(verb, p string) apiserver.Attributes {
	return apiserver.Attributes{Verb: verb, Path: p}
}

func TestRuleAllows(t *testing.T) {
	podsRead := rbacv1.PolicyRule{Verbs: []string{"get", "list"}, APIGroups: []string{""}, Resources: []string{"pods"}}
	tests := []struct {
		name  string
		rule  rbacv1.PolicyRule
		attrs apiserver.Attributes
		want  bool
	}{
		{"verb and resource", podsRead, res("get", "", "pods", "", "a", "p"), true},
		{"other verb", podsRead, res("delete", "", "pods", "", "a", "p"), false},
		{"other group", podsRead, res("get", "apps", "pods", "", "a", "p"), false},
		{"other resource", podsRead, res("get", "", "secrets", "", "a", "s"), false},
		{"resource does not cover subresource", podsRead, res("get", "", "pods", "log", "a", "p"), false},
		{"subresource named", rbacv1.PolicyRule{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"pods/log"}}, res("get", "", "pods", "log", "a", "p"), true},
		{"subresource rule does not cover resource", rbacv1.PolicyRule{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"pods/log"}}, res("get", "", "pods", "", "a", "p"), false},
		{"*/subresource", rbacv1.PolicyRule{Verbs: []string{"update"}, APIGroups: []string{"*"}, Resources: []string{"*/scale"}}, res("update", "apps", "deployments", "scale", "a", "d"), true},
		{"*/subresource needs that subresource", rbacv1.PolicyRule{Verbs: []string{"update"}, APIGroups: []string{"*"}, Resources: []string{"*/scale"}}, res("update", "apps", "deployments", "status", "a", "d"), false},
		{"*/subresource is not the resource", rbacv1.PolicyRule{Verbs: []string{"update"}, APIGroups: []string{"*"}, Resources: []string{"*/scale"}}, res("update", "apps", "deployments", "", "a", "d"), false},
		{"* covers subresources", rbacv1.PolicyRule{Verbs: []string{"*"}, APIGroups: []string{"*"}, Resources: []string{"*"}}, res("create", "", "pods", "exec", "a", "p"), true},
		{"* verb", rbacv1.PolicyRule{Verbs: []string{"*"}, APIGroups: []string{""}, Resources: []string{"pods"}}, res("deletecollection", "", "pods", "", "a", ""), true},
		{"resource name matches", rbacv1.PolicyRule{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"configmaps"}, ResourceNames: []string{"cfg"}}, res("get", "", "configmaps", "", "a", "cfg"), true},
		{"resource name differs", rbacv1.PolicyRule{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"configmaps"}, ResourceNames: []string{"cfg"}}, res("get", "", "configmaps", "", "a", "other"), false},
		{"resource names never match list", rbacv1.PolicyRule{Verbs: []string{"list"}, APIGroups: []string{""}, Resources: []string{"configmaps"}, ResourceNames: []string{"cfg"}}, res("list", "", "configmaps", "", "a", ""), false},
		{"resource rule ignores paths", podsRead, path("get", "/api"), false},
		{"exact URL", rbacv1.PolicyRule{Verbs: []string{"get"}, NonResourceURLs: []string{"/healthz"}}, path("get", "/healthz"), true},
		{"exact URL is exact", rbacv1.PolicyRule{Verbs: []string{"get"}, NonResourceURLs: []string{"/healthz"}}, path("get", "/healthz/etcd"), false},
		{"URL prefix", rbacv1.PolicyRule{Verbs: []string{"get"}, NonResourceURLs: []string{"/apis/*"}}, path("get", "/apis/apps/v1"), true},
		{"URL prefix excludes the bare path", rbacv1.PolicyRule{Verbs: []string{"get"}, NonResourceURLs: []string{"/apis/*"}}, path("get", "/apis"), false},
		{"URL prefix without slash", rbacv1.PolicyRule{Verbs: []string{"get"}, NonResourceURLs: []string{"/api*"}}, path("get", "/apis"), true},
		{"URL *", rbacv1.PolicyRule{Verbs: []string{"*"}, NonResourceURLs: []string{"*"}}, path("post", "/anything"), true},
		{"URL verb", rbacv1.PolicyRule{Verbs: []string{"get"}, NonResourceURLs: []string{"/metrics"}}, path("post", "/metrics"), false},
		{"URL rule ignores resources", rbacv1.PolicyRule{Verbs: []string{"get"}, NonResourceURLs: []string{"*"}}, res("get", "", "pods", "", "a", "p"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := RuleAllows(tt.attrs, &tt.rule); got != tt.want {
				t.Fatalf("RuleAllows = %v, want %v", got, tt.want)
			}
		})
	}
}
