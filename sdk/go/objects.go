package tug

import "encoding/json"

// The Kubernetes objects a plugin sees most, decoded into small structs with the fields
// scheduling and admission policies use. Field and JSON names are those of k8s.io/api, so
// code reads as it would against the real types; everything else is in an object's Raw
// JSON. Unknown fields are ignored, as ABI.md requires.

// TypeMeta is an object's apiVersion and kind.
type TypeMeta struct {
	APIVersion string `json:"apiVersion,omitempty"`
	Kind       string `json:"kind,omitempty"`
}

// ObjectMeta is the part of an object's metadata the SDK decodes.
type ObjectMeta struct {
	Name            string            `json:"name,omitempty"`
	Namespace       string            `json:"namespace,omitempty"`
	UID             string            `json:"uid,omitempty"`
	Labels          map[string]string `json:"labels,omitempty"`
	Annotations     map[string]string `json:"annotations,omitempty"`
	OwnerReferences []OwnerReference  `json:"ownerReferences,omitempty"`
}

// OwnerReference names an object's owner.
type OwnerReference struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Name       string `json:"name"`
	UID        string `json:"uid"`
	Controller *bool  `json:"controller,omitempty"`
}

// Pod is a v1 Pod.
type Pod struct {
	TypeMeta
	ObjectMeta `json:"metadata,omitzero"`
	Spec       PodSpec   `json:"spec,omitzero"`
	Status     PodStatus `json:"status,omitzero"`
	// Raw is the pod's JSON as the host sent it, for fields the structs leave out.
	Raw json.RawMessage `json:"-"`
}

// PodSpec is the part of a pod's spec the SDK decodes.
type PodSpec struct {
	NodeName     string            `json:"nodeName,omitempty"`
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`
	Tolerations  []Toleration      `json:"tolerations,omitempty"`
	// Affinity is the pod's v1 Affinity, undecoded.
	Affinity                  json.RawMessage `json:"affinity,omitempty"`
	TopologySpreadConstraints json.RawMessage `json:"topologySpreadConstraints,omitempty"`
	Containers                []Container     `json:"containers,omitempty"`
	InitContainers            []Container     `json:"initContainers,omitempty"`
	Overhead                  ResourceList    `json:"overhead,omitempty"`
	SchedulerName             string          `json:"schedulerName,omitempty"`
	PriorityClassName         string          `json:"priorityClassName,omitempty"`
	Priority                  *int32          `json:"priority,omitempty"`
	ServiceAccountName        string          `json:"serviceAccountName,omitempty"`
	HostNetwork               bool            `json:"hostNetwork,omitempty"`
}

// PodStatus is the part of a pod's status the SDK decodes.
type PodStatus struct {
	// Phase is Pending, Running, Succeeded, Failed or Unknown.
	Phase             string `json:"phase,omitempty"`
	NominatedNodeName string `json:"nominatedNodeName,omitempty"`
	// StartTime is when the node agent accepted the pod (RFC 3339), "" before.
	StartTime string `json:"startTime,omitempty"`
}

// Container is the part of a container the SDK decodes.
type Container struct {
	Name      string               `json:"name"`
	Image     string               `json:"image,omitempty"`
	Resources ResourceRequirements `json:"resources,omitzero"`
	Ports     []ContainerPort      `json:"ports,omitempty"`
	// RestartPolicy is "Always" for a sidecar (an init container that keeps running).
	RestartPolicy string `json:"restartPolicy,omitempty"`
}

// ResourceRequirements are a container's requests and limits.
type ResourceRequirements struct {
	Limits   ResourceList `json:"limits,omitempty"`
	Requests ResourceList `json:"requests,omitempty"`
}

// ContainerPort is a port a container exposes.
type ContainerPort struct {
	Name          string `json:"name,omitempty"`
	HostPort      int32  `json:"hostPort,omitempty"`
	ContainerPort int32  `json:"containerPort"`
	// Protocol is TCP (the default when empty), UDP or SCTP.
	Protocol string `json:"protocol,omitempty"`
	HostIP   string `json:"hostIP,omitempty"`
}

// Toleration lets a pod onto nodes with a matching taint.
type Toleration struct {
	Key string `json:"key,omitempty"`
	// Operator is Exists or Equal (the default when empty).
	Operator          string `json:"operator,omitempty"`
	Value             string `json:"value,omitempty"`
	Effect            string `json:"effect,omitempty"`
	TolerationSeconds *int64 `json:"tolerationSeconds,omitempty"`
}

// Node is a v1 Node.
type Node struct {
	TypeMeta
	ObjectMeta `json:"metadata,omitzero"`
	Spec       NodeSpec   `json:"spec,omitzero"`
	Status     NodeStatus `json:"status,omitzero"`
	// Raw is the node's JSON as the host sent it, for fields the structs leave out.
	Raw json.RawMessage `json:"-"`
}

// NodeSpec is the part of a node's spec the SDK decodes.
type NodeSpec struct {
	Unschedulable bool    `json:"unschedulable,omitempty"`
	Taints        []Taint `json:"taints,omitempty"`
}

// Taint repels pods that do not tolerate it.
type Taint struct {
	Key   string `json:"key"`
	Value string `json:"value,omitempty"`
	// Effect is NoSchedule, PreferNoSchedule or NoExecute.
	Effect string `json:"effect"`
}

// NodeStatus is the part of a node's status the SDK decodes.
type NodeStatus struct {
	Capacity    ResourceList    `json:"capacity,omitempty"`
	Allocatable ResourceList    `json:"allocatable,omitempty"`
	Conditions  []NodeCondition `json:"conditions,omitempty"`
	// Images are the container images on the node.
	Images []ContainerImage `json:"images,omitempty"`
}

// ContainerImage is an image on a node: its names (tags and digests) and size.
type ContainerImage struct {
	Names     []string `json:"names"`
	SizeBytes int64    `json:"sizeBytes,omitempty"`
}

// NodeCondition is one of a node's conditions (Ready, MemoryPressure, …).
type NodeCondition struct {
	Type string `json:"type"`
	// Status is True, False or Unknown.
	Status string `json:"status"`
}

// ResourceList maps resource names (cpu, memory, pods, nvidia.com/gpu, …) to quantities.
type ResourceList map[string]Quantity
