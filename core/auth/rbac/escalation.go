package rbac

import (
	"context"
	"fmt"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/tugboat-io/tug/core/apiserver"
)

// Escalation guards writes of roles and bindings as kube-apiserver's RBAC storage does: nobody
// grants, through a role they write or a binding they make, a permission they do not hold
// themselves. Writing a role needs the verb escalate on it, or every rule of it held; a binding
// needs the verb bind on the role it names, or every rule of that role held (in the binding's
// namespace). Held means the server's authorizer (masters, node, RBAC) allows it.
type Escalation struct {
	// Next is the admission that runs around this check (nil: none).
	Next apiserver.Admission
	// Authz is the server's whole authorizer; RBAC resolves the roles bindings name.
	Authz apiserver.Authorizer
	RBAC  *Authorizer
}

// Mutate implements apiserver.Admission.
func (e *Escalation) Mutate(ctx context.Context, req *apiserver.AdmissionRequest) error {
	if e.Next == nil {
		return nil
	}
	return e.Next.Mutate(ctx, req)
}

// Validate implements apiserver.Admission: the check, on the object as mutating admission
// left it, then the next admission's validation.
func (e *Escalation) Validate(ctx context.Context, req *apiserver.AdmissionRequest) error {
	if err := e.check(ctx, req); err != nil {
		return err
	}
	if e.Next == nil {
		return nil
	}
	return e.Next.Validate(ctx, req)
}

func (e *Escalation) check(ctx context.Context, req *apiserver.AdmissionRequest) error {
	if req.Resource.Group != rbacv1.GroupName || req.Subresource != "" || req.User == nil ||
		(req.Operation != apiserver.OpCreate && req.Operation != apiserver.OpUpdate) {
		return nil
	}
	gr := schema.GroupResource{Group: rbacv1.GroupName, Resource: req.Resource.Resource}
	var (
		rules  []rbacv1.PolicyRule
		ns     string
		permit apiserver.Attributes // the verb that lets one skip the check
	)
	switch o := req.Object.(type) {
	case *rbacv1.Role:
		rules, ns = o.Rules, o.Namespace
		permit = e.attrs(req, "escalate", "roles", ns, o.Name)
	case *rbacv1.ClusterRole:
		rules = o.Rules
		permit = e.attrs(req, "escalate", "clusterroles", "", o.Name)
		if o.AggregationRule != nil {
			// It grants whatever the roles it selects grant, now and later: as in kube, only
			// someone holding everything (or escalate on it) may aggregate.
			if ok, _, err := e.Authz.Authorize(ctx, permit); err != nil || ok {
				return err
			}
			missing, err := Uncovered(ctx, e.Authz, req.User, "", fullAuthority)
			if err != nil {
				return err
			}
			if len(missing) > 0 {
				return apierrors.NewForbidden(gr, req.Name, fmt.Errorf("user %q (groups=%q) must have cluster-admin privileges to use the aggregationRule", req.User.Name, req.User.Groups))
			}
		}
	case *rbacv1.RoleBinding:
		ns = o.Namespace
		res := "roles"
		if o.RoleRef.Kind == "ClusterRole" {
			res = "clusterroles"
		}
		permit = e.attrs(req, "bind", res, ns, o.RoleRef.Name)
		if ok, _, err := e.Authz.Authorize(ctx, permit); err != nil || ok {
			return err
		}
		var err error
		if rules, err = e.refRules(ctx, ns, o.RoleRef); err != nil {
			return err
		}
		permit = apiserver.Attributes{}
	case *rbacv1.ClusterRoleBinding:
		permit = e.attrs(req, "bind", "clusterroles", "", o.RoleRef.Name)
		if ok, _, err := e.Authz.Authorize(ctx, permit); err != nil || ok {
			return err
		}
		var err error
		if rules, err = e.refRules(ctx, "", o.RoleRef); err != nil {
			return err
		}
		permit = apiserver.Attributes{}
	default:
		return nil
	}
	if permit.Verb != "" {
		if ok, _, err := e.Authz.Authorize(ctx, permit); err != nil || ok {
			return err
		}
	}
	missing, err := Uncovered(ctx, e.Authz, req.User, ns, rules)
	if err != nil || len(missing) == 0 {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "user %q (groups=%q) is attempting to grant RBAC permissions not currently held:", req.User.Name, req.User.Groups)
	for _, r := range missing {
		fmt.Fprintf(&b, "\n%s", describeRule(r))
	}
	return apierrors.NewForbidden(gr, req.Name, fmt.Errorf("%s", b.String()))
}

// fullAuthority is every permission: what aggregating ClusterRoles takes.
var fullAuthority = []rbacv1.PolicyRule{
	{Verbs: []string{"*"}, APIGroups: []string{"*"}, Resources: []string{"*"}},
	{Verbs: []string{"*"}, NonResourceURLs: []string{"*"}},
}

func (e *Escalation) attrs(req *apiserver.AdmissionRequest, verb, resource, ns, name string) apiserver.Attributes {
	return apiserver.Attributes{User: req.User, Verb: verb, Group: rbacv1.GroupName, Version: "v1", Resource: resource,
		Namespace: ns, Name: name, ResourceRequest: true}
}

// refRules are the effective rules of the role a binding names. A missing role is NotFound,
// as in kube: only someone allowed to bind it may name a role that does not exist yet, or
// anyone could bind themselves to a role an administrator writes later.
func (e *Escalation) refRules(ctx context.Context, ns string, ref rbacv1.RoleRef) ([]rbacv1.PolicyRule, error) {
	switch ref.Kind {
	case "ClusterRole":
		set, err := e.RBAC.clusterRoles(ctx)
		if err != nil {
			return nil, err
		}
		if rules, ok := set.rules(ref.Name); ok {
			return rules, nil
		}
		return nil, apierrors.NewNotFound(schema.GroupResource{Group: rbacv1.GroupName, Resource: "clusterroles"}, ref.Name)
	case "Role":
		roles, err := e.RBAC.roles(ctx, ns)
		if err != nil {
			return nil, err
		}
		if r, ok := roles[ref.Name]; ok {
			return r.Rules, nil
		}
		return nil, apierrors.NewNotFound(schema.GroupResource{Group: rbacv1.GroupName, Resource: "roles"}, ref.Name)
	}
	return nil, apierrors.NewBadRequest(fmt.Sprintf("roleRef.kind %q: want Role or ClusterRole", ref.Kind))
}

// Uncovered returns the rules of want that u may not do in namespace ns ("" for cluster-wide),
// asking az for every verb, group, resource and name each rule names. A wildcard is asked as
// itself, which only a wildcard grant allows: holding every verb one by one does not make one
// able to grant "*".
func Uncovered(ctx context.Context, az apiserver.Authorizer, u *apiserver.UserInfo, ns string, want []rbacv1.PolicyRule) ([]rbacv1.PolicyRule, error) {
	var missing []rbacv1.PolicyRule
	for _, r := range want {
		ok, err := covered(ctx, az, u, ns, r)
		if err != nil {
			return nil, err
		}
		if !ok {
			missing = append(missing, r)
		}
	}
	return missing, nil
}

func covered(ctx context.Context, az apiserver.Authorizer, u *apiserver.UserInfo, ns string, r rbacv1.PolicyRule) (bool, error) {
	ask := func(a apiserver.Attributes) (bool, error) {
		a.User = u
		ok, _, err := az.Authorize(ctx, a)
		return ok, err
	}
	for _, verb := range r.Verbs {
		for _, path := range r.NonResourceURLs {
			if ok, err := ask(apiserver.Attributes{Verb: verb, Path: path}); err != nil || !ok {
				return false, err
			}
		}
		names := r.ResourceNames
		if len(names) == 0 {
			names = []string{""}
		}
		for _, group := range r.APIGroups {
			for _, res := range r.Resources {
				resource, sub, _ := strings.Cut(res, "/")
				for _, name := range names {
					a := apiserver.Attributes{Verb: verb, Group: group, Resource: resource, Subresource: sub,
						Namespace: ns, Name: name, ResourceRequest: true}
					if ok, err := ask(a); err != nil || !ok {
						return false, err
					}
				}
			}
		}
	}
	return true, nil
}

// describeRule writes a rule as kube's escalation message lists them.
func describeRule(r rbacv1.PolicyRule) string {
	var parts []string
	add := func(name string, v []string) {
		if len(v) > 0 {
			parts = append(parts, fmt.Sprintf("%s:%q", name, v))
		}
	}
	add("APIGroups", r.APIGroups)
	add("Resources", r.Resources)
	add("ResourceNames", r.ResourceNames)
	add("NonResourceURLs", r.NonResourceURLs)
	add("Verbs", r.Verbs)
	return "{" + strings.Join(parts, ", ") + "}"
}
