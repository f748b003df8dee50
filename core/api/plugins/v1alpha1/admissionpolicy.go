package v1alpha1

import (
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// Admission policy types, and the condition an AdmissionPolicy reports.
const (
	PolicyMutating   = "Mutating"
	PolicyValidating = "Validating"

	// ConditionPolicyActive is True while the policy is applied to the requests it matches
	// with the plugin its spec names.
	ConditionPolicyActive = "Active"
)

// AdmissionPolicy applies an admission plugin to the API requests its rules match (ABI.md
// §4.5): mutating policies first, then validating ones, each set in spec.order (then name)
// order. tug's built-in admission (NamespaceLifecycle, LimitRanger, ServiceAccount,
// DefaultTolerationSeconds, PodSecurity, ResourceQuota) is AdmissionPolicy objects too,
// with no spec.plugin: tug's default admission module decides. Changing a policy, or the
// WasmPlugin it names, applies to the next request; requests in flight finish with what
// they started with. Cluster-scoped.
type AdmissionPolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   AdmissionPolicySpec   `json:"spec"`
	Status AdmissionPolicyStatus `json:"status,omitempty"`
}

// AdmissionPolicySpec says which requests the policy sees and what it may read.
type AdmissionPolicySpec struct {
	// Plugin names the WasmPlugin (of kind admission) deciding. Empty is allowed for the
	// built-in policies only: their logic in tug's default admission module.
	Plugin string `json:"plugin,omitempty"`
	// Type is Mutating (may patch the object, runs first) or Validating.
	Type string `json:"type"`
	// Rules choose requests by API group, version, resource and operation, as an
	// admission webhook's rules do; a request matching any rule is handed to the plugin.
	Rules []RuleWithOperations `json:"rules"`
	// NamespaceSelector limits the policy to objects in namespaces whose labels match (a
	// Namespace itself is matched by its own labels); cluster-scoped objects always match.
	NamespaceSelector *metav1.LabelSelector `json:"namespaceSelector,omitempty"`
	// ObjectSelector limits the policy to objects (new or old) whose labels match.
	ObjectSelector *metav1.LabelSelector `json:"objectSelector,omitempty"`
	// MatchUserGroups limits the policy to requests from users in at least one of these
	// groups (system:nodes for NodeRestriction): the host decides it before calling the
	// plugin, so a policy about a few users costs the others nothing.
	MatchUserGroups []string `json:"matchUserGroups,omitempty"`
	// FailurePolicy is what a failing plugin (a trap, a timeout, an answer that is not one)
	// means: Fail denies the request (the default), Ignore lets it through.
	FailurePolicy string `json:"failurePolicy,omitempty"`
	// TimeoutMilliseconds bounds one call of the plugin (default 1000, at most 30000).
	TimeoutMilliseconds *int32 `json:"timeoutMilliseconds,omitempty"`
	// Order places the policy among those of its type: lower first, then by name. The
	// built-in policies use 100–600; the default is 1000.
	Order *int32 `json:"order,omitempty"`
	// Config is handed to the plugin with every request (ABI.md §4.5).
	Config *runtime.RawExtension `json:"config,omitempty"`
	// Reads are the kinds of objects the plugin is handed besides the request's own. A
	// plugin sees nothing else: no Secret unless a read names Secrets.
	Reads []AdmissionRead `json:"reads,omitempty"`
}

// RuleWithOperations matches requests, as admissionregistration.k8s.io/v1's. "*" matches
// everything in a list; a resource may name a subresource ("pods/status", "*/scale").
type RuleWithOperations struct {
	// Operations are CREATE, UPDATE, DELETE or "*".
	Operations  []string `json:"operations"`
	APIGroups   []string `json:"apiGroups"`
	APIVersions []string `json:"apiVersions"`
	Resources   []string `json:"resources"`
	// Scope is Cluster, Namespaced or "*" (the default).
	Scope string `json:"scope,omitempty"`
}

// Scopes of an AdmissionRead: which objects of the kind the plugin is handed.
const (
	// ReadNamespace hands the objects of the kind in the request's namespace.
	ReadNamespace = "Namespace"
	// ReadRequestNamespace hands the Namespace object the request is in (or the Namespace
	// the request is about): the kind must be v1 Namespace.
	ReadRequestNamespace = "RequestNamespace"
)

// AdmissionRead is a kind of object the plugin reads to decide.
type AdmissionRead struct {
	KindReference `json:",inline"`
	// Scope is Namespace (the default) or RequestNamespace.
	Scope string `json:"scope,omitempty"`
	// Required skips the policy for requests where there is no such object: LimitRanger
	// and ResourceQuota have nothing to say in a namespace without limits or quotas.
	Required bool `json:"required,omitempty"`
	// WriteStatus lets the plugin update these objects' status atomically with the request
	// (ABI.md §4.5's statusUpdates): a quota's usage.
	WriteStatus bool `json:"writeStatus,omitempty"`
}

// AdmissionPolicyStatus is what the API servers last did with the policy.
type AdmissionPolicyStatus struct {
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Conditions: Active.
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// AdmissionPolicyList is a list of AdmissionPolicies.
type AdmissionPolicyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []AdmissionPolicy `json:"items"`
}

// DeepCopyInto copies in into out.
func (in *AdmissionPolicy) DeepCopyInto(out *AdmissionPolicy) {
	*out = *in
	out.TypeMeta = in.TypeMeta
	in.ObjectMeta.DeepCopyInto(&out.ObjectMeta)
	in.Spec.DeepCopyInto(&out.Spec)
	in.Status.DeepCopyInto(&out.Status)
}

// DeepCopy copies the policy.
func (in *AdmissionPolicy) DeepCopy() *AdmissionPolicy {
	if in == nil {
		return nil
	}
	out := new(AdmissionPolicy)
	in.DeepCopyInto(out)
	return out
}

// DeepCopyObject copies the policy.
func (in *AdmissionPolicy) DeepCopyObject() runtime.Object { return in.DeepCopy() }

// DeepCopyInto copies in into out.
func (in *AdmissionPolicySpec) DeepCopyInto(out *AdmissionPolicySpec) {
	*out = *in
	if in.Rules != nil {
		out.Rules = make([]RuleWithOperations, len(in.Rules))
		for i, r := range in.Rules {
			out.Rules[i] = RuleWithOperations{Operations: slices.Clone(r.Operations), APIGroups: slices.Clone(r.APIGroups),
				APIVersions: slices.Clone(r.APIVersions), Resources: slices.Clone(r.Resources), Scope: r.Scope}
		}
	}
	out.NamespaceSelector = in.NamespaceSelector.DeepCopy()
	out.ObjectSelector = in.ObjectSelector.DeepCopy()
	out.MatchUserGroups = slices.Clone(in.MatchUserGroups)
	if in.TimeoutMilliseconds != nil {
		v := *in.TimeoutMilliseconds
		out.TimeoutMilliseconds = &v
	}
	if in.Order != nil {
		v := *in.Order
		out.Order = &v
	}
	if in.Config != nil {
		out.Config = in.Config.DeepCopy()
	}
	out.Reads = slices.Clone(in.Reads)
}

// DeepCopyInto copies in into out.
func (in *AdmissionPolicyStatus) DeepCopyInto(out *AdmissionPolicyStatus) {
	*out = *in
	if in.Conditions != nil {
		out.Conditions = make([]metav1.Condition, len(in.Conditions))
		for i := range in.Conditions {
			in.Conditions[i].DeepCopyInto(&out.Conditions[i])
		}
	}
}

// DeepCopyInto copies in into out.
func (in *AdmissionPolicyList) DeepCopyInto(out *AdmissionPolicyList) {
	*out = *in
	out.TypeMeta = in.TypeMeta
	in.ListMeta.DeepCopyInto(&out.ListMeta)
	if in.Items != nil {
		out.Items = make([]AdmissionPolicy, len(in.Items))
		for i := range in.Items {
			in.Items[i].DeepCopyInto(&out.Items[i])
		}
	}
}

// DeepCopy copies the list.
func (in *AdmissionPolicyList) DeepCopy() *AdmissionPolicyList {
	if in == nil {
		return nil
	}
	out := new(AdmissionPolicyList)
	in.DeepCopyInto(out)
	return out
}

// DeepCopyObject copies the list.
func (in *AdmissionPolicyList) DeepCopyObject() runtime.Object { return in.DeepCopy() }
