package daemonset

import (
	"slices"
	"strconv"
	"time"
)

// node is what the decision reads of a Node.
type node struct {
	Metadata struct {
		Name              string            `json:"name"`
		Labels            map[string]string `json:"labels,omitempty"`
		DeletionTimestamp *time.Time        `json:"deletionTimestamp,omitempty"`
	} `json:"metadata"`
	Spec struct {
		Taints []taint `json:"taints,omitempty"`
	} `json:"spec"`
}

type taint struct {
	Key    string `json:"key"`
	Value  string `json:"value,omitempty"`
	Effect string `json:"effect"`
}

// Taint effects.
const (
	NoSchedule = "NoSchedule"
	NoExecute  = "NoExecute"
)

type toleration struct {
	Key      string `json:"key,omitempty"`
	Operator string `json:"operator,omitempty"`
	Value    string `json:"value,omitempty"`
	Effect   string `json:"effect,omitempty"`
}

// tolerates reports whether t tolerates the taint, as core/v1's Toleration.ToleratesTaint: an
// empty effect or key is a wildcard, an empty operator means Equal.
func (t toleration) tolerates(tn taint) bool {
	if t.Effect != "" && t.Effect != tn.Effect {
		return false
	}
	if t.Key != "" && t.Key != tn.Key {
		return false
	}
	switch t.Operator {
	case "", "Equal":
		return t.Value == tn.Value
	case "Exists":
		return true
	}
	return false
}

// untolerated reports whether some taint with one of effects is tolerated by none of tols.
func untolerated(taints []taint, tols []toleration, effects ...string) bool {
	for _, tn := range taints {
		if !slices.Contains(effects, tn.Effect) {
			continue
		}
		if !slices.ContainsFunc(tols, func(t toleration) bool { return t.tolerates(tn) }) {
			return true
		}
	}
	return false
}

// daemonTolerations are the tolerations kube's daemonset controller adds to every daemon
// pod, so that a node's conditions (which the node lifecycle controller turns into taints)
// never evict or keep out the pods that often are what fixes the node: its network plugin,
// its log shipper.
func daemonTolerations(hostNetwork bool) []toleration {
	tols := []toleration{
		{Key: "node.kubernetes.io/not-ready", Operator: "Exists", Effect: NoExecute},
		{Key: "node.kubernetes.io/unreachable", Operator: "Exists", Effect: NoExecute},
		{Key: "node.kubernetes.io/disk-pressure", Operator: "Exists", Effect: NoSchedule},
		{Key: "node.kubernetes.io/memory-pressure", Operator: "Exists", Effect: NoSchedule},
		{Key: "node.kubernetes.io/pid-pressure", Operator: "Exists", Effect: NoSchedule},
		{Key: "node.kubernetes.io/unschedulable", Operator: "Exists", Effect: NoSchedule},
	}
	if hostNetwork {
		// A host-network pod needs no pod network: it may well be the one providing it.
		tols = append(tols, toleration{Key: "node.kubernetes.io/network-unavailable", Operator: "Exists", Effect: NoSchedule})
	}
	return tols
}

// requirement is a NodeSelectorRequirement.
type requirement struct {
	Key      string   `json:"key"`
	Operator string   `json:"operator"`
	Values   []string `json:"values,omitempty"`
}

// matches reports whether value (present or not) satisfies r, as the scheduler's node
// affinity does; Gt and Lt compare integers and fail on anything else.
func (r requirement) matches(value string, present bool) bool {
	switch r.Operator {
	case "In":
		return present && slices.Contains(r.Values, value)
	case "NotIn":
		return !present || !slices.Contains(r.Values, value)
	case "Exists":
		return present
	case "DoesNotExist":
		return !present
	case "Gt", "Lt":
		if !present || len(r.Values) != 1 {
			return false
		}
		have, err1 := strconv.ParseInt(value, 10, 64)
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

type nodeSelectorTerm struct {
	MatchExpressions []requirement `json:"matchExpressions,omitempty"`
	MatchFields      []requirement `json:"matchFields,omitempty"`
}

// matches reports whether the node satisfies every requirement of the term; a term with
// none matches no node, as in kube.
func (t nodeSelectorTerm) matches(n *node) bool {
	if len(t.MatchExpressions) == 0 && len(t.MatchFields) == 0 {
		return false
	}
	for _, r := range t.MatchExpressions {
		v, ok := n.Metadata.Labels[r.Key]
		if !r.matches(v, ok) {
			return false
		}
	}
	for _, r := range t.MatchFields {
		// metadata.name is the only field selector node affinity supports.
		if r.Key != "metadata.name" || !r.matches(n.Metadata.Name, true) {
			return false
		}
	}
	return true
}

type affinity struct {
	NodeAffinity *struct {
		Required *struct {
			NodeSelectorTerms []nodeSelectorTerm `json:"nodeSelectorTerms"`
		} `json:"requiredDuringSchedulingIgnoredDuringExecution,omitempty"`
	} `json:"nodeAffinity,omitempty"`
}

// terms are the required node selector terms, nil when there is no requirement.
func (a *affinity) terms() []nodeSelectorTerm {
	if a == nil || a.NodeAffinity == nil || a.NodeAffinity.Required == nil {
		return nil
	}
	if a.NodeAffinity.Required.NodeSelectorTerms == nil {
		return []nodeSelectorTerm{} // required, with no term: matches nothing
	}
	return a.NodeAffinity.Required.NodeSelectorTerms
}

// pinnedNode is the node a daemon pod is pinned to by its required matchFields term,
// as kube's GetTargetNodeName reads it ("" when there is none).
func (a *affinity) pinnedNode() string {
	for _, t := range a.terms() {
		for _, r := range t.MatchFields {
			if r.Key == "metadata.name" && r.Operator == "In" && len(r.Values) == 1 {
				return r.Values[0]
			}
		}
	}
	return ""
}

// podSpec is what placement reads of the template's pod spec.
type podSpec struct {
	NodeName     string            `json:"nodeName,omitempty"`
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`
	Affinity     *affinity         `json:"affinity,omitempty"`
	Tolerations  []toleration      `json:"tolerations,omitempty"`
	HostNetwork  bool              `json:"hostNetwork,omitempty"`
}

// placement answers, for one node, kube's NodeShouldRunDaemonPod: should a daemon pod be
// created there, and may one that is there keep running.
func (s *podSpec) placement(n *node) (shouldRun, shouldContinue bool) {
	if n.Metadata.DeletionTimestamp != nil {
		return false, false
	}
	if s.NodeName != "" && s.NodeName != n.Metadata.Name {
		return false, false
	}
	for k, v := range s.NodeSelector {
		if got, ok := n.Metadata.Labels[k]; !ok || got != v {
			return false, false
		}
	}
	if terms := s.Affinity.terms(); terms != nil && !slices.ContainsFunc(terms, func(t nodeSelectorTerm) bool { return t.matches(n) }) {
		return false, false
	}
	tols := append(slices.Clone(s.Tolerations), daemonTolerations(s.HostNetwork)...)
	if untolerated(n.Spec.Taints, tols, NoSchedule, NoExecute) {
		// A NoSchedule taint keeps new pods out but lets a running one stay; only an
		// untolerated NoExecute taint evicts.
		return false, !untolerated(n.Spec.Taints, tols, NoExecute)
	}
	return true, true
}
