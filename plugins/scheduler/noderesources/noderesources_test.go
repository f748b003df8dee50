package noderesources

import (
	"fmt"
	"strings"
	"testing"

	"github.com/tugboat-io/tug/plugins/scheduler/internal/testutil"
	tug "github.com/tugboat-io/tug/sdk/go"
)

// pod builds a pod whose containers request the given cpu/memory pairs ("" for none).
func pod(t *testing.T, extra string, containers ...string) *tug.Pod {
	t.Helper()
	var cs []string
	for i, c := range containers {
		cs = append(cs, fmt.Sprintf(`{"name":"c%d","resources":{"requests":{%s}}}`, i, c))
	}
	return testutil.Pod(t, `{"metadata":{"name":"p","namespace":"d"},"spec":{"containers":[`+strings.Join(cs, ",")+`]`+extra+`}}`)
}

// node builds a node with allocatable alloc and resident pods.
func node(t *testing.T, alloc string, pods ...*tug.Pod) *tug.NodeInfo {
	t.Helper()
	n := testutil.Node(t, `{"metadata":{"name":"n"},"status":{"allocatable":{`+alloc+`}}}`)
	n.Pods = pods
	return n
}

func TestPodRequest(t *testing.T) {
	for _, c := range []struct {
		name    string
		pod     *tug.Pod
		nonZero bool
		want    string
	}{
		{"containers add up", pod(t, "", `"cpu":"250m","memory":"1Gi"`, `"cpu":"500m"`), false, "map[cpu:750 memory:1073741824]"},
		{"an init container larger than the app", pod(t, `,"initContainers":[{"name":"i","resources":{"requests":{"cpu":"2"}}}]`, `"cpu":"500m"`), false, "map[cpu:2000]"},
		{"a sidecar runs beside the app", pod(t, `,"initContainers":[{"name":"s","restartPolicy":"Always","resources":{"requests":{"cpu":"100m"}}}]`, `"cpu":"500m"`), false, "map[cpu:600]"},
		{"an init container after a sidecar runs beside it", pod(t, `,"initContainers":[{"name":"s","restartPolicy":"Always","resources":{"requests":{"cpu":"300m"}}},{"name":"i","resources":{"requests":{"cpu":"1"}}}]`, `"cpu":"200m"`), false, "map[cpu:1300]"},
		{"overhead is added", pod(t, `,"overhead":{"cpu":"50m","memory":"64Mi"}`, `"cpu":"100m"`), false, "map[cpu:150 memory:67108864]"},
		{"extended resources", pod(t, "", `"nvidia.com/gpu":"2"`), false, "map[nvidia.com/gpu:2]"},
		{"scoring defaults for no request", pod(t, "", ``, `"cpu":"1"`), true, "map[cpu:1100 memory:419430400]"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := PodRequest(c.pod, c.nonZero)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != c.want {
				t.Errorf("got %v, want %s", got, c.want)
			}
		})
	}
	if _, err := PodRequest(pod(t, "", `"cpu":"lots"`), false); err == nil {
		t.Error("a malformed quantity was accepted")
	}
}

func filter(t *testing.T, f *Fit, p *tug.Pod, n *tug.NodeInfo) string {
	t.Helper()
	state := &tug.CycleState{}
	if st := f.PreFilter(state, p); !st.IsSuccess() {
		return testutil.Verdict(st)
	}
	return testutil.Verdict(f.Filter(state, p, n))
}

func TestFitFilter(t *testing.T) {
	resident := pod(t, "", `"cpu":"3","memory":"6Gi"`)
	finished := testutil.Pod(t, `{"metadata":{"name":"done"},"spec":{"containers":[{"name":"c","resources":{"requests":{"cpu":"4"}}}]},"status":{"phase":"Succeeded"}}`)
	alloc := `"cpu":"4","memory":"8Gi","pods":"2","nvidia.com/gpu":"1"`
	for _, c := range []struct {
		name string
		pod  *tug.Pod
		node *tug.NodeInfo
		want string
	}{
		{"fits", pod(t, "", `"cpu":"1","memory":"2Gi"`), node(t, alloc, resident), ""},
		{"insufficient cpu", pod(t, "", `"cpu":"1100m"`), node(t, alloc, resident), "Unschedulable: Insufficient cpu"},
		{"insufficient memory", pod(t, "", `"memory":"3Gi"`), node(t, alloc, resident), "Unschedulable: Insufficient memory"},
		{"cpu is reported before memory", pod(t, "", `"cpu":"2","memory":"3Gi"`), node(t, alloc, resident), "Unschedulable: Insufficient cpu"},
		{"extended resource", pod(t, "", `"nvidia.com/gpu":"2"`), node(t, alloc), "Unschedulable: Insufficient nvidia.com/gpu"},
		{"extended resource the node lacks", pod(t, "", `"example.com/fpga":"1"`), node(t, alloc), "Unschedulable: Insufficient example.com/fpga"},
		{"too many pods", pod(t, "", `"cpu":"100m"`), node(t, alloc, resident, pod(t, "", ``)), "Unschedulable: Too many pods"},
		{"finished pods hold nothing", pod(t, "", `"cpu":"4"`), node(t, alloc, finished), ""},
		{"a pod requesting nothing fits a full node", pod(t, "", ``), node(t, `"cpu":"1","memory":"1Gi","pods":"10"`, pod(t, "", `"cpu":"1","memory":"1Gi"`)), ""},
		{"a malformed allocatable is unresolvable", pod(t, "", `"cpu":"1"`), node(t, `"cpu":"many"`), "UnschedulableAndUnresolvable: node has a malformed allocatable: cpu: "},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := filter(t, NewFit(), c.pod, c.node); !strings.HasPrefix(got, c.want) || (c.want == "" && got != "") {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
	f := NewFit()
	if err := f.Configure([]byte(`{"ignoredResources":["example.com/fpga"]}`)); err != nil {
		t.Fatal(err)
	}
	if got := filter(t, f, pod(t, "", `"example.com/fpga":"1"`), node(t, alloc)); got != "" {
		t.Errorf("an ignored resource was checked: %q", got)
	}
}

func score(t *testing.T, s interface {
	PreFilter(*tug.CycleState, *tug.Pod) *tug.Status
	Score(*tug.CycleState, *tug.Pod, *tug.NodeInfo) (int64, *tug.Status)
}, p *tug.Pod, n *tug.NodeInfo) int64 {
	t.Helper()
	state := &tug.CycleState{}
	if st := s.PreFilter(state, p); !st.IsSuccess() {
		t.Fatal(st)
	}
	v, st := s.Score(state, p, n)
	if !st.IsSuccess() {
		t.Fatal(st)
	}
	return v
}

func TestFitScores(t *testing.T) {
	// Node: 4 cpu, 8Gi; resident 1 cpu, 2Gi; the pod 1 cpu, 2Gi: after it, cpu 50% and memory
	// 50% used.
	n := node(t, `"cpu":"4","memory":"8Gi","pods":"110"`, pod(t, "", `"cpu":"1","memory":"2Gi"`))
	p := pod(t, "", `"cpu":"1","memory":"2Gi"`)
	skewed := node(t, `"cpu":"4","memory":"8Gi","pods":"110"`, pod(t, "", `"cpu":"3","memory":"0"`))
	for _, c := range []struct {
		name, cfg string
		node      *tug.NodeInfo
		want      int64
	}{
		{"LeastAllocated", `{}`, n, 50},
		{"LeastAllocated, cpu full", `{}`, skewed, (0 + 75) / 2},
		{"MostAllocated", `{"scoringStrategy":{"type":"MostAllocated"}}`, n, 50},
		{"weights", `{"scoringStrategy":{"type":"MostAllocated","resources":[{"name":"cpu","weight":3},{"name":"memory","weight":1}]}}`, skewed, (100*3 + 25) / 4},
		{"RequestedToCapacityRatio", `{"scoringStrategy":{"type":"RequestedToCapacityRatio","requestedToCapacityRatio":{"shape":[{"utilization":0,"score":0},{"utilization":100,"score":10}]}}}`, n, 50},
		{"RequestedToCapacityRatio, reversed shape", `{"scoringStrategy":{"type":"RequestedToCapacityRatio","requestedToCapacityRatio":{"shape":[{"utilization":0,"score":10},{"utilization":80,"score":2}]}}}`, n, 50},
		{"a resource the node lacks is left out", `{"scoringStrategy":{"resources":[{"name":"cpu","weight":1},{"name":"nvidia.com/gpu","weight":5}]}}`, n, 50},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := NewFit()
			if err := f.Configure([]byte(c.cfg)); err != nil {
				t.Fatal(err)
			}
			if got := score(t, f, p, c.node); got != c.want {
				t.Errorf("score %d, want %d", got, c.want)
			}
		})
	}
}

func TestFitConfigRefused(t *testing.T) {
	for _, cfg := range []string{
		`{"scoringStrategy":{"type":"Random"}}`,
		`{"scoringStrategy":{"type":"RequestedToCapacityRatio"}}`,
		`{"scoringStrategy":{"type":"RequestedToCapacityRatio","requestedToCapacityRatio":{"shape":[{"utilization":50,"score":11}]}}}`,
		`{"scoringStrategy":{"type":"RequestedToCapacityRatio","requestedToCapacityRatio":{"shape":[{"utilization":50,"score":1},{"utilization":40,"score":2}]}}}`,
		`{"scoringStrategy":{"resources":[{"name":"cpu","weight":0}]}}`,
		`not json`,
	} {
		if err := NewFit().Configure([]byte(cfg)); err == nil {
			t.Errorf("accepted %s", cfg)
		}
	}
}

func TestBalancedAllocation(t *testing.T) {
	p := pod(t, "", `"cpu":"1","memory":"2Gi"`)
	even := node(t, `"cpu":"4","memory":"8Gi"`, pod(t, "", `"cpu":"1","memory":"2Gi"`)) // 50% and 50%
	uneven := node(t, `"cpu":"4","memory":"8Gi"`, pod(t, "", `"cpu":"3","memory":"0"`)) // 100% and 25%
	if got := score(t, NewBalancedAllocation(), p, even); got != 100 {
		t.Errorf("even node scored %d, want 100", got)
	}
	if got := score(t, NewBalancedAllocation(), p, uneven); got != 62 {
		t.Errorf("uneven node scored %d, want 62 (100 × (1 − (1 − 0.25)/2))", got)
	}
}
