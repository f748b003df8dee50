package v1alpha1

import (
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// Condition types and reasons in ControllerStatus.
const (
	// ConditionControllerActive is True while the controller reconciles its parents with
	// the plugin its spec names.
	ConditionControllerActive = "Active"

	// ReasonRunning: active. ReasonPluginNotFound (shared with profiles): spec.plugin names
	// no loaded WasmPlugin, or is empty for a controller that is not built in.
	ReasonRunning = "Running"
	// ReasonConflict (shared with profiles): another Controller already writes the same
	// children of the same parents.
	ReasonKindNotFound = "KindNotFound" // a kind the spec names is not served by the API server
)

// Scopes of a related kind: which of its objects a parent's reconcile reads.
const (
	ScopeNamespace = "Namespace" // those of the parent's namespace (all when either is cluster-scoped)
	ScopeNode      = "Node"      // the pods bound to the Node that is the parent
	ScopeSameName  = "SameName"  // the object named like the parent in the relation's namespace
	ScopeInside    = "Inside"    // the objects in the Namespace that is the parent
)

// Controller runs a reconcile plugin over a parent kind: each parent, with the children it
// owns and the related objects the spec names, is handed to the plugin, and the plugin's
// answer is applied (ABI.md §4.6). tug's built-in controllers are Controller objects too
// (deployment, replicaset, …, with no spec.plugin: the built-in module decides); pointing
// one at a WasmPlugin swaps its logic on the running cluster, and the children it already
// made are kept. Cluster-scoped.
type Controller struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   ControllerSpec   `json:"spec"`
	Status ControllerStatus `json:"status,omitempty"`
}

// ControllerSpec is what a controller reads and writes, and the plugin deciding.
type ControllerSpec struct {
	// Plugin names the WasmPlugin (of kind controller) deciding. Empty is allowed for the
	// built-in controllers only: their logic in tug's default module.
	Plugin string `json:"plugin,omitempty"`
	// Parent is the kind reconciled, one object at a time.
	Parent KindReference `json:"parent"`
	// Children are the kinds the parent owns (controller owner reference) and the plugin
	// creates, updates and deletes.
	Children []KindReference `json:"children,omitempty"`
	// Related are kinds the plugin reads without owning.
	Related []RelatedKind `json:"related,omitempty"`
	// Workers is how many parents are reconciled at once (default 2).
	Workers int32 `json:"workers,omitempty"`
	// Claims adopts orphans of the child kinds that the parent's spec.selector matches,
	// and releases children that stop matching, as kube's workload controllers do.
	Claims bool `json:"claims,omitempty"`
	// Fresh reconciles a parent only once every child and related informer has caught up
	// with the parent's revision, so the plugin never decides from objects older than the
	// parent (the ResourceQuota controller needs it: admission charges a quota in the same
	// write as the object it admits).
	Fresh bool `json:"fresh,omitempty"`
}

// KindReference names a kind by apiVersion and kind, as objects do.
type KindReference struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
}

// RelatedKind is a kind read without owning it, and which of its objects.
type RelatedKind struct {
	KindReference `json:",inline"`
	// Scope is Namespace (the default), Node, SameName or Inside.
	Scope string `json:"scope,omitempty"`
	// Namespace is where SameName looks.
	Namespace string `json:"namespace,omitempty"`
	// Deletable lets the plugin delete these objects (the node lifecycle controller evicts
	// pods).
	Deletable bool `json:"deletable,omitempty"`
	// Creatable lets the plugin create these objects, unowned: they outlive the parent (a
	// StatefulSet's claims).
	Creatable bool `json:"creatable,omitempty"`
	// IgnoreStatus says the plugin reads none of these objects' status, so a change to
	// status alone wakes no parent.
	IgnoreStatus bool `json:"ignoreStatus,omitempty"`
	// Coalesce, when set, wakes a parent this long after a change to one of these objects
	// rather than at once, so a burst of changes (a node's pods starting together) makes one
	// reconcile. For decisions that act on a scale of seconds or more. At most 1m.
	Coalesce *metav1.Duration `json:"coalesce,omitempty"`
	// Selector is the dotted path of a map of labels in the parent (a Service's
	// "spec.selector"): the plugin is handed only the objects it matches, and a change wakes
	// only the parents it matched before or after. A parent without one selects nothing.
	// Namespace scope only.
	Selector string `json:"selector,omitempty"`
}

// ControllerStatus is what the controller manager last did with the controller.
type ControllerStatus struct {
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Conditions: Active.
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// ControllerList is a list of Controllers.
type ControllerList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Controller `json:"items"`
}

// DeepCopyInto copies in into out.
func (in *Controller) DeepCopyInto(out *Controller) {
	*out = *in
	out.TypeMeta = in.TypeMeta
	in.ObjectMeta.DeepCopyInto(&out.ObjectMeta)
	in.Spec.DeepCopyInto(&out.Spec)
	in.Status.DeepCopyInto(&out.Status)
}

// DeepCopy copies the controller.
func (in *Controller) DeepCopy() *Controller {
	if in == nil {
		return nil
	}
	out := new(Controller)
	in.DeepCopyInto(out)
	return out
}

// DeepCopyObject copies the controller.
func (in *Controller) DeepCopyObject() runtime.Object { return in.DeepCopy() }

// DeepCopyInto copies in into out.
func (in *ControllerSpec) DeepCopyInto(out *ControllerSpec) {
	*out = *in
	out.Children = slices.Clone(in.Children)
	out.Related = slices.Clone(in.Related)
	for i := range out.Related {
		if c := in.Related[i].Coalesce; c != nil {
			d := *c
			out.Related[i].Coalesce = &d
		}
	}
}

// DeepCopyInto copies in into out.
func (in *ControllerStatus) DeepCopyInto(out *ControllerStatus) {
	*out = *in
	if in.Conditions != nil {
		out.Conditions = make([]metav1.Condition, len(in.Conditions))
		for i := range in.Conditions {
			in.Conditions[i].DeepCopyInto(&out.Conditions[i])
		}
	}
}

// DeepCopyInto copies in into out.
func (in *ControllerList) DeepCopyInto(out *ControllerList) {
	*out = *in
	out.TypeMeta = in.TypeMeta
	in.ListMeta.DeepCopyInto(&out.ListMeta)
	if in.Items != nil {
		out.Items = make([]Controller, len(in.Items))
		for i := range in.Items {
			in.Items[i].DeepCopyInto(&out.Items[i])
		}
	}
}

// DeepCopy copies the list.
func (in *ControllerList) DeepCopy() *ControllerList {
	if in == nil {
		return nil
	}
	out := new(ControllerList)
	in.DeepCopyInto(out)
	return out
}

// DeepCopyObject copies the list.
func (in *ControllerList) DeepCopyObject() runtime.Object { return in.DeepCopy() }
