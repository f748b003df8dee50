package job

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tugboat-io/tug/plugins/controllers/internal/workload"
)

// pod is what the Job reads of one of its pods.
type pod struct {
	workload.Pod
	// index is the pod's completion index, -1 when it has none in range.
	index int
	// restarts are the restarts of all its containers, init containers included.
	restarts int32
	// finished is when a succeeded or failed pod finished.
	finished time.Time
}

// podDetail is what the Job reads of a pod beyond workload.Pod.
type podDetail struct {
	Status struct {
		InitContainerStatuses []containerStatus `json:"initContainerStatuses,omitempty"`
		ContainerStatuses     []containerStatus `json:"containerStatuses,omitempty"`
	} `json:"status"`
}

type containerStatus struct {
	RestartCount int32 `json:"restartCount"`
	State        struct {
		Terminated *struct {
			FinishedAt time.Time `json:"finishedAt,omitzero"`
		} `json:"terminated,omitempty"`
	} `json:"state"`
}

// decodePods decodes the Job's pods; completions bounds valid indexes (a Job that is not
// Indexed ignores them).
func decodePods(raws []json.RawMessage, completions int32) ([]*pod, error) {
	pods := make([]*pod, 0, len(raws))
	for _, raw := range raws {
		q := &pod{}
		var d podDetail
		if err := json.Unmarshal(raw, &q.Pod); err != nil {
			return nil, fmt.Errorf("decode pod: %w", err)
		}
		if err := json.Unmarshal(raw, &d); err != nil {
			return nil, fmt.Errorf("decode pod %s: %w", q.Metadata.Name, err)
		}
		q.index = completionIndex(q.Metadata, completions)
		var lastExit time.Time
		for _, cs := range append(d.Status.InitContainerStatuses, d.Status.ContainerStatuses...) {
			q.restarts += cs.RestartCount
			if t := cs.State.Terminated; t != nil && t.FinishedAt.After(lastExit) {
				lastExit = t.FinishedAt
			}
		}
		if q.Status.Phase == workload.PodSucceeded || q.Status.Phase == workload.PodFailed {
			q.finished = finishTime(q, lastExit)
		}
		pods = append(pods, q)
	}
	return pods, nil
}

// finishTime is when a finished pod finished: its last container's exit, else when it
// stopped being ready, else when it was deleted or created — kube's order of evidence.
func finishTime(q *pod, lastExit time.Time) time.Time {
	if !lastExit.IsZero() {
		return lastExit
	}
	for _, c := range q.Status.Conditions {
		if c.Type == "Ready" && c.Status == "False" && !c.LastTransitionTime.IsZero() {
			return c.LastTransitionTime
		}
	}
	if q.Metadata.DeletionTimestamp != nil {
		return *q.Metadata.DeletionTimestamp
	}
	return q.Metadata.CreationTimestamp
}

// completionIndex is the pod's index from its annotation (or, failing that, its label),
// -1 when absent, malformed or not below completions.
func completionIndex(m workload.Meta, completions int32) int {
	v, ok := m.Annotations[CompletionIndexAnnotation]
	if !ok {
		v, ok = m.Labels[CompletionIndexAnnotation]
	}
	if !ok {
		return -1
	}
	ix, err := strconv.Atoi(v)
	if err != nil || ix < 0 || ix >= int(completions) {
		return -1
	}
	return ix
}

// deleteFirst orders pods for deletion, the least useful first: unscheduled before
// scheduled, pending before running, not ready before ready, newer before older.
func deleteFirst(a, b *pod) int {
	if (a.Spec.NodeName == "") != (b.Spec.NodeName == "") {
		if a.Spec.NodeName == "" {
			return -1
		}
		return 1
	}
	if ra, rb := a.Status.Phase == workload.PodRunning, b.Status.Phase == workload.PodRunning; ra != rb {
		if !ra {
			return -1
		}
		return 1
	}
	if a.Ready() != b.Ready() {
		if !a.Ready() {
			return -1
		}
		return 1
	}
	return b.Metadata.CreationTimestamp.Compare(a.Metadata.CreationTimestamp)
}

// indexSet is a set of completion indexes below a bound.
type indexSet struct {
	in []bool
	n  int
}

func newIndexSet(bound int) indexSet { return indexSet{in: make([]bool, max(bound, 0))} }

func (s *indexSet) add(ix int) {
	if ix >= 0 && ix < len(s.in) && !s.in[ix] {
		s.in[ix] = true
		s.n++
	}
}

func (s indexSet) has(ix int) bool { return ix >= 0 && ix < len(s.in) && s.in[ix] }

func (s indexSet) count() int { return s.n }

// String writes the set as status.completedIndexes does: ascending, runs as ranges
// ("1,3-5,7").
func (s indexSet) String() string {
	var b strings.Builder
	for i := 0; i < len(s.in); i++ {
		if !s.in[i] {
			continue
		}
		j := i
		for j+1 < len(s.in) && s.in[j+1] {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(i))
		if j > i {
			b.WriteString("-" + strconv.Itoa(j))
		}
		i = j
	}
	return b.String()
}

// parseIndexSet reads status.completedIndexes; parts it cannot read, and indexes not below
// bound (completions lowered since), are dropped.
func parseIndexSet(s string, bound int) indexSet {
	set := newIndexSet(bound)
	for part := range strings.SplitSeq(s, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(part), "-")
		first, err := strconv.Atoi(lo)
		if err != nil {
			continue
		}
		last := first
		if isRange {
			if last, err = strconv.Atoi(hi); err != nil {
				continue
			}
		}
		for ix := max(first, 0); ix <= min(last, bound-1); ix++ {
			set.add(ix)
		}
	}
	return set
}
