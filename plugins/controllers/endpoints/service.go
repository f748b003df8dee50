package endpoints

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/tugboat-io/tug/plugins/controllers/internal/workload"
	tug "github.com/tugboat-io/tug/sdk/go"
	"github.com/tugboat-io/tug/sdk/go/labels"
)

// PodKey is the key of the related pods (the service's namespace's) both controllers read.
var PodKey = tug.ObjectKey("v1", "Pod")

// headlessLabel marks endpoints of a service without a cluster IP, as kube's controllers do.
const headlessLabel = "service.kubernetes.io/headless"

type service struct {
	Metadata workload.Meta `json:"metadata"`
	Spec     struct {
		Type                     string            `json:"type,omitempty"`
		Selector                 map[string]string `json:"selector,omitempty"`
		ClusterIP                string            `json:"clusterIP,omitempty"`
		IPFamilies               []string          `json:"ipFamilies,omitempty"`
		PublishNotReadyAddresses bool              `json:"publishNotReadyAddresses,omitempty"`
		Ports                    []servicePort     `json:"ports,omitempty"`
	} `json:"spec"`
}

type servicePort struct {
	Name        string                `json:"name,omitempty"`
	Protocol    string                `json:"protocol,omitempty"`
	AppProtocol *string               `json:"appProtocol,omitempty"`
	Port        int32                 `json:"port"`
	TargetPort  *workload.IntOrString `json:"targetPort,omitempty"`
}

// managed reports whether the controllers write the service's endpoints: only a service
// that selects pods has endpoints a controller can know.
func (s *service) managed() bool {
	return s.Spec.Type != "ExternalName" && len(s.Spec.Selector) > 0
}

// headless reports whether the service has no cluster IP.
func (s *service) headless() bool {
	return s.Spec.ClusterIP == "" || s.Spec.ClusterIP == "None"
}

type pod struct {
	Metadata workload.Meta `json:"metadata"`
	Spec     struct {
		NodeName       string         `json:"nodeName,omitempty"`
		Hostname       string         `json:"hostname,omitempty"`
		Subdomain      string         `json:"subdomain,omitempty"`
		Containers     []podContainer `json:"containers,omitempty"`
		InitContainers []podContainer `json:"initContainers,omitempty"`
	} `json:"spec"`
	Status struct {
		Phase      string                `json:"phase,omitempty"`
		PodIP      string                `json:"podIP,omitempty"`
		PodIPs     []struct{ IP string } `json:"podIPs,omitempty"`
		Conditions []workload.Condition  `json:"conditions,omitempty"`
	} `json:"status"`
}

type podContainer struct {
	RestartPolicy string `json:"restartPolicy,omitempty"`
	Ports         []struct {
		Name          string `json:"name,omitempty"`
		ContainerPort int32  `json:"containerPort"`
		Protocol      string `json:"protocol,omitempty"`
	} `json:"ports,omitempty"`
}

func (p *pod) ready() bool {
	for _, c := range p.Status.Conditions {
		if c.Type == "Ready" {
			return c.Status == "True"
		}
	}
	return false
}

func (p *pod) terminating() bool { return p.Metadata.DeletionTimestamp != nil }

// ips are the pod's IPs, primary first.
func (p *pod) ips() []string {
	out := make([]string, 0, max(len(p.Status.PodIPs), 1))
	for _, ip := range p.Status.PodIPs {
		out = append(out, ip.IP)
	}
	if len(out) == 0 && p.Status.PodIP != "" {
		out = append(out, p.Status.PodIP)
	}
	return out
}

// ipOf is the pod's first IP of the family (IPv4 or IPv6), or "".
func (p *pod) ipOf(family string) string {
	for _, ip := range p.ips() {
		if familyOf(ip) == family {
			return ip
		}
	}
	return ""
}

// familyOf is the family of an IP address: only IPv6 has colons.
func familyOf(ip string) string {
	if strings.Contains(ip, ":") {
		return ipv6
	}
	return ipv4
}

// IP families, which are also EndpointSlice address types.
const (
	ipv4 = "IPv4"
	ipv6 = "IPv6"
)

// inEndpoints reports whether the pod has endpoints at all: running or about to (not
// finished), with an IP, and not terminating unless terminating pods are wanted.
func (p *pod) inEndpoints(withTerminating bool) bool {
	if p.Status.Phase == workload.PodSucceeded || p.Status.Phase == workload.PodFailed {
		return false
	}
	if len(p.ips()) == 0 {
		return false
	}
	return withTerminating || !p.terminating()
}

// hostname is the pod's DNS hostname under the service: set only for a pod that names the
// service as its subdomain.
func (p *pod) hostname(s *service) string {
	if p.Spec.Hostname != "" && p.Spec.Subdomain == s.Metadata.Name && p.Metadata.Namespace == s.Metadata.Namespace {
		return p.Spec.Hostname
	}
	return ""
}

func (p *pod) ref(s *service) *objectRef {
	ns := cmp.Or(p.Metadata.Namespace, s.Metadata.Namespace)
	return &objectRef{Kind: "Pod", Namespace: ns, Name: p.Metadata.Name, UID: p.Metadata.UID}
}

type objectRef struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
	UID       string `json:"uid,omitempty"`
}

// port is a service port resolved for one pod.
type port struct {
	name, protocol string
	appProtocol    *string
	port           int32
	index          int // of the service port, which orders ports as the service does
}

func (a port) compare(b port) int {
	return cmp.Or(cmp.Compare(a.index, b.index), cmp.Compare(a.port, b.port))
}

// ports resolves each service port for the pod: a target port by number, or by name among
// the pod's container ports (and its sidecars') of the same protocol. A pod without the
// named port is left out of that port.
func (s *service) ports(p *pod) []port {
	out := make([]port, 0, len(s.Spec.Ports))
	for i, sp := range s.Spec.Ports {
		proto := cmp.Or(sp.Protocol, "TCP")
		var n int32
		switch t := sp.TargetPort; {
		case t == nil || (!t.IsText && t.Int == 0):
			n = sp.Port // what the API server defaults an unset target port to
		case !t.IsText:
			n = t.Int
		default:
			n = p.namedPort(t.Str, proto)
		}
		if n == 0 {
			continue
		}
		out = append(out, port{name: sp.Name, port: n, protocol: proto, appProtocol: sp.AppProtocol, index: i})
	}
	return out
}

// namedPort is the number of the pod's container port of that name and protocol, or 0.
func (p *pod) namedPort(name, proto string) int32 {
	containers := p.Spec.Containers
	for _, c := range p.Spec.InitContainers {
		if c.RestartPolicy == "Always" { // sidecars serve too
			containers = append(slices.Clip(containers), c)
		}
	}
	for _, c := range containers {
		for _, cp := range c.Ports {
			if cp.Name == name && cmp.Or(cp.Protocol, "TCP") == proto {
				return cp.ContainerPort
			}
		}
	}
	return 0
}

// selected decodes the service and the pods its selector picks, sorted by name. It
// returns a nil service when the controllers leave the service's endpoints alone.
func selected(req *tug.ReconcileRequest) (*service, []*pod, error) {
	var s service
	if err := req.DecodeParent(&s); err != nil {
		return nil, nil, err
	}
	if !s.managed() {
		return nil, nil, nil
	}
	sel := &labels.Selector{MatchLabels: s.Spec.Selector}
	var pods []*pod
	for _, raw := range req.Related[PodKey] {
		p := new(pod)
		if err := json.Unmarshal(raw, p); err != nil {
			return nil, nil, fmt.Errorf("decode pod: %w", err)
		}
		if p.Metadata.Namespace != "" && s.Metadata.Namespace != "" && p.Metadata.Namespace != s.Metadata.Namespace {
			continue
		}
		if sel.Matches(p.Metadata.Labels) {
			pods = append(pods, p)
		}
	}
	slices.SortFunc(pods, func(a, b *pod) int { return strings.Compare(a.Metadata.Name, b.Metadata.Name) })
	return &s, pods, nil
}

// meta is the metadata of a declared child.
type meta struct {
	Name      string            `json:"name"`
	Namespace string            `json:"namespace,omitempty"`
	Labels    map[string]string `json:"labels,omitempty"`
}

// childLabels are the service's labels with the headless label as the service has it or
// not, and extra set over them.
func (s *service) childLabels(extra map[string]string) map[string]string {
	l := make(map[string]string, len(s.Metadata.Labels)+len(extra)+1)
	for k, v := range s.Metadata.Labels {
		l[k] = v
	}
	delete(l, headlessLabel)
	if s.headless() {
		l[headlessLabel] = ""
	}
	for k, v := range extra {
		l[k] = v
	}
	return l
}

// key identifies the resolved port: two pods share it when the service port resolves to the
// same number for both.
func (p port) key() string {
	app := ""
	if p.appProtocol != nil {
		app = *p.appProtocol
	}
	return fmt.Sprintf("%d/%s/%d/%s/%s", p.index, p.name, p.port, p.protocol, app)
}
