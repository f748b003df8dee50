package rbac

import (
	"context"
	"fmt"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/tugboat-io/tug/core/apiserver"
	"github.com/tugboat-io/tug/core/auth/authz"
	"github.com/tugboat-io/tug/core/auth/user"
)

// Lister reads the RBAC objects, typically from a watch cache. Returned objects are not
// modified.
type Lister interface {
	ClusterRoles(ctx context.Context) ([]*rbacv1.ClusterRole, error)
	Roles(ctx context.Context, namespace string) ([]*rbacv1.Role, error)
	ClusterRoleBindings(ctx context.Context) ([]*rbacv1.ClusterRoleBinding, error)
	RoleBindings(ctx context.Context, namespace string) ([]*rbacv1.RoleBinding, error)
}

// Authorizer is the RBAC authorizer.
type Authorizer struct {
	Lister Lister
}

// New returns an RBAC authorizer over l.
func New(l Lister) *Authorizer { return &Authorizer{Lister: l} }

// Authorize implements apiserver.Authorizer, for when RBAC is the only authorizer.
func (r *Authorizer) Authorize(ctx context.Context, a apiserver.Attributes) (bool, string, error) {
	return authz.Union(authz.Masters, r).Authorize(ctx, a)
}

// Decide implements authz.Decider: Allow with the binding that allowed, or NoOpinion with the
// problems met on the way (a binding to a missing role), which are worth showing to whoever is
// puzzled by a 403. Members of system:masters are allowed without reading any rule.
func (r *Authorizer) Decide(ctx context.Context, a apiserver.Attributes) (authz.Decision, string, error) {
	if a.User == nil {
		return authz.NoOpinion, "", nil
	}
	if a.User.InGroup(user.Masters) {
		return authz.Allow, "member of " + user.Masters, nil
	}
	roles, err := r.clusterRoles(ctx)
	if err != nil {
		return authz.NoOpinion, "", err
	}
	var problems []string

	crbs, err := r.Lister.ClusterRoleBindings(ctx)
	if err != nil {
		return authz.NoOpinion, "", fmt.Errorf("list clusterrolebindings: %w", err)
	}
	for _, b := range crbs {
		subj, ok := appliesTo(a.User, b.Subjects, "")
		if !ok {
			continue
		}
		if b.RoleRef.Kind != "ClusterRole" {
			problems = append(problems, fmt.Sprintf("clusterrolebinding %q refers to a %s", b.Name, b.RoleRef.Kind))
			continue
		}
		rules, found := roles.rules(b.RoleRef.Name)
		if !found {
			problems = append(problems, fmt.Sprintf("clusterrole %q not found", b.RoleRef.Name))
			continue
		}
		if anyAllows(a, rules) {
			return authz.Allow, fmt.Sprintf("RBAC: allowed by ClusterRoleBinding %q of ClusterRole %q to %s", b.Name, b.RoleRef.Name, describe(subj)), nil
		}
	}

	// Role bindings only ever grant within their namespace, and never non-resource URLs.
	if a.Namespace != "" && a.ResourceRequest {
		rbs, err := r.Lister.RoleBindings(ctx, a.Namespace)
		if err != nil {
			return authz.NoOpinion, "", fmt.Errorf("list rolebindings in %s: %w", a.Namespace, err)
		}
		var nsRoles map[string]*rbacv1.Role
		for _, b := range rbs {
			subj, ok := appliesTo(a.User, b.Subjects, b.Namespace)
			if !ok {
				continue
			}
			rules, found, err := r.roleRefRules(ctx, roles, &nsRoles, a.Namespace, b.RoleRef)
			if err != nil {
				return authz.NoOpinion, "", err
			}
			if !found {
				problems = append(problems, fmt.Sprintf("%s %q not found", strings.ToLower(b.RoleRef.Kind), b.RoleRef.Name))
				continue
			}
			if anyAllows(a, rules) {
				return authz.Allow, fmt.Sprintf("RBAC: allowed by RoleBinding %q of %s %q to %s", b.Namespace+"/"+b.Name, b.RoleRef.Kind, b.RoleRef.Name, describe(subj)), nil
			}
		}
	}
	if len(problems) > 0 {
		return authz.NoOpinion, "RBAC: " + strings.Join(problems, ", "), nil
	}
	return authz.NoOpinion, "", nil
}

// roleRefRules returns the rules a RoleBinding in ns refers to, and whether its role exists.
// The namespace's Roles are read at most once per caller, through nsRoles.
func (r *Authorizer) roleRefRules(ctx context.Context, roles *clusterRoleSet, nsRoles *map[string]*rbacv1.Role, ns string, ref rbacv1.RoleRef) ([]rbacv1.PolicyRule, bool, error) {
	switch ref.Kind {
	case "ClusterRole":
		rules, found := roles.rules(ref.Name)
		return rules, found, nil
	case "Role":
		if *nsRoles == nil {
			m, err := r.roles(ctx, ns)
			if err != nil {
				return nil, false, err
			}
			*nsRoles = m
		}
		if role, ok := (*nsRoles)[ref.Name]; ok {
			return role.Rules, true, nil
		}
	}
	return nil, false, nil
}

func anyAllows(a apiserver.Attributes, rules []rbacv1.PolicyRule) bool {
	for i := range rules {
		if RuleAllows(a, &rules[i]) {
			return true
		}
	}
	return false
}

func (r *Authorizer) roles(ctx context.Context, ns string) (map[string]*rbacv1.Role, error) {
	list, err := r.Lister.Roles(ctx, ns)
	if err != nil {
		return nil, fmt.Errorf("list roles in %s: %w", ns, err)
	}
	m := make(map[string]*rbacv1.Role, len(list))
	for _, role := range list {
		m[role.Name] = role
	}
	return m, nil
}

// appliesTo finds the subject that names u. ns is the binding's namespace, the default for a
// ServiceAccount subject without one (kube's rule); cluster role bindings pass "".
func appliesTo(u *user.Info, subjects []rbacv1.Subject, ns string) (rbacv1.Subject, bool) {
	for _, s := range subjects {
		switch s.Kind {
		case rbacv1.UserKind:
			if s.Name == u.Name {
				return s, true
			}
		case rbacv1.GroupKind:
			if u.InGroup(s.Name) {
				return s, true
			}
		case rbacv1.ServiceAccountKind:
			saNS := s.Namespace
			if saNS == "" {
				saNS = ns
			}
			if saNS != "" && s.Name != "" && u.Name == user.ServiceAccountUser(saNS, s.Name) {
				s.Namespace = saNS
				return s, true
			}
		}
	}
	return rbacv1.Subject{}, false
}

func describe(s rbacv1.Subject) string {
	if s.Kind == rbacv1.ServiceAccountKind {
		return fmt.Sprintf("%s %q", s.Kind, s.Namespace+"/"+s.Name)
	}
	return fmt.Sprintf("%s %q", s.Kind, s.Name)
}

// clusterRoleSet resolves ClusterRoles by name, with aggregation.
type clusterRoleSet struct {
	byName   map[string]*rbacv1.ClusterRole
	all      []*rbacv1.ClusterRole
	resolved map[string][]rbacv1.PolicyRule
}

func (r *Authorizer) clusterRoles(ctx context.Context) (*clusterRoleSet, error) {
	list, err := r.Lister.ClusterRoles(ctx)
	if err != nil {
		return nil, fmt.Errorf("list clusterroles: %w", err)
	}
	s := &clusterRoleSet{byName: make(map[string]*rbacv1.ClusterRole, len(list)), all: list, resolved: map[string][]rbacv1.PolicyRule{}}
	for _, cr := range list {
		s.byName[cr.Name] = cr
	}
	return s, nil
}

func (s *clusterRoleSet) rules(name string) ([]rbacv1.PolicyRule, bool) {
	if _, ok := s.byName[name]; !ok {
		return nil, false
	}
	return s.resolve(name, map[string]bool{}), true
}

// resolve returns a ClusterRole's effective rules. A role with an aggregation rule has, as in
// kube, the rules of every other ClusterRole matching one of its selectors (its own rules are
// what kube's controller would overwrite, so they are ignored); matching roles that aggregate
// in turn contribute their aggregated rules (admin ← edit ← view). A cycle contributes nothing
// twice.
func (s *clusterRoleSet) resolve(name string, visiting map[string]bool) []rbacv1.PolicyRule {
	if rules, ok := s.resolved[name]; ok {
		return rules
	}
	cr := s.byName[name]
	if cr.AggregationRule == nil {
		return cr.Rules
	}
	// Only a resolution started from the top is complete; one cut short by a cycle is not
	// remembered.
	top := len(visiting) == 0
	visiting[name] = true
	defer delete(visiting, name)
	var selectors []labels.Selector
	for i := range cr.AggregationRule.ClusterRoleSelectors {
		sel, err := metav1.LabelSelectorAsSelector(&cr.AggregationRule.ClusterRoleSelectors[i])
		if err != nil {
			continue // an invalid selector selects nothing; validation should have caught it
		}
		// An empty selector would aggregate every ClusterRole, cluster-admin included: a
		// mistake nobody means, so it selects nothing.
		selectors = append(selectors, sel)
	}
	var rules []rbacv1.PolicyRule
	for _, other := range s.all {
		if other.Name == name || visiting[other.Name] {
			continue
		}
		set := labels.Set(other.Labels)
		for _, sel := range selectors {
			if !sel.Empty() && sel.Matches(set) {
				rules = append(rules, s.resolve(other.Name, visiting)...)
				break
			}
		}
	}
	if top {
		s.resolved[name] = rules
	}
	return rules
}
