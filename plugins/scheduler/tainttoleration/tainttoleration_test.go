package tainttoleration

import (
	"testing"

	"github.com/tugboat-io/tug/plugins/scheduler/internal/testutil"
	tug "github.com/tugboat-io/tug/sdk/go"
)

func TestFilter(t *testing.T) {
	gpu := `{"metadata":{"name":"n"},"spec":{"taints":[{"key":"gpu","value":"true","effect":"NoSchedule"}]}}`
	evict := `{"metadata":{"name":"n"},"spec":{"taints":[{"key":"dedicated","value":"db","effect":"NoExecute"}]}}`
	prefer := `{"metadata":{"name":"n"},"spec":{"taints":[{"key":"spot","value":"yes","effect":"PreferNoSchedule"}]}}`
	for _, c := range []struct {
		name, node, pod, want string
	}{
		{"no taints", `{"metadata":{"name":"n"}}`, `{}`, ""},
		{"untolerated NoSchedule", gpu, `{}`, "UnschedulableAndUnresolvable: node(s) had untolerated taint {gpu: true}"},
		{"untolerated NoExecute", evict, `{}`, "UnschedulableAndUnresolvable: node(s) had untolerated taint {dedicated: db}"},
		{"PreferNoSchedule does not filter", prefer, `{}`, ""},
		{"Equal with the value", gpu, `{"spec":{"tolerations":[{"key":"gpu","value":"true","effect":"NoSchedule"}]}}`, ""},
		{"Equal is the default operator", gpu, `{"spec":{"tolerations":[{"key":"gpu","operator":"Equal","value":"true"}]}}`, ""},
		{"Equal with another value", gpu, `{"spec":{"tolerations":[{"key":"gpu","value":"false","effect":"NoSchedule"}]}}`,
			"UnschedulableAndUnresolvable: node(s) had untolerated taint {gpu: true}"},
		{"Exists on the key", gpu, `{"spec":{"tolerations":[{"key":"gpu","operator":"Exists"}]}}`, ""},
		{"Exists without a key tolerates all", evict, `{"spec":{"tolerations":[{"operator":"Exists"}]}}`, ""},
		{"another effect", gpu, `{"spec":{"tolerations":[{"key":"gpu","operator":"Exists","effect":"NoExecute"}]}}`,
			"UnschedulableAndUnresolvable: node(s) had untolerated taint {gpu: true}"},
		{"an unknown operator tolerates nothing", gpu, `{"spec":{"tolerations":[{"key":"gpu","operator":"Near","value":"true"}]}}`,
			"UnschedulableAndUnresolvable: node(s) had untolerated taint {gpu: true}"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := testutil.Verdict(TaintToleration{}.Filter(&tug.CycleState{}, testutil.Pod(t, c.pod), testutil.Node(t, c.node)))
			if got != c.want {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
}

func TestScore(t *testing.T) {
	nodes := map[string]string{
		"clean": `{"metadata":{"name":"clean"}}`,
		"one":   `{"metadata":{"name":"one"},"spec":{"taints":[{"key":"spot","value":"yes","effect":"PreferNoSchedule"},{"key":"gpu","effect":"NoSchedule"}]}}`,
		"two": `{"metadata":{"name":"two"},"spec":{"taints":[{"key":"spot","value":"yes","effect":"PreferNoSchedule"},
			{"key":"slow","value":"disk","effect":"PreferNoSchedule"}]}}`,
	}
	order := []string{"clean", "one", "two"}
	for _, c := range []struct {
		name, pod string
		want      []int64 // normalized, in order
	}{
		{"no tolerations: fewer intolerable taints score higher", `{}`, []int64{100, 50, 0}},
		{"tolerating spot leaves only slow", `{"spec":{"tolerations":[{"key":"spot","operator":"Exists","effect":"PreferNoSchedule"}]}}`, []int64{100, 100, 0}},
		{"a NoSchedule toleration does not count", `{"spec":{"tolerations":[{"key":"spot","operator":"Exists","effect":"NoSchedule"}]}}`, []int64{100, 50, 0}},
		{"tolerating everything: all equal", `{"spec":{"tolerations":[{"operator":"Exists"}]}}`, []int64{100, 100, 100}},
	} {
		t.Run(c.name, func(t *testing.T) {
			pod := testutil.Pod(t, c.pod)
			var scores []tug.NodeScore
			for _, name := range order {
				s, st := TaintToleration{}.Score(&tug.CycleState{}, pod, testutil.Node(t, nodes[name]))
				if !st.IsSuccess() {
					t.Fatal(st)
				}
				scores = append(scores, tug.NodeScore{Name: name, Score: s})
			}
			if st := (TaintToleration{}).NormalizeScore(&tug.CycleState{}, pod, scores); !st.IsSuccess() {
				t.Fatal(st)
			}
			for i, s := range scores {
				if s.Score != c.want[i] {
					t.Errorf("%s scored %d, want %d", s.Name, s.Score, c.want[i])
				}
			}
		})
	}
}
