// Package nodename is the NodeName filter: a pod that names a node (spec.nodeName) fits only
// that node.
package nodename

import tug "github.com/tugboat-io/tug/sdk/go"

// Name is the plugin's name in profiles.
const Name = "NodeName"

// ErrReason is kube-scheduler's reason.
const ErrReason = "node(s) didn't match the requested node name"

// NodeName is the filter.
type NodeName struct{}

// PreFilter skips the filter for a pod that names no node.
func (NodeName) PreFilter(_ *tug.CycleState, pod *tug.Pod) *tug.Status {
	if pod.Spec.NodeName == "" {
		return tug.Skip
	}
	return tug.Success
}

// Filter rejects every node but the one the pod names, if it names one.
func (NodeName) Filter(_ *tug.CycleState, pod *tug.Pod, node *tug.NodeInfo) *tug.Status {
	if pod.Spec.NodeName != "" && pod.Spec.NodeName != node.Name() {
		return tug.UnschedulableAndUnresolvable(ErrReason)
	}
	return tug.Success
}
