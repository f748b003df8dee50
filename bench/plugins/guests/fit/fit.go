// Package fit is a NodeResourcesFit-style scheduler filter: a node passes when the cpu and
// memory requests of the pods resident on it plus the incoming pod's fit the node's
// allocatable; otherwise it is rejected with "Insufficient cpu" or "Insufficient memory"
// (Unschedulable: preempting pods could make room). As the framework's NodeInfo does, it
// keeps each node's summed requests and parsed allocatable, computed once per node state
// the host sends (the SDK replaces a NodeInfo when its node changes).
package fit

import (
	tug "github.com/tugboat-io/tug/sdk/go"
)

// Reasons, as the Kubernetes NodeResourcesFit plugin words them.
const (
	ReasonCPU    = "Insufficient cpu"
	ReasonMemory = "Insufficient memory"
)

const stateKey = "fit/request"

// The rejections are shared: a Status is read-only once returned.
var (
	insufficientCPU    = tug.Unschedulable(ReasonCPU)
	insufficientMemory = tug.Unschedulable(ReasonMemory)
)

// request is cpu in millicores and memory in bytes.
type request struct{ cpu, mem int64 }

// nodeSums is what the filter keeps about one node state.
type nodeSums struct {
	info       *tug.NodeInfo // the state the sums are for
	allocCPU   int64
	allocMem   int64
	used       request
	invalidErr string // a malformed quantity: the node is rejected with it
}

// Fit is the filter.
type Fit struct {
	nodes map[uint32]*nodeSums
}

// New returns a Fit with nothing cached.
func New() *Fit { return &Fit{nodes: map[uint32]*nodeSums{}} }

// Register makes a new Fit the plugin's filter; call it once, from init.
func Register() { tug.RegisterFilter(New()) }

// PodRequest returns a pod's effective request: the sum over its containers, or the
// largest init container's if that is more, plus the pod overhead.
func PodRequest(p *tug.Pod) (cpu, mem int64, err error) {
	var r request
	for i := range p.Spec.Containers {
		c, m, err := listRequest(p.Spec.Containers[i].Resources.Requests)
		if err != nil {
			return 0, 0, err
		}
		r.cpu += c
		r.mem += m
	}
	for i := range p.Spec.InitContainers {
		c, m, err := listRequest(p.Spec.InitContainers[i].Resources.Requests)
		if err != nil {
			return 0, 0, err
		}
		r.cpu = max(r.cpu, c)
		r.mem = max(r.mem, m)
	}
	c, m, err := listRequest(p.Spec.Overhead)
	if err != nil {
		return 0, 0, err
	}
	return r.cpu + c, r.mem + m, nil
}

func listRequest(l tug.ResourceList) (cpu, mem int64, err error) {
	if q, ok := l["cpu"]; ok {
		if cpu, err = q.MilliValue(); err != nil {
			return 0, 0, err
		}
	}
	if q, ok := l["memory"]; ok {
		if mem, err = q.Value(); err != nil {
			return 0, 0, err
		}
	}
	return cpu, mem, nil
}

// PreFilter computes the incoming pod's request once per cycle.
func (f *Fit) PreFilter(state *tug.CycleState, pod *tug.Pod) *tug.Status {
	c, m, err := PodRequest(pod)
	if err != nil {
		return tug.UnschedulableAndUnresolvable("pod has a malformed resource request: " + err.Error())
	}
	state.Write(stateKey, request{c, m})
	return nil
}

// sums returns the node's cached sums, computing them for a node state not seen before.
func (f *Fit) sums(node *tug.NodeInfo) *nodeSums {
	if s := f.nodes[node.ID]; s != nil && s.info == node {
		return s
	}
	s := &nodeSums{info: node}
	var err error
	if s.allocCPU, s.allocMem, err = listRequest(node.Node.Status.Allocatable); err != nil {
		s.invalidErr = "node has a malformed allocatable: " + err.Error()
	}
	for _, p := range node.Pods {
		if p.Status.Phase == "Succeeded" || p.Status.Phase == "Failed" {
			continue
		}
		c, m, err := PodRequest(p)
		if err != nil {
			s.invalidErr = "a pod on the node has a malformed request: " + err.Error()
			break
		}
		s.used.cpu += c
		s.used.mem += m
	}
	f.nodes[node.ID] = s
	return s
}

// Filter rejects a node without room for the pod's cpu or memory request.
func (f *Fit) Filter(state *tug.CycleState, pod *tug.Pod, node *tug.NodeInfo) *tug.Status {
	v, ok := state.Read(stateKey)
	if !ok {
		return tug.AsStatus(errNoPreFilter)
	}
	req := v.(request)
	s := f.sums(node)
	switch {
	case s.invalidErr != "":
		return tug.UnschedulableAndUnresolvable(s.invalidErr)
	case req.cpu > 0 && s.used.cpu+req.cpu > s.allocCPU:
		return insufficientCPU
	case req.mem > 0 && s.used.mem+req.mem > s.allocMem:
		return insufficientMemory
	}
	return tug.Success
}

type fitError string

func (e fitError) Error() string { return string(e) }

const errNoPreFilter = fitError("fit: Filter called without PreFilter")
