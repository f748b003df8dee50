package rbac

import (
	"slices"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/tugboat-io/tug/core/apiserver"
)

// RuleAllows says whether rule permits the request a. Resource requests match on verb, API
// group, resource (with subresource) and, when the rule lists names, the object's name;
// non-resource requests (/healthz, /version, /apis) match on verb and URL.
func RuleAllows(a apiserver.Attributes, rule *rbacv1.PolicyRule) bool {
	if !verbMatches(rule, a.Verb) {
		return false
	}
	if !a.ResourceRequest {
		return nonResourceURLMatches(rule, a.Path)
	}
	resource := a.Resource
	if a.Subresource != "" {
		resource += "/" + a.Subresource
	}
	return apiGroupMatches(rule, a.Group) &&
		resourceMatches(rule, resource, a.Subresource) &&
		resourceNameMatches(rule, a.Name)
}

func verbMatches(rule *rbacv1.PolicyRule, verb string) bool {
	return slices.Contains(rule.Verbs, rbacv1.VerbAll) || slices.Contains(rule.Verbs, verb)
}

func apiGroupMatches(rule *rbacv1.PolicyRule, group string) bool {
	return slices.Contains(rule.APIGroups, rbacv1.APIGroupAll) || slices.Contains(rule.APIGroups, group)
}

// resourceMatches: "*" is every resource and subresource; "pods/log" only that subresource;
// "*/scale" that subresource of every resource. A plain "pods" does not cover "pods/log", as in
// kube, so reading a pod does not imply reading its logs.
func resourceMatches(rule *rbacv1.PolicyRule, combined, subresource string) bool {
	for _, r := range rule.Resources {
		switch {
		case r == rbacv1.ResourceAll, r == combined:
			return true
		case subresource != "" && r == "*/"+subresource:
			return true
		}
	}
	return false
}

// resourceNameMatches: a rule without names covers every object; a rule with names covers only
// requests naming one of them, so it never matches list, watch without a name or create.
func resourceNameMatches(rule *rbacv1.PolicyRule, name string) bool {
	return len(rule.ResourceNames) == 0 || (name != "" && slices.Contains(rule.ResourceNames, name))
}

// nonResourceURLMatches: "*" is every path, "/apis/*" every path under /apis/, anything else an
// exact path.
func nonResourceURLMatches(rule *rbacv1.PolicyRule, path string) bool {
	for _, u := range rule.NonResourceURLs {
		switch {
		case u == rbacv1.NonResourceAll, u == path:
			return true
		case strings.HasSuffix(u, "*") && strings.HasPrefix(path, strings.TrimSuffix(u, "*")):
			return true
		}
	}
	return false
}
