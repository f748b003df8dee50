// Package defaultpreemption is the DefaultPreemption plugin: when no node fits a pod, it
// chooses the node to preempt on among the candidates the scheduler found (each a node where
// the pod fits once some lower-priority pods are gone, with the fewest such victims, ABI.md
// §4.9), by kube-scheduler's criteria in order: the lowest highest victim priority, the
// smallest sum of victim priorities, the fewest victims, the latest start among the most
// important victims, then the first. (kube-scheduler first prefers the fewest
// PodDisruptionBudget violations; tug does not serve PodDisruptionBudgets yet.)
package defaultpreemption

import (
	"math"
	"time"

	tug "github.com/tugboat-io/tug/sdk/go"
)

// Name is the plugin's name in profiles.
const Name = "DefaultPreemption"

// DefaultPreemption is the post-filter.
type DefaultPreemption struct{}

// New returns the plugin.
func New() *DefaultPreemption { return &DefaultPreemption{} }

// summary is what the criteria compare of one candidate.
type summary struct {
	highest  int32     // the highest victim priority
	sum      int64     // victim priorities, each offset to be positive as kube-scheduler does
	victims  int       // how many
	earliest time.Time // the earliest start among the victims of the highest priority
}

// PostFilter picks a candidate.
func (*DefaultPreemption) PostFilter(_ *tug.CycleState, _ *tug.Pod, cands []tug.Candidate) (int, *tug.Status) {
	if len(cands) == 0 {
		return -1, tug.Unschedulable("no preemption candidates")
	}
	best, bestSum := 0, summarize(cands[0])
	for i := 1; i < len(cands); i++ {
		if s := summarize(cands[i]); better(s, bestSum) {
			best, bestSum = i, s
		}
	}
	return best, tug.Success
}

// better applies the criteria in order; a tie on all keeps the earlier candidate.
func better(a, b summary) bool {
	switch {
	case a.highest != b.highest:
		return a.highest < b.highest
	case a.sum != b.sum:
		return a.sum < b.sum
	case a.victims != b.victims:
		return a.victims < b.victims
	}
	return a.earliest.After(b.earliest) // a later start loses less work
}

func summarize(c tug.Candidate) summary {
	s := summary{highest: math.MinInt32, victims: len(c.Victims)}
	for _, v := range c.Victims {
		p := Priority(v)
		s.sum += int64(p) + math.MaxInt32 + 1
		start := startTime(v)
		switch {
		case p > s.highest:
			s.highest, s.earliest = p, start
		case p == s.highest && start.Before(s.earliest):
			s.earliest = start
		}
	}
	return s
}

// Priority is a pod's priority: spec.priority, 0 when unset.
func Priority(p *tug.Pod) int32 {
	if p.Spec.Priority != nil {
		return *p.Spec.Priority
	}
	return 0
}

// startTime is when the pod started; a pod not started yet counts as starting now, as in
// kube-scheduler.
func startTime(p *tug.Pod) time.Time {
	if t, err := time.Parse(time.RFC3339, p.Status.StartTime); err == nil {
		return t
	}
	return time.Now()
}
