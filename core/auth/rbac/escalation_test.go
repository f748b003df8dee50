package rbac

import (
	"context"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/tugboat-io/tug/core/apiserver"
	"github.com/tugboat-io/tug/core/auth/authz"
	"github.com/tugboat-io/tug/core/auth/user"
)

// Nobody grants through a role or a binding what they do not hold, unless allowed to escalate
// or bind; masters hold everything.
func TestEscalation(t *testing.T) {
	rbacRule := func(verbs []string, resources ...string) rbacv1.PolicyRule {
		return rbacv1.PolicyRule{Verbs: verbs, APIGroups: []string{rbacv1.GroupName}, Resources: resources}
	}
	writeRBAC := rbacRule([]string{"create", "update"}, "roles", "rolebindings", "clusterroles", "clusterrolebindings")
	everyPodVerb := rbacv1.PolicyRule{Verbs: []string{"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"},
		APIGroups: []string{""}, Resources: []string{"pods"}}
	lister := &fakeLister{
		clusterRoles: []*rbacv1.ClusterRole{
			cr("rbac-writer", nil, writeRBAC),
			cr("pods-all", nil, everyPodVerb),
			cr("escalator", nil, rbacRule([]string{"escalate"}, "roles")),
			cr("binder", nil, rbacv1.PolicyRule{Verbs: []string{"bind"}, APIGroups: []string{rbacv1.GroupName},
				Resources: []string{"roles"}, ResourceNames: []string{"secret-reader"}}),
			cr("aggregate-view", map[string]string{"agg": "view"}, podReader, secretRead),
			agg("view", nil, map[string]string{"agg": "view"}),
		},
		roles: []*rbacv1.Role{{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "secret-reader"}, Rules: []rbacv1.PolicyRule{secretRead}}},
		rbs: []*rbacv1.RoleBinding{
			rb("a", "w", "ClusterRole", "rbac-writer", subj("User", "alice", ""), subj("User", "esc", ""), subj("User", "bob", "")),
			rb("a", "p", "ClusterRole", "pods-all", subj("User", "alice", ""), subj("User", "bob", "")),
			rb("a", "e", "ClusterRole", "escalator", subj("User", "esc", "")),
			rb("a", "b", "ClusterRole", "binder", subj("User", "bob", "")),
		},
		crbs: []*rbacv1.ClusterRoleBinding{crb("w", "rbac-writer", subj("User", "alice", ""))},
	}
	r := New(lister)
	guard := &Escalation{Authz: authz.Union(authz.Masters, r), RBAC: r}
	role := func(rules ...rbacv1.PolicyRule) *rbacv1.Role {
		return &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "new"}, Rules: rules}
	}
	alice := &user.Info{Name: "alice", Groups: []string{user.AllAuthenticated}}
	bob := &user.Info{Name: "bob", Groups: []string{user.AllAuthenticated}}
	esc := &user.Info{Name: "esc", Groups: []string{user.AllAuthenticated}}
	admin := &user.Info{Name: "admin", Groups: []string{user.Masters}}
	for _, tt := range []struct {
		name    string
		u       *user.Info
		res     string
		obj     runtime.Object
		refused string // part of the message, "" when allowed
	}{
		{"a role with what one holds", alice, "roles", role(podReader), ""},
		{"a role with more than one holds", alice, "roles", role(podReader, secretRead), `"get"`},
		{"held in another namespace only", alice, "roles", &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: "b", Name: "new"},
			Rules: []rbacv1.PolicyRule{podReader}}, "not currently held"},
		{"every verb one by one is not the wildcard", alice, "roles", role(rbacv1.PolicyRule{Verbs: []string{"*"},
			APIGroups: []string{""}, Resources: []string{"pods"}}), `"*"`},
		{"escalate lets one write any role", esc, "roles", role(secretRead), ""},
		{"a cluster role needs it cluster-wide", alice, "clusterroles", cr("new", nil, podReader), "not currently held"},
		{"masters hold everything", admin, "clusterroles", cr("new", nil, rbacv1.PolicyRule{Verbs: []string{"*"},
			APIGroups: []string{"*"}, Resources: []string{"*"}}), ""},
		{"binding a role one holds", alice, "rolebindings", rb("a", "x", "ClusterRole", "pods-all", subj("User", "carol", "")), ""},
		{"binding a role one does not hold", alice, "rolebindings", rb("a", "x", "Role", "secret-reader", subj("User", "carol", "")), "not currently held"},
		{"bind on that role lets one bind it", bob, "rolebindings", rb("a", "x", "Role", "secret-reader", subj("User", "carol", "")), ""},
		{"an aggregated role's rules count", alice, "clusterrolebindings", crb("x", "view", subj("User", "carol", "")), "secrets"},
		{"aggregating needs everything", alice, "clusterroles", agg("new", nil, map[string]string{"agg": "view"}), "cluster-admin privileges"},
		{"masters may aggregate", admin, "clusterroles", agg("new", nil, map[string]string{"agg": "view"}), ""},
		{"binding a role that does not exist yet", alice, "rolebindings", rb("a", "x", "Role", "later", subj("User", "alice", "")), "not found"},
		{"masters may bind a role that does not exist yet", admin, "rolebindings", rb("a", "x", "Role", "later", subj("User", "alice", "")), ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m, _ := meta.Accessor(tt.obj)
			req := &apiserver.AdmissionRequest{Operation: apiserver.OpCreate, User: tt.u, Object: tt.obj,
				Resource:  schema.GroupVersionResource{Group: rbacv1.GroupName, Version: "v1", Resource: tt.res},
				Namespace: m.GetNamespace(), Name: m.GetName()}
			err := guard.Validate(context.Background(), req)
			refusal := apierrors.IsForbidden // a missing role is NotFound, as in kube
			if tt.refused == "not found" {
				refusal = apierrors.IsNotFound
			}
			switch {
			case tt.refused == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.refused != "" && (!refusal(err) || !strings.Contains(err.Error(), tt.refused)):
				t.Fatalf("got %v, want a refusal mentioning %s", err, tt.refused)
			}
		})
	}
}
