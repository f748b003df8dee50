package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GroupName is the API group of tug's plugin kinds.
const GroupName = "plugins.tug.dev"

// SchemeGroupVersion is the group and version of the kinds in this package.
var SchemeGroupVersion = schema.GroupVersion{Group: GroupName, Version: "v1alpha1"}

// Failure policies: what a caller does when the plugin errors, traps or times out.
const (
	FailurePolicyFail   = "Fail"
	FailurePolicyIgnore = "Ignore"
)

// Capabilities a plugin may be granted; everything else stays sandboxed (ABI.md §6).
const (
	CapabilityClock  = "clock"
	CapabilityRandom = "random"
)

// Condition types in WasmPluginStatus.
const (
	ConditionLoaded = "Loaded" // the module compiled, passed the ABI checks and accepted its config
	ConditionActive = "Active" // the module is the version serving calls
	ConditionFailed = "Failed" // the last version tried was refused; the message says why
)

// WasmPlugin is a WebAssembly policy module known to the cluster. It is cluster-scoped: the
// scheduler, admission and controllers refer to plugins by name.
type WasmPlugin struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   WasmPluginSpec   `json:"spec"`
	Status WasmPluginStatus `json:"status,omitempty"`
}

// WasmPluginSpec says which module, what it implements and how it runs.
type WasmPluginSpec struct {
	// Kinds the module implements: scheduler-filter, scheduler-score, admission, controller.
	// The runtime checks the module's exports against them when it loads it.
	Kinds []string `json:"kinds"`
	// Module names the module's bytes by digest, and optionally where to fetch them.
	Module ModuleSource `json:"module"`
	// Config is handed to the module's tug_configure; it must be a JSON object.
	Config *runtime.RawExtension `json:"config,omitempty"`
	// FailurePolicy is Fail (the default) or Ignore.
	FailurePolicy string `json:"failurePolicy,omitempty"`
	// Capabilities lifts parts of the sandbox: clock, random.
	Capabilities []string `json:"capabilities,omitempty"`
	// MemoryLimitMiB caps each instance's memory (default 64).
	MemoryLimitMiB *int32 `json:"memoryLimitMiB,omitempty"`
	// TimeoutMilliseconds bounds each call (default 100 for scheduler kinds, 1000 otherwise).
	TimeoutMilliseconds *int32 `json:"timeoutMilliseconds,omitempty"`
}

// ModuleSource is a module's identity and origin.
type ModuleSource struct {
	// Digest is "sha256:" and 64 lower-case hex digits; bytes that do not hash to it are refused.
	Digest string `json:"digest"`
	// URL is an http(s) address to fetch the module from when the cluster does not hold it.
	URL string `json:"url,omitempty"`
}

// WasmPluginStatus is what the runtime last did with the plugin.
type WasmPluginStatus struct {
	// ObservedGeneration is the generation the conditions describe.
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// ActiveDigest is the module version serving calls, which may be older than spec while a
	// new version is refused.
	ActiveDigest string `json:"activeDigest,omitempty"`
	// Conditions: Loaded, Active, Failed.
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// WasmPluginList is a list of WasmPlugins.
type WasmPluginList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []WasmPlugin `json:"items"`
}
