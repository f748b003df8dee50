// Package nodeaffinity is the NodeAffinity plugin: a pod's nodeSelector and required node
// affinity filter nodes by their labels (and name), and its preferred node affinity scores
// them by the weights of the terms they match (default weight 2).
package nodeaffinity

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"

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

// The parts of a v1 Affinity this plugin reads.
type (
	affinity struct {
		NodeAffinity *struct {
			Required  *nodeSelector   `json:"requiredDuringSchedulingIgnoredDuringExecution"`
			Preferred []preferredTerm `json:"preferredDuringSchedulingIgnoredDuringExecution"`
		} `json:"nodeAffinity"`
	}
	nodeSelector struct {
		Terms []term `json:"nodeSelectorTerms"`
	}
	preferredTerm struct {
		Weight     int64 `json:"weight"`
		Preference term  `json:"preference"`
	}
	term struct {
		MatchExpressions []requirement `json:"matchExpressions"`
		MatchFields      []requirement `json:"matchFields"`
	}
	requirement struct {
		Key      string   `json:"key"`
		Operator string   `json:"operator"`
		Values   []string `json:"values"`
	}
)

// parsed is what PreFilter leaves in the cycle state.
type parsed struct {
	required  *nodeSelector
	preferred []preferredTerm
}

const stateKey = Name

// NodeAffinity is the filter and score.
type NodeAffinity struct{}

// PreFilter decodes the pod's node affinity once per cycle. A malformed affinity (which the
// API server's validation should have refused) makes the pod unresolvable.
func (NodeAffinity) PreFilter(state *tug.CycleState, pod *tug.Pod) *tug.Status {
	p := &parsed{}
	if len(pod.Spec.Affinity) > 0 {
		var a affinity
		if err := json.Unmarshal(pod.Spec.Affinity, &a); err != nil {
			return tug.UnschedulableAndUnresolvable(fmt.Sprintf("pod has a malformed affinity: %v", err))
		}
		if a.NodeAffinity != nil {
			p.required, p.preferred = a.NodeAffinity.Required, a.NodeAffinity.Preferred
		}
	}
	state.Write(stateKey, p)
	return tug.Success
}

func fromState(state *tug.CycleState) (*parsed, *tug.Status) {
	v, ok := state.Read(stateKey)
	if !ok {
		return nil, tug.Errorf("%s: no pre-filter state", Name)
	}
	return v.(*parsed), nil
}

// Filter passes a node whose labels carry every nodeSelector pair and that matches at least one
// required term.
func (NodeAffinity) Filter(state *tug.CycleState, pod *tug.Pod, node *tug.NodeInfo) *tug.Status {
	p, st := fromState(state)
	if st != nil {
		return st
	}
	labels := node.Node.Labels
	for k, v := range pod.Spec.NodeSelector {
		if got, ok := labels[k]; !ok || got != v {
			return tug.UnschedulableAndUnresolvable(ErrReasonPod)
		}
	}
	if p.required != nil && !matchesAny(p.required.Terms, node.Node) {
		return tug.UnschedulableAndUnresolvable(ErrReasonPod)
	}
	return tug.Success
}

// Score sums the weights of the preferred terms the node matches.
func (NodeAffinity) Score(state *tug.CycleState, _ *tug.Pod, node *tug.NodeInfo) (int64, *tug.Status) {
	p, st := fromState(state)
	if st != nil {
		return 0, st
	}
	var sum int64
	for _, pt := range p.preferred {
		if pt.Weight != 0 && matches(pt.Preference, node.Node) {
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

// matchesAny reports whether the node matches one of the terms (they are ORed).
func matchesAny(terms []term, n *tug.Node) bool {
	for _, t := range terms {
		if matches(t, n) {
			return true
		}
	}
	return false
}

// matches reports whether the node meets every requirement of a term; a term without
// requirements matches nothing, as in Kubernetes.
func matches(t term, n *tug.Node) bool {
	if len(t.MatchExpressions) == 0 && len(t.MatchFields) == 0 {
		return false
	}
	for _, r := range t.MatchExpressions {
		v, ok := n.Labels[r.Key]
		if !satisfies(r, v, ok) {
			return false
		}
	}
	for _, r := range t.MatchFields {
		// metadata.name is the only field node affinity selects on.
		if r.Key != "metadata.name" || !satisfies(r, n.Name, true) {
			return false
		}
	}
	return true
}

// satisfies applies one requirement to a label value (present says whether the label is).
func satisfies(r requirement, v string, present bool) bool {
	switch r.Operator {
	case "In":
		return present && slices.Contains(r.Values, v)
	case "NotIn":
		return !present || !slices.Contains(r.Values, v)
	case "Exists":
		return present
	case "DoesNotExist":
		return !present
	case "Gt", "Lt":
		if !present || len(r.Values) != 1 {
			return false
		}
		have, err1 := strconv.ParseInt(v, 10, 64)
		want, err2 := strconv.ParseInt(r.Values[0], 10, 64)
		if err1 != nil || err2 != nil {
			return false
		}
		if r.Operator == "Gt" {
			return have > want
		}
		return have < want
	}
	return false
}
