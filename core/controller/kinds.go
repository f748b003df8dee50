package controller

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Kind is a resource the controllers read or write.
type Kind struct {
	Group, Version, Resource, Kind string
	Namespaced                     bool
}

// APIVersion is the kind's apiVersion, "v1" or "apps/v1".
func (k Kind) APIVersion() string {
	if k.Group == "" {
		return k.Version
	}
	return k.Group + "/" + k.Version
}

// Key is how a reconcile request keys objects of the kind (ABI.md §4.6): "apps/v1/ReplicaSet".
func (k Kind) Key() string { return k.APIVersion() + "/" + k.Kind }

// GVR is the kind's resource.
func (k Kind) GVR() schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: k.Group, Version: k.Version, Resource: k.Resource}
}

// The kinds the built-in controllers use.
var (
	Pods                   = Kind{Version: "v1", Resource: "pods", Kind: "Pod", Namespaced: true}
	ReplicationControllers = Kind{Version: "v1", Resource: "replicationcontrollers", Kind: "ReplicationController", Namespaced: true}
	ReplicaSets            = Kind{Group: "apps", Version: "v1", Resource: "replicasets", Kind: "ReplicaSet", Namespaced: true}
	Deployments            = Kind{Group: "apps", Version: "v1", Resource: "deployments", Kind: "Deployment", Namespaced: true}
)

// Definition is a controller: its parent kind, the kinds of children it owns and writes,
// the kinds of related objects its decisions read, and the reconcile plugin deciding.
type Definition struct {
	// Name names the controller in logs, events and its plugin's configuration.
	Name     string
	Parent   Kind
	Children []Kind
	// Related objects are handed to every reconcile: those in the parent's namespace when
	// both are namespaced, else all. A change to one reconciles the parents it may concern.
	Related []Kind
	// Workers is how many parents are reconciled at once (default 2).
	Workers int
}

// Builtins are the definitions of the controllers tug's default module decides.
func Builtins() []Definition {
	return []Definition{
		{Name: "Deployment", Parent: Deployments, Children: []Kind{ReplicaSets}},
		{Name: "ReplicaSet", Parent: ReplicaSets, Children: []Kind{Pods}, Workers: 4},
		{Name: "ReplicationController", Parent: ReplicationControllers, Children: []Kind{Pods}},
	}
}
