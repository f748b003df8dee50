package noderesources_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/tugboat-io/tug/plugins/scheduler/internal/testutil"
	"github.com/tugboat-io/tug/plugins/scheduler/noderesources"
)

// pod is a pod whose containers request the given resources ("" for none); extra adds to
// its spec.
func pod(extra string, containers ...string) string {
	var cs []string
	for i, c := range containers {
		cs = append(cs, fmt.Sprintf(`{"name":"c%d","resources":{"requests":{%s}}}`, i, c))
	}
	return `{"metadata":{"name":"p","namespace":"d"},"spec":{"containers":[` + strings.Join(cs, ",") + `]` + extra + `}}`
}

// initContainers is a pod spec's initContainers, each requesting its resources; a request
// prefixed "sidecar:" makes a restartable init container.
func initContainers(requests ...string) string {
	var cs []string
	for i, r := range requests {
		policy := ""
		if s, ok := strings.CutPrefix(r, "sidecar:"); ok {
			r, policy = s, `"restartPolicy":"Always",`
		}
		cs = append(cs, fmt.Sprintf(`{"name":"i%d",%s"resources":{"requests":{%s}}}`, i, policy, r))
	}
	return `,"initContainers":[` + strings.Join(cs, ",") + `]`
}

// named renames a pod, so that several can be resident on a node.
func named(name, pod string) string {
	return strings.Replace(pod, `"name":"p"`, `"name":"`+name+`"`, 1)
}

// node is a node named n with allocatable alloc and resident pods.
func node(alloc string, pods ...string) testutil.Node {
	var resident []string
	for i, p := range pods {
		resident = append(resident, named(fmt.Sprintf("r%d", i), p))
	}
	return testutil.WithPods(`{"metadata":{"name":"n"},"status":{"allocatable":{`+alloc+`}}}`, resident...)
}

// PodRequest is a pure function of the pod: it is tested directly. The filter cases below
// check the same rules through the module.
func TestPodRequest(t *testing.T) {
	for _, c := range []struct {
		name    string
		pod     string
		nonZero bool
		want    string
	}{
		{"containers add up", pod("", `"cpu":"250m","memory":"1Gi"`, `"cpu":"500m"`), false, "map[cpu:750 memory:1073741824]"},
		{"an init container larger than the app", pod(initContainers(`"cpu":"2"`), `"cpu":"500m"`), false, "map[cpu:2000]"},
		{"init containers run one at a time", pod(initContainers(`"cpu":"1"`, `"cpu":"1"`), `"cpu":"500m"`), false, "map[cpu:1000]"},
		{"a sidecar runs beside the app", pod(initContainers(`sidecar:"cpu":"100m"`), `"cpu":"500m"`), false, "map[cpu:600]"},
		{"an init container after a sidecar runs beside it", pod(initContainers(`sidecar:"cpu":"300m"`, `"cpu":"1"`), `"cpu":"200m"`), false, "map[cpu:1300]"},
		{"an init container before a sidecar does not", pod(initContainers(`"cpu":"1"`, `sidecar:"cpu":"300m"`), `"cpu":"200m"`), false, "map[cpu:1000]"},
		{"overhead is added", pod(`,"overhead":{"cpu":"50m","memory":"64Mi"}`, `"cpu":"100m"`), false, "map[cpu:150 memory:67108864]"},
		{"overhead is added to the init phase's maximum", pod(initContainers(`"cpu":"1"`)+`,"overhead":{"cpu":"50m"}`, `"cpu":"100m"`), false, "map[cpu:1050]"},
		{"extended resources", pod("", `"nvidia.com/gpu":"2"`), false, "map[nvidia.com/gpu:2]"},
		{"scoring defaults for no request", pod("", ``, `"cpu":"1"`), true, "map[cpu:1100 memory:419430400]"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := noderesources.PodRequest(testutil.Pod(t, c.pod), c.nonZero)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != c.want {
				t.Errorf("got %v, want %s", got, c.want)
			}
		})
	}
	if _, err := noderesources.PodRequest(testutil.Pod(t, pod("", `"cpu":"lots"`)), false); err == nil {
		t.Error("a malformed quantity was accepted")
	}
}

func TestFitFilter(t *testing.T) {
	resident := pod("", `"cpu":"3","memory":"6Gi"`) // leaves 1 cpu and 2Gi
	finished := `{"metadata":{"name":"done","namespace":"d"},"spec":{"containers":[{"name":"c","resources":{"requests":{"cpu":"4"}}}]},"status":{"phase":"Succeeded"}}`
	failed := strings.Replace(finished, "Succeeded", "Failed", 1)
	alloc := `"cpu":"4","memory":"8Gi","pods":"2","nvidia.com/gpu":"1"`
	cpu, memory, gpu := "n=Unschedulable:Insufficient cpu", "n=Unschedulable:Insufficient memory", "n=Unschedulable:Insufficient nvidia.com/gpu"
	for _, c := range []struct {
		name, config string
		pod          string
		node         testutil.Node
		want         string
	}{
		{"fits", "", pod("", `"cpu":"1","memory":"2Gi"`), node(alloc, resident), "n=ok"},
		{"insufficient cpu", "", pod("", `"cpu":"1100m"`), node(alloc, resident), cpu},
		{"insufficient memory", "", pod("", `"memory":"3Gi"`), node(alloc, resident), memory},
		{"cpu is reported before memory", "", pod("", `"cpu":"2","memory":"3Gi"`), node(alloc, resident), cpu},
		{"extended resource", "", pod("", `"nvidia.com/gpu":"2"`), node(alloc), gpu},
		{"extended resource that fits", "", pod("", `"nvidia.com/gpu":"1"`), node(alloc), "n=ok"},
		{"extended resource a resident pod holds", "", pod("", `"nvidia.com/gpu":"1"`), node(alloc, pod("", `"nvidia.com/gpu":"1"`)), gpu},
		{"extended resource the node lacks", "", pod("", `"example.com/fpga":"1"`), node(alloc), "n=Unschedulable:Insufficient example.com/fpga"},
		{"an ignored resource is not checked", `{"ignoredResources":["example.com/fpga"]}`, pod("", `"example.com/fpga":"1"`), node(alloc), "n=ok"},
		{"too many pods", "", pod("", `"cpu":"100m"`), node(alloc, resident, pod("", ``)), "n=Unschedulable:Too many pods"},
		{"the last pod slot", "", pod("", `"cpu":"100m"`), node(alloc, resident), "n=ok"},
		{"finished pods hold nothing", "", pod("", `"cpu":"4"`), node(alloc, finished), "n=ok"},
		{"failed pods hold nothing", "", pod("", `"cpu":"4"`), node(alloc, failed), "n=ok"},
		{"a pod requesting nothing fits a full node", "", pod("", ``), node(`"cpu":"1","memory":"1Gi","pods":"10"`, pod("", `"cpu":"1","memory":"1Gi"`)), "n=ok"},
		// Init containers run before the app, one at a time: the pod needs the largest of them
		// or the app's sum, not both.
		{"an init container larger than the app needs room", "", pod(initContainers(`"cpu":"1500m"`), `"cpu":"500m"`), node(alloc, resident), cpu},
		{"init containers are not added to the app", "", pod(initContainers(`"cpu":"1"`, `"cpu":"1"`), `"cpu":"1"`), node(alloc, resident), "n=ok"},
		{"a sidecar runs beside the app", "", pod(initContainers(`sidecar:"cpu":"200m"`), `"cpu":"900m"`), node(alloc, resident), cpu},
		{"a resident pod holds its init phase's maximum", "", pod("", `"cpu":"1100m"`), node(alloc, pod(initContainers(`"cpu":"3"`), `"cpu":"100m"`)), cpu},
		{"overhead needs room", "", pod(`,"overhead":{"cpu":"200m"}`, `"cpu":"900m"`), node(alloc, resident), cpu},
		{"overhead that fits", "", pod(`,"overhead":{"cpu":"100m","memory":"1Gi"}`, `"cpu":"900m","memory":"1Gi"`), node(alloc, resident), "n=ok"},
		{"a resident pod's overhead counts", "", pod("", `"memory":"2Gi"`), node(alloc, pod(`,"overhead":{"memory":"1Mi"}`, `"cpu":"3","memory":"6Gi"`)), memory},
		{"a malformed allocatable is unresolvable", "", pod("", `"cpu":"1"`), node(`"cpu":"many"`), "n=UnschedulableAndUnresolvable:node has a malformed allocatable: cpu: …"},
		{"a malformed request is unresolvable", "", pod("", `"cpu":"lots"`), node(alloc), "n=UnschedulableAndUnresolvable:pod has a malformed resource request: …"},
	} {
		t.Run(c.name, func(t *testing.T) {
			testutil.Filter(t, testutil.Cycle{Plugin: noderesources.FitName, Config: c.config, Nodes: []testutil.Node{c.node}, Pod: c.pod}, c.want)
		})
	}
}

func TestFitScores(t *testing.T) {
	// Node: 4 cpu, 8Gi; resident 1 cpu, 2Gi; the pod 1 cpu, 2Gi: after it, cpu 50% and memory
	// 50% used.
	n := node(`"cpu":"4","memory":"8Gi","pods":"110"`, pod("", `"cpu":"1","memory":"2Gi"`))
	p := pod("", `"cpu":"1","memory":"2Gi"`)
	skewed := node(`"cpu":"4","memory":"8Gi","pods":"110"`, pod("", `"cpu":"3","memory":"0"`))
	// 3 of 4 GPUs used with the pod's.
	gpus := node(`"cpu":"4","memory":"8Gi","pods":"110","nvidia.com/gpu":"4"`, pod("", `"cpu":"1","memory":"2Gi","nvidia.com/gpu":"2"`))
	gpuPod := pod("", `"cpu":"1","memory":"2Gi","nvidia.com/gpu":"1"`)
	gpuWeights := `"resources":[{"name":"cpu","weight":1},{"name":"nvidia.com/gpu","weight":5}]`
	for _, c := range []struct {
		name, cfg string
		node      testutil.Node
		pod       string
		want      int64
	}{
		{"LeastAllocated", `{}`, n, p, 50},
		{"LeastAllocated, cpu full", `{}`, skewed, p, (0 + 75) / 2},
		{"MostAllocated", `{"scoringStrategy":{"type":"MostAllocated"}}`, n, p, 50},
		{"weights", `{"scoringStrategy":{"type":"MostAllocated","resources":[{"name":"cpu","weight":3},{"name":"memory","weight":1}]}}`, skewed, p, (100*3 + 25) / 4},
		{"RequestedToCapacityRatio", `{"scoringStrategy":{"type":"RequestedToCapacityRatio","requestedToCapacityRatio":{"shape":[{"utilization":0,"score":0},{"utilization":100,"score":10}]}}}`, n, p, 50},
		{"RequestedToCapacityRatio, reversed shape", `{"scoringStrategy":{"type":"RequestedToCapacityRatio","requestedToCapacityRatio":{"shape":[{"utilization":0,"score":10},{"utilization":80,"score":2}]}}}`, n, p, 50},
		{"a resource the node lacks is left out", `{"scoringStrategy":{"resources":[{"name":"cpu","weight":1},{"name":"nvidia.com/gpu","weight":5}]}}`, n, p, 50},
		{"LeastAllocated over GPUs", `{"scoringStrategy":{` + gpuWeights + `}}`, gpus, gpuPod, (50*1 + 25*5) / 6},
		{"MostAllocated over GPUs", `{"scoringStrategy":{"type":"MostAllocated",` + gpuWeights + `}}`, gpus, gpuPod, (50*1 + 75*5) / 6},
		// Free GPUs do not draw pods that want none: only cpu is scored.
		{"an extended resource the pod does not request is left out", `{"scoringStrategy":{` + gpuWeights + `}}`,
			node(`"cpu":"4","memory":"8Gi","pods":"110","nvidia.com/gpu":"4"`, pod("", `"cpu":"1","memory":"2Gi"`)), p, 50},
		// A container without requests is scored as 100m cpu and 200Mi memory: 1100m of 4 cpu,
		// 2Gi + 200Mi of 8Gi.
		{"scoring defaults for no request", `{}`, n, pod("", ``), ((4000-1100)*100/4000 + (8192-2248)*100/8192) / 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			testutil.Score(t, testutil.Cycle{Plugin: noderesources.FitName, Config: c.cfg, Nodes: []testutil.Node{c.node}, Pod: c.pod}, fmt.Sprintf("n=%d", c.want))
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
		`{"ignoredResources":"nvidia.com/gpu"}`,
	} {
		t.Run(cfg, func(t *testing.T) { testutil.ConfigRefused(t, noderesources.FitName, cfg) })
	}
	// A module's configuration is JSON, so a configuration that is not cannot reach the
	// plugin through it; Configure refuses one too.
	if err := noderesources.NewFit().Configure([]byte(`not json`)); err == nil {
		t.Error("accepted a configuration that is not JSON")
	}
}

func TestBalancedAllocation(t *testing.T) {
	p := pod("", `"cpu":"1","memory":"2Gi"`)
	for _, c := range []struct {
		name string
		node testutil.Node
		pod  string
		want string
	}{
		{"even: 50% and 50%", node(`"cpu":"4","memory":"8Gi"`, pod("", `"cpu":"1","memory":"2Gi"`)), p, "n=100"},
		// 100 × (1 − (1 − 0.25)/2)
		{"uneven: 100% and 25%", node(`"cpu":"4","memory":"8Gi"`, pod("", `"cpu":"3","memory":"0"`)), p, "n=62"},
		// Requests, not the scoring defaults: cpu at 1/4, memory at 0 → 100 × (1 − 0.25/2).
		{"what pods request is balanced", node(`"cpu":"4","memory":"8Gi"`), pod("", `"cpu":"1"`), "n=87"},
		{"a pod requesting nothing scores 0", node(`"cpu":"4","memory":"8Gi"`, pod("", `"cpu":"1","memory":"2Gi"`)), pod("", ``), "n=0"},
		// Overhead is requested: cpu 1/4 and memory 2Gi/8Gi.
		{"overhead counts", node(`"cpu":"4","memory":"8Gi"`), pod(`,"overhead":{"memory":"2Gi"}`, `"cpu":"1"`), "n=100"},
	} {
		t.Run(c.name, func(t *testing.T) {
			testutil.Score(t, testutil.Cycle{Plugin: noderesources.BalancedName, Nodes: []testutil.Node{c.node}, Pod: c.pod}, c.want)
		})
	}
}
