package scheduler

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/tugboat-io/tug/hostabi"
)

// The framework runs one scheduling cycle of a profile's plugins, at the level of the ABI's
// frames, in kube-scheduler's order: PreFilter, Filter, PostFilter (preemption, preempt.go), Score,
// NormalizeScore with weights, then selecting the node; Reserve and Permit end the cycle and
// PreBind, bind and PostBind make the binding cycle (binding.go). Each plugin is a wasm module in
// practice; the framework sees only Instance, so the same chain can run natively for
// comparison.

// Instance is one plugin instance, held for a whole cycle: its pre-filter, filter and score
// calls must reach the instance that keeps the cycle's pod.
type Instance interface {
	Call(ctx context.Context, export string, input []byte) ([]byte, hostabi.Status, error)
	// Has reports whether the plugin exports an operation (a score may export
	// tug_sched_normalize; versions of one plugin may differ).
	Has(export string) bool
	// Hosted lists the plugins of a module hosting several (ABI.md §4.7), nil for a module
	// that is one plugin.
	Hosted() []hostabi.HostedPlugin
	// Gen is the cache generation the instance has applied (0 for a fresh one); SetGen
	// records a new one.
	Gen() uint64
	SetGen(uint64)
}

// Module is a plugin module: one instance of it serves a whole cycle for every plugin of the
// profile it provides, with one pre-filter call.
type Module struct {
	Name string
	// Ignore is the failure policy Ignore: a module that fails (traps, times out, answers
	// garbage) is skipped for the cycle instead of failing it.
	Ignore bool
	// Acquire takes an instance for one cycle; release returns it.
	Acquire func(ctx context.Context) (inst Instance, release func(), err error)
}

// Plugin is one plugin of a profile.
type Plugin struct {
	Name   string
	Module *Module
	// Hosted says the module hosts several plugins and this is the one called Name.
	Hosted bool
	// Which extension points the profile enables for it. PostFilter chooses where to preempt
	// (a hosted plugin's, ABI.md §4.9); the first one enabled in the chain is used.
	Filter, Score, PostFilter bool
	// Weight multiplies its normalized scores (kube-scheduler's defaults: TaintToleration 3,
	// NodeAffinity, PodTopologySpread and InterPodAffinity 2, others 1).
	Weight int64
}

// Profile is an ordered chain of plugins under a scheduler name.
type Profile struct {
	SchedulerName string
	Plugins       []*Plugin
	// PercentageOfNodesToScore stops filtering once this share of the nodes is found
	// feasible (0: kube-scheduler's adaptive default, 50% falling to 5% as clusters grow).
	PercentageOfNodesToScore int32
	// Reserve, Permit, PreBind and PostBind are the plugins of Plugins that run at those
	// extension points after the choice of a node (binding.go), each in its own order:
	// Unreserve runs on Reserve's in reverse.
	Reserve, Permit, PreBind, PostBind []*Plugin
}

// Framework runs cycles; it keeps only where the next cycle starts looking at nodes.
type Framework struct {
	cache *Cache
	mu    sync.Mutex
	start int // rotating offset into the node list, as kube-scheduler's nextStartNodeIndex
	rand  *rand.Rand
	// waiting are the pods Permit plugins hold (binding.go); after sets their timeouts
	// (nil: time.AfterFunc; tests set a clock of their own).
	waiting *waitingPods
	after   func(d time.Duration, f func()) (stop func() bool)
	// Log receives what plugins report where nothing can fail (Unreserve, PostBind).
	Log *slog.Logger
}

// NewFramework returns a framework over cache; seed makes tie-breaks reproducible.
func NewFramework(cache *Cache, seed uint64) *Framework {
	return &Framework{cache: cache, rand: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		waiting: newWaitingPods(), Log: slog.Default()}
}

// Result is a cycle's outcome.
type Result struct {
	// Node is the chosen node, "" when none fits.
	Node string
	// Evaluated and Feasible count the nodes filtered and the nodes that passed.
	Evaluated, Feasible int
	// Diagnosis says why each rejected node was (always set; empty when nothing was).
	Diagnosis *Diagnosis
	// Passed are the feasible nodes, and Scores each one's weighted score per plugin, for
	// explaining.
	Passed []string
	Scores map[string]map[string]int64
	// Preemption, when no node fits, is where the profile's PostFilter chose to make room.
	Preemption *Preemption
}

// Verdict is why one node was rejected: the first plugin in the chain that did.
type Verdict struct {
	Plugin string       `json:"plugin"`
	Code   hostabi.Code `json:"code"`
	Reason string       `json:"reason"`
}

// Diagnosis collects the rejections of a cycle.
type Diagnosis struct {
	NumAllNodes int
	Rejected    map[string]Verdict // by node name
	// PreFilter is set when a pre-filter ended the cycle for the pod.
	PreFilter *Verdict
}

// Message renders the diagnosis as kube-scheduler's FailedScheduling message:
// "0/5 nodes are available: 2 node(s) had untolerated taint {gpu: true}, 3 Insufficient cpu."
func (d *Diagnosis) Message() string {
	if d.NumAllNodes == 0 {
		return "no nodes available to schedule pods"
	}
	counts := map[string]int{}
	if d.PreFilter != nil {
		counts[d.PreFilter.Reason] = d.NumAllNodes
	}
	for _, v := range d.Rejected {
		counts[v.Reason]++
	}
	reasons := make([]string, 0, len(counts))
	for r, n := range counts {
		reasons = append(reasons, fmt.Sprintf("%d %s", n, r))
	}
	sort.Strings(reasons)
	return fmt.Sprintf("0/%d nodes are available: %s.", d.NumAllNodes, strings.Join(reasons, ", "))
}

// Unresolvable reports whether preemption cannot help on any rejected node.
func (d *Diagnosis) Unresolvable() bool {
	if d.PreFilter != nil {
		return d.PreFilter.Code == hostabi.CodeUnschedulableAndUnresolvable
	}
	for _, v := range d.Rejected {
		if v.Code != hostabi.CodeUnschedulableAndUnresolvable {
			return false
		}
	}
	return true
}

// PluginError is a plugin failing a cycle (its failure policy is Fail).
type PluginError struct {
	Plugin string
	Point  string
	Err    error
}

func (e *PluginError) Error() string {
	return fmt.Sprintf("plugin %s failed at %s: %v", e.Plugin, e.Point, e.Err)
}

func (e *PluginError) Unwrap() error { return e.Err }

// held is a module's instance during a cycle.
type held struct {
	m       *Module
	name    string // for messages: the module's first plugin in the profile
	inst    Instance
	release func()
	skip    bool                   // failed under the Ignore policy
	hosted  []hostabi.HostedPlugin // the module's plugins, if it hosts several
	index   map[string]uint32      // hosted plugins by name
}

// op is one call of a plugin's extension point: its export and the input's prefix (the plugin
// index, for a hosted plugin).
func (h *held) op(p *Plugin, single, at string) (string, []byte, error) {
	if !p.Hosted {
		return single, nil, nil
	}
	i, ok := h.index[p.Name]
	if !ok {
		return "", nil, fmt.Errorf("module %s hosts no plugin %q", h.m.Name, p.Name)
	}
	return at, hostabi.AppendPluginIndex(nil, i), nil
}

// Schedule runs one cycle for pod (its Kubernetes JSON) and picks a node. An unschedulable
// pod is a Result with no Node and a Diagnosis; an error is a plugin failing under the Fail
// policy, or the context ending.
func (f *Framework) Schedule(ctx context.Context, prof *Profile, pod []byte) (*Result, error) {
	res, c, err := f.Begin(ctx, prof, pod)
	c.Release()
	return res, err
}

// Begin runs a scheduling cycle as Schedule does and keeps its plugin instances, which hold
// the cycle's pod and state, for the Cycle's Reserve and Permit. The caller must Release the
// Cycle (never nil) before the binding cycle.
func (f *Framework) Begin(ctx context.Context, prof *Profile, pod []byte) (*Result, *Cycle, error) {
	c := &Cycle{f: f, prof: prof, pod: pod}
	var nodes []NodeRef
	var err error
	c.hs, c.byModule, nodes, err = f.hold(ctx, prof.Plugins)
	if err != nil {
		return nil, c, err
	}
	res, err := f.schedule(ctx, prof, c.hs, c.byModule, nodes, pod)
	return res, c, err
}

// hold acquires one instance of each module of plugins and brings every one to the same
// cache generation, returning the node list of that generation: one consistent view.
func (f *Framework) hold(ctx context.Context, plugins []*Plugin) (hs []*held, byModule map[*Module]*held, nodes []NodeRef, err error) {
	byModule = map[*Module]*held{}
	for _, p := range plugins {
		if byModule[p.Module] != nil {
			continue
		}
		inst, release, err := p.Module.Acquire(ctx)
		if err != nil {
			if p.Module.Ignore {
				byModule[p.Module] = &held{m: p.Module, name: p.Name, skip: true, release: func() {}}
				continue
			}
			return hs, byModule, nil, &PluginError{p.Name, "acquire", err}
		}
		h := &held{m: p.Module, name: p.Name, inst: inst, release: release, hosted: inst.Hosted(), index: map[string]uint32{}}
		for i, hp := range h.hosted {
			h.index[hp.Name] = uint32(i)
		}
		byModule[p.Module] = h
		hs = append(hs, h)
	}
	gens := make([]uint64, len(hs))
	for i, h := range hs {
		gens[i] = h.inst.Gen()
	}
	nodes, deltas := f.cache.sync(gens)
	for i, h := range hs {
		if deltas[i].Message == nil {
			continue
		}
		if _, st, err := h.inst.Call(ctx, hostabi.ExportSchedNodes, deltas[i].Message); err != nil || st != hostabi.StatusOK {
			if err := fail(h, "nodes", statusErr(st, err)); err != nil {
				return hs, byModule, nil, err
			}
			continue
		}
		h.inst.SetGen(deltas[i].Gen)
	}
	return hs, byModule, nodes, nil
}

// schedule is a cycle's work on held instances: from PreFilter to the choice of node.
func (f *Framework) schedule(ctx context.Context, prof *Profile, hs []*held, byModule map[*Module]*held, nodes []NodeRef, pod []byte) (*Result, error) {
	res := &Result{Diagnosis: &Diagnosis{NumAllNodes: len(nodes), Rejected: map[string]Verdict{}}}
	if len(nodes) == 0 {
		return res, nil
	}
	skips, ended, err := prefilter(ctx, prof, hs, pod, res)
	if err != nil || ended {
		return res, err
	}

	f.mu.Lock()
	start := f.start
	f.mu.Unlock()
	feasible, err := f.filter(ctx, prof, byModule, nodes, start, res, skips.filter)
	f.mu.Lock()
	f.start = (start + res.Evaluated) % len(nodes)
	f.mu.Unlock()
	if err != nil {
		return nil, err
	}
	res.Feasible = len(feasible)
	for _, n := range feasible {
		res.Passed = append(res.Passed, n.Name)
	}
	switch len(feasible) {
	case 0:
		if !res.Diagnosis.Unresolvable() {
			res.Preemption, err = f.preempt(ctx, prof, byModule, hs, pod, res)
		}
		return res, err
	case 1:
		res.Node = feasible[0].Name // nothing to compare
		return res, nil
	}
	return res, f.score(ctx, prof, byModule, feasible, res, skips.score)
}

// skipped are the plugins whose pre-filters said they have nothing to do for the cycle's pod
// (ABI.md §4.8): their filters pass every node, their scores rate every node alike.
type skipped struct{ filter, score map[*Plugin]bool }

func (s *skipped) add(prof *Profile, h *held, skips []hostabi.Skip) {
	for _, sk := range skips {
		for _, p := range prof.Plugins {
			if p.Module != h.m || (p.Hosted && p.Name != sk.Plugin) || (!p.Hosted && sk.Plugin != "") {
				continue
			}
			if sk.Filter {
				if s.filter == nil {
					s.filter = map[*Plugin]bool{}
				}
				s.filter[p] = true
			}
			if sk.Score {
				if s.score == nil {
					s.score = map[*Plugin]bool{}
				}
				s.score[p] = true
			}
		}
	}
}

// prefilter runs every module's pre-filter for pod. ended says a pre-filter rejected the
// pod (res.Diagnosis says why); skipped are the plugins it has nothing for.
func prefilter(ctx context.Context, prof *Profile, hs []*held, pod []byte, res *Result) (skips skipped, ended bool, err error) {
	for _, h := range hs {
		if h.skip {
			continue
		}
		out, st, err := h.inst.Call(ctx, hostabi.ExportSchedPreFilter, pod)
		if err != nil || st != hostabi.StatusOK {
			if err := fail(h, "PreFilter", statusErr(st, err)); err != nil {
				return skips, false, err
			}
			continue
		}
		if len(out) > 0 {
			var v hostabi.PreFilterVerdict
			if err := json.Unmarshal(out, &v); err != nil {
				if err := fail(h, "PreFilter", fmt.Errorf("verdict %q: %w", out, err)); err != nil {
					return skips, false, err
				}
				continue
			}
			if v.Code != hostabi.CodeSuccess {
				plugin := v.Plugin
				if plugin == "" {
					plugin = h.name
				}
				res.Diagnosis.PreFilter = &Verdict{Plugin: plugin, Code: v.Code, Reason: v.Reason}
				return skips, true, nil
			}
			skips.add(prof, h, v.Skip)
		}
	}
	return skips, false, nil
}

// numFeasibleNodesToFind is kube-scheduler's: all nodes in small clusters, else a share of
// them (adaptive when percentage is 0), never fewer than 100.
func numFeasibleNodesToFind(all int, percentage int32) int {
	const minFeasible, minPercentage = 100, 5
	if all < minFeasible || percentage >= 100 {
		return all
	}
	if percentage <= 0 {
		percentage = int32(50 - all/125)
		if percentage < minPercentage {
			percentage = minPercentage
		}
	}
	n := all * int(percentage) / 100
	return max(n, minFeasible)
}

// filter runs the filter chain over chunks of nodes, starting at nodes[start] (where the last
// cycle stopped, for Schedule), until enough feasible nodes are found. Within a chunk each plugin sees only the nodes every
// earlier plugin passed, so a node's verdict is the first rejection in chain order.
func (f *Framework) filter(ctx context.Context, prof *Profile, byModule map[*Module]*held, nodes []NodeRef, start int, res *Result, skip map[*Plugin]bool) ([]NodeRef, error) {
	want := numFeasibleNodesToFind(len(nodes), prof.PercentageOfNodesToScore)
	start %= len(nodes)
	var feasible []NodeRef
	byID := make(map[uint32]NodeRef, len(nodes))
	evaluated := 0
	for evaluated < len(nodes) && len(feasible) < want {
		chunk := make([]uint32, 0, want-len(feasible))
		for len(chunk) < cap(chunk) && evaluated < len(nodes) {
			n := nodes[(start+evaluated)%len(nodes)]
			byID[n.ID] = n
			chunk = append(chunk, n.ID)
			evaluated++
		}
		for _, p := range prof.Plugins {
			h := byModule[p.Module]
			if h.skip || !p.Filter || skip[p] || len(chunk) == 0 {
				continue
			}
			export, in, err := h.op(p, hostabi.ExportSchedFilter, hostabi.ExportSchedFilterAt)
			var out []byte
			var st hostabi.Status
			if err == nil {
				out, st, err = h.inst.Call(ctx, export, hostabi.AppendNodeIDs(in, chunk))
			}
			var rejs []hostabi.Rejection
			if err == nil && st == hostabi.StatusOK {
				rejs, err = hostabi.DecodeFilterOutput(out)
			}
			if err != nil || st != hostabi.StatusOK {
				if err := fail(h, "Filter", statusErr(st, err)); err != nil {
					return nil, err
				}
				continue
			}
			rejected := make(map[uint32]bool, len(rejs))
			var candidate map[uint32]bool // built on the first rejection
			for _, r := range rejs {
				if candidate == nil {
					candidate = make(map[uint32]bool, len(chunk))
					for _, id := range chunk {
						candidate[id] = true
					}
				}
				n, ok := byID[r.NodeID]
				if !ok || !candidate[r.NodeID] {
					if err := fail(h, "Filter", fmt.Errorf("rejected node id %d, which was not a candidate", r.NodeID)); err != nil {
						return nil, err
					}
					continue
				}
				if r.Code == hostabi.CodeError {
					if err := fail(h, "Filter", fmt.Errorf("node %s: %s", n.Name, r.Reason)); err != nil {
						return nil, err
					}
					continue
				}
				rejected[r.NodeID] = true
				res.Diagnosis.Rejected[n.Name] = Verdict{Plugin: p.Name, Code: r.Code, Reason: r.Reason}
			}
			kept := chunk[:0]
			for _, id := range chunk {
				if !rejected[id] {
					kept = append(kept, id)
				}
			}
			chunk = kept
		}
		for _, id := range chunk {
			feasible = append(feasible, byID[id])
		}
	}
	res.Evaluated = evaluated
	return feasible, nil
}

func fail(h *held, point string, err error) error {
	if h.m.Ignore {
		h.skip = true
		return nil
	}
	return &PluginError{h.name, point, err}
}

// score runs Score and NormalizeScore of every score plugin over the feasible nodes, sums
// the weighted scores and picks the highest, breaking ties at random.
func (f *Framework) score(ctx context.Context, prof *Profile, byModule map[*Module]*held, feasible []NodeRef, res *Result, skip map[*Plugin]bool) error {
	ids := make([]uint32, len(feasible))
	for i, n := range feasible {
		ids[i] = n.ID
	}
	frame := hostabi.AppendNodeIDs(nil, ids)
	total := make([]int64, len(feasible))
	res.Scores = map[string]map[string]int64{}
	for _, p := range prof.Plugins {
		h := byModule[p.Module]
		if h.skip || !p.Score || skip[p] {
			continue
		}
		scores, err := scoreWith(ctx, h, p, ids, frame)
		if err != nil {
			if err := fail(h, "Score", fmt.Errorf("%s: %w", p.Name, err)); err != nil {
				return err
			}
			continue
		}
		per := make(map[string]int64, len(feasible))
		for i, s := range scores {
			w := s * max(p.Weight, 1)
			total[i] += w
			per[feasible[i].Name] = w
		}
		res.Scores[p.Name] = per
	}
	best, ties := 0, 1
	for i := 1; i < len(total); i++ {
		switch {
		case total[i] > total[best]:
			best, ties = i, 1
		case total[i] == total[best]:
			ties++
			f.mu.Lock()
			pick := f.rand.IntN(ties) == 0
			f.mu.Unlock()
			if pick {
				best = i
			}
		}
	}
	res.Node = feasible[best].Name
	return nil
}

// scoreWith calls one plugin's Score, and NormalizeScore when it has one, and checks the
// result is one score in 0..MaxNodeScore per node.
func scoreWith(ctx context.Context, h *held, p *Plugin, ids []uint32, frame []byte) ([]int64, error) {
	export, prefix, err := h.op(p, hostabi.ExportSchedScore, hostabi.ExportSchedScoreAt)
	if err != nil {
		return nil, err
	}
	out, st, err := h.inst.Call(ctx, export, append(prefix, frame...))
	if err != nil || st != hostabi.StatusOK {
		return nil, statusErr(st, err)
	}
	scores, err := hostabi.DecodeScores(out)
	if err == nil && len(scores) != len(ids) {
		err = fmt.Errorf("%d scores for %d nodes", len(scores), len(ids))
	}
	if err != nil {
		return nil, err
	}
	normalizes := h.inst.Has(hostabi.ExportSchedNormalize)
	if p.Hosted {
		normalizes = h.hosted[h.index[p.Name]].Normalize
	}
	if normalizes {
		in := make([]hostabi.NodeScore, len(ids))
		for i := range ids {
			in[i] = hostabi.NodeScore{NodeID: ids[i], Score: scores[i]}
		}
		export, prefix, _ := h.op(p, hostabi.ExportSchedNormalize, hostabi.ExportSchedNormalizeAt)
		out, st, err := h.inst.Call(ctx, export, hostabi.AppendNormalizeInput(prefix, in))
		if err != nil || st != hostabi.StatusOK {
			return nil, statusErr(st, err)
		}
		if scores, err = hostabi.DecodeScores(out); err == nil && len(scores) != len(ids) {
			err = fmt.Errorf("normalize: %d scores for %d nodes", len(scores), len(ids))
		}
		if err != nil {
			return nil, err
		}
	}
	for _, s := range scores {
		if s < 0 || s > 100 {
			return nil, fmt.Errorf("score %d out of 0..100", s)
		}
	}
	return scores, nil
}

func statusErr(st hostabi.Status, err error) error {
	if err != nil {
		return err
	}
	return fmt.Errorf("status %v", st)
}
