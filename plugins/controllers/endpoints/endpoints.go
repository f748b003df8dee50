// Package endpoints holds the Endpoints and EndpointSlice controllers' decisions: from a
// Service and the pods of its namespace, the Endpoints object named like the service
// (Reconcile) and the EndpointSlices (ReconcileSlices) that list the pods its selector
// picks, with their addresses, readiness and resolved target ports — as
// kube-controller-manager's endpoint and endpointslice controllers write them.
//
// Both declare their children, so the host creates, updates and deletes to match by name;
// output is sorted throughout, so an unchanged cluster declares byte-identical objects and
// the host writes nothing. A service without a selector, or of type ExternalName, declares
// nothing at all: its endpoints are the user's to write. Services get no status.
package endpoints

import (
	"cmp"
	"slices"
	"strings"

	tug "github.com/tugboat-io/tug/sdk/go"
)

// Endpoints is the v1 Endpoints object the Endpoints controller declares.
type Endpoints struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Metadata   meta     `json:"metadata"`
	Subsets    []Subset `json:"subsets"` // always written, so that an emptied list clears the old one
}

// Subset is addresses that share the same ports.
type Subset struct {
	Addresses         []Address      `json:"addresses,omitempty"`
	NotReadyAddresses []Address      `json:"notReadyAddresses,omitempty"`
	Ports             []EndpointPort `json:"ports,omitempty"`
}

// Address is one pod's address.
type Address struct {
	IP        string     `json:"ip"`
	Hostname  string     `json:"hostname,omitempty"`
	NodeName  string     `json:"nodeName,omitempty"`
	TargetRef *objectRef `json:"targetRef,omitempty"`
}

// EndpointPort is a port of a subset.
type EndpointPort struct {
	Name        string  `json:"name,omitempty"`
	Port        int32   `json:"port"`
	Protocol    string  `json:"protocol,omitempty"`
	AppProtocol *string `json:"appProtocol,omitempty"`
}

// Reconcile decides a Service's Endpoints: one object named like the service, listing the
// addresses of the pods it selects — ready ones under addresses, the others under
// notReadyAddresses (all ready when the service publishes not-ready addresses) — grouped
// into subsets of addresses that serve the same ports.
func Reconcile(req *tug.ReconcileRequest) (*tug.ReconcileResult, error) {
	s, pods, err := selected(req)
	if err != nil || s == nil {
		return &tug.ReconcileResult{}, err
	}
	// Publishing not-ready addresses is for peers that must find each other before they
	// are ready (a StatefulSet's members) — terminating ones included, as kube does.
	tolerate := s.Spec.PublishNotReadyAddresses
	// A port resolved for some pods, and each pod's address under it.
	type portAddrs struct {
		port  port
		addrs []member
	}
	byPort := map[string]*portAddrs{}
	// A headless service without ports still lists its pods, for DNS.
	noPorts := &portAddrs{port: port{index: -1}}
	for _, p := range pods {
		if !p.inEndpoints(tolerate) {
			continue
		}
		ip := p.ipOf(s.family(p))
		if ip == "" {
			continue
		}
		m := member{Address: Address{IP: ip, Hostname: p.hostname(s), NodeName: p.Spec.NodeName, TargetRef: p.ref(s)},
			ready: tolerate || p.ready()}
		if len(s.Spec.Ports) == 0 {
			if s.Spec.ClusterIP == "None" {
				noPorts.addrs = append(noPorts.addrs, m)
			}
			continue
		}
		for _, pt := range s.ports(p) {
			k := pt.key()
			if byPort[k] == nil {
				byPort[k] = &portAddrs{port: pt}
			}
			byPort[k].addrs = append(byPort[k].addrs, m)
		}
	}

	// Ports served by the same addresses share a subset, as kube's RepackSubsets makes them.
	all := make([]*portAddrs, 0, len(byPort)+1)
	for _, pa := range byPort {
		all = append(all, pa)
	}
	if len(noPorts.addrs) > 0 {
		all = append(all, noPorts)
	}
	slices.SortFunc(all, func(a, b *portAddrs) int { return a.port.compare(b.port) })
	var subsets []Subset
	bySet := map[string]int{}
	for _, pa := range all {
		slices.SortFunc(pa.addrs, member.compare)
		k := membersKey(pa.addrs)
		i, ok := bySet[k]
		if !ok {
			i = len(subsets)
			bySet[k] = i
			var ss Subset
			for _, m := range pa.addrs {
				if m.ready {
					ss.Addresses = append(ss.Addresses, m.Address)
				} else {
					ss.NotReadyAddresses = append(ss.NotReadyAddresses, m.Address)
				}
			}
			subsets = append(subsets, ss)
		}
		if pa != noPorts {
			pt := pa.port
			subsets[i].Ports = append(subsets[i].Ports, EndpointPort{Name: pt.name, Port: pt.port, Protocol: pt.protocol, AppProtocol: pt.appProtocol})
		}
	}

	if subsets == nil {
		subsets = []Subset{}
	}
	res := &tug.ReconcileResult{}
	ep := Endpoints{APIVersion: "v1", Kind: "Endpoints",
		Metadata: meta{Name: s.Metadata.Name, Namespace: s.Metadata.Namespace, Labels: s.childLabels(nil)},
		Subsets:  subsets}
	if err := res.AddChild(ep); err != nil {
		return nil, err
	}
	return res, nil
}

// member is a pod's address and whether it counts as ready.
type member struct {
	Address
	ready bool
}

// compare orders addresses by IP, then by pod (host-network pods share their node's IP).
func (a member) compare(b member) int {
	return cmp.Or(strings.Compare(a.IP, b.IP), strings.Compare(a.TargetRef.UID, b.TargetRef.UID),
		strings.Compare(a.TargetRef.Name, b.TargetRef.Name))
}

// membersKey identifies a sorted list of addresses with their readiness.
func membersKey(ms []member) string {
	var b strings.Builder
	for _, m := range ms {
		b.WriteString(m.IP)
		b.WriteByte('/')
		b.WriteString(m.TargetRef.UID)
		b.WriteByte('/')
		b.WriteString(m.TargetRef.Name)
		if m.ready {
			b.WriteString("/r")
		}
		b.WriteByte(',')
	}
	return b.String()
}

// family is the IP family of the address a pod has in the service's Endpoints: the
// service's primary family, else its cluster IP's, else (headless, from an API server that
// does not record families) the pod's own primary IP's.
func (s *service) family(p *pod) string {
	switch {
	case len(s.Spec.IPFamilies) > 0:
		return s.Spec.IPFamilies[0]
	case !s.headless():
		return familyOf(s.Spec.ClusterIP)
	}
	if ips := p.ips(); len(ips) > 0 {
		return familyOf(ips[0])
	}
	return ipv4
}
