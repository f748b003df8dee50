// Package nodeports is the NodePorts filter: a pod asking for host ports fits only a node
// where no resident pod holds the same port and protocol on an overlapping address.
package nodeports

import tug "github.com/tugboat-io/tug/sdk/go"

// Name is the plugin's name in profiles.
const Name = "NodePorts"

// ErrReason is kube-scheduler's reason.
const ErrReason = "node(s) didn't have free ports for the requested pod ports"

const stateKey = Name

// hostPort is one port a pod holds on its node.
type hostPort struct {
	ip       string // "" and 0.0.0.0 mean every address
	protocol string
	port     int32
}

// HostPorts lists the host ports a pod asks for (init containers included, as Kubernetes
// counts them); the protocol defaults to TCP.
func hostPorts(p *tug.Pod) []hostPort {
	var ps []hostPort
	for _, cs := range [][]tug.Container{p.Spec.InitContainers, p.Spec.Containers} {
		for _, c := range cs {
			for _, cp := range c.Ports {
				if cp.HostPort <= 0 {
					continue
				}
				proto := cp.Protocol
				if proto == "" {
					proto = "TCP"
				}
				ps = append(ps, hostPort{ip: cp.HostIP, protocol: proto, port: cp.HostPort})
			}
		}
	}
	return ps
}

func (a hostPort) conflicts(b hostPort) bool {
	if a.port != b.port || a.protocol != b.protocol {
		return false
	}
	wildcard := func(ip string) bool { return ip == "" || ip == "0.0.0.0" || ip == "::" }
	return wildcard(a.ip) || wildcard(b.ip) || a.ip == b.ip
}

// NodePorts is the filter.
type NodePorts struct{}

// PreFilter collects the pod's host ports once per cycle.
func (NodePorts) PreFilter(state *tug.CycleState, pod *tug.Pod) *tug.Status {
	ports := hostPorts(pod)
	state.Write(stateKey, ports)
	if len(ports) == 0 {
		return tug.Skip // nothing to conflict with
	}
	return tug.Success
}

// Filter rejects a node where a resident pod holds one of the pod's host ports.
func (NodePorts) Filter(state *tug.CycleState, _ *tug.Pod, node *tug.NodeInfo) *tug.Status {
	want, st := tug.ReadState[[]hostPort](state, stateKey, Name)
	if st != nil {
		return st
	}
	if len(want) == 0 {
		return tug.Success
	}
	for _, p := range node.Pods {
		for _, held := range hostPorts(p) {
			for _, w := range want {
				if w.conflicts(held) {
					return tug.Unschedulable(ErrReason)
				}
			}
		}
	}
	return tug.Success
}
