package defaultpreemption_test

import (
	"testing"

	"github.com/tugboat-io/tug/plugins/scheduler/defaultpreemption"
	tug "github.com/tugboat-io/tug/sdk/go"
)

func victim(prio int32, start string) *tug.Pod {
	p := &tug.Pod{}
	p.Spec.Priority = &prio
	p.Status.StartTime = start
	return p
}

func candidate(victims ...*tug.Pod) tug.Candidate {
	return tug.Candidate{Node: &tug.NodeInfo{}, Victims: victims}
}

// Each case's want is decided by the first criterion the candidates differ in.
func TestPostFilterCriteria(t *testing.T) {
	const early, late = "2026-01-01T00:00:00Z", "2026-06-01T00:00:00Z"
	for _, c := range []struct {
		name  string
		cands []tug.Candidate
		want  int
	}{
		{"lowest highest priority", []tug.Candidate{candidate(victim(10, early)), candidate(victim(5, early), victim(5, early), victim(5, early))}, 1},
		{"smallest sum", []tug.Candidate{candidate(victim(5, early), victim(4, early)), candidate(victim(5, early), victim(-3, early))}, 1},
		{"fewest victims", []tug.Candidate{candidate(victim(5, early), victim(0, early), victim(0, early)), candidate(victim(5, early), victim(0, early))}, 1},
		{"latest start of the most important", []tug.Candidate{candidate(victim(5, early)), candidate(victim(5, late))}, 1},
		{"a tie keeps the first", []tug.Candidate{candidate(victim(5, late)), candidate(victim(5, late))}, 0},
		{"no victims beats any", []tug.Candidate{candidate(victim(-100, late)), candidate()}, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, st := defaultpreemption.New().PostFilter(nil, nil, c.cands)
			if got != c.want || !st.IsSuccess() {
				t.Errorf("chose %d (%v), want %d", got, st, c.want)
			}
		})
	}
	if got, st := defaultpreemption.New().PostFilter(nil, nil, nil); got != -1 || st.IsSuccess() {
		t.Errorf("no candidates: %d, %v", got, st)
	}
}
