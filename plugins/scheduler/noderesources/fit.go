package noderesources

import (
	"encoding/json"
	"fmt"
	"slices"

	tug "github.com/tugboat-io/tug/sdk/go"
)

// Names and default weights in profiles.
const (
	FitName      = "NodeResourcesFit"
	BalancedName = "NodeResourcesBalancedAllocation"
)

// Scoring strategies of NodeResourcesFit.
const (
	LeastAllocated           = "LeastAllocated"
	MostAllocated            = "MostAllocated"
	RequestedToCapacityRatio = "RequestedToCapacityRatio"
)

// ResourceWeight is a resource scoring looks at, and its weight.
type ResourceWeight struct {
	Name   string `json:"name"`
	Weight int64  `json:"weight"`
}

// ShapePoint is a point of RequestedToCapacityRatio's function: at Utilization percent, the
// score is Score (0..10, as in kube-scheduler's configuration).
type ShapePoint struct {
	Utilization int64 `json:"utilization"`
	Score       int64 `json:"score"`
}

// FitConfig is NodeResourcesFit's configuration (kube-scheduler's NodeResourcesFitArgs).
type FitConfig struct {
	ScoringStrategy struct {
		Type                     string           `json:"type"`
		Resources                []ResourceWeight `json:"resources"`
		RequestedToCapacityRatio struct {
			Shape []ShapePoint `json:"shape"`
		} `json:"requestedToCapacityRatio"`
	} `json:"scoringStrategy"`
	// IgnoredResources are extended resources the filter does not check.
	IgnoredResources []string `json:"ignoredResources"`
}

// nodeState is what the plugin keeps per node state the host sent: allocatable, and the sums
// of the resident pods' requests (actual for fitting, non-zero for scoring).
type nodeState struct {
	info      *tug.NodeInfo
	alloc     amounts
	requested amounts
	nonZero   amounts
	pods      int64
	hasPods   bool   // the node's allocatable lists pods
	err       string // a malformed quantity on the node or one of its pods
}

// podState is the cycle's pod's requests, and the resources Filter checks, in order.
type podState struct {
	req, nonZero amounts
	check        []resource
}

// amounts are Resources laid out for the per-node path, which runs for thousands of nodes a
// cycle: cpu, memory and pods in fields, other resources (rare) in a map.
type amounts struct {
	cpu, memory, pods int64
	other             Resources
}

func amountsOf(r Resources) amounts {
	a := amounts{cpu: r["cpu"], memory: r["memory"], pods: r["pods"]}
	for k, v := range r {
		if k != "cpu" && k != "memory" && k != "pods" {
			if a.other == nil {
				a.other = Resources{}
			}
			a.other[k] = v
		}
	}
	return a
}

// resource is a resource name resolved once, at configuration or pre-filter, so that the
// per-node path reads a field instead of comparing names.
type resource struct {
	name     string
	kind     resourceKind
	extended bool // scored only for pods that request it (see extended)
	weight   int64
}

type resourceKind uint8

const (
	kindOther resourceKind = iota
	kindCPU
	kindMemory
	kindPods
)

func resourceOf(name string) resource {
	r := resource{name: name, extended: extended(name)}
	switch name {
	case "cpu":
		r.kind = kindCPU
	case "memory":
		r.kind = kindMemory
	case "pods":
		r.kind = kindPods
	}
	return r
}

func (a *amounts) at(r *resource) int64 {
	switch r.kind {
	case kindCPU:
		return a.cpu
	case kindMemory:
		return a.memory
	case kindPods:
		return a.pods
	}
	return a.other[r.name]
}

func (a *amounts) add(r Resources) {
	for k, v := range r {
		switch k {
		case "cpu":
			a.cpu += v
		case "memory":
			a.memory += v
		case "pods":
			a.pods += v
		default:
			if a.other == nil {
				a.other = Resources{}
			}
			a.other[k] += v
		}
	}
}

const fitStateKey = FitName

// Fit is NodeResourcesFit.
type Fit struct {
	cfg   FitConfig
	score []resource // cfg.ScoringStrategy.Resources, resolved
	nodes tug.NodeCache[*nodeState]
	// The cycle whose pod state ps is: read from the CycleState once per cycle rather than
	// once per node.
	cycle *tug.CycleState
	ps    *podState
}

// NewFit returns a Fit with kube-scheduler's defaults: LeastAllocated over cpu and memory,
// weight 1 each.
func NewFit() *Fit {
	f := &Fit{}
	f.cfg.ScoringStrategy.Type = LeastAllocated
	f.cfg.ScoringStrategy.Resources = []ResourceWeight{{"cpu", 1}, {"memory", 1}}
	f.resolve()
	return f
}

func (f *Fit) resolve() {
	f.score = f.score[:0]
	for _, rw := range f.cfg.ScoringStrategy.Resources {
		r := resourceOf(rw.Name)
		r.weight = rw.Weight
		f.score = append(f.score, r)
	}
}

// Configure adopts a FitConfig, checking it as kube-scheduler's validation does.
func (f *Fit) Configure(raw []byte) error {
	c := NewFit().cfg
	if err := json.Unmarshal(raw, &c); err != nil {
		return fmt.Errorf("%s config: %w", FitName, err)
	}
	s := &c.ScoringStrategy
	switch s.Type {
	case LeastAllocated, MostAllocated:
	case RequestedToCapacityRatio:
		shape := s.RequestedToCapacityRatio.Shape
		if len(shape) == 0 {
			return fmt.Errorf("scoringStrategy.requestedToCapacityRatio.shape: at least one point is required")
		}
		for i, p := range shape {
			if p.Utilization < 0 || p.Utilization > 100 || p.Score < 0 || p.Score > 10 {
				return fmt.Errorf("scoringStrategy.requestedToCapacityRatio.shape[%d]: utilization must be 0..100 and score 0..10", i)
			}
			if i > 0 && p.Utilization <= shape[i-1].Utilization {
				return fmt.Errorf("scoringStrategy.requestedToCapacityRatio.shape[%d]: utilizations must increase", i)
			}
		}
	default:
		return fmt.Errorf("scoringStrategy.type: %q is not %s, %s or %s", s.Type, LeastAllocated, MostAllocated, RequestedToCapacityRatio)
	}
	for i, r := range s.Resources {
		if r.Name == "" || r.Weight < 1 || r.Weight > 100 {
			return fmt.Errorf("scoringStrategy.resources[%d]: a name and a weight in 1..100 are required", i)
		}
	}
	f.cfg = c
	f.resolve()
	return nil
}

// state returns the sums for a node state, computing them the first time it is seen (the SDK
// replaces a NodeInfo when its node or pods change).
func (f *Fit) state(node *tug.NodeInfo) *nodeState {
	return f.nodes.Get(node, nodeStateOf)
}

// pod is the cycle's pod state.
func (f *Fit) pod(state *tug.CycleState) (*podState, *tug.Status) {
	if state == f.cycle {
		return f.ps, nil
	}
	ps, st := podFromState(state)
	if st != nil {
		return nil, st
	}
	f.cycle, f.ps = state, ps
	return ps, nil
}

func nodeStateOf(node *tug.NodeInfo) *nodeState {
	s := &nodeState{info: node}
	alloc, err := listAmounts(node.Node.Status.Allocatable)
	if err != nil {
		s.err = "node has a malformed allocatable: " + err.Error()
		return s
	}
	s.alloc = amountsOf(alloc)
	_, s.hasPods = alloc["pods"]
	for _, p := range node.Pods {
		if p.Status.Phase == "Succeeded" || p.Status.Phase == "Failed" {
			continue
		}
		req, err1 := PodRequest(p, false)
		nz, err2 := PodRequest(p, true)
		if err1 != nil || err2 != nil {
			s.err = fmt.Sprintf("pod %s/%s on the node has a malformed request", p.Namespace, p.Name)
			return s
		}
		s.requested.add(req)
		s.nonZero.add(nz)
		s.pods++
	}
	return s
}

// PreFilter computes the pod's requests once per cycle.
func (f *Fit) PreFilter(state *tug.CycleState, pod *tug.Pod) *tug.Status {
	req, err := PodRequest(pod, false)
	if err != nil {
		return tug.UnschedulableAndUnresolvable("pod has a malformed resource request: " + err.Error())
	}
	nz, _ := PodRequest(pod, true)
	ps := &podState{req: amountsOf(req), nonZero: amountsOf(nz)}
	for _, name := range checkOrder(req) {
		if req[name] > 0 && name != "pods" && !slices.Contains(f.cfg.IgnoredResources, name) {
			ps.check = append(ps.check, resourceOf(name))
		}
	}

	state.Write(fitStateKey, ps)
	return tug.Success
}

func podFromState(state *tug.CycleState) (*podState, *tug.Status) {
	return tug.ReadState[*podState](state, fitStateKey, FitName)
}

// Filter rejects a node without room: "Too many pods" past its pods allocatable, else
// "Insufficient <resource>" for the first resource short (cpu, memory, then the others by
// name). Only resources the pod requests are checked. Kubernetes reports every short
// resource; one reason per node keeps FailedScheduling's counts per reason exact.
func (f *Fit) Filter(state *tug.CycleState, _ *tug.Pod, node *tug.NodeInfo) *tug.Status {
	ps, st := f.pod(state)
	if st != nil {
		return st
	}
	ns := f.state(node)
	if ns.err != "" {
		return tug.UnschedulableAndUnresolvable(ns.err)
	}
	if ns.hasPods && ns.pods+1 > ns.alloc.pods {
		return tug.Unschedulable("Too many pods")
	}
	for i := range ps.check {
		r := &ps.check[i]
		if ns.alloc.at(r) < ns.requested.at(r)+ps.req.at(r) {
			return tug.Unschedulable(insufficient(r.name))
		}
	}
	return tug.Success
}

// insufficient is Filter's reason for a resource, without building the common ones.
func insufficient(name string) string {
	switch name {
	case "cpu":
		return "Insufficient cpu"
	case "memory":
		return "Insufficient memory"
	}
	return "Insufficient " + name
}

// checkOrder is cpu, memory, then the other requested resources by name.
func checkOrder(r Resources) []string {
	var rest []string
	for k := range r {
		if k != "cpu" && k != "memory" {
			rest = append(rest, k)
		}
	}
	slices.Sort(rest)
	return append([]string{"cpu", "memory"}, rest...)
}

// Score rates a node by its configured strategy over the weighted resources, with the pod's
// (non-zero) request added; resources the node does not have are left out, and so are
// extended resources the pod does not request, as in kube-scheduler (a GPU node is not
// preferred for a pod that wants no GPU because its GPUs are free).
func (f *Fit) Score(state *tug.CycleState, _ *tug.Pod, node *tug.NodeInfo) (int64, *tug.Status) {
	ps, st := f.pod(state)
	if st != nil {
		return 0, st
	}
	ns := f.state(node)
	if ns.err != "" {
		return 0, tug.Success
	}
	s := &f.cfg.ScoringStrategy
	var sum, weights int64
	for i := range f.score {
		r := &f.score[i]
		alloc := ns.alloc.at(r)
		if alloc == 0 || (r.extended && ps.req.at(r) == 0) {
			continue
		}
		requested := ns.nonZero.at(r) + ps.nonZero.at(r)
		var score int64
		switch s.Type {
		case LeastAllocated:
			if requested <= alloc {
				score = (alloc - requested) * tug.MaxNodeScore / alloc
			}
		case MostAllocated:
			score = min(requested, alloc) * tug.MaxNodeScore / alloc
		case RequestedToCapacityRatio:
			score = shapeScore(s.RequestedToCapacityRatio.Shape, min(requested, alloc)*100/alloc)
		}
		sum += score * r.weight
		weights += r.weight
	}
	if weights == 0 {
		return 0, tug.Success
	}
	return sum / weights, tug.Success
}

// extended reports whether a resource is one of the scalar resources kube-scheduler scores
// only for pods that request them: everything but cpu, memory, ephemeral-storage and pods.
func extended(name string) bool {
	return name != "cpu" && name != "memory" && name != "ephemeral-storage" && name != "pods"
}

// shapeScore is RequestedToCapacityRatio's piecewise-linear function at utilization u
// (0..100), scaled from the configured 0..10 to 0..100.
func shapeScore(shape []ShapePoint, u int64) int64 {
	const scale = tug.MaxNodeScore / 10
	if u <= shape[0].Utilization {
		return shape[0].Score * scale
	}
	for i := 1; i < len(shape); i++ {
		a, b := shape[i-1], shape[i]
		if u <= b.Utilization {
			return (a.Score*scale*(b.Utilization-u) + b.Score*scale*(u-a.Utilization)) / (b.Utilization - a.Utilization)
		}
	}
	return shape[len(shape)-1].Score * scale
}

// BalancedAllocation is NodeResourcesBalancedAllocation: nodes where cpu and memory would be
// used in equal shares (with the pod) score higher — 100 × (1 − their standard deviation).
// As in kube-scheduler, the shares are of what pods request (not the scoring defaults Fit
// counts for containers without requests), and a pod that requests neither cpu nor memory
// scores 0 everywhere (kube-scheduler skips the plugin for it).
type BalancedAllocation struct {
	fit *Fit // shares Fit's per-node sums
}

// NewBalancedAllocation returns the plugin; its per-node sums are computed as Fit's are.
func NewBalancedAllocation() *BalancedAllocation {
	return &BalancedAllocation{fit: NewFit()}
}

// PreFilter computes the pod's requests (Fit's pre-filter, under Fit's key).
func (b *BalancedAllocation) PreFilter(state *tug.CycleState, pod *tug.Pod) *tug.Status {
	if _, ok := state.Read(fitStateKey); ok {
		return tug.Success
	}
	return b.fit.PreFilter(state, pod)
}

// PreScore skips the score for a pod that requests neither cpu nor memory: it would score 0
// everywhere.
func (b *BalancedAllocation) PreScore(state *tug.CycleState, _ *tug.Pod) *tug.Status {
	ps, st := podFromState(state)
	if st != nil {
		return st
	}
	if ps.req.cpu == 0 && ps.req.memory == 0 {
		return tug.Skip
	}
	return tug.Success
}

// Score is 100 × (1 − std) over the cpu and memory fractions the node would be at.
func (b *BalancedAllocation) Score(state *tug.CycleState, _ *tug.Pod, node *tug.NodeInfo) (int64, *tug.Status) {
	ps, st := b.fit.pod(state)
	if st != nil {
		return 0, st
	}
	ns := b.fit.state(node)
	if ns.err != "" {
		return 0, tug.Success
	}
	if ps.req.cpu == 0 && ps.req.memory == 0 {
		return 0, tug.Success
	}
	var std float64
	if ns.alloc.cpu != 0 && ns.alloc.memory != 0 {
		cpu := min(float64(ns.requested.cpu+ps.req.cpu)/float64(ns.alloc.cpu), 1)
		mem := min(float64(ns.requested.memory+ps.req.memory)/float64(ns.alloc.memory), 1)
		std = max(cpu-mem, mem-cpu) / 2
	}
	return int64((1 - std) * tug.MaxNodeScore), tug.Success
}
