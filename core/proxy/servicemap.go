package proxy

import (
	"cmp"
	"net/netip"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/types"
)

// defaultAffinity is kube-proxy's ClientIP affinity timeout when the Service names none.
const defaultAffinity = 10800 * time.Second

// BuildState computes what the data plane must program on node from the cluster's Services and
// EndpointSlices. It is pure: the same input gives the same State, in the same order.
//
// The rules are kube-proxy's:
//   - ExternalName and headless Services (clusterIP None, or none allocated) get nothing: DNS
//     answers for them.
//   - An endpoint serves when it is ready (no condition means ready). When a Service port
//     has no ready endpoint, its serving-and-terminating ones serve instead, so that a
//     rolling update or a scale-down does not drop traffic that could still be served.
//   - internalTrafficPolicy Local keeps only the endpoints on node (spec.nodeName of the
//     endpoint); with none there, the Service has no endpoint on this node.
//   - An endpoint in two slices (during a slice rewrite) counts once.
//   - A loopback endpoint (a wasm pod, in core/api.NodeLocalPodIPs) serves only on its node.
func BuildState(node string, services []*corev1.Service, epSlices []*discoveryv1.EndpointSlice) State {
	bySvc := map[types.NamespacedName][]*discoveryv1.EndpointSlice{}
	for _, s := range epSlices {
		name := s.Labels[discoveryv1.LabelServiceName]
		if name == "" || s.AddressType != discoveryv1.AddressTypeIPv4 {
			continue
		}
		key := types.NamespacedName{Namespace: s.Namespace, Name: name}
		bySvc[key] = append(bySvc[key], s)
	}
	var st State
	for _, svc := range services {
		ips := clusterIPs(svc)
		if len(ips) == 0 {
			continue
		}
		name := types.NamespacedName{Namespace: svc.Namespace, Name: svc.Name}
		local := svc.Spec.InternalTrafficPolicy != nil && *svc.Spec.InternalTrafficPolicy == corev1.ServiceInternalTrafficPolicyLocal
		for _, p := range svc.Spec.Ports {
			proto := cmp.Or(p.Protocol, corev1.ProtocolTCP)
			sp := ServicePort{Service: name, PortName: p.Name, Protocol: proto, ClusterIPs: ips, Port: uint16(p.Port),
				Affinity: affinity(svc)}
			if svc.Spec.Type == corev1.ServiceTypeNodePort || svc.Spec.Type == corev1.ServiceTypeLoadBalancer {
				sp.NodePort = uint16(p.NodePort)
			}
			sp.Endpoints = endpoints(bySvc[name], p.Name, proto, node, local)
			st.Services = append(st.Services, sp)
		}
	}
	slices.SortFunc(st.Services, func(a, b ServicePort) int { return cmp.Compare(a.Key(), b.Key()) })
	return st
}

func clusterIPs(svc *corev1.Service) []netip.Addr {
	if svc.Spec.Type == corev1.ServiceTypeExternalName {
		return nil
	}
	raw := svc.Spec.ClusterIPs
	if len(raw) == 0 && svc.Spec.ClusterIP != "" {
		raw = []string{svc.Spec.ClusterIP}
	}
	var ips []netip.Addr
	for _, s := range raw {
		if ip, err := netip.ParseAddr(s); err == nil && ip.Is4() {
			ips = append(ips, ip)
		}
	}
	return ips
}

func affinity(svc *corev1.Service) time.Duration {
	if svc.Spec.SessionAffinity != corev1.ServiceAffinityClientIP {
		return 0
	}
	if c := svc.Spec.SessionAffinityConfig; c != nil && c.ClientIP != nil && c.ClientIP.TimeoutSeconds != nil && *c.ClientIP.TimeoutSeconds > 0 {
		return time.Duration(*c.ClientIP.TimeoutSeconds) * time.Second
	}
	return defaultAffinity
}

// endpoints are the endpoints of a Service's slices that serve its port, sorted.
func endpoints(epSlices []*discoveryv1.EndpointSlice, portName string, proto corev1.Protocol, node string, local bool) []Endpoint {
	var ready, terminating []Endpoint
	seen := map[Endpoint]bool{}
	for _, s := range epSlices {
		port, ok := slicePort(s, portName, proto)
		if !ok {
			continue
		}
		for _, e := range s.Endpoints {
			if len(e.Addresses) == 0 {
				continue
			}
			if local && (e.NodeName == nil || *e.NodeName != node) {
				continue
			}
			ip, err := netip.ParseAddr(e.Addresses[0])
			if err != nil || !ip.Is4() {
				continue
			}
			if ip.IsLoopback() && (e.NodeName == nil || *e.NodeName != node) {
				continue // a wasm pod of another node: only its own node reaches it
			}
			ep := Endpoint{IP: ip, Port: port}
			if seen[ep] {
				continue
			}
			seen[ep] = true
			c := e.Conditions
			switch {
			case c.Ready == nil || *c.Ready:
				ready = append(ready, ep)
			case c.Serving != nil && *c.Serving && c.Terminating != nil && *c.Terminating:
				terminating = append(terminating, ep)
			}
		}
	}
	out := ready
	if len(out) == 0 {
		out = terminating
	}
	slices.SortFunc(out, func(a, b Endpoint) int {
		return cmp.Or(a.IP.Compare(b.IP), cmp.Compare(a.Port, b.Port))
	})
	return out
}

// slicePort finds the slice's port for a Service port: the same name and protocol.
func slicePort(s *discoveryv1.EndpointSlice, name string, proto corev1.Protocol) (uint16, bool) {
	for _, p := range s.Ports {
		pn := ""
		if p.Name != nil {
			pn = *p.Name
		}
		pp := corev1.ProtocolTCP
		if p.Protocol != nil {
			pp = *p.Protocol
		}
		if pn == name && pp == proto && p.Port != nil && *p.Port > 0 && *p.Port < 65536 {
			return uint16(*p.Port), true
		}
	}
	return 0, false
}
