package rbac

import (
	"context"
	"fmt"
	"strings"

	authorizationv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/tugboat-io/tug/core/apiserver"
)

// RulesFor lists the rules that allow u in namespace: those of every ClusterRoleBinding that
// names u, and of every RoleBinding in the namespace that does, as kube's RBAC rule resolver
// lists them for SelfSubjectRulesReview. Role bindings grant no non-resource URLs. A binding
// whose role is missing is reported in EvaluationError and the other rules still returned;
// the list is complete, since RBAC grants nothing but what its rules say.
func (r *Authorizer) RulesFor(ctx context.Context, u *apiserver.UserInfo, namespace string) (authorizationv1.SubjectRulesReviewStatus, error) {
	res, nonRes := []authorizationv1.ResourceRule{}, []authorizationv1.NonResourceRule{}
	var none authorizationv1.SubjectRulesReviewStatus
	if u == nil {
		return authorizationv1.SubjectRulesReviewStatus{ResourceRules: res, NonResourceRules: nonRes}, nil
	}
	roles, err := r.clusterRoles(ctx)
	if err != nil {
		return none, err
	}
	var problems []string
	add := func(rules []rbacv1.PolicyRule, nonResourceToo bool) {
		for _, p := range rules {
			if len(p.NonResourceURLs) > 0 {
				if nonResourceToo {
					nonRes = append(nonRes, authorizationv1.NonResourceRule{Verbs: p.Verbs, NonResourceURLs: p.NonResourceURLs})
				}
				continue
			}
			res = append(res, authorizationv1.ResourceRule{Verbs: p.Verbs, APIGroups: p.APIGroups, Resources: p.Resources, ResourceNames: p.ResourceNames})
		}
	}

	crbs, err := r.Lister.ClusterRoleBindings(ctx)
	if err != nil {
		return none, fmt.Errorf("list clusterrolebindings: %w", err)
	}
	for _, b := range crbs {
		if _, ok := appliesTo(u, b.Subjects, ""); !ok {
			continue
		}
		rules, found := roles.rules(b.RoleRef.Name)
		if b.RoleRef.Kind != "ClusterRole" || !found {
			problems = append(problems, fmt.Sprintf("clusterrolebinding %q: %s %q not found", b.Name, strings.ToLower(b.RoleRef.Kind), b.RoleRef.Name))
			continue
		}
		add(rules, true)
	}

	rbs, err := r.Lister.RoleBindings(ctx, namespace)
	if err != nil {
		return none, fmt.Errorf("list rolebindings in %s: %w", namespace, err)
	}
	var nsRoles map[string]*rbacv1.Role
	for _, b := range rbs {
		if _, ok := appliesTo(u, b.Subjects, b.Namespace); !ok {
			continue
		}
		rules, found, err := r.roleRefRules(ctx, roles, &nsRoles, namespace, b.RoleRef)
		if err != nil {
			return none, err
		}
		if !found {
			problems = append(problems, fmt.Sprintf("rolebinding %q: %s %q not found", namespace+"/"+b.Name, strings.ToLower(b.RoleRef.Kind), b.RoleRef.Name))
			continue
		}
		add(rules, false)
	}
	st := authorizationv1.SubjectRulesReviewStatus{ResourceRules: res, NonResourceRules: nonRes}
	if len(problems) > 0 {
		st.EvaluationError = "RBAC: " + strings.Join(problems, ", ")
	}
	return st, nil
}
