package scheduler

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"

	corev1 "k8s.io/api/core/v1"

	"github.com/tugboat-io/tug/hostabi"
)

// Preemption (the framework's PostFilter, ABI.md §4.9) is split as the rest of the framework
// is: the mechanics here, the choice in a plugin. For each node a filter rejected as
// Unschedulable, the core asks the chain a what-if — the node's state without the pods of
// lower priority than the pod — and, if the pod fits, gives those pods back most important
// first, keeping each one the pod still fits beside; the rest are the node's victims. The
// profile's PostFilter plugin (DefaultPreemption by default) picks among the candidates;
// the scheduler deletes the victims and nominates the node.

// Preemption is a PostFilter's decision: make room for the pod on Node by deleting Victims.
// No victims means the room is being freed already (lower-priority pods are terminating).
type Preemption struct {
	Node    string
	Victims []*corev1.Pod
}

// candidate is a node where the pod fits without victims.
type candidate struct {
	ref     NodeRef
	victims []*corev1.Pod
}

// maxCandidates is how many candidate nodes a cycle looks for: kube-scheduler's defaults,
// 10% of the nodes but at least 100.
func maxCandidates(nodes int) int { return max(nodes/10, 100) }

// moreImportant orders pods as kube-scheduler's MoreImportantPod: higher priority, then the
// earlier start.
func moreImportant(a, b *corev1.Pod) int {
	if c := cmp.Compare(priority(b), priority(a)); c != 0 {
		return c
	}
	switch at, bt := a.Status.StartTime, b.Status.StartTime; {
	case at == nil && bt == nil:
		return 0
	case at == nil:
		return 1
	case bt == nil:
		return -1
	}
	return a.Status.StartTime.Time.Compare(b.Status.StartTime.Time)
}

// preempt finds the candidates for a pod no node fits and asks the profile's PostFilter to
// choose; nil when preemption is off for the pod or the profile, or nothing helps.
func (f *Framework) preempt(ctx context.Context, prof *Profile, byModule map[*Module]*held, hs []*held, podJSON []byte, res *Result) (*Preemption, error) {
	var post *Plugin
	for _, p := range prof.Plugins {
		if p.PostFilter && p.Hosted && !byModule[p.Module].skip {
			post = p
			break
		}
	}
	if post == nil {
		return nil, nil
	}
	var pod corev1.Pod
	if err := json.Unmarshal(podJSON, &pod); err != nil {
		return nil, fmt.Errorf("preemption: decode pod: %w", err)
	}
	if pod.Spec.PreemptionPolicy != nil && *pod.Spec.PreemptionPolicy == corev1.PreemptNever {
		return nil, nil
	}
	prio := priority(&pod)
	var names []string
	for name, v := range res.Diagnosis.Rejected {
		if v.Code == hostabi.CodeUnschedulable {
			names = append(names, name)
		}
	}
	sort.Strings(names)

	// A what-if changes one node's state in every instance; restore puts it back before the
	// next node's what-if (each candidate is judged against the real cluster, as cluster-wide
	// pre-filters see it), before the PostFilter looks at the candidates, or however this ends.
	var touched []NodeRef
	restore := func() error {
		for _, ref := range touched {
			msg := f.cache.entry(ref, nil)
			for _, h := range hs {
				if h.skip {
					continue
				}
				if _, st, err := h.inst.Call(ctx, hostabi.ExportSchedNodes, msg); err != nil || st != hostabi.StatusOK {
					return &PluginError{h.name, "PostFilter", statusErr(st, err)}
				}
			}
		}
		touched = nil
		return nil
	}
	defer func() { _ = restore() }()

	var cands []candidate
	for _, name := range names {
		if len(cands) >= maxCandidates(res.Diagnosis.NumAllNodes) {
			break
		}
		if err := restore(); err != nil {
			return nil, err
		}
		ref, pods, ok := f.cache.podsOn(name)
		if !ok {
			continue
		}
		// Lower-priority pods can go; terminating ones are going already.
		gone := map[*corev1.Pod]bool{}
		var lower []*corev1.Pod
		for _, p := range pods {
			if priority(p) >= prio {
				continue
			}
			gone[p] = true
			if p.DeletionTimestamp == nil {
				lower = append(lower, p)
			}
		}
		if len(gone) == 0 {
			continue
		}
		touched = append(touched, ref)
		fits, err := f.fitsWithout(ctx, prof, byModule, hs, podJSON, ref, gone)
		if err != nil {
			return nil, err
		}
		if !fits {
			continue
		}
		slices.SortStableFunc(lower, moreImportant)
		var victims []*corev1.Pod
		for _, p := range lower {
			delete(gone, p)
			if fits, err = f.fitsWithout(ctx, prof, byModule, hs, podJSON, ref, gone); err != nil {
				return nil, err
			}
			if !fits {
				gone[p] = true
				victims = append(victims, p)
			}
		}
		cands = append(cands, candidate{ref: ref, victims: victims})
	}
	if len(cands) == 0 {
		return nil, nil
	}
	in := hostabi.PostFilterInput{Candidates: make([]hostabi.Candidate, len(cands))}
	for i, c := range cands {
		in.Candidates[i] = hostabi.Candidate{Node: c.ref.ID, Victims: []string{}}
		for _, v := range c.victims {
			in.Candidates[i].Victims = append(in.Candidates[i].Victims, Key(v))
		}
	}
	body, err := json.Marshal(in)
	if err != nil {
		return nil, err
	}
	// The plugin sees the real node states, and the cycle state the pre-filters leave for
	// them (the last what-if left its own).
	if err := restore(); err != nil {
		return nil, err
	}
	if _, _, err := prefilter(ctx, prof, hs, podJSON, &Result{Diagnosis: &Diagnosis{Rejected: map[string]Verdict{}}}); err != nil {
		return nil, err
	}
	h := byModule[post.Module]
	export, prefix, err := h.op(post, "", hostabi.ExportSchedPostFilterAt)
	if err != nil {
		return nil, err
	}
	out, st, err := h.inst.Call(ctx, export, append(prefix, body...))
	if err != nil || st != hostabi.StatusOK {
		if err := fail(h, "PostFilter", fmt.Errorf("%s: %w", post.Name, statusErr(st, err))); err != nil {
			return nil, err
		}
		return nil, nil
	}
	var choice hostabi.PostFilterOutput
	if err := json.Unmarshal(out, &choice); err != nil || choice.Candidate >= len(cands) {
		return nil, &PluginError{post.Name, "PostFilter", fmt.Errorf("answer %q: %v", out, err)}
	}
	if choice.Candidate < 0 {
		return nil, nil
	}
	c := cands[choice.Candidate]
	return &Preemption{Node: c.ref.Name, Victims: c.victims}, nil
}

// fitsWithout reports whether the pod passes every filter on one node with the pods in gone
// removed from it, as the chain sees it.
func (f *Framework) fitsWithout(ctx context.Context, prof *Profile, byModule map[*Module]*held, hs []*held, podJSON []byte, ref NodeRef, gone map[*corev1.Pod]bool) (bool, error) {
	msg := f.cache.entry(ref, func(p *corev1.Pod) bool { return !gone[p] })
	for _, h := range hs {
		if h.skip {
			continue
		}
		if _, st, err := h.inst.Call(ctx, hostabi.ExportSchedNodes, msg); err != nil || st != hostabi.StatusOK {
			if err := fail(h, "PostFilter", statusErr(st, err)); err != nil {
				return false, err
			}
		}
	}
	res := &Result{Diagnosis: &Diagnosis{NumAllNodes: 1, Rejected: map[string]Verdict{}}}
	skips, ended, err := prefilter(ctx, prof, hs, podJSON, res)
	if err != nil || ended {
		return false, err
	}
	feasible, err := f.filter(ctx, prof, byModule, []NodeRef{ref}, 0, res, skips.filter)
	return len(feasible) == 1, err
}
