package authz

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/tugboat-io/tug/core/apiserver"
	"github.com/tugboat-io/tug/core/auth/user"
)

func TestForbiddenMessage(t *testing.T) {
	alice := &user.Info{Name: "alice"}
	tests := []struct {
		a    apiserver.Attributes
		want string
	}{
		{apiserver.Attributes{User: alice, Verb: "list", Resource: "pods", Namespace: "kube-system", ResourceRequest: true},
			`User "alice" cannot list resource "pods" in API group "" in the namespace "kube-system"`},
		{apiserver.Attributes{User: alice, Verb: "get", Resource: "nodes", Subresource: "status", Name: "n1", ResourceRequest: true},
			`User "alice" cannot get resource "nodes/status" in API group "" at the cluster scope`},
		{apiserver.Attributes{User: alice, Verb: "create", Group: "apps", Resource: "deployments", Namespace: "a", ResourceRequest: true},
			`User "alice" cannot create resource "deployments" in API group "apps" in the namespace "a"`},
		{apiserver.Attributes{User: alice, Verb: "get", Path: "/metrics"}, `User "alice" cannot get path "/metrics"`},
		{apiserver.Attributes{Verb: "get", Path: "/metrics"}, `User "" cannot get path "/metrics"`},
	}
	for _, tt := range tests {
		if got := ForbiddenMessage(tt.a); got != tt.want {
			t.Errorf("got  %s\nwant %s", got, tt.want)
		}
	}
}

func fixed(d Decision, reason string, err error) Decider {
	return DeciderFunc(func(context.Context, apiserver.Attributes) (Decision, string, error) { return d, reason, err })
}

func TestUnion(t *testing.T) {
	attrs := apiserver.Attributes{User: &user.Info{Name: "bob"}, Verb: "get", Resource: "pods", Namespace: "a", ResourceRequest: true}
	boom := errors.New("lister down")
	tests := []struct {
		name    string
		ds      []Decider
		allowed bool
		reason  string // substring
		err     bool
	}{
		{"empty denies", nil, false, `User "bob" cannot get resource "pods"`, false},
		{"allow", []Decider{fixed(NoOpinion, "", nil), fixed(Allow, "ok", nil)}, true, "ok", false},
		{"deny stops the chain", []Decider{fixed(Deny, "node n1 may not", nil), fixed(Allow, "", nil)}, false, `in the namespace "a": node n1 may not`, false},
		{"no opinion reasons kept", []Decider{fixed(NoOpinion, "RBAC: role x not found", nil)}, false, "RBAC: role x not found", false},
		{"error, then allow", []Decider{fixed(NoOpinion, "", boom), fixed(Allow, "", nil)}, true, "", false},
		{"error, nobody allows", []Decider{fixed(NoOpinion, "", boom), fixed(NoOpinion, "", nil)}, false, "", true},
		{"masters", []Decider{Masters, fixed(Deny, "", nil)}, false, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			allowed, reason, err := Union(tt.ds...).Authorize(context.Background(), attrs)
			if allowed != tt.allowed || (err != nil) != tt.err || !strings.Contains(reason, tt.reason) {
				t.Fatalf("got %v, %q, %v", allowed, reason, err)
			}
			if err != nil && !errors.Is(err, boom) {
				t.Fatalf("error %v does not wrap the decider's", err)
			}
		})
	}
	admin := attrs
	admin.User = &user.Info{Name: "root", Groups: []string{user.Masters}}
	if allowed, _, _ := Union(Masters, fixed(Deny, "", nil)).Authorize(context.Background(), admin); !allowed {
		t.Fatal("system:masters denied")
	}
}
