// Package nodeaffinity is the NodeAffinity plugin: a pod's nodeSelector and required node
// affinity filter nodes by their labels (and name), and its preferred node affinity scores
// them by the weights of the terms they match (default weight 2).
package nodeaffinity

import (
	"github.com/tugboat-io/tug/plugins/internal/nodeselect"
	"github.com/tugboat-io/tug/plugins/scheduler/internal/scores"
	tug "github.com/tugboat-io/tug/sdk/go"
)

// Name is the plugin's name in profiles; Weight its default score weight.
const (
	Name   = "NodeAffinity"
	Weight = 2
)

// ErrReasonPod is kube-scheduler's reason.
const ErrReasonPod = "node(s) didn't match Pod's node affinity/selector"

const stateKey = Name

// NodeAffinity is the filter and score.
type NodeAffinity struct{}

// PreFilter decodes the pod's node affinity once per cycle. A malformed affinity (which the
// API server's validation should have refused) makes the pod unresolvable.
func (NodeAffinity) PreFilter(state *tug.CycleState, pod *tug.Pod) *tug.Status {
	ps, err := nodeselect.Of(pod)
	if err != nil {
		return tug.UnschedulableAndUnresolvable(err.Error())
	}
	state.Write(stateKey, ps)
	if len(ps.NodeSelector) == 0 && ps.Required == nil {
		return tug.Skip // every node passes
	}
	return tug.Success
}

// PreScore skips the score for a pod without preferred terms.
func (NodeAffinity) PreScore(state *tug.CycleState, _ *tug.Pod) *tug.Status {
	ps, st := fromState(state)
	if st != nil {
		return st
	}
	if len(ps.Preferred) == 0 {
		return tug.Skip
	}
	return tug.Success
}

func fromState(state *tug.CycleState) (*nodeselect.Pod, *tug.Status) {
	return tug.ReadState[*nodeselect.Pod](state, stateKey, Name)
}

// Filter passes a node whose labels carry every nodeSelector pair and that matches at least one
// required term.
func (NodeAffinity) Filter(state *tug.CycleState, _ *tug.Pod, node *tug.NodeInfo) *tug.Status {
	ps, st := fromState(state)
	if st != nil {
		return st
	}
	if !ps.Allows(node.Node) {
		return tug.UnschedulableAndUnresolvable(ErrReasonPod)
	}
	return tug.Success
}

// Score sums the weights of the preferred terms the node matches.
func (NodeAffinity) Score(state *tug.CycleState, _ *tug.Pod, node *tug.NodeInfo) (int64, *tug.Status) {
	ps, st := fromState(state)
	if st != nil {
		return 0, st
	}
	var sum int64
	for _, pt := range ps.Preferred {
		if pt.Weight != 0 && nodeselect.Matches(pt.Preference, node.Node) {
			sum += pt.Weight
		}
	}
	return sum, tug.Success
}

// NormalizeScore scales the sums to 0..100 by the highest.
func (NodeAffinity) NormalizeScore(_ *tug.CycleState, _ *tug.Pod, s []tug.NodeScore) *tug.Status {
	scores.Normalize(s, false)
	return tug.Success
}

// DefaultWeight is kube-scheduler's default score weight for the plugin.
func (NodeAffinity) DefaultWeight() int64 { return Weight }
