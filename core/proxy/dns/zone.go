package dns

import (
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/labels"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
)

// zone answers questions about names in the cluster zone from the listers. It reads them and
// nothing else, so an answer depends only on the question and the caches' contents.
type zone struct {
	origin   string // lowercase and fully qualified: "cluster.local."
	ttl      uint32
	soa      *dns.SOA // copied into each response: responses are not to share records
	services corelisters.ServiceLister
	slices   discoverylisters.EndpointSliceLister
}

func newZone(origin string, ttl time.Duration, services corelisters.ServiceLister, endpointSlices discoverylisters.EndpointSliceLister) *zone {
	secs := uint32(ttl / time.Second)
	return &zone{
		origin: origin,
		ttl:    secs,
		soa: &dns.SOA{
			Hdr:  dns.RR_Header{Name: origin, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: secs},
			Ns:   "ns.dns." + origin,
			Mbox: "hostmaster." + origin,
			// Nothing transfers the zone, so the serial only has to look like one.
			Serial:  uint32(time.Now().Unix()),
			Refresh: 7200,
			Retry:   1800,
			Expire:  86400,
			// Resolvers cache a denial for min(SOA TTL, minimum) (RFC 2308): as long as an
			// answer, so a Service just created resolves as soon as one just deleted stops.
			Minttl: secs,
		},
		services: services,
		slices:   endpointSlices,
	}
}

// result is the zone's answer to one question.
type result struct {
	rcode  int
	answer []dns.RR
	ns     []dns.RR
	extra  []dns.RR
	// chase is the target of the CNAME in answer, whose records of the asked type belong in
	// the answer too; the server looks them up, in the zone or upstream.
	chase string
}

// node is what the zone holds at one name: its records of every type, with the owner spelled
// as asked, and the additional records that go with its SRV records.
type node struct {
	rrs   []dns.RR
	extra []dns.RR
}

// lookup answers q, whose name is in the zone.
func (z *zone) lookup(q dns.Question) result {
	n, ok := z.node(q.Name)
	if !ok {
		return result{rcode: dns.RcodeNameError, ns: []dns.RR{dns.Copy(z.soa)}}
	}
	// A CNAME is the only record at its name (RFC 1034 3.6.2) and answers every type.
	if len(n.rrs) == 1 && n.rrs[0].Header().Rrtype == dns.TypeCNAME && q.Qtype != dns.TypeCNAME {
		r := result{answer: n.rrs}
		if q.Qtype != dns.TypeANY {
			r.chase = n.rrs[0].(*dns.CNAME).Target
		}
		return r
	}
	var answer []dns.RR
	for _, rr := range n.rrs {
		if q.Qtype == dns.TypeANY || rr.Header().Rrtype == q.Qtype {
			answer = append(answer, rr)
		}
	}
	if len(answer) == 0 { // NODATA: the name exists without records of this type
		return result{ns: []dns.RR{dns.Copy(z.soa)}}
	}
	r := result{answer: answer}
	if q.Qtype == dns.TypeSRV || q.Qtype == dns.TypeANY {
		r.extra = n.extra
	}
	return r
}

// node finds what the zone holds at qname, and whether the name exists. Names are
// <labels>.<zone> and read right to left:
//
//	<zone>                                 SOA
//	dns-version.<zone>                     TXT
//	svc.<zone>, <ns>.svc.<zone>            no records (the second exists if ns has Services)
//	<svc>.<ns>.svc.<zone>                  A/AAAA or CNAME
//	<endpoint>.<svc>.<ns>.svc.<zone>       A/AAAA (headless Services)
//	_<proto>.<svc>.<ns>.svc.<zone>         no records (exists if a named port has proto)
//	_<port>._<proto>.<svc>.<ns>.svc.<zone> SRV
//	pod.<zone>, <ns>.pod.<zone>            no records
//	<a-b-c-d>.<ns>.pod.<zone>              A/AAAA
func (z *zone) node(qname string) (node, bool) {
	name := dns.CanonicalName(qname)
	if !dns.IsSubDomain(z.origin, name) {
		return node{}, false
	}
	owner := dns.Fqdn(qname)
	l := dns.SplitDomainName(name[:len(name)-len(z.origin)])
	n := len(l)
	switch {
	case n == 0:
		soa := dns.Copy(z.soa)
		soa.Header().Name = owner
		return node{rrs: []dns.RR{soa}}, true
	case n == 1 && l[0] == "dns-version":
		return node{rrs: []dns.RR{&dns.TXT{Hdr: z.hdr(owner, dns.TypeTXT), Txt: []string{SpecVersion}}}}, true
	case l[n-1] == "svc":
		return z.svcNode(owner, l[:n-1])
	case l[n-1] == "pod":
		return z.podNode(owner, l[:n-1])
	}
	return node{}, false
}

// svcNode finds the records at <l>.svc.<zone>.
func (z *zone) svcNode(owner string, l []string) (node, bool) {
	switch len(l) {
	case 0:
		return node{}, true
	case 1:
		list, _ := z.services.Services(l[0]).List(labels.Everything())
		return node{}, len(list) > 0
	case 2:
		return z.serviceNode(owner, l[1], l[0])
	case 3:
		if proto, ok := strings.CutPrefix(l[0], "_"); ok {
			return z.protoNode(l[2], l[1], proto)
		}
		return z.endpointNode(owner, l[2], l[1], l[0])
	case 4:
		port, ok1 := strings.CutPrefix(l[0], "_")
		proto, ok2 := strings.CutPrefix(l[1], "_")
		if !ok1 || !ok2 {
			return node{}, false
		}
		return z.srvNode(owner, l[3], l[2], port, proto)
	}
	return node{}, false
}

// serviceNode finds the records at <name>.<ns>.svc.<zone>.
func (z *zone) serviceNode(owner, ns, name string) (node, bool) {
	svc, ok := z.service(ns, name)
	if !ok {
		return node{}, false
	}
	switch {
	case svc.Spec.Type == corev1.ServiceTypeExternalName:
		target := dns.CanonicalName(svc.Spec.ExternalName)
		if _, ok := dns.IsDomainName(target); !ok || target == "." {
			return node{}, true // validation forbids it; a name without records is all it can be
		}
		return node{rrs: []dns.RR{&dns.CNAME{Hdr: z.hdr(owner, dns.TypeCNAME), Target: target}}}, true
	case headless(svc):
		eps := z.endpoints(svc)
		if len(eps) == 0 {
			return node{}, false
		}
		var rrs []dns.RR
		seen := map[netip.Addr]bool{}
		for _, ep := range eps {
			if !seen[ep.addr] {
				seen[ep.addr] = true
				rrs = append(rrs, z.addrRR(owner, ep.addr))
			}
		}
		return node{rrs: rrs}, true
	default:
		var rrs []dns.RR
		for _, a := range clusterIPs(svc) {
			rrs = append(rrs, z.addrRR(owner, a))
		}
		return node{rrs: rrs}, true
	}
}

// endpointNode finds the records at <ep>.<name>.<ns>.svc.<zone>: the addresses of the headless
// Service's ready endpoints named ep.
func (z *zone) endpointNode(owner, ns, name, ep string) (node, bool) {
	svc, ok := z.service(ns, name)
	if !ok || !headless(svc) {
		return node{}, false
	}
	var rrs []dns.RR
	for _, e := range z.endpoints(svc) {
		if e.name == ep {
			rrs = append(rrs, z.addrRR(owner, e.addr))
		}
	}
	return node{rrs: rrs}, len(rrs) > 0
}

// protoNode says whether _<proto>.<name>.<ns>.svc.<zone> exists: it is the parent of SRV
// names, so it does when one of them does.
func (z *zone) protoNode(ns, name, proto string) (node, bool) {
	svc, ok := z.service(ns, name)
	if !ok {
		return node{}, false
	}
	for _, p := range z.namedPorts(svc) {
		if p.proto == proto {
			return node{}, true
		}
	}
	return node{}, false
}

// srvNode finds the SRV records at _<port>._<proto>.<name>.<ns>.svc.<zone>.
func (z *zone) srvNode(owner, ns, name, port, proto string) (node, bool) {
	svc, ok := z.service(ns, name)
	if !ok || svc.Spec.Type == corev1.ServiceTypeExternalName {
		return node{}, false
	}
	svcName := name + "." + ns + ".svc." + z.origin
	var n node
	if !headless(svc) {
		for _, p := range svc.Spec.Ports {
			if p.Name == port && protoName(p.Protocol) == proto {
				n.rrs = append(n.rrs, z.srvRR(owner, uint16(p.Port), svcName))
				for _, a := range clusterIPs(svc) {
					n.extra = append(n.extra, z.addrRR(svcName, a))
				}
				break
			}
		}
		return n, len(n.rrs) > 0
	}
	// Headless: clients connect to the endpoints themselves, so each record carries the port
	// its EndpointSlice says the endpoint listens on (the Service's targetPort).
	type target struct {
		name string
		port uint16
	}
	seenSRV := map[target]bool{}
	seenAddr := map[string]bool{}
	for _, ep := range z.endpoints(svc) {
		for _, p := range ep.ports {
			if p.name != port || p.proto != proto {
				continue
			}
			epName := ep.name + "." + svcName
			if t := (target{epName, p.port}); !seenSRV[t] {
				seenSRV[t] = true
				n.rrs = append(n.rrs, z.srvRR(owner, p.port, epName))
			}
			if k := epName + " " + ep.addr.String(); !seenAddr[k] {
				seenAddr[k] = true
				n.extra = append(n.extra, z.addrRR(epName, ep.addr))
			}
		}
	}
	// Equal shares (RFC 2782 weights) so that clients spread over the endpoints.
	for _, rr := range n.rrs {
		rr.(*dns.SRV).Weight = uint16(max(1, 100/len(n.rrs)))
	}
	return n, len(n.rrs) > 0
}

// podNode finds the records at <l>.pod.<zone>. Any namespace and any address are accepted,
// as kube-dns did and CoreDNS's "pods insecure" does: the name only spells an address.
func (z *zone) podNode(owner string, l []string) (node, bool) {
	switch len(l) {
	case 0, 1:
		return node{}, true
	case 2:
		if a, ok := undash(l[0]); ok {
			return node{rrs: []dns.RR{z.addrRR(owner, a)}}, true
		}
	}
	return node{}, false
}

// ptr answers a PTR question for a cluster IP or a headless Service's endpoint; ok is false
// for any other address, which the server forwards.
func (z *zone) ptr(q dns.Question) (r result, ok bool) {
	addr, ok := reverseAddr(dns.CanonicalName(q.Name))
	if !ok {
		return result{}, false
	}
	services, _ := z.services.List(labels.Everything())
	owner := dns.Fqdn(q.Name)
	for _, svc := range services {
		svcName := svc.Name + "." + svc.Namespace + ".svc." + z.origin
		if !headless(svc) {
			for _, a := range clusterIPs(svc) {
				if a == addr {
					r.answer = append(r.answer, z.ptrRR(owner, svcName))
				}
			}
			continue
		}
		for _, ep := range z.endpoints(svc) {
			if ep.addr == addr {
				r.answer = append(r.answer, z.ptrRR(owner, ep.name+"."+svcName))
			}
		}
	}
	return r, len(r.answer) > 0
}

// service gets the Service ns/name; names in the cluster are lowercase, as the caller's are.
func (z *zone) service(ns, name string) (*corev1.Service, bool) {
	svc, err := z.services.Services(ns).Get(name)
	return svc, err == nil
}

// endpoint is one address of a Service's ready endpoint.
type endpoint struct {
	name  string // its hostname, or its address with dashes
	addr  netip.Addr
	ports []port // of its EndpointSlice
}

type port struct {
	name  string
	proto string // lowercase: tcp, udp, sctp
	port  uint16
}

// endpoints lists the ready endpoints of svc's EndpointSlices, once each: an endpoint may be
// in two slices for a while when the controller moves it.
func (z *zone) endpoints(svc *corev1.Service) []endpoint {
	sel := labels.SelectorFromSet(labels.Set{discoveryv1.LabelServiceName: svc.Name})
	list, _ := z.slices.EndpointSlices(svc.Namespace).List(sel)
	var eps []endpoint
	seen := map[string]int{}
	for _, sl := range list {
		if sl.AddressType != discoveryv1.AddressTypeIPv4 && sl.AddressType != discoveryv1.AddressTypeIPv6 {
			continue // FQDN slices name no address
		}
		ports := slicePorts(sl)
		for _, e := range sl.Endpoints {
			// The specification's "ready"; publishNotReadyAddresses is its tolerate-unready.
			if e.Conditions.Ready != nil && !*e.Conditions.Ready && !svc.Spec.PublishNotReadyAddresses {
				continue
			}
			for _, s := range e.Addresses {
				a, err := netip.ParseAddr(s)
				if err != nil || a.Zone() != "" {
					continue
				}
				a = a.Unmap()
				name := dash(a)
				if e.Hostname != nil && *e.Hostname != "" {
					name = strings.ToLower(*e.Hostname)
				}
				key := name + " " + a.String()
				if i, ok := seen[key]; ok {
					eps[i].ports = mergePorts(eps[i].ports, ports)
					continue
				}
				seen[key] = len(eps)
				eps = append(eps, endpoint{name: name, addr: a, ports: ports})
			}
		}
	}
	return eps
}

// namedPorts are the ports that have SRV records: the Service's named ports, or for a headless
// Service those of its ready endpoints.
func (z *zone) namedPorts(svc *corev1.Service) []port {
	switch {
	case svc.Spec.Type == corev1.ServiceTypeExternalName:
		return nil
	case headless(svc):
		var ps []port
		for _, ep := range z.endpoints(svc) {
			ps = mergePorts(ps, ep.ports)
		}
		return ps
	}
	var ps []port
	for _, p := range svc.Spec.Ports {
		if p.Name != "" {
			ps = append(ps, port{name: p.Name, proto: protoName(p.Protocol), port: uint16(p.Port)})
		}
	}
	return ps
}

func slicePorts(sl *discoveryv1.EndpointSlice) []port {
	var ps []port
	for _, p := range sl.Ports {
		// Unnamed ports have no SRV record; a nil port means "all ports" and has no number.
		if p.Name == nil || *p.Name == "" || p.Port == nil {
			continue
		}
		var proto corev1.Protocol
		if p.Protocol != nil {
			proto = *p.Protocol
		}
		ps = append(ps, port{name: *p.Name, proto: protoName(proto), port: uint16(*p.Port)})
	}
	return ps
}

func mergePorts(have, more []port) []port {
	have = slices.Clip(have) // have may be another endpoint's: append must copy, not share
	for _, p := range more {
		dup := false
		for _, h := range have {
			dup = dup || h == p
		}
		if !dup {
			have = append(have, p)
		}
	}
	return have
}

// protoName is a port's protocol as SRV names spell it; the API's default is TCP.
func protoName(p corev1.Protocol) string {
	if p == "" {
		return "tcp"
	}
	return strings.ToLower(string(p))
}

func headless(svc *corev1.Service) bool {
	return svc.Spec.Type != corev1.ServiceTypeExternalName && svc.Spec.ClusterIP == corev1.ClusterIPNone
}

// clusterIPs are the Service's virtual addresses, of one or both families.
func clusterIPs(svc *corev1.Service) []netip.Addr {
	ips := svc.Spec.ClusterIPs
	if len(ips) == 0 && svc.Spec.ClusterIP != "" {
		ips = []string{svc.Spec.ClusterIP}
	}
	var out []netip.Addr
	for _, s := range ips {
		if a, err := netip.ParseAddr(s); err == nil {
			out = append(out, a.Unmap())
		}
	}
	return out
}

func (z *zone) hdr(owner string, t uint16) dns.RR_Header {
	return dns.RR_Header{Name: owner, Rrtype: t, Class: dns.ClassINET, Ttl: z.ttl}
}

func (z *zone) addrRR(owner string, a netip.Addr) dns.RR {
	if a.Is4() {
		return &dns.A{Hdr: z.hdr(owner, dns.TypeA), A: a.AsSlice()}
	}
	return &dns.AAAA{Hdr: z.hdr(owner, dns.TypeAAAA), AAAA: a.AsSlice()}
}

func (z *zone) srvRR(owner string, port uint16, target string) dns.RR {
	return &dns.SRV{Hdr: z.hdr(owner, dns.TypeSRV), Priority: 0, Weight: 100, Port: port, Target: target}
}

func (z *zone) ptrRR(owner, target string) dns.RR {
	return &dns.PTR{Hdr: z.hdr(owner, dns.TypePTR), Ptr: target}
}

// dash writes an address as one DNS label: 10.1.2.3 is 10-1-2-3 and fd00::1 is fd00--1.
func dash(a netip.Addr) string {
	if a.Is4() {
		return strings.ReplaceAll(a.String(), ".", "-")
	}
	return strings.ReplaceAll(a.String(), ":", "-")
}

// undash reads a label written by dash.
func undash(label string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(strings.ReplaceAll(label, "-", ".")); err == nil && a.Is4() {
		return a, true
	}
	if a, err := netip.ParseAddr(strings.ReplaceAll(label, "-", ":")); err == nil && a.Is6() && a.Zone() == "" && !a.Is4In6() {
		return a, true
	}
	return netip.Addr{}, false
}

// reverseAddr reads the address a reverse name stands for: d.c.b.a.in-addr.arpa. or the 32
// nibbles of an IPv6 address under ip6.arpa. Shorter names are networks, not addresses.
func reverseAddr(name string) (netip.Addr, bool) {
	if rest, ok := strings.CutSuffix(name, ".in-addr.arpa."); ok {
		l := dns.SplitDomainName(rest)
		if len(l) != 4 {
			return netip.Addr{}, false
		}
		a, err := netip.ParseAddr(l[3] + "." + l[2] + "." + l[1] + "." + l[0])
		return a, err == nil && a.Is4()
	}
	if rest, ok := strings.CutSuffix(name, ".ip6.arpa."); ok {
		l := dns.SplitDomainName(rest)
		if len(l) != 32 {
			return netip.Addr{}, false
		}
		var b [16]byte
		for i, nib := range l {
			if len(nib) != 1 {
				return netip.Addr{}, false
			}
			v := strings.IndexByte("0123456789abcdef", nib[0])
			if v < 0 {
				return netip.Addr{}, false
			}
			// l[0] is the last nibble of the address.
			pos := 31 - i
			if pos%2 == 0 {
				b[pos/2] |= byte(v) << 4
			} else {
				b[pos/2] |= byte(v)
			}
		}
		// Kept as 16 bytes: ::ffff:10.0.0.1 is not the name of 10.0.0.1.
		return netip.AddrFrom16(b), true
	}
	return netip.Addr{}, false
}
