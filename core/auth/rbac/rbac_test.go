package rbac

import (
	"context"
	"errors"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tugboat-io/tug/core/apiserver"
	"github.com/tugboat-io/tug/core/auth/authz"
	"github.com/tugboat-io/tug/core/auth/user"
)

// fakeLister serves fixed objects; err makes every call fail.
type fakeLister struct {
	clusterRoles []*rbacv1.ClusterRole
	roles        []*rbacv1.Role
	crbs         []*rbacv1.ClusterRoleBinding
	rbs          []*rbacv1.RoleBinding
	err          error
}

func (f *fakeLister) ClusterRoles(context.Context) ([]*rbacv1.ClusterRole, error) {
	return f.clusterRoles, f.err
}

func (f *fakeLister) Roles(_ context.Context, ns string) ([]*rbacv1.Role, error) {
	var out []*rbacv1.Role
	for _, r := range f.roles {
		if r.Namespace == ns {
			out = append(out, r)
		}
	}
	return out, f.err
}

func (f *fakeLister) ClusterRoleBindings(context.Context) ([]*rbacv1.ClusterRoleBinding, error) {
	return f.crbs, f.err
}

func (f *fakeLister) RoleBindings(_ context.Context, ns string) ([]*rbacv1.RoleBinding, error) {
	var out []*rbacv1.RoleBinding
	for _, b := range f.rbs {
		if b.Namespace == ns {
			out = append(out, b)
		}
	}
	return out, f.err
}

func cr(name string, labels map[string]string, rules ...rbacv1.PolicyRule) *rbacv1.ClusterRole {
	return &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}, Rules: rules}
}

func agg(name string, labels map[string]string, sel map[string]string, rules ...rbacv1.PolicyRule) *rbacv1.ClusterRole {
	c := cr(name, labels, rules...)
	c.AggregationRule = &rbacv1.AggregationRule{ClusterRoleSelectors: []metav1.LabelSelector{{MatchLabels: sel}}}
	return c
}

func crb(name, role string, subjects ...rbacv1.Subject) *rbacv1.ClusterRoleBinding {
	return &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name}, RoleRef: rbacv1.RoleRef{Kind: "ClusterRole", Name: role}, Subjects: subjects}
}

func rb(ns, name, kind, role string, subjects ...rbacv1.Subject) *rbacv1.RoleBinding {
	return &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, RoleRef: rbacv1.RoleRef{Kind: kind, Name: role}, Subjects: subjects}
}

func subj(kind, name, ns string) rbacv1.Subject {
	return rbacv1.Subject{Kind: kind, Name: name, Namespace: ns}
}

var (
	podReader  = rbacv1.PolicyRule{Verbs: []string{"get", "list", "watch"}, APIGroups: []string{""}, Resources: []string{"pods"}}
	deployW    = rbacv1.PolicyRule{Verbs: []string{"create"}, APIGroups: []string{"apps"}, Resources: []string{"deployments"}}
	secretRead = rbacv1.PolicyRule{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"secrets"}}
	healthz    = rbacv1.PolicyRule{Verbs: []string{"get"}, NonResourceURLs: []string{"/healthz"}}
)

func as(u *user.Info, a apiserver.Attributes) apiserver.Attributes {
	a.User = u
	return a
}

func TestAuthorizer(t *testing.T) {
	alice := &user.Info{Name: "alice", Groups: []string{"dev"}}
	bob := &user.Info{Name: "bob", Groups: []string{"ops"}}
	builder := &user.Info{Name: "system:serviceaccount:ci:builder", Groups: user.ServiceAccountGroups("ci")}
	root := &user.Info{Name: "root", Groups: []string{user.Masters}}
	l := &fakeLister{
		clusterRoles: []*rbacv1.ClusterRole{
			cr("pod-reader", nil, podReader),
			cr("healthz", nil, healthz),
			// Aggregation: top ← middle ← leaf, plus a role with its own rules that kube's
			// controller would overwrite.
			agg("top", nil, map[string]string{"to-top": "true"}, secretRead),
			agg("middle", map[string]string{"to-top": "true"}, map[string]string{"to-middle": "true"}),
			cr("leaf", map[string]string{"to-middle": "true"}, deployW),
			// A cycle: a ← b ← a.
			agg("cycle-a", map[string]string{"to-b": "true"}, map[string]string{"to-a": "true"}),
			agg("cycle-b", map[string]string{"to-a": "true"}, map[string]string{"to-b": "true"}, podReader),
			cr("cycle-leaf", map[string]string{"to-a": "true"}, healthz),
			// An empty selector aggregates nothing.
			agg("greedy", nil, map[string]string{}),
		},
		roles: []*rbacv1.Role{
			{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "secret-reader"}, Rules: []rbacv1.PolicyRule{secretRead}},
		},
		crbs: []*rbacv1.ClusterRoleBinding{
			crb("dev-health", "healthz", subj(rbacv1.GroupKind, "dev", "")),
			crb("carol-top", "top", subj(rbacv1.UserKind, "carol", "")),
			crb("sa-without-namespace", "pod-reader", subj(rbacv1.ServiceAccountKind, "builder", "")),
			crb("dave-cycle", "cycle-a", subj(rbacv1.UserKind, "dave", "")),
			crb("erin-greedy", "greedy", subj(rbacv1.UserKind, "erin", "")),
			crb("frank-missing", "no-such-role", subj(rbacv1.UserKind, "frank", "")),
		},
		rbs: []*rbacv1.RoleBinding{
			rb("a", "alice-pods", "ClusterRole", "pod-reader", subj(rbacv1.UserKind, "alice", "")),
			rb("a", "ops-secrets", "Role", "secret-reader", subj(rbacv1.GroupKind, "ops", "")),
			// A ServiceAccount subject without a namespace means the binding's namespace.
			rb("ci", "builder-pods", "ClusterRole", "pod-reader", subj(rbacv1.ServiceAccountKind, "builder", "")),
			rb("a", "builder-secrets", "Role", "secret-reader", subj(rbacv1.ServiceAccountKind, "builder", "ci")),
			rb("a", "bob-missing", "Role", "gone", subj(rbacv1.UserKind, "bob", "")),
			// A RoleBinding cannot lend a Role of another namespace, nor healthz.
			rb("b", "bob-a-role", "Role", "secret-reader", subj(rbacv1.UserKind, "bob", "")),
			rb("b", "bob-healthz", "ClusterRole", "healthz", subj(rbacv1.UserKind, "bob", "")),
		},
	}
	carol := &user.Info{Name: "carol"}
	dave := &user.Info{Name: "dave"}
	tests := []struct {
		name   string
		attrs  apiserver.Attributes
		allow  bool
		reason string // substring of the decider's reason
	}{
		{"rolebinding to clusterrole", as(alice, res("list", "", "pods", "", "a", "")), true, `RoleBinding "a/alice-pods" of ClusterRole "pod-reader" to User "alice"`},
		{"rolebinding stays in its namespace", as(alice, res("list", "", "pods", "", "b", "")), false, ""},
		{"not cluster-wide", as(alice, res("list", "", "pods", "", "", "")), false, ""},
		{"not other verbs", as(alice, res("delete", "", "pods", "", "a", "p")), false, ""},
		{"group subject and role", as(bob, res("get", "", "secrets", "", "a", "s")), true, `Group "ops"`},
		{"role of another namespace", as(bob, res("get", "", "secrets", "", "b", "s")), false, `role "secret-reader" not found`},
		{"rolebinding grants no URLs", as(bob, path("get", "/healthz")), false, ""},
		{"clusterrolebinding grants URLs", as(alice, path("get", "/healthz")), true, `ClusterRoleBinding "dev-health"`},
		{"service account, namespace from binding", as(builder, res("get", "", "pods", "", "ci", "p")), true, `ServiceAccount "ci/builder"`},
		{"service account, namespace named", as(builder, res("get", "", "secrets", "", "a", "s")), true, `RoleBinding "a/builder-secrets"`},
		{"clusterrolebinding service account needs a namespace", as(builder, res("get", "", "pods", "", "x", "p")), false, ""},
		{"service account name is not a user subject", as(&user.Info{Name: "builder"}, res("get", "", "pods", "", "ci", "p")), false, ""},
		{"aggregated two levels", as(carol, res("create", "apps", "deployments", "", "x", "")), true, `ClusterRole "top"`},
		{"aggregated role's own rules ignored", as(carol, res("get", "", "secrets", "", "x", "s")), false, ""},
		{"cycle resolves", as(dave, path("get", "/healthz")), true, ""},
		{"cycle partner's own rules ignored", as(dave, res("get", "", "pods", "", "x", "p")), false, ""},
		{"empty selector aggregates nothing", as(&user.Info{Name: "erin"}, res("get", "", "pods", "", "x", "p")), false, ""},
		{"missing cluster role named", as(&user.Info{Name: "frank"}, res("get", "", "pods", "", "x", "p")), false, `RBAC: clusterrole "no-such-role" not found`},
		{"missing role named", as(bob, res("get", "", "pods", "", "a", "p")), false, `role "gone" not found`},
		{"masters", as(root, res("delete", "", "nodes", "", "", "n1")), true, "system:masters"},
		{"nobody", as(&user.Info{Name: "mallory"}, res("get", "", "pods", "", "a", "p")), false, ""},
	}
	a := New(l)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dec, reason, err := a.Decide(context.Background(), tt.attrs)
			if err != nil {
				t.Fatal(err)
			}
			if want := map[bool]authz.Decision{true: authz.Allow, false: authz.NoOpinion}[tt.allow]; dec != want {
				t.Fatalf("decision %v (%s), want %v", dec, reason, want)
			}
			if !strings.Contains(reason, tt.reason) {
				t.Fatalf("reason %q lacks %q", reason, tt.reason)
			}
		})
	}
}

func TestAuthorizeDenyReason(t *testing.T) {
	a := New(&fakeLister{})
	allowed, reason, err := a.Authorize(context.Background(), as(&user.Info{Name: "alice"}, res("list", "", "pods", "", "kube-system", "")))
	if allowed || err != nil {
		t.Fatalf("allowed=%v err=%v", allowed, err)
	}
	if want := `User "alice" cannot list resource "pods" in API group "" in the namespace "kube-system"`; reason != want {
		t.Fatalf("reason\n got %s\nwant %s", reason, want)
	}
	if allowed, _, _ := a.Authorize(context.Background(), as(&user.Info{Name: "root", Groups: []string{user.Masters}}, res("delete", "", "pods", "", "a", "p"))); !allowed {
		t.Fatal("system:masters denied with no RBAC objects at all")
	}
}

func TestAuthorizerListerError(t *testing.T) {
	boom := errors.New("cache not synced")
	_, _, err := New(&fakeLister{err: boom}).Decide(context.Background(), as(&user.Info{Name: "alice"}, res("get", "", "pods", "", "a", "p")))
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
}
