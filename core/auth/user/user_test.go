package user

import (
	"slices"
	"testing"
)

func TestNodeName(t *testing.T) {
	tests := []struct {
		name string
		u    *Info
		want string
		ok   bool
	}{
		{"node in group", &Info{Name: "system:node:n1", Groups: []string{NodesGroup}}, "n1", true},
		{"name without group", &Info{Name: "system:node:n1"}, "", false},
		{"group without prefix", &Info{Name: "n1", Groups: []string{NodesGroup}}, "", false},
		{"empty node name", &Info{Name: "system:node:", Groups: []string{NodesGroup}}, "", false},
		{"nil", nil, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := NodeName(tt.u)
			if got != tt.want || ok != tt.ok {
				t.Fatalf("NodeName = %q, %v; want %q, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestServiceAccount(t *testing.T) {
	tests := []struct {
		user     string
		ns, name string
		ok       bool
	}{
		{"system:serviceaccount:default:builder", "default", "builder", true},
		{ServiceAccountUser("kube-system", "coredns"), "kube-system", "coredns", true},
		{"system:serviceaccount:default", "", "", false},
		{"system:serviceaccount::x", "", "", false},
		{"system:serviceaccount:a:", "", "", false},
		{"system:serviceaccount:a:b:c", "", "", false},
		{"system:serviceaccounts:default", "", "", false},
		{"alice", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.user, func(t *testing.T) {
			ns, name, ok := ServiceAccount(&Info{Name: tt.user})
			if ns != tt.ns || name != tt.name || ok != tt.ok {
				t.Fatalf("ServiceAccount = %q, %q, %v; want %q, %q, %v", ns, name, ok, tt.ns, tt.name, tt.ok)
			}
		})
	}
	if _, _, ok := ServiceAccount(nil); ok {
		t.Fatal("nil user is a service account")
	}
}

func TestNames(t *testing.T) {
	if got := NodeUser("n1"); got != "system:node:n1" {
		t.Errorf("NodeUser = %q", got)
	}
	if got := ServiceAccountGroups("ns"); !slices.Equal(got, []string{"system:serviceaccounts", "system:serviceaccounts:ns"}) {
		t.Errorf("ServiceAccountGroups = %q", got)
	}
}

func TestWithGroupDoesNotAlias(t *testing.T) {
	groups := make([]string, 1, 4) // spare capacity: an append in place would leak into u
	groups[0] = "dev"
	u := &Info{Name: "alice", Groups: groups}
	a := u.WithGroup(AllAuthenticated)
	b := u.WithGroup("other")
	if !slices.Equal(a.Groups, []string{"dev", AllAuthenticated}) || !slices.Equal(b.Groups, []string{"dev", "other"}) {
		t.Fatalf("groups a=%q b=%q", a.Groups, b.Groups)
	}
	if len(u.Groups) != 1 {
		t.Fatalf("original changed: %q", u.Groups)
	}
	if again := a.WithGroup(AllAuthenticated); len(again.Groups) != 2 {
		t.Fatalf("group added twice: %q", again.Groups)
	}
}
