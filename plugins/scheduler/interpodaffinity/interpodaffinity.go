// Package interpodaffinity is the InterPodAffinity plugin: pods placed near (affinity) or away
// from (anti-affinity) other pods by topology domain. Required terms filter — the pod's own
// affinity and anti-affinity, and existing pods' anti-affinity against it — and preferred
// terms (the pod's, and existing pods' towards it) score (default weight 2), as in
// kube-scheduler. A term's namespaceSelector can only be empty (every namespace): the plugin
// does not see namespaces' labels, so a non-empty one matches no pod.
package interpodaffinity

import (
	"encoding/json"
	"fmt"
	"slices"

	tug "github.com/tugboat-io/tug/sdk/go"
	"github.com/tugboat-io/tug/sdk/go/labels"
)

// Name is the plugin's name in profiles; Weight its default score weight.
const (
	Name   = "InterPodAffinity"
	Weight = 2
)

// kube-scheduler's reasons.
const (
	ErrReasonExistingAntiAffinityRulesNotMatch = "node(s) didn't satisfy existing pods anti-affinity rules"
	ErrReasonAffinityRulesNotMatch             = "node(s) didn't match pod affinity rules"
	ErrReasonAntiAffinityRulesNotMatch         = "node(s) didn't match pod anti-affinity rules"
)

// hardPodAffinityWeight is what an existing pod's required affinity term counts for in
// scoring (kube-scheduler's default HardPodAffinityWeight).
const hardPodAffinityWeight = 1

// Term is a v1 PodAffinityTerm.
type Term struct {
	LabelSelector     *labels.Selector `json:"labelSelector"`
	Namespaces        []string         `json:"namespaces"`
	NamespaceSelector *labels.Selector `json:"namespaceSelector"`
	TopologyKey       string           `json:"topologyKey"`
}

type weightedTerm struct {
	Weight int64 `json:"weight"`
	Term   Term  `json:"podAffinityTerm"`
}

type podTerms struct {
	Required  []Term         `json:"requiredDuringSchedulingIgnoredDuringExecution"`
	Preferred []weightedTerm `json:"preferredDuringSchedulingIgnoredDuringExecution"`
}

// affinity is the pod-affinity part of a v1 Affinity.
type affinity struct {
	PodAffinity     *podTerms `json:"podAffinity"`
	PodAntiAffinity *podTerms `json:"podAntiAffinity"`
}

func parse(p *tug.Pod) (*affinity, error) {
	a := &affinity{}
	if len(p.Spec.Affinity) > 0 {
		if err := json.Unmarshal(p.Spec.Affinity, a); err != nil {
			return nil, fmt.Errorf("pod has a malformed affinity: %w", err)
		}
	}
	if a.PodAffinity == nil {
		a.PodAffinity = &podTerms{}
	}
	if a.PodAntiAffinity == nil {
		a.PodAntiAffinity = &podTerms{}
	}
	return a, nil
}

// matches reports whether term, written by a pod in namespace owner, selects pod p.
func (t Term) matches(owner string, p *tug.Pod) bool {
	switch {
	case len(t.Namespaces) > 0 || t.NamespaceSelector != nil:
		in := slices.Contains(t.Namespaces, p.Namespace)
		all := t.NamespaceSelector != nil && len(t.NamespaceSelector.MatchLabels) == 0 && len(t.NamespaceSelector.MatchExpressions) == 0
		if !in && !all {
			return false
		}
	case p.Namespace != owner:
		return false
	}
	return t.LabelSelector.Matches(p.Labels)
}

type domain struct{ key, value string }

// byKey holds values per topology domain, grouped by topology key, so that a node is looked
// up once per key (a node is in one domain of each key) rather than once per domain: with
// anti-affinity by hostname there are as many domains as nodes.
type byKey[T any] map[string]map[string]T

func (m byKey[T]) at(d domain) map[string]T {
	vs := m[d.key]
	if vs == nil {
		vs = map[string]T{}
		m[d.key] = vs
	}
	return vs
}

// cycle is what PreFilter computes for the cycle's pod.
type cycle struct {
	pod *tug.Pod
	aff *affinity
	// existingAnti: domains where an existing pod's required anti-affinity rejects the pod.
	existingAnti byKey[bool]
	// affinityCounts[i]: per domain of the pod's required affinity term i, the existing pods
	// that match every required affinity term (kube-scheduler counts a pod for the terms only
	// if it matches all of them).
	affinityCounts []map[domain]int
	// affinityCounted: some domain has such a pod; if none does, the pod may be the first of
	// a group with affinity to itself.
	affinityCounted bool
	// antiCounts[i]: per domain, existing pods matching the pod's required anti-affinity term i.
	antiCounts []map[domain]int
	// scores: preferred (and symmetric) weights per domain.
	scores byKey[int64]
}

const stateKey = Name

// InterPodAffinity is the filter and score. Like kube-scheduler's HavePodsWithAffinityList,
// it keeps, as nodes change, the nodes whose pods have affinity terms, with those pods'
// terms parsed: a cycle visits only those nodes, and walks every resident pod only when the
// incoming pod has terms of its own.
type InterPodAffinity struct {
	withTerms map[uint32]nodeWithTerms
}

type nodeWithTerms struct {
	info *tug.NodeInfo
	pods []podWithTerms
}

type podWithTerms struct {
	pod *tug.Pod
	aff *affinity
}

// New returns the plugin.
func New() *InterPodAffinity { return &InterPodAffinity{withTerms: map[uint32]nodeWithTerms{}} }

func hasTerms(a *affinity) bool {
	return len(a.PodAffinity.Required)+len(a.PodAffinity.Preferred)+len(a.PodAntiAffinity.Required)+len(a.PodAntiAffinity.Preferred) > 0
}

// NodeChanged keeps the nodes with pods that have affinity terms, parsing a changed node's.
func (p *InterPodAffinity) NodeChanged(old, new *tug.NodeInfo) {
	if old != nil {
		delete(p.withTerms, old.ID)
	}
	if new == nil {
		return
	}
	var pods []podWithTerms
	for _, q := range new.Pods {
		if len(q.Spec.Affinity) == 0 || q.Status.Phase == "Succeeded" || q.Status.Phase == "Failed" {
			continue
		}
		if qa, err := parse(q); err == nil && hasTerms(qa) {
			pods = append(pods, podWithTerms{q, qa})
		}
	}
	if len(pods) > 0 {
		p.withTerms[new.ID] = nodeWithTerms{new, pods}
	}
}

// PreFilter collects what Filter and Score need per topology domain: from the pods with
// terms of their own always, from every resident pod only if the incoming pod has terms.
func (p *InterPodAffinity) PreFilter(state *tug.CycleState, pod *tug.Pod) *tug.Status {
	aff, err := parse(pod)
	if err != nil {
		return tug.UnschedulableAndUnresolvable(err.Error())
	}
	own := hasTerms(aff)
	c := &cycle{pod: pod, aff: aff, existingAnti: byKey[bool]{}, scores: byKey[int64]{}}
	req, anti := aff.PodAffinity.Required, aff.PodAntiAffinity.Required
	c.affinityCounts = make([]map[domain]int, len(req))
	for i := range req {
		c.affinityCounts[i] = map[domain]int{}
	}
	c.antiCounts = make([]map[domain]int, len(anti))
	for i := range anti {
		c.antiCounts[i] = map[domain]int{}
	}
	// Existing pods' terms towards the pod: required anti-affinity, and their preferences.
	for _, nt := range p.withTerms {
		at := domainAt(nt.info)
		for _, pt := range nt.pods {
			q, qa := pt.pod, pt.aff
			for _, t := range qa.PodAntiAffinity.Required {
				if d, ok := at(t.TopologyKey); ok && t.matches(q.Namespace, pod) {
					c.existingAnti.at(d)[d.value] = true
				}
			}
			for _, t := range qa.PodAffinity.Required {
				c.addScore(at, t, q.Namespace, pod, hardPodAffinityWeight)
			}
			for _, wt := range qa.PodAffinity.Preferred {
				c.addScore(at, wt.Term, q.Namespace, pod, wt.Weight)
			}
			for _, wt := range qa.PodAntiAffinity.Preferred {
				c.addScore(at, wt.Term, q.Namespace, pod, -wt.Weight)
			}
		}
	}
	if !own {
		state.Write(stateKey, c)
		if len(c.existingAnti) == 0 {
			return tug.Skip // nothing required of or against the pod
		}
		return tug.Success
	}
	// The pod's own terms, over every pod.
	for ni := range tug.Nodes() {
		at := domainAt(ni)
		for _, q := range ni.Pods {
			if q.Status.Phase == "Succeeded" || q.Status.Phase == "Failed" {
				continue
			}
			if matchesAll(req, pod.Namespace, q) {
				for i, t := range req {
					if d, ok := at(t.TopologyKey); ok {
						c.affinityCounts[i][d]++
						c.affinityCounted = true
					}
				}
			}
			for i, t := range anti {
				if d, ok := at(t.TopologyKey); ok && t.matches(pod.Namespace, q) {
					c.antiCounts[i][d]++
				}
			}
			for _, wt := range aff.PodAffinity.Preferred {
				c.addScore(at, wt.Term, pod.Namespace, q, wt.Weight)
			}
			for _, wt := range aff.PodAntiAffinity.Preferred {
				c.addScore(at, wt.Term, pod.Namespace, q, -wt.Weight)
			}
		}
	}
	state.Write(stateKey, c)
	return tug.Success
}

// domainAt returns what ni's domain of a topology key is, if it has one.
func domainAt(ni *tug.NodeInfo) func(key string) (domain, bool) {
	return func(key string) (domain, bool) {
		v, ok := ni.Node.Labels[key]
		return domain{key, v}, ok
	}
}

// PreScore skips the score when no preference, the pod's or an existing pod's, touches it.
func (*InterPodAffinity) PreScore(state *tug.CycleState, _ *tug.Pod) *tug.Status {
	c, st := fromState(state)
	if st != nil {
		return st
	}
	if len(c.scores) == 0 {
		return tug.Skip
	}
	return tug.Success
}

// addScore adds weight to the domain of the node at() describes when term (written in
// namespace owner) selects target.
func (c *cycle) addScore(at func(string) (domain, bool), t Term, owner string, target *tug.Pod, weight int64) {
	if weight == 0 {
		return
	}
	if d, ok := at(t.TopologyKey); ok && t.matches(owner, target) {
		c.scores.at(d)[d.value] += weight
	}
}

func fromState(state *tug.CycleState) (*cycle, *tug.Status) {
	return tug.ReadState[*cycle](state, stateKey, Name)
}

// Filter applies the required terms, in kube-scheduler's order and with its codes.
func (*InterPodAffinity) Filter(state *tug.CycleState, _ *tug.Pod, node *tug.NodeInfo) *tug.Status {
	c, st := fromState(state)
	if st != nil {
		return st
	}
	nl := node.Node.Labels
	// Affinity: every term has, in the node's domain, a pod matching all the terms — unless
	// no domain has such a pod and the pod matches the terms itself (the first of a group).
	for i, t := range c.aff.PodAffinity.Required {
		v, ok := nl[t.TopologyKey]
		if ok && c.affinityCounts[i][domain{t.TopologyKey, v}] > 0 {
			continue
		}
		if !c.affinityCounted && ok && matchesAll(c.aff.PodAffinity.Required, c.pod.Namespace, c.pod) {
			continue
		}
		return tug.UnschedulableAndUnresolvable(ErrReasonAffinityRulesNotMatch)
	}
	for i, t := range c.aff.PodAntiAffinity.Required {
		if v, ok := nl[t.TopologyKey]; ok && c.antiCounts[i][domain{t.TopologyKey, v}] > 0 {
			return tug.Unschedulable(ErrReasonAntiAffinityRulesNotMatch)
		}
	}
	for key, values := range c.existingAnti {
		if v, ok := nl[key]; ok && values[v] {
			return tug.Unschedulable(ErrReasonExistingAntiAffinityRulesNotMatch)
		}
	}
	return tug.Success
}

// matchesAll reports whether p matches every one of terms (written by a pod in namespace
// owner), and there is at least one.
func matchesAll(terms []Term, owner string, p *tug.Pod) bool {
	for _, t := range terms {
		if !t.matches(owner, p) {
			return false
		}
	}
	return len(terms) > 0
}

// Score sums the weights of the domains the node is in.
func (*InterPodAffinity) Score(state *tug.CycleState, _ *tug.Pod, node *tug.NodeInfo) (int64, *tug.Status) {
	c, st := fromState(state)
	if st != nil {
		return 0, st
	}
	var s int64
	for key, values := range c.scores {
		if v, ok := node.Node.Labels[key]; ok {
			s += values[v]
		}
	}
	return s, tug.Success
}

// NormalizeScore maps the sums, which may be negative, onto 0..100 between the lowest and
// the highest.
func (*InterPodAffinity) NormalizeScore(_ *tug.CycleState, _ *tug.Pod, s []tug.NodeScore) *tug.Status {
	if len(s) == 0 {
		return tug.Success
	}
	lo, hi := s[0].Score, s[0].Score
	for _, x := range s {
		lo, hi = min(lo, x.Score), max(hi, x.Score)
	}
	for i := range s {
		if hi == lo {
			s[i].Score = 0
			continue
		}
		s[i].Score = tug.MaxNodeScore * (s[i].Score - lo) / (hi - lo)
	}
	return tug.Success
}

// DefaultWeight is kube-scheduler's default score weight for the plugin.
func (*InterPodAffinity) DefaultWeight() int64 { return Weight }
