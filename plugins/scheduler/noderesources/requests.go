// Package noderesources holds the resource plugins: NodeResourcesFit (a node must have room
// for the pod's requests; scores by LeastAllocated, MostAllocated or RequestedToCapacityRatio)
// and NodeResourcesBalancedAllocation (prefers nodes whose cpu and memory fill evenly), with
// kube-scheduler's semantics.
package noderesources

import (
	"fmt"

	tug "github.com/tugboat-io/tug/sdk/go"
)

// Resources are amounts by resource name: cpu in millicores, everything else in units
// (memory in bytes).
type Resources map[string]int64

// Scoring counts a container that requests no cpu or memory as if it asked for these, as
// kube-scheduler does, so that many request-less pods do not pile onto one node.
const (
	DefaultMilliCPURequest = 100
	DefaultMemoryRequest   = 200 << 20
)

func (r Resources) add(o Resources) {
	for k, v := range o {
		r[k] += v
	}
}

func listAmounts(l tug.ResourceList) (Resources, error) {
	out := Resources{}
	for name, q := range l {
		var v int64
		var err error
		if name == "cpu" {
			v, err = q.MilliValue()
		} else {
			v, err = q.Value()
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		out[name] = v
	}
	return out, nil
}

func containerRequest(c tug.Container, nonZero bool) (Resources, error) {
	r, err := listAmounts(c.Resources.Requests)
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", c.Name, err)
	}
	if nonZero {
		if _, ok := r["cpu"]; !ok {
			r["cpu"] = DefaultMilliCPURequest
		}
		if _, ok := r["memory"]; !ok {
			r["memory"] = DefaultMemoryRequest
		}
	}
	return r, nil
}

// PodRequest is what a pod asks of its node, as Kubernetes computes it: its containers' sum,
// with restartable init containers (sidecars) running beside them, or the largest need of
// the init phase if that is more, plus the pod overhead. nonZero applies the scoring
// defaults to containers that request no cpu or memory.
func PodRequest(p *tug.Pod, nonZero bool) (Resources, error) {
	sum := Resources{}
	for _, c := range p.Spec.Containers {
		r, err := containerRequest(c, nonZero)
		if err != nil {
			return nil, err
		}
		sum.add(r)
	}
	sidecars, initMax := Resources{}, Resources{}
	for _, c := range p.Spec.InitContainers {
		r, err := containerRequest(c, nonZero)
		if err != nil {
			return nil, err
		}
		if c.RestartPolicy == "Always" {
			// A sidecar keeps running beside the init containers after it and the app.
			sidecars.add(r)
			for k := range sidecars {
				initMax[k] = max(initMax[k], sidecars[k])
			}
			continue
		}
		for k, v := range r {
			initMax[k] = max(initMax[k], v+sidecars[k])
		}
	}
	sum.add(sidecars)
	for k, v := range initMax {
		sum[k] = max(sum[k], v)
	}
	over, err := listAmounts(p.Spec.Overhead)
	if err != nil {
		return nil, fmt.Errorf("overhead: %w", err)
	}
	sum.add(over)
	return sum, nil
}
