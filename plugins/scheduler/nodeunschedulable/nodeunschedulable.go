// Package nodeunschedulable is the NodeUnschedulable filter: a cordoned node
// (spec.unschedulable) takes only pods that tolerate the node.kubernetes.io/unschedulable
// NoSchedule taint.
package nodeunschedulable

import (
	"github.com/tugboat-io/tug/plugins/internal/taints"
	tug "github.com/tugboat-io/tug/sdk/go"
)

// Name is the plugin's name in profiles.
const Name = "NodeUnschedulable"

// ErrReason is kube-scheduler's reason.
const ErrReason = "node(s) were unschedulable"

// unschedulable is the taint a cordoned node is treated as having.
var unschedulable = tug.Taint{Key: "node.kubernetes.io/unschedulable", Effect: taints.NoSchedule}

// NodeUnschedulable is the filter. It counts the cordoned nodes as nodes change, so that in a
// cluster with none the filter is skipped.
type NodeUnschedulable struct {
	cordoned int
}

// New returns the filter.
func New() *NodeUnschedulable { return &NodeUnschedulable{} }

// NodeChanged counts cordoned nodes.
func (p *NodeUnschedulable) NodeChanged(old, new *tug.NodeInfo) {
	if old != nil && old.Node.Spec.Unschedulable {
		p.cordoned--
	}
	if new != nil && new.Node.Spec.Unschedulable {
		p.cordoned++
	}
}

// PreFilter skips the filter while no node is cordoned.
func (p *NodeUnschedulable) PreFilter(*tug.CycleState, *tug.Pod) *tug.Status {
	if p.cordoned == 0 {
		return tug.Skip
	}
	return tug.Success
}

// Filter rejects cordoned nodes unless the pod tolerates them.
func (*NodeUnschedulable) Filter(_ *tug.CycleState, pod *tug.Pod, node *tug.NodeInfo) *tug.Status {
	if node.Node.Spec.Unschedulable && !taints.AnyTolerates(pod.Spec.Tolerations, unschedulable) {
		return tug.UnschedulableAndUnresolvable(ErrReason)
	}
	return tug.Success
}
