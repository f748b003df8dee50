package rbac

import (
	"context"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tugboat-io/tug/core/apiserver"
	"github.com/tugboat-io/tug/core/auth/user"
)

func bootstrapLister(rbs ...*rbacv1.RoleBinding) *fakeLister {
	roles, bindings := Bootstrap()
	return &fakeLister{clusterRoles: roles, crbs: bindings, rbs: rbs}
}

func TestBootstrapConsistent(t *testing.T) {
	roles, bindings := Bootstrap()
	names := map[string]bool{}
	for _, r := range roles {
		if names[r.Name] {
			t.Errorf("clusterrole %s twice", r.Name)
		}
		names[r.Name] = true
		if r.Labels[BootstrapLabel] != BootstrapLabelValue {
			t.Errorf("clusterrole %s lacks the bootstrap label", r.Name)
		}
		for _, rule := range r.Rules {
			if len(rule.Verbs) == 0 || (len(rule.Resources) == 0) == (len(rule.NonResourceURLs) == 0) {
				t.Errorf("clusterrole %s: malformed rule %+v", r.Name, rule)
			}
			if len(rule.Resources) > 0 && len(rule.APIGroups) == 0 {
				t.Errorf("clusterrole %s: rule without API groups %+v", r.Name, rule)
			}
		}
	}
	for _, b := range bindings {
		if !names[b.RoleRef.Name] || b.RoleRef.Kind != "ClusterRole" || b.RoleRef.APIGroup != rbacv1.GroupName {
			t.Errorf("clusterrolebinding %s refers to %+v", b.Name, b.RoleRef)
		}
	}
	// Fresh objects every call, so a caller may change them.
	again, _ := Bootstrap()
	again[0].Rules[0].Verbs[0] = "mutated"
	if roles[0].Rules[0].Verbs[0] == "mutated" {
		t.Error("Bootstrap shares objects between calls")
	}
}

func TestBootstrapPolicy(t *testing.T) {
	authenticated := &user.Info{Name: "alice", Groups: []string{user.AllAuthenticated}}
	anonymous := &user.Info{Name: user.Anonymous, Groups: []string{user.AllUnauthenticated}}
	viewer := &user.Info{Name: "vera", Groups: []string{user.AllAuthenticated}}
	editor := &user.Info{Name: "eddie", Groups: []string{user.AllAuthenticated}}
	admin := &user.Info{Name: "ada", Groups: []string{user.AllAuthenticated}}
	scheduler := &user.Info{Name: user.KubeScheduler, Groups: []string{user.AllAuthenticated}}
	cm := &user.Info{Name: user.KubeControllerManager, Groups: []string{user.AllAuthenticated}}
	proxy := &user.Info{Name: user.KubeProxy, Groups: []string{user.AllAuthenticated}}
	node := &user.Info{Name: "system:node:n1", Groups: []string{user.NodesGroup, user.AllAuthenticated}}
	kubeletClient := &user.Info{Name: user.APIServerKubeletClient, Groups: []string{user.AllAuthenticated}}
	joiner := &user.Info{Name: "system:bootstrap:abcdef", Groups: []string{user.Bootstrappers, user.AllAuthenticated}}
	l := bootstrapLister(
		rb("team", "vera-view", "ClusterRole", "view", subj(rbacv1.UserKind, "vera", "")),
		rb("team", "eddie-edit", "ClusterRole", "edit", subj(rbacv1.UserKind, "eddie", "")),
		rb("team", "ada-admin", "ClusterRole", "admin", subj(rbacv1.UserKind, "ada", "")),
	)
	named := func(a apiserver.Attributes, name string) apiserver.Attributes { a.Name = name; return a }
	tests := []struct {
		name  string
		attrs apiserver.Attributes
		allow bool
	}{
		{"authenticated reads version", as(authenticated, path("get", "/version")), true},
		{"authenticated discovers groups", as(authenticated, path("get", "/apis/apps/v1")), true},
		{"authenticated reads openapi", as(authenticated, path("get", "/openapi/v3")), true},
		{"authenticated asks what it may do", as(authenticated, res("create", "authorization.k8s.io", "selfsubjectaccessreviews", "", "", "")), true},
		{"authenticated may not list pods", as(authenticated, res("list", "", "pods", "", "default", "")), false},
		{"authenticated may not read metrics", as(authenticated, path("get", "/metrics")), false},
		{"anonymous reads healthz", as(anonymous, path("get", "/healthz")), true},
		{"anonymous may not discover", as(anonymous, path("get", "/api")), false},
		{"view lists pods", as(viewer, res("list", "", "pods", "", "team", "")), true},
		{"view reads logs", as(viewer, res("get", "", "pods", "log", "team", "p")), true},
		{"view reads deployments", as(viewer, res("get", "apps", "deployments", "", "team", "d")), true},
		{"view may not read secrets", as(viewer, res("get", "", "secrets", "", "team", "s")), false},
		{"view may not exec", as(viewer, res("create", "", "pods", "exec", "team", "p")), false},
		{"view only in its namespace", as(viewer, res("list", "", "pods", "", "other", "")), false},
		{"edit creates deployments", as(editor, res("create", "apps", "deployments", "", "team", "")), true},
		{"edit scales", as(editor, res("patch", "apps", "deployments", "scale", "team", "d")), true},
		{"edit reads secrets", as(editor, res("get", "", "secrets", "", "team", "s")), true},
		{"edit has view", as(editor, res("get", "", "pods", "log", "team", "p")), true},
		{"edit may not grant", as(editor, res("create", "rbac.authorization.k8s.io", "rolebindings", "", "team", "")), false},
		{"admin grants", as(admin, res("create", "rbac.authorization.k8s.io", "rolebindings", "", "team", "")), true},
		{"admin has edit and view", as(admin, res("list", "", "pods", "", "team", "")), true},
		{"admin not cluster-wide", as(admin, res("list", "", "nodes", "", "", "")), false},
		{"scheduler binds", as(scheduler, res("create", "", "pods", "binding", "team", "p")), true},
		{"scheduler lists nodes", as(scheduler, res("list", "", "nodes", "", "", "")), true},
		{"scheduler reads profiles", as(scheduler, res("list", "plugins.tug.dev", "schedulerprofiles", "", "", "")), true},
		{"scheduler renews its lease", as(scheduler, named(res("update", "coordination.k8s.io", "leases", "", "kube-system", ""), "tug-scheduler")), true},
		{"scheduler may not renew another lease", as(scheduler, named(res("update", "coordination.k8s.io", "leases", "", "kube-system", ""), "tug-controller-manager")), false},
		{"scheduler may not read secrets", as(scheduler, res("get", "", "secrets", "", "team", "s")), false},
		{"controller manager creates replicasets", as(cm, res("create", "apps", "replicasets", "", "team", "")), true},
		{"controller manager creates pods", as(cm, res("create", "", "pods", "", "team", "")), true},
		{"controller manager writes endpointslices", as(cm, res("update", "discovery.k8s.io", "endpointslices", "", "team", "e")), true},
		{"controller manager updates plugin status", as(cm, res("update", "plugins.tug.dev", "controllers", "status", "", "c")), true},
		{"controller manager writes events", as(cm, res("create", "", "events", "", "team", "")), true},
		{"controller manager renews its lease", as(cm, named(res("update", "coordination.k8s.io", "leases", "", "kube-system", ""), "tug-controller-manager")), true},
		{"controller manager may not grant", as(cm, res("create", "rbac.authorization.k8s.io", "clusterrolebindings", "", "", "")), false},
		{"proxy lists endpointslices", as(proxy, res("list", "discovery.k8s.io", "endpointslices", "", "", "")), true},
		{"proxy may not write services", as(proxy, res("update", "", "services", "", "team", "s")), false},
		{"node gets nothing from RBAC", as(node, res("get", "", "secrets", "", "team", "s")), false},
		{"node gets no pod status writes from RBAC", as(node, res("update", "", "pods", "status", "team", "p")), false},
		{"kubelet client reads container logs", as(kubeletClient, named(res("get", "", "nodes", "proxy", "", ""), "n1")), true},
		{"kubelet client execs", as(kubeletClient, named(res("create", "", "nodes", "proxy", "", ""), "n1")), true},
		{"kubelet client may not delete nodes", as(kubeletClient, named(res("delete", "", "nodes", "", "", ""), "n1")), false},
		{"kubelet client may not read pods", as(kubeletClient, res("list", "", "pods", "", "", "")), false},
		{"authenticated may not use the kubelet API", as(authenticated, named(res("get", "", "nodes", "proxy", "", ""), "n1")), false},
		{"authenticated may not review tokens", as(authenticated, res("create", "authentication.k8s.io", "tokenreviews", "", "", "")), false},
		{"joiner asks for a certificate", as(joiner, res("create", "certificates.k8s.io", "certificatesigningrequests", "", "", "")), true},
		{"joiner may not list pods", as(joiner, res("list", "", "pods", "", "", "")), false},
	}
	a := New(l)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			allowed, reason, err := a.Authorize(context.Background(), tt.attrs)
			if err != nil {
				t.Fatal(err)
			}
			if allowed != tt.allow {
				t.Fatalf("allowed = %v (%s), want %v", allowed, reason, tt.allow)
			}
		})
	}
}

// TestBootstrapAggregatesExtensions: a ClusterRole labelled aggregate-to-view (as a plugin's
// kinds would be) reaches view, edit and admin.
func TestBootstrapAggregatesExtensions(t *testing.T) {
	l := bootstrapLister(rb("team", "ada-admin", "ClusterRole", "admin", subj(rbacv1.UserKind, "ada", "")))
	l.clusterRoles = append(l.clusterRoles, &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: "widgets-view", Labels: map[string]string{AggregateToViewLabel: "true"}},
		Rules:      []rbacv1.PolicyRule{{Verbs: []string{"get"}, APIGroups: []string{"example.com"}, Resources: []string{"widgets"}}},
	})
	allowed, reason, err := New(l).Authorize(context.Background(), as(&user.Info{Name: "ada"}, res("get", "example.com", "widgets", "", "team", "w")))
	if err != nil || !allowed {
		t.Fatalf("allowed=%v reason=%s err=%v", allowed, reason, err)
	}
}
