package controller

import (
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func obj(apiVersion, kind, ns, name string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion(apiVersion)
	u.SetKind(kind)
	u.SetNamespace(ns)
	u.SetName(name)
	return u
}

// Children go in the parent's namespace, a Namespace's into it, and a cluster-scoped
// parent's where they say; anything else is refused.
func TestPlace(t *testing.T) {
	rs := obj("apps/v1", "ReplicaSet", "shop", "web")
	ns := obj("v1", "Namespace", "", "shop")
	node := obj("v1", "Node", "", "n1")
	for _, tt := range []struct {
		name          string
		kind          Kind
		parent, child *unstructured.Unstructured
		want          string
		fails         bool
	}{
		{"pod of a ReplicaSet", Pods, rs, obj("v1", "Pod", "", "p"), "shop", false},
		{"pod of a ReplicaSet elsewhere", Pods, rs, obj("v1", "Pod", "other", "p"), "", true},
		{"account of a Namespace", ServiceAccounts, ns, obj("v1", "ServiceAccount", "", "default"), "shop", false},
		{"account of a Namespace elsewhere", ServiceAccounts, ns, obj("v1", "ServiceAccount", "other", "default"), "", true},
		{"config of a Node, namespace named", ConfigMaps, node, obj("v1", "ConfigMap", "kube-system", "c"), "kube-system", false},
		{"config of a Node, no namespace", ConfigMaps, node, obj("v1", "ConfigMap", "", "c"), "", true},
		{"cluster-scoped child", Nodes, rs, obj("v1", "Node", "shop", "n"), "", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := place(tt.kind, tt.parent, tt.child)
			if (err != nil) != tt.fails {
				t.Fatalf("place: %v, want failure %v", err, tt.fails)
			}
			if err == nil && tt.child.GetNamespace() != tt.want {
				t.Errorf("namespace %q, want %q", tt.child.GetNamespace(), tt.want)
			}
		})
	}
}

// A second controller over the same parents and children is refused; Endpoints and
// EndpointSlice share their parents but not their children, and both run.
func TestConflictingControllers(t *testing.T) {
	cs := &controllerSet{running: map[string]*active{}}
	for _, d := range Builtins() {
		cs.running[BuiltinObjectName(d.Name)] = &active{def: d}
	}
	if c := cs.conflicting("endpointslice", Definition{Parent: Services, Children: []Kind{EndpointSlices}}); c != "" {
		t.Errorf("the built-in endpointslice conflicts with %s", c)
	}
	if c := cs.conflicting("my-rs", Definition{Parent: ReplicaSets, Children: []Kind{Pods}}); c != "replicaset" {
		t.Errorf("a second ReplicaSet controller conflicts with %q, want replicaset", c)
	}
	if c := cs.conflicting("my-quota", Definition{Parent: ResourceQuotas}); c != "resourcequota" {
		t.Errorf("a second status-only quota controller conflicts with %q, want resourcequota", c)
	}
	if c := cs.conflicting("rs-configs", Definition{Parent: ReplicaSets, Children: []Kind{ConfigMaps}}); c != "" {
		t.Errorf("a ReplicaSet controller of other children conflicts with %s", c)
	}
}
