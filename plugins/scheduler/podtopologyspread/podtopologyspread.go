// Package podtopologyspread is the PodTopologySpread plugin: a pod's topologySpreadConstraints
// spread matching pods across domains (zones, nodes, …). DoNotSchedule constraints filter
// nodes whose domain would exceed maxSkew; ScheduleAnyway constraints score emptier domains
// higher (default weight 2). Semantics follow kube-scheduler's: skew against the least
// loaded eligible domain (0 while fewer than minDomains exist), nodeAffinityPolicy Honor and
// nodeTaintsPolicy Ignore by default, matchLabelKeys merged into the selector, and scores
// weighted by log(domains + 2).
package podtopologyspread

import (
	"encoding/json"
	"fmt"
	"math"

	"github.com/tugboat-io/tug/plugins/internal/nodeselect"
	"github.com/tugboat-io/tug/plugins/internal/taints"
	tug "github.com/tugboat-io/tug/sdk/go"
	"github.com/tugboat-io/tug/sdk/go/labels"
)

// Name is the plugin's name in profiles; Weight its default score weight.
const (
	Name   = "PodTopologySpread"
	Weight = 2
)

// kube-scheduler's reasons.
const (
	ErrReasonConstraintsNotMatch = "node(s) didn't match pod topology spread constraints"
	ErrReasonNodeLabelNotMatch   = ErrReasonConstraintsNotMatch + " (missing required label)"
)

// Constraint is a v1 TopologySpreadConstraint.
type Constraint struct {
	MaxSkew            int32            `json:"maxSkew"`
	TopologyKey        string           `json:"topologyKey"`
	WhenUnsatisfiable  string           `json:"whenUnsatisfiable"`
	LabelSelector      *labels.Selector `json:"labelSelector"`
	MinDomains         *int32           `json:"minDomains"`
	NodeAffinityPolicy *string          `json:"nodeAffinityPolicy"`
	NodeTaintsPolicy   *string          `json:"nodeTaintsPolicy"`
	MatchLabelKeys     []string         `json:"matchLabelKeys"`
}

type pair struct{ key, value string }

// cycleState is what PreFilter leaves for Filter, Score and NormalizeScore.
type cycleState struct {
	filters, scorers []Constraint
	selfMatch        []bool       // per filter: the pod matches its own selector
	counts           map[pair]int // filters: matching pods per domain, over eligible nodes
	minMatch         []int        // per filter
	scoreCounts      map[pair]int // scorers: matching pods per domain
	nodes            map[uint32]*tug.NodeInfo
}

const stateKey = Name

// PodTopologySpread is the filter and score. It remembers, per node state, how many of the
// node's pods each (namespace, selector) matches: the pods of one workload share both, so
// after the first of them a cycle counts from memory instead of walking every resident pod.
type PodTopologySpread struct {
	nodes      tug.NodeCache[map[string]int] // each node state's match counts, by namespace and selector
	aggregates map[string]*aggregate
}

// New returns the plugin.
func New() *PodTopologySpread {
	return &PodTopologySpread{aggregates: map[string]*aggregate{}}
}

// matching counts the node's running pods in namespace ns that sel matches.
func (p *PodTopologySpread) matching(ni *tug.NodeInfo, ns string, sel *labels.Selector, key string) int {
	counts := p.nodes.Get(ni, func(*tug.NodeInfo) map[string]int { return map[string]int{} })
	if n, ok := counts[key]; ok {
		return n
	}
	n := 0
	for _, q := range ni.Pods {
		if q.Namespace == ns && sel.Matches(q.Labels) && q.Status.Phase != "Succeeded" && q.Status.Phase != "Failed" {
			n++
		}
	}
	counts[key] = n
	return n
}

// PreFilter parses the constraints and counts matching pods per domain across the cluster.
func (p *PodTopologySpread) PreFilter(state *tug.CycleState, pod *tug.Pod) *tug.Status {
	cs := &cycleState{counts: map[pair]int{}, scoreCounts: map[pair]int{}, nodes: map[uint32]*tug.NodeInfo{}}
	state.Write(stateKey, cs)
	if len(pod.Spec.TopologySpreadConstraints) == 0 {
		return tug.Skip
	}
	var all []Constraint
	if err := json.Unmarshal(pod.Spec.TopologySpreadConstraints, &all); err != nil {
		return tug.UnschedulableAndUnresolvable(fmt.Sprintf("pod has malformed topologySpreadConstraints: %v", err))
	}
	sel, err := nodeselect.Of(pod)
	if err != nil {
		return tug.UnschedulableAndUnresolvable(err.Error())
	}
	for _, c := range all {
		c.LabelSelector = withMatchLabelKeys(c.LabelSelector, c.MatchLabelKeys, pod.Labels)
		if c.WhenUnsatisfiable == "ScheduleAnyway" {
			cs.scorers = append(cs.scorers, c)
		} else {
			cs.filters = append(cs.filters, c)
			cs.selfMatch = append(cs.selfMatch, c.LabelSelector.Matches(pod.Labels))
		}
	}
	p.count(cs.filters, cs.counts, pod, sel)
	for _, c := range cs.filters {
		least, domains := math.MaxInt, 0
		for p, n := range cs.counts {
			if p.key == c.TopologyKey {
				domains++
				least = min(least, n)
			}
		}
		if domains == 0 || (c.MinDomains != nil && domains < int(*c.MinDomains)) {
			least = 0
		}
		cs.minMatch = append(cs.minMatch, least)
	}
	p.count(cs.scorers, cs.scoreCounts, pod, sel)
	if len(cs.filters) == 0 {
		return tug.Skip
	}
	return tug.Success
}

// PreScore skips the score for a pod without ScheduleAnyway constraints.
func (*PodTopologySpread) PreScore(state *tug.CycleState, _ *tug.Pod) *tug.Status {
	cs, st := fromState(state)
	if st != nil {
		return st
	}
	if len(cs.scorers) == 0 {
		return tug.Skip
	}
	return tug.Success
}

// withMatchLabelKeys adds, for each key the pod carries, a requirement that matching pods
// carry the same value (matchLabelKeys, as kube-apiserver merges it).
func withMatchLabelKeys(s *labels.Selector, keys []string, podLabels map[string]string) *labels.Selector {
	if s == nil || len(keys) == 0 {
		return s
	}
	merged := &labels.Selector{MatchLabels: s.MatchLabels, MatchExpressions: append([]labels.Requirement(nil), s.MatchExpressions...)}
	for _, k := range keys {
		if v, ok := podLabels[k]; ok {
			merged.MatchExpressions = append(merged.MatchExpressions, labels.Requirement{Key: k, Operator: "In", Values: []string{v}})
		}
	}
	return merged
}

// count adds, for every node carrying all the constraints' topology keys, the pods in the
// pod's namespace that each constraint's selector matches to the node's domain, if the
// constraint's policies include the node (a domain with no such pods still counts, as 0).
func (p *PodTopologySpread) count(cs []Constraint, counts map[pair]int, pod *tug.Pod, sel *nodeselect.Pod) {
	if len(cs) == 0 {
		return
	}
	// Everything the counts depend on besides the nodes: the constraints, the namespace, and
	// what decides which nodes are eligible (node selection and tolerations).
	key, _ := json.Marshal(struct {
		C  []Constraint
		NS string
		S  *nodeselect.Pod
		T  []tug.Toleration
	}{cs, pod.Namespace, sel, pod.Spec.Tolerations})
	agg := p.aggregates[string(key)]
	if agg == nil {
		agg = &aggregate{nodes: map[uint32]*contribution{}, counts: map[pair]int{}, present: map[pair]int{}}
		if len(p.aggregates) >= maxAggregates {
			clear(p.aggregates) // many workloads: start over rather than grow without bound
		}
		p.aggregates[string(key)] = agg
	}
	if agg.gen != tug.NodesGeneration() || agg.gen == 0 {
		p.update(agg, cs, pod, sel)
	}
	for d, n := range agg.counts {
		counts[d] += n
	}
}

// maxAggregates bounds the per-workload aggregates kept.
const maxAggregates = 256

// aggregate is the per-domain counts of one (constraints, namespace, eligibility) over the
// whole cluster, kept up to date by node state: a node whose NodeInfo is unchanged since the
// last update contributes what it did.
type aggregate struct {
	gen     uint64
	nodes   map[uint32]*contribution
	counts  map[pair]int
	present map[pair]int // included nodes per domain: a domain with none is not a domain
}

type contribution struct {
	info   *tug.NodeInfo
	counts map[pair]int // what this node adds to the domains that include it (0s too)
}

func (p *PodTopologySpread) update(agg *aggregate, cs []Constraint, pod *tug.Pod, sel *nodeselect.Pod) {
	keys := make([]string, len(cs))
	for i, c := range cs {
		k, _ := json.Marshal(c.LabelSelector)
		keys[i] = pod.Namespace + "\x00" + string(k)
	}
	live := make(map[uint32]bool, len(agg.nodes))
	for ni := range tug.Nodes() {
		live[ni.ID] = true
		old := agg.nodes[ni.ID]
		if old != nil && old.info == ni {
			continue
		}
		if old != nil {
			agg.subtract(old)
		}
		c := &contribution{info: ni, counts: map[pair]int{}}
		if hasKeys(cs, ni.Node) {
			for i, con := range cs {
				if !includes(con, ni.Node, pod, sel) {
					continue
				}
				d := pair{con.TopologyKey, ni.Node.Labels[con.TopologyKey]}
				n := 0
				if con.LabelSelector != nil {
					n = p.matching(ni, pod.Namespace, con.LabelSelector, keys[i])
				}
				c.counts[d] += n
			}
		}
		for d, n := range c.counts {
			agg.counts[d] += n
			agg.present[d]++
		}
		agg.nodes[ni.ID] = c
	}
	for id, c := range agg.nodes {
		if !live[id] {
			agg.subtract(c)
			delete(agg.nodes, id)
		}
	}
	agg.gen = tug.NodesGeneration()
}

// subtract removes a node's contribution; a domain no eligible node is in any more goes.
func (agg *aggregate) subtract(c *contribution) {
	for d, n := range c.counts {
		agg.counts[d] -= n
		if agg.present[d]--; agg.present[d] == 0 {
			delete(agg.counts, d)
			delete(agg.present, d)
		}
	}
}

// hasKeys reports whether the node carries every constraint's topology key: a node that
// lacks one is in no constraint's domains.
func hasKeys(cs []Constraint, n *tug.Node) bool {
	for _, c := range cs {
		if _, ok := n.Labels[c.TopologyKey]; !ok {
			return false
		}
	}
	return true
}

// includes applies a constraint's policies, which are its own (as in kube-scheduler, a node
// one constraint leaves out may count for another): the node must match the pod's node
// selection unless nodeAffinityPolicy is Ignore, and have its NoSchedule and NoExecute
// taints tolerated when nodeTaintsPolicy is Honor.
func includes(c Constraint, n *tug.Node, pod *tug.Pod, sel *nodeselect.Pod) bool {
	if (c.NodeAffinityPolicy == nil || *c.NodeAffinityPolicy == "Honor") && !sel.Allows(n) {
		return false
	}
	if c.NodeTaintsPolicy != nil && *c.NodeTaintsPolicy == "Honor" {
		for _, t := range n.Spec.Taints {
			if (t.Effect == taints.NoSchedule || t.Effect == taints.NoExecute) && !taints.AnyTolerates(pod.Spec.Tolerations, t) {
				return false
			}
		}
	}
	return true
}

func fromState(state *tug.CycleState) (*cycleState, *tug.Status) {
	return tug.ReadState[*cycleState](state, stateKey, Name)
}

// Filter rejects a node without a constraint's topology key (unresolvable), or whose domain
// would be more than maxSkew above the least loaded one with the pod placed there.
func (*PodTopologySpread) Filter(state *tug.CycleState, _ *tug.Pod, node *tug.NodeInfo) *tug.Status {
	cs, st := fromState(state)
	if st != nil {
		return st
	}
	for i, c := range cs.filters {
		v, ok := node.Node.Labels[c.TopologyKey]
		if !ok {
			return tug.UnschedulableAndUnresolvable(ErrReasonNodeLabelNotMatch)
		}
		self := 0
		if cs.selfMatch[i] {
			self = 1
		}
		if cs.counts[pair{c.TopologyKey, v}]+self-cs.minMatch[i] > int(c.MaxSkew) {
			return tug.Unschedulable(ErrReasonConstraintsNotMatch)
		}
	}
	return tug.Success
}

// Score records the node for NormalizeScore, which needs every scored node to weigh domains.
func (*PodTopologySpread) Score(state *tug.CycleState, _ *tug.Pod, node *tug.NodeInfo) (int64, *tug.Status) {
	cs, st := fromState(state)
	if st != nil {
		return 0, st
	}
	cs.nodes[node.ID] = node
	return 0, tug.Success
}

// NormalizeScore scores each node by the matching pods in its domains, each constraint
// weighted by log(its domains among the scored nodes + 2) plus maxSkew − 1, then reverses onto
// 0..100 (fewer pods score higher). Nodes missing a topology key score 0.
func (*PodTopologySpread) NormalizeScore(state *tug.CycleState, _ *tug.Pod, s []tug.NodeScore) *tug.Status {
	cs, st := fromState(state)
	if st != nil {
		return st
	}
	if len(cs.scorers) == 0 {
		for i := range s {
			s[i].Score = 0
		}
		return tug.Success
	}
	ignored := make([]bool, len(s))
	domains := make([]map[string]bool, len(cs.scorers))
	for j := range domains {
		domains[j] = map[string]bool{}
	}
	for i, ns := range s {
		n := cs.nodes[ns.ID]
		for _, c := range cs.scorers {
			if n == nil {
				ignored[i] = true
				break
			}
			if _, ok := n.Node.Labels[c.TopologyKey]; !ok {
				ignored[i] = true
				break
			}
		}
		if !ignored[i] {
			for j, c := range cs.scorers {
				domains[j][n.Node.Labels[c.TopologyKey]] = true
			}
		}
	}
	var minS, maxS int64 = math.MaxInt64, 0
	for i, ns := range s {
		if ignored[i] {
			continue
		}
		n := cs.nodes[ns.ID]
		var score float64
		for j, c := range cs.scorers {
			cnt := cs.scoreCounts[pair{c.TopologyKey, n.Node.Labels[c.TopologyKey]}]
			score += float64(cnt)*math.Log(float64(len(domains[j])+2)) + float64(c.MaxSkew-1)
		}
		s[i].Score = int64(math.Round(score))
		minS, maxS = min(minS, s[i].Score), max(maxS, s[i].Score)
	}
	for i := range s {
		switch {
		case ignored[i]:
			s[i].Score = 0
		case maxS == 0:
			s[i].Score = tug.MaxNodeScore
		default:
			s[i].Score = tug.MaxNodeScore * (maxS + minS - s[i].Score) / maxS
		}
	}
	return tug.Success
}

// DefaultWeight is kube-scheduler's default score weight for the plugin.
func (*PodTopologySpread) DefaultWeight() int64 { return Weight }
