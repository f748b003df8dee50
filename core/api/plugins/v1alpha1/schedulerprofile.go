package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// Condition types and reasons in SchedulerProfileStatus.
const (
	// ConditionProfileActive is True while the profile's chain is the one scheduling its pods.
	ConditionProfileActive = "Active"

	ReasonActive         = "Active"
	ReasonInvalidConfig  = "InvalidConfig"  // a plugin refused its configuration, or the spec contradicts the plugins
	ReasonPluginNotFound = "PluginNotFound" // a named plugin is neither a default one nor a loaded WasmPlugin
	ReasonConflict       = "Conflict"       // an older profile has the same schedulerName
)

// SchedulerProfile is a scheduling chain under a scheduler name, as one profile of
// kube-scheduler's KubeSchedulerConfiguration: which plugins run at each extension point, with
// score weights and per-plugin configuration. Applying a changed profile swaps the chain on
// the running scheduler; a profile that cannot be built keeps the previous chain and says why
// in its Active condition. Cluster-scoped.
type SchedulerProfile struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   SchedulerProfileSpec   `json:"spec"`
	Status SchedulerProfileStatus `json:"status,omitempty"`
}

// SchedulerProfileSpec is one profile. Its shape is KubeSchedulerConfiguration's profiles[*],
// so a kube-scheduler profile translates field for field; it is also the form of the profiles
// in tug up --scheduler-config.
type SchedulerProfileSpec struct {
	// SchedulerName is the spec.schedulerName of the pods this profile places (default: the
	// object's name).
	SchedulerName string `json:"schedulerName,omitempty"`
	// PercentageOfNodesToScore stops filtering once this share of the nodes is feasible
	// (0 or absent: kube-scheduler's adaptive default).
	PercentageOfNodesToScore *int32 `json:"percentageOfNodesToScore,omitempty"`
	// Plugins changes the default chain per extension point.
	Plugins *Plugins `json:"plugins,omitempty"`
	// PluginConfig is each plugin's configuration (args), by plugin name.
	PluginConfig []PluginConfig `json:"pluginConfig,omitempty"`
}

// Plugins are the extension points a profile configures. Each starts from the default
// plugins at that point, in their order; Disabled removes some ("*": all), Enabled adds
// plugins after them — or, for a default plugin, overrides its weight in place.
// Kubernetes' PreFilter and PreScore need no set of their own: a plugin's pre-filter runs
// when any of its extension points does. Reserve, Permit, PreBind and PostBind run after the
// choice of a node, in their set's order (Unreserve in Reserve's, reversed); Bind is the
// scheduler's own (pods/binding).
type Plugins struct {
	Filter     PluginSet `json:"filter,omitempty"`
	PostFilter PluginSet `json:"postFilter,omitempty"`
	Score      PluginSet `json:"score,omitempty"`
	Reserve    PluginSet `json:"reserve,omitempty"`
	Permit     PluginSet `json:"permit,omitempty"`
	PreBind    PluginSet `json:"preBind,omitempty"`
	PostBind   PluginSet `json:"postBind,omitempty"`
}

// PluginSet enables and disables plugins at one extension point.
type PluginSet struct {
	Enabled  []Plugin `json:"enabled,omitempty"`
	Disabled []Plugin `json:"disabled,omitempty"`
}

// Plugin names a plugin: a default one (NodeResourcesFit …) or a WasmPlugin of this cluster.
type Plugin struct {
	Name string `json:"name"`
	// Weight multiplies the plugin's scores (score only; 0: the plugin's default).
	Weight int32 `json:"weight,omitempty"`
}

// PluginConfig is one plugin's configuration, handed to it as JSON.
type PluginConfig struct {
	Name string               `json:"name"`
	Args runtime.RawExtension `json:"args,omitempty"`
}

// SchedulerProfileStatus is what the scheduler did with the profile.
type SchedulerProfileStatus struct {
	// ObservedGeneration is the generation the conditions describe.
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// ActiveGeneration is the generation whose chain is scheduling, which is older than
	// the spec's while a newer spec is refused.
	ActiveGeneration int64 `json:"activeGeneration,omitempty"`
	// Conditions: Active.
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// SchedulerProfileList is a list of SchedulerProfiles.
type SchedulerProfileList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []SchedulerProfile `json:"items"`
}
