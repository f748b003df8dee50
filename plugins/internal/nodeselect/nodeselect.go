// Package nodeselect decodes a pod's node affinity and matches nodes against it and the pod's
// nodeSelector, as Kubernetes does. The scheduler's NodeAffinity filters and scores with it,
// PodTopologySpread uses it to know which nodes a pod could go to, and the DaemonSet
// controller to know which nodes should run a daemon pod.
package nodeselect

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"

	tug "github.com/tugboat-io/tug/sdk/go"
)

// The parts of a v1 Affinity node selection reads.
type (
	// Affinity is a pod's v1 Affinity, of which only the node affinity is decoded.
	Affinity struct {
		NodeAffinity *NodeAffinity `json:"nodeAffinity"`
	}
	// NodeAffinity is a pod's required and preferred node selection.
	NodeAffinity struct {
		Required  *Selector       `json:"requiredDuringSchedulingIgnoredDuringExecution"`
		Preferred []PreferredTerm `json:"preferredDuringSchedulingIgnoredDuringExecution"`
	}
	// Selector is a required node selector: its terms are ORed.
	Selector struct {
		Terms []Term `json:"nodeSelectorTerms"`
	}
	// PreferredTerm is a weighted preferred term.
	PreferredTerm struct {
		Weight     int64 `json:"weight"`
		Preference Term  `json:"preference"`
	}
	// Term is a node selector term: its requirements are ANDed.
	Term struct {
		MatchExpressions []Requirement `json:"matchExpressions"`
		MatchFields      []Requirement `json:"matchFields"`
	}
	// Requirement is one match expression or field.
	Requirement struct {
		Key      string   `json:"key"`
		Operator string   `json:"operator"`
		Values   []string `json:"values"`
	}
)

// Pod is what a pod asks of a node's labels: its nodeSelector and node affinity.
type Pod struct {
	NodeSelector map[string]string
	Required     *Selector
	Preferred    []PreferredTerm
}

// Of decodes a pod's node selection.
func Of(p *tug.Pod) (*Pod, error) {
	if len(p.Spec.Affinity) == 0 {
		return New(p.Spec.NodeSelector, nil), nil
	}
	var a Affinity
	if err := json.Unmarshal(p.Spec.Affinity, &a); err != nil {
		return nil, fmt.Errorf("pod has a malformed affinity: %w", err)
	}
	return New(p.Spec.NodeSelector, &a), nil
}

// New is the node selection of a pod with this nodeSelector and affinity (nil for none).
func New(nodeSelector map[string]string, a *Affinity) *Pod {
	ps := &Pod{NodeSelector: nodeSelector}
	if a != nil && a.NodeAffinity != nil {
		ps.Required, ps.Preferred = a.NodeAffinity.Required, a.NodeAffinity.Preferred
	}
	return ps
}

// Allows reports whether the node carries every nodeSelector pair and matches at least one
// required term.
func (ps *Pod) Allows(n *tug.Node) bool {
	for k, v := range ps.NodeSelector {
		if got, ok := n.Labels[k]; !ok || got != v {
			return false
		}
	}
	return ps.Required == nil || MatchesAny(ps.Required.Terms, n)
}

// MatchesAny reports whether the node matches one of the terms (they are ORed).
func MatchesAny(terms []Term, n *tug.Node) bool {
	for _, t := range terms {
		if Matches(t, n) {
			return true
		}
	}
	return false
}

// Matches reports whether the node meets every requirement of a term; a term without
// requirements matches nothing, as in Kubernetes.
func Matches(t Term, n *tug.Node) bool {
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
func satisfies(r Requirement, v string, present bool) bool {
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
