package controller

import (
	"time"

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
	Nodes                  = Kind{Version: "v1", Resource: "nodes", Kind: "Node"}
	Namespaces             = Kind{Version: "v1", Resource: "namespaces", Kind: "Namespace"}
	Services               = Kind{Version: "v1", Resource: "services", Kind: "Service", Namespaced: true}
	Endpoints              = Kind{Version: "v1", Resource: "endpoints", Kind: "Endpoints", Namespaced: true}
	ServiceAccounts        = Kind{Version: "v1", Resource: "serviceaccounts", Kind: "ServiceAccount", Namespaced: true}
	ConfigMaps             = Kind{Version: "v1", Resource: "configmaps", Kind: "ConfigMap", Namespaced: true}
	Secrets                = Kind{Version: "v1", Resource: "secrets", Kind: "Secret", Namespaced: true}
	PersistentVolumeClaims = Kind{Version: "v1", Resource: "persistentvolumeclaims", Kind: "PersistentVolumeClaim", Namespaced: true}
	ResourceQuotas         = Kind{Version: "v1", Resource: "resourcequotas", Kind: "ResourceQuota", Namespaced: true}
	ReplicationControllers = Kind{Version: "v1", Resource: "replicationcontrollers", Kind: "ReplicationController", Namespaced: true}
	ReplicaSets            = Kind{Group: "apps", Version: "v1", Resource: "replicasets", Kind: "ReplicaSet", Namespaced: true}
	Deployments            = Kind{Group: "apps", Version: "v1", Resource: "deployments", Kind: "Deployment", Namespaced: true}
	DaemonSets             = Kind{Group: "apps", Version: "v1", Resource: "daemonsets", Kind: "DaemonSet", Namespaced: true}
	StatefulSets           = Kind{Group: "apps", Version: "v1", Resource: "statefulsets", Kind: "StatefulSet", Namespaced: true}
	Jobs                   = Kind{Group: "batch", Version: "v1", Resource: "jobs", Kind: "Job", Namespaced: true}
	CronJobs               = Kind{Group: "batch", Version: "v1", Resource: "cronjobs", Kind: "CronJob", Namespaced: true}
	EndpointSlices         = Kind{Group: "discovery.k8s.io", Version: "v1", Resource: "endpointslices", Kind: "EndpointSlice", Namespaced: true}
	Leases                 = Kind{Group: "coordination.k8s.io", Version: "v1", Resource: "leases", Kind: "Lease", Namespaced: true}
)

// Scope says which objects of a related kind a parent's reconcile reads, and so which
// parents a change to one wakes.
type Scope int

const (
	// InNamespace: the objects in the parent's namespace, or all of them when either kind
	// is cluster-scoped (a DaemonSet's nodes).
	InNamespace Scope = iota
	// OnNode: the pods bound to the Node that is the parent (spec.nodeName).
	OnNode
	// SameName: the object named like the parent in Relation.Namespace (a Node's Lease in
	// kube-node-lease).
	SameName
	// Inside: the objects in the Namespace that is the parent.
	Inside
)

// Relation is a kind of object a controller's decisions read without owning them.
type Relation struct {
	Kind  Kind
	Scope Scope
	// Namespace is where SameName looks.
	Namespace string
	// Deletable lets the reconcile delete these objects (the node lifecycle controller
	// evicts pods); any other related object is read-only to it.
	Deletable bool
	// Creatable lets the reconcile create these objects, which the parent does not own and
	// which outlive it (a StatefulSet's claims); one of the name already there is taken as
	// made.
	Creatable bool
	// IgnoreStatus says the decision reads none of these objects' status, so a change to
	// status alone (most of a pod's writes) wakes no parent.
	IgnoreStatus bool
	// Coalesce, when set, wakes a parent this long after a change to one of these objects
	// rather than at once, so the changes of a burst (a node's pods starting together) make
	// one reconcile instead of one each. For decisions that act on a scale of seconds or more.
	Coalesce time.Duration
	// Selector is the path, in the parent, of a map of labels (a Service's spec.selector):
	// only the objects it matches are handed to the reconcile, and a change wakes only the
	// parents whose selector matched the object before or after it. A parent without one
	// selects nothing. Without it a change in a namespace wakes every parent there with
	// every object of the kind, which for pods and Services grows as their product.
	Selector []string
}

// Definition is a controller: its parent kind, the kinds of children it owns and writes,
// the kinds of related objects its decisions read, and the reconcile plugin deciding.
type Definition struct {
	// Name names the controller in logs, events and its plugin's configuration.
	Name     string
	Parent   Kind
	Children []Kind
	// Related objects are handed to every reconcile, as their scope selects; a change to
	// one reconciles the parents it may concern.
	Related []Relation
	// Workers is how many parents are reconciled at once (default 2).
	Workers int
	// Claims adopts the orphans of the child kinds that the parent's spec.selector
	// matches, and releases children that stop matching (claim.go).
	Claims bool
	// Fresh reconciles a parent only once every child and related informer has caught up
	// with the parent's revision (fresh.go): the plugin never decides from objects older
	// than the parent. ResourceQuota needs it: admission charges a quota in the same write
	// as the object it admits, so a usage count from a pod list older than the quota would
	// undo charges and let the next creates past the limit.
	Fresh bool
}

// Builtins are the definitions of the controllers tug's default module decides.
func Builtins() []Definition {
	inNS := func(kinds ...Kind) []Relation {
		out := make([]Relation, len(kinds))
		for i, k := range kinds {
			out[i] = Relation{Kind: k}
		}
		return out
	}
	// A Service's endpoints are the pods its selector picks.
	selectedPods := []Relation{{Kind: Pods, Selector: []string{"spec", "selector"}}}
	return []Definition{
		{Name: "Deployment", Parent: Deployments, Children: []Kind{ReplicaSets}, Claims: true},
		{Name: "ReplicaSet", Parent: ReplicaSets, Children: []Kind{Pods}, Workers: 4, Claims: true},
		{Name: "ReplicationController", Parent: ReplicationControllers, Children: []Kind{Pods}, Claims: true},
		{Name: "DaemonSet", Parent: DaemonSets, Children: []Kind{Pods}, Related: inNS(Nodes), Claims: true},
		{Name: "StatefulSet", Parent: StatefulSets, Children: []Kind{Pods}, Claims: true,
			Related: []Relation{{Kind: PersistentVolumeClaims, Creatable: true}}},
		{Name: "Job", Parent: Jobs, Children: []Kind{Pods}, Workers: 4, Claims: true},
		{Name: "CronJob", Parent: CronJobs, Children: []Kind{Jobs}},
		{Name: "Endpoints", Parent: Services, Children: []Kind{Endpoints}, Related: selectedPods, Workers: 4},
		{Name: "EndpointSlice", Parent: Services, Children: []Kind{EndpointSlices}, Related: selectedPods, Workers: 4},
		{Name: "ServiceAccount", Parent: Namespaces, Children: []Kind{ServiceAccounts},
			Related: []Relation{{Kind: ServiceAccounts, Scope: Inside}}},
		{Name: "ResourceQuota", Parent: ResourceQuotas, Related: inNS(Pods, Services, ConfigMaps, Secrets,
			PersistentVolumeClaims, ReplicationControllers, ResourceQuotas), Fresh: true},
		{Name: "NodeLifecycle", Parent: Nodes, Workers: 4, Related: []Relation{
			{Kind: Leases, Scope: SameName, Namespace: "kube-node-lease"},
			// Eviction reads the pods' tolerations and deletion, not their status, and acts
			// after tolerationSeconds: each reconcile reads every pod of the node, so a node
			// starting 100 pods is looked at once a second, not 100 times (kube's node
			// lifecycle controller looks at nodes every 5 s).
			{Kind: Pods, Scope: OnNode, Deletable: true, IgnoreStatus: true, Coalesce: time.Second},
		}},
	}
}
