package endpoints

import (
	"cmp"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"

	tug "github.com/tugboat-io/tug/sdk/go"
)

// MaxEndpointsPerSlice bounds a slice's endpoints, as kube's controller's default does.
const MaxEndpointsPerSlice = 100

// Labels of the slices, as kube's endpointslice controller sets them.
const (
	LabelServiceName = "kubernetes.io/service-name"
	LabelManagedBy   = "endpointslice.kubernetes.io/managed-by"
	ManagedBy        = "endpointslice-controller.k8s.io"
)

// EndpointSlice is the discovery.k8s.io/v1 EndpointSlice the EndpointSlice controller
// declares.
type EndpointSlice struct {
	APIVersion  string      `json:"apiVersion"`
	Kind        string      `json:"kind"`
	Metadata    meta        `json:"metadata"`
	AddressType string      `json:"addressType"`
	Endpoints   []Endpoint  `json:"endpoints"`
	Ports       []SlicePort `json:"ports"`
}

// Endpoint is one pod in a slice.
type Endpoint struct {
	Addresses  []string   `json:"addresses"`
	Conditions Conditions `json:"conditions"`
	Hostname   string     `json:"hostname,omitempty"`
	TargetRef  *objectRef `json:"targetRef,omitempty"`
	NodeName   string     `json:"nodeName,omitempty"`
}

// Conditions are an endpoint's conditions, all three always set.
type Conditions struct {
	Ready       bool `json:"ready"`
	Serving     bool `json:"serving"`
	Terminating bool `json:"terminating"`
}

// SlicePort is a port of a slice; kube writes the name even when it is empty.
type SlicePort struct {
	Name        string  `json:"name"`
	Port        int32   `json:"port"`
	Protocol    string  `json:"protocol"`
	AppProtocol *string `json:"appProtocol,omitempty"`
}

// ReconcileSlices decides a Service's EndpointSlices: per address type and per set of
// resolved ports, the selected pods' endpoints in slices of at most MaxEndpointsPerSlice,
// named <service>-<hash of the address type, the ports and the slice's index>. Terminating
// pods stay listed, not ready, so that proxies can drain them; an address type without
// endpoints gets one empty placeholder slice, as in kube, so that "no endpoints" is visible.
//
// Endpoints are packed in sorted order, which keeps the output stable for an unchanged
// cluster; a pod added or removed may move the later endpoints of its group between
// slices (kube instead fills existing slices in place, which needs state between
// reconciles).
func ReconcileSlices(req *tug.ReconcileRequest) (*tug.ReconcileResult, error) {
	s, pods, err := selected(req)
	if err != nil || s == nil {
		return &tug.ReconcileResult{}, err
	}
	type group struct {
		addressType string
		ports       []port
		key         string
		endpoints   []Endpoint
	}
	groups := map[string]*group{}
	hasType := map[string]bool{}
	types := s.addressTypes(pods)
	for _, p := range pods {
		if !p.inEndpoints(true) {
			continue
		}
		ports := s.ports(p)
		for _, t := range types {
			ip := p.ipOf(t)
			if ip == "" {
				continue
			}
			k := t + "|" + portsKey(ports)
			g := groups[k]
			if g == nil {
				g = &group{addressType: t, ports: ports, key: k}
				groups[k] = g
				hasType[t] = true
			}
			serving := p.ready()
			g.endpoints = append(g.endpoints, Endpoint{
				Addresses: []string{ip},
				// Ready means "send new connections": never to a terminating pod unless the
				// service publishes every address.
				Conditions: Conditions{Ready: s.Spec.PublishNotReadyAddresses || (serving && !p.terminating()),
					Serving: serving, Terminating: p.terminating()},
				Hostname:  p.hostname(s),
				TargetRef: p.ref(s),
				NodeName:  p.Spec.NodeName,
			})
		}
	}
	for _, t := range types {
		if !hasType[t] {
			k := t + "|"
			groups[k] = &group{addressType: t, key: k, endpoints: []Endpoint{}}
		}
	}

	ordered := make([]*group, 0, len(groups))
	for _, g := range groups {
		ordered = append(ordered, g)
	}
	slices.SortFunc(ordered, func(a, b *group) int { return strings.Compare(a.key, b.key) })
	res := &tug.ReconcileResult{}
	names := map[string]bool{}
	lbls := s.childLabels(map[string]string{LabelServiceName: s.Metadata.Name, LabelManagedBy: ManagedBy})
	for _, g := range ordered {
		slices.SortFunc(g.endpoints, func(a, b Endpoint) int {
			return cmp.Or(strings.Compare(a.Addresses[0], b.Addresses[0]), strings.Compare(a.TargetRef.Name, b.TargetRef.Name))
		})
		ports := make([]SlicePort, 0, len(g.ports))
		for _, p := range g.ports {
			ports = append(ports, SlicePort{Name: p.name, Port: p.port, Protocol: p.protocol, AppProtocol: p.appProtocol})
		}
		rest := g.endpoints
		for i := 0; ; i++ {
			n := min(len(rest), MaxEndpointsPerSlice)
			err := res.AddChild(EndpointSlice{APIVersion: "discovery.k8s.io/v1", Kind: "EndpointSlice",
				Metadata:    meta{Name: sliceName(s.Metadata.Name, g.key, i, names), Namespace: s.Metadata.Namespace, Labels: lbls},
				AddressType: g.addressType, Endpoints: rest[:n:n], Ports: ports})
			if err != nil {
				return nil, err
			}
			if rest = rest[n:]; len(rest) == 0 {
				break
			}
		}
	}
	return res, nil
}

// addressTypes are the address types the service's slices list: its IP families, else its
// cluster IP's. A headless service from an API server that records no families lists the
// families its pods have (IPv4 when none has an IP) — kube would list both, leaving an
// empty IPv6 placeholder in every single-stack cluster.
func (s *service) addressTypes(pods []*pod) []string {
	var types []string
	switch {
	case len(s.Spec.IPFamilies) > 0:
		types = slices.Clone(s.Spec.IPFamilies)
	case !s.headless():
		types = []string{familyOf(s.Spec.ClusterIP)}
	default:
		for _, p := range pods {
			for _, ip := range p.ips() {
				if f := familyOf(ip); !slices.Contains(types, f) {
					types = append(types, f)
				}
			}
		}
	}
	if len(types) == 0 {
		types = []string{ipv4}
	}
	slices.Sort(types)
	return slices.Compact(types)
}

func portsKey(ports []port) string {
	keys := make([]string, len(ports))
	for i, p := range ports {
		keys[i] = p.key()
	}
	return strings.Join(keys, ",")
}

// sliceName is a stable name for the i-th slice of a group: the service's name and a short
// hash, in the consonants and digits kube's generated names use (so it never spells a
// word); on the unlikely collision with a name already taken, the next free variant.
func sliceName(service, groupKey string, i int, taken map[string]bool) string {
	for salt := 0; ; salt++ {
		h := fnv.New32a()
		h.Write([]byte(groupKey + "#" + strconv.Itoa(i) + "#" + strconv.Itoa(salt)))
		name := service + "-" + safeSuffix(h.Sum32())
		if !taken[name] {
			taken[name] = true
			return name
		}
	}
}

// safeSuffix writes v in base 27 over kube's alphabet for generated names, five
// characters as theirs are.
func safeSuffix(v uint32) string {
	const alphabet = "bcdfghjklmnpqrstvwxz2456789"
	var b [5]byte
	for i := range b {
		b[i] = alphabet[v%uint32(len(alphabet))]
		v /= uint32(len(alphabet))
	}
	return string(b[:])
}
