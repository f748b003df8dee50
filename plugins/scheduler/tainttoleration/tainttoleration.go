// Package tainttoleration is the TaintToleration plugin: a node's NoSchedule and NoExecute
// taints keep off pods that do not tolerate them (filter), and its PreferNoSchedule taints
// make it less attractive to such pods, the more the worse (score, default weight 3).
package tainttoleration

import (
	"fmt"

	"github.com/tugboat-io/tug/plugins/internal/taints"
	"github.com/tugboat-io/tug/plugins/scheduler/internal/scores"
	tug "github.com/tugboat-io/tug/sdk/go"
)

// Name is the plugin's name in profiles; Weight its default score weight.
const (
	Name   = "TaintToleration"
	Weight = 3
)

// TaintToleration is the filter and score. It counts, as nodes change, the nodes with taints
// of each kind, so that where no node has one the filter or the score is skipped.
type TaintToleration struct {
	hard, soft int // nodes with NoSchedule or NoExecute taints; with PreferNoSchedule taints
}

// New returns the plugin.
func New() *TaintToleration { return &TaintToleration{} }

// NodeChanged counts the tainted nodes.
func (p *TaintToleration) NodeChanged(old, new *tug.NodeInfo) {
	if old != nil {
		h, s := kinds(old.Node)
		p.hard, p.soft = p.hard-h, p.soft-s
	}
	if new != nil {
		h, s := kinds(new.Node)
		p.hard, p.soft = p.hard+h, p.soft+s
	}
}

// kinds reports (as 0 or 1) whether a node has hard and soft taints.
func kinds(n *tug.Node) (hard, soft int) {
	for _, t := range n.Spec.Taints {
		switch t.Effect {
		case taints.NoSchedule, taints.NoExecute:
			hard = 1
		case taints.PreferNoSchedule:
			soft = 1
		}
	}
	return hard, soft
}

// PreFilter skips the filter while no node has a NoSchedule or NoExecute taint.
func (p *TaintToleration) PreFilter(*tug.CycleState, *tug.Pod) *tug.Status {
	if p.hard == 0 {
		return tug.Skip
	}
	return tug.Success
}

// PreScore skips the score while no node has a PreferNoSchedule taint: every node would
// count 0.
func (p *TaintToleration) PreScore(*tug.CycleState, *tug.Pod) *tug.Status {
	if p.soft == 0 {
		return tug.Skip
	}
	return tug.Success
}

// Filter rejects a node with a NoSchedule or NoExecute taint the pod does not tolerate,
// naming the first such taint as kube-scheduler does.
func (*TaintToleration) Filter(_ *tug.CycleState, pod *tug.Pod, node *tug.NodeInfo) *tug.Status {
	for _, taint := range node.Node.Spec.Taints {
		if taint.Effect != taints.NoSchedule && taint.Effect != taints.NoExecute {
			continue
		}
		if !taints.AnyTolerates(pod.Spec.Tolerations, taint) {
			return tug.UnschedulableAndUnresolvable(fmt.Sprintf("node(s) had untolerated taint {%s: %s}", taint.Key, taint.Value))
		}
	}
	return tug.Success
}

// Score counts the node's PreferNoSchedule taints that the pod's PreferNoSchedule (or
// effect-less) tolerations do not tolerate; NormalizeScore turns fewer into higher.
func (*TaintToleration) Score(_ *tug.CycleState, pod *tug.Pod, node *tug.NodeInfo) (int64, *tug.Status) {
	var prefer []tug.Toleration
	for _, t := range pod.Spec.Tolerations {
		if t.Effect == "" || t.Effect == taints.PreferNoSchedule {
			prefer = append(prefer, t)
		}
	}
	var n int64
	for _, taint := range node.Node.Spec.Taints {
		if taint.Effect == taints.PreferNoSchedule && !taints.AnyTolerates(prefer, taint) {
			n++
		}
	}
	return n, tug.Success
}

// NormalizeScore maps counts to 0..100, reversed: the node with the most intolerable taints
// gets 0, a node with none 100.
func (*TaintToleration) NormalizeScore(_ *tug.CycleState, _ *tug.Pod, s []tug.NodeScore) *tug.Status {
	scores.Normalize(s, true)
	return tug.Success
}

// DefaultWeight is kube-scheduler's default score weight for the plugin.
func (*TaintToleration) DefaultWeight() int64 { return Weight }
