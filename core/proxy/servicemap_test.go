package proxy

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func svc(name string, mut func(*corev1.Service)) *corev1.Service {
	s := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, ClusterIP: "10.96.0.10", ClusterIPs: []string{"10.96.0.10"},
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP, NodePort: 30080}}}}
	if mut != nil {
		mut(s)
	}
	return s
}

type ep struct {
	ip                          string
	ready, serving, terminating *bool
	node                        string
}

func slice(svcName, name string, port int32, eps ...ep) *discoveryv1.EndpointSlice {
	s := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name,
		Labels: map[string]string{discoveryv1.LabelServiceName: svcName}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To(port), Protocol: ptr.To(corev1.ProtocolTCP)}}}
	for _, e := range eps {
		d := discoveryv1.Endpoint{Addresses: []string{e.ip},
			Conditions: discoveryv1.EndpointConditions{Ready: e.ready, Serving: e.serving, Terminating: e.terminating}}
		if e.node != "" {
			d.NodeName = ptr.To(e.node)
		}
		s.Endpoints = append(s.Endpoints, d)
	}
	return s
}

func eps(addrs ...string) []Endpoint {
	var out []Endpoint
	for _, a := range addrs {
		ap := netip.MustParseAddrPort(a)
		out = append(out, Endpoint{IP: ap.Addr(), Port: ap.Port()})
	}
	return out
}

func TestBuildState(t *testing.T) {
	yes, no := ptr.To(true), ptr.To(false)
	for _, tt := range []struct {
		name   string
		svcs   []*corev1.Service
		slices []*discoveryv1.EndpointSlice
		check  func(t *testing.T, st State)
	}{
		{"ready endpoints sorted, unready and other services' left out, duplicates once",
			[]*corev1.Service{svc("web", nil)},
			[]*discoveryv1.EndpointSlice{
				slice("web", "a", 8080, ep{ip: "10.88.0.9"}, ep{ip: "10.88.0.3", ready: yes}, ep{ip: "10.88.0.4", ready: no}),
				slice("web", "b", 8080, ep{ip: "10.88.0.3", ready: yes}),
				slice("other", "c", 8080, ep{ip: "10.88.0.7"}),
			},
			func(t *testing.T, st State) {
				if len(st.Services) != 1 || !slices.Equal(st.Services[0].Endpoints, eps("10.88.0.3:8080", "10.88.0.9:8080")) {
					t.Errorf("got %+v", st.Services)
				}
				sp := st.Services[0]
				if sp.Key() != "ns/web:http/TCP" || sp.Port != 80 || sp.NodePort != 0 || sp.ClusterIPs[0] != netip.MustParseAddr("10.96.0.10") {
					t.Errorf("service port %+v", sp)
				}
			}},
		{"terminating serving endpoints serve when none is ready",
			[]*corev1.Service{svc("web", nil)},
			[]*discoveryv1.EndpointSlice{slice("web", "a", 8080,
				ep{ip: "10.88.0.5", ready: no, serving: yes, terminating: yes},
				ep{ip: "10.88.0.6", ready: no, serving: no, terminating: yes})},
			func(t *testing.T, st State) {
				if !slices.Equal(st.Services[0].Endpoints, eps("10.88.0.5:8080")) {
					t.Errorf("got %v", st.Services[0].Endpoints)
				}
			}},
		{"no endpoint at all still programs the port (to reject)",
			[]*corev1.Service{svc("web", nil)}, nil,
			func(t *testing.T, st State) {
				if len(st.Services) != 1 || len(st.Services[0].Endpoints) != 0 {
					t.Errorf("got %+v", st.Services)
				}
			}},
		{"headless and ExternalName get nothing",
			[]*corev1.Service{
				svc("headless", func(s *corev1.Service) { s.Spec.ClusterIP, s.Spec.ClusterIPs = "None", []string{"None"} }),
				svc("ext", func(s *corev1.Service) {
					s.Spec.Type, s.Spec.ClusterIP, s.Spec.ClusterIPs, s.Spec.ExternalName = corev1.ServiceTypeExternalName, "", nil, "example.com"
				}),
			}, nil,
			func(t *testing.T, st State) {
				if len(st.Services) != 0 {
					t.Errorf("got %+v", st.Services)
				}
			}},
		{"NodePort, affinity with default and set timeouts, UDP port",
			[]*corev1.Service{
				svc("np", func(s *corev1.Service) {
					s.Spec.Type = corev1.ServiceTypeNodePort
					s.Spec.SessionAffinity = corev1.ServiceAffinityClientIP
				}),
				svc("dns", func(s *corev1.Service) {
					s.Spec.Ports = []corev1.ServicePort{{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP}}
					s.Spec.SessionAffinity = corev1.ServiceAffinityClientIP
					s.Spec.SessionAffinityConfig = &corev1.SessionAffinityConfig{ClientIP: &corev1.ClientIPConfig{TimeoutSeconds: ptr.To[int32](60)}}
				}),
			}, nil,
			func(t *testing.T, st State) {
				if len(st.Services) != 2 {
					t.Fatalf("got %+v", st.Services)
				}
				dns, np := st.Services[0], st.Services[1]
				if np.NodePort != 30080 || np.Affinity != defaultAffinity {
					t.Errorf("np: %+v", np)
				}
				if dns.Protocol != corev1.ProtocolUDP || dns.Affinity != time.Minute {
					t.Errorf("dns: %+v", dns)
				}
			}},
		{"internalTrafficPolicy Local keeps this node's endpoints",
			[]*corev1.Service{svc("local", func(s *corev1.Service) {
				s.Spec.InternalTrafficPolicy = ptr.To(corev1.ServiceInternalTrafficPolicyLocal)
			})},
			[]*discoveryv1.EndpointSlice{slice("local", "a", 53, ep{ip: "10.88.0.1", node: "node-a"}, ep{ip: "10.89.0.1", node: "node-b"}, ep{ip: "10.90.0.1"})},
			func(t *testing.T, st State) {
				if !slices.Equal(st.Services[0].Endpoints, eps("10.88.0.1:53")) {
					t.Errorf("got %v", st.Services[0].Endpoints)
				}
			}},
		{"a wasm pod's loopback endpoint serves only on its own node",
			[]*corev1.Service{svc("wasm", nil)},
			[]*discoveryv1.EndpointSlice{slice("wasm", "a", 8080, ep{ip: "127.100.0.2", node: "node-a"}, ep{ip: "127.100.0.3", node: "node-b"},
				ep{ip: "127.100.0.4"})},
			func(t *testing.T, st State) {
				if !slices.Equal(st.Services[0].Endpoints, eps("127.100.0.2:8080")) {
					t.Errorf("got %v", st.Services[0].Endpoints)
				}
			}},
		{"a slice port of another name or protocol does not serve",
			[]*corev1.Service{svc("web", nil)},
			[]*discoveryv1.EndpointSlice{func() *discoveryv1.EndpointSlice {
				s := slice("web", "a", 8080, ep{ip: "10.88.0.3"})
				s.Ports[0].Protocol = ptr.To(corev1.ProtocolUDP)
				return s
			}()},
			func(t *testing.T, st State) {
				if len(st.Services[0].Endpoints) != 0 {
					t.Errorf("got %v", st.Services[0].Endpoints)
				}
			}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.check(t, BuildState("node-a", tt.svcs, tt.slices))
		})
	}
}
