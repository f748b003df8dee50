package rbac

import (
	"context"
	"slices"
	"strings"
	"testing"

	authorizationv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tugboat-io/tug/core/auth/user"
)

// RulesFor lists what kubectl auth can-i --list shows: the rules of the cluster bindings
// and of the namespace's bindings that name the user (by name, group or service account),
// non-resource URLs only from cluster bindings, aggregated roles resolved, and a binding to
// a missing role reported without losing the rest.
func TestRulesFor(t *testing.T) {
	l := &fakeLister{
		clusterRoles: []*rbacv1.ClusterRole{
			cr("health", nil, healthz),
			cr("deployer", nil, deployW, healthz),
			agg("aggregate", nil, map[string]string{"agg": "yes"}),
			cr("part", map[string]string{"agg": "yes"}, secretRead),
		},
		roles: []*rbacv1.Role{{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "pod-reader"}, Rules: []rbacv1.PolicyRule{podReader}}},
		crbs: []*rbacv1.ClusterRoleBinding{
			crb("all-health", "health", subj(rbacv1.GroupKind, "system:authenticated", "")),
			crb("gone", "missing", subj(rbacv1.UserKind, "dev", "")),
			crb("others", "aggregate", subj(rbacv1.UserKind, "ops", "")),
		},
		rbs: []*rbacv1.RoleBinding{
			rb("team-a", "dev-reads", "Role", "pod-reader", subj(rbacv1.UserKind, "dev", "")),
			rb("team-a", "dev-deploys", "ClusterRole", "deployer", subj(rbacv1.UserKind, "dev", "")),
			rb("team-a", "sa-aggregate", "ClusterRole", "aggregate", subj(rbacv1.ServiceAccountKind, "robot", "")),
			rb("team-b", "dev-elsewhere", "ClusterRole", "aggregate", subj(rbacv1.UserKind, "dev", "")),
		},
	}
	r := New(l)
	dev := &user.Info{Name: "dev", Groups: []string{"system:authenticated"}}
	ctx := context.Background()

	st, err := r.RulesFor(ctx, dev, "team-a")
	if err != nil || st.Incomplete {
		t.Fatalf("RulesFor: incomplete %v, %v", st.Incomplete, err)
	}
	res, nonRes, evalErr := st.ResourceRules, st.NonResourceRules, st.EvaluationError
	want := []authorizationv1.ResourceRule{
		{Verbs: podReader.Verbs, APIGroups: podReader.APIGroups, Resources: podReader.Resources},
		{Verbs: deployW.Verbs, APIGroups: deployW.APIGroups, Resources: deployW.Resources},
	}
	if !slices.EqualFunc(res, want, sameRule) {
		t.Errorf("dev's resource rules in team-a = %+v, want %+v", res, want)
	}
	// The deployer role's /healthz comes through a RoleBinding, which grants no URL; only
	// the cluster binding's does.
	if len(nonRes) != 1 || nonRes[0].NonResourceURLs[0] != "/healthz" {
		t.Errorf("dev's non-resource rules = %+v, want /healthz once", nonRes)
	}
	if !strings.Contains(evalErr, `"gone"`) || !strings.Contains(evalErr, `"missing"`) {
		t.Errorf("evaluation error %q does not name the binding to the missing role", evalErr)
	}

	st, _ = r.RulesFor(ctx, dev, "default")
	if res := st.ResourceRules; len(res) != 0 {
		t.Errorf("dev's resource rules in default = %+v, want none", res)
	}
	robot := &user.Info{Name: user.ServiceAccountUser("team-a", "robot")}
	st, _ = r.RulesFor(ctx, robot, "team-a")
	if res := st.ResourceRules; len(res) != 1 || res[0].Resources[0] != "secrets" {
		t.Errorf("the service account's rules through an aggregated role = %+v, want secrets", res)
	}
}

func sameRule(a, b authorizationv1.ResourceRule) bool {
	return slices.Equal(a.Verbs, b.Verbs) && slices.Equal(a.APIGroups, b.APIGroups) &&
		slices.Equal(a.Resources, b.Resources) && slices.Equal(a.ResourceNames, b.ResourceNames)
}
