// Package nodeunschedulable is the NodeUnschedulable filter: a cordoned node
// (spec.unschedulable) takes only pods that tolerate the node.kubernetes.io/unschedulable
// NoSchedule taint.
package nodeunschedulable

import (
	"github.com/tugboat-io/tug/plugins/scheduler/internal/taints"
	tug "github.com/tugboat-io/tug/sdk/go"
)

// Name is the plugin's name in profiles.
const Name = "NodeUnschedulable"

// ErrReason is kube-scheduler's reason.
const ErrReason = "node(s) were unschedulable"

// unschedulable is the taint a cordoned node is treated as having.
var unschedulable = tug.Taint{Key: "node.kubernetes.io/unschedulable", Effect: taints.NoSchedule}

// NodeUnschedulable is the filter.
type NodeUnschedulable struct{}

// Filter rejects cordoned nodes unless the pod tolerates them.
func (NodeUnschedulable) Filter(_ *tug.CycleState, pod *tug.Pod, node *tug.NodeInfo) *tug.Status {
	if node.Node.Spec.Unschedulable && !taints.AnyTolerates(pod.Spec.Tolerations, unschedulable) {
		return tug.UnschedulableAndUnresolvable(ErrReason)
	}
	return tug.Success
}
