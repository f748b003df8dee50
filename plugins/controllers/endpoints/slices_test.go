package endpoints_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/tugboat-io/tug/plugins/controllers/endpoints"
	"github.com/tugboat-io/tug/plugins/controllers/internal/testutil"
	tug "github.com/tugboat-io/tug/sdk/go"
)

// declaredSlices are the EndpointSlices a result declares, in its order.
func declaredSlices(t *testing.T, res *tug.ReconcileResult) []endpoints.EndpointSlice {
	t.Helper()
	list, ok := res.Children["discovery.k8s.io/v1/EndpointSlice"]
	if !ok || len(res.Children) != 1 {
		t.Fatalf("result declares %v, want EndpointSlices only", res.Children)
	}
	if len(res.Creates)+len(res.Updates)+len(res.Deletes) != 0 || res.Status != nil {
		t.Fatalf("result acts or sets a status: %+v", res)
	}
	out := make([]endpoints.EndpointSlice, len(list))
	for i, raw := range list {
		if err := json.Unmarshal(raw, &out[i]); err != nil {
			t.Fatal(err)
		}
		s := out[i]
		if !strings.HasPrefix(s.Metadata.Name, "web-") || s.Metadata.Labels[endpoints.LabelServiceName] != "web" ||
			s.Metadata.Labels[endpoints.LabelManagedBy] != endpoints.ManagedBy || s.Metadata.Labels["team"] != "a" {
			t.Fatalf("slice %s: name or labels wrong: %+v", raw, s.Metadata)
		}
		if s.Endpoints == nil || s.Ports == nil {
			t.Fatalf("slice %s leaves out endpoints or ports", raw)
		}
		if len(s.Endpoints) > endpoints.MaxEndpointsPerSlice {
			t.Fatalf("slice %s has %d endpoints", s.Metadata.Name, len(s.Endpoints))
		}
	}
	return out
}

// sliceSummary writes slices compactly: "IPv4 [ip/pod r,s,t …] ports=[name:port …]", with
// the conditions ready, serving, terminating as r/s/t or -.
func sliceSummary(ss []endpoints.EndpointSlice) string {
	flag := func(b bool, c string) string {
		if b {
			return c
		}
		return "-"
	}
	var out []string
	for _, s := range ss {
		var eps, ports []string
		for _, e := range s.Endpoints {
			c := e.Conditions
			eps = append(eps, fmt.Sprintf("%s/%s %s%s%s", strings.Join(e.Addresses, ","), e.TargetRef.Name, flag(c.Ready, "r"), flag(c.Serving, "s"), flag(c.Terminating, "t")))
		}
		for _, p := range s.Ports {
			ports = append(ports, fmt.Sprintf("%s:%d", p.Name, p.Port))
		}
		out = append(out, fmt.Sprintf("%s [%s] ports=[%s]", s.AddressType, strings.Join(eps, " "), strings.Join(ports, " ")))
	}
	return strings.Join(out, "; ")
}

func TestEndpointSlices(t *testing.T) {
	headless := func(spec string) string {
		return strings.Replace(svc(spec), `"clusterIP":"10.96.0.10"`, `"clusterIP":"None"`, 1)
	}
	cases := []struct {
		name, service string
		pods          []string
		want          string
	}{{
		name:    "conditions: ready, not ready, terminating pods stay listed",
		service: svc(httpPorts),
		pods: []string{
			pod("ready", podOpts{ip: "10.0.0.1", ready: true}),
			pod("slow", podOpts{ip: "10.0.0.2"}),
			pod("draining", podOpts{ip: "10.0.0.3", ready: true, terminating: true}),
			pod("gone", podOpts{ip: "10.0.0.4", terminating: true}),
			pod("done", podOpts{ip: "10.0.0.5", phase: "Succeeded"}),
			pod("no-ip", podOpts{ready: true}),
		},
		want: "IPv4 [10.0.0.1/ready rs- 10.0.0.2/slow --- 10.0.0.3/draining -st 10.0.0.4/gone --t] ports=[http:8080]",
	}, {
		name:    "publishNotReadyAddresses makes every endpoint ready",
		service: svc(`,"publishNotReadyAddresses":true` + httpPorts),
		pods: []string{
			pod("slow", podOpts{ip: "10.0.0.2"}),
			pod("draining", podOpts{ip: "10.0.0.3", ready: true, terminating: true}),
		},
		want: "IPv4 [10.0.0.2/slow r-- 10.0.0.3/draining rst] ports=[http:8080]",
	}, {
		name:    "no pods: one empty placeholder",
		service: svc(httpPorts),
		want:    "IPv4 [] ports=[]",
	}, {
		name:    "pods with different resolved ports go to different slices",
		service: svc(`,"ports":[{"name":"web","port":80,"targetPort":"http"}]`),
		pods: []string{
			pod("a", podOpts{ip: "10.0.0.1", ready: true, spec: `,"containers":[{"name":"c","ports":[{"name":"http","containerPort":8080}]}]`}),
			pod("b", podOpts{ip: "10.0.0.2", ready: true, spec: `,"containers":[{"name":"c","ports":[{"name":"http","containerPort":9090}]}]`}),
			pod("c", podOpts{ip: "10.0.0.3", ready: true}),
		},
		want: "IPv4 [10.0.0.3/c rs-] ports=[]; IPv4 [10.0.0.1/a rs-] ports=[web:8080]; IPv4 [10.0.0.2/b rs-] ports=[web:9090]",
	}, {
		name:    "dual-stack service: a slice per family",
		service: svc(`,"ipFamilies":["IPv4","IPv6"]` + httpPorts),
		pods: []string{
			pod("dual", podOpts{ip: "10.0.0.1", ips: `[{"ip":"10.0.0.1"},{"ip":"fd00::1"}]`, ready: true}),
			pod("v4", podOpts{ip: "10.0.0.2", ready: true}),
		},
		want: "IPv4 [10.0.0.1/dual rs- 10.0.0.2/v4 rs-] ports=[http:8080]; IPv6 [fd00::1/dual rs-] ports=[http:8080]",
	}, {
		name:    "dual-stack service without IPv6 pods: an IPv6 placeholder",
		service: svc(`,"ipFamilies":["IPv6","IPv4"]` + httpPorts),
		pods:    []string{pod("v4", podOpts{ip: "10.0.0.2", ready: true})},
		want:    "IPv4 [10.0.0.2/v4 rs-] ports=[http:8080]; IPv6 [] ports=[]",
	}, {
		name:    "single-stack service lists only its family",
		service: svc(httpPorts),
		pods:    []string{pod("dual", podOpts{ip: "10.0.0.1", ips: `[{"ip":"10.0.0.1"},{"ip":"fd00::1"}]`, ready: true})},
		want:    "IPv4 [10.0.0.1/dual rs-] ports=[http:8080]",
	}, {
		name:    "headless service without families takes its pods' families",
		service: headless(httpPorts),
		pods: []string{
			pod("v6", podOpts{ip: "fd00::2", ready: true}),
			pod("dual", podOpts{ip: "fd00::1", ips: `[{"ip":"fd00::1"},{"ip":"10.0.0.1"}]`, ready: true}),
		},
		want: "IPv4 [10.0.0.1/dual rs-] ports=[http:8080]; IPv6 [fd00::1/dual rs- fd00::2/v6 rs-] ports=[http:8080]",
	}, {
		name:    "headless service without ports still lists its pods",
		service: headless(""),
		pods:    []string{pod("a", podOpts{ip: "10.0.0.1", ready: true})},
		want:    "IPv4 [10.0.0.1/a rs-] ports=[]",
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := sliceSummary(declaredSlices(t, testutil.Reconcile(t, "EndpointSlice", request(c.service, c.pods...))))
			if got != c.want {
				t.Fatalf("slices %s\nwant   %s", got, c.want)
			}
		})
	}
}

func TestEndpointSliceObject(t *testing.T) {
	res := testutil.Reconcile(t, "EndpointSlice", request(svc(`,"ports":[{"port":80,"targetPort":8080,"appProtocol":"http"}]`),
		pod("a", podOpts{ip: "10.0.0.1", node: "n1", ready: true, spec: `,"hostname":"a","subdomain":"web"`})))
	list := res.Children["discovery.k8s.io/v1/EndpointSlice"]
	if len(list) != 1 {
		t.Fatalf("declared %d slices", len(list))
	}
	var s map[string]any
	if err := json.Unmarshal(list[0], &s); err != nil {
		t.Fatal(err)
	}
	name := s["metadata"].(map[string]any)["name"]
	want := fmt.Sprintf(`{"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice","metadata":{"name":%q,"namespace":"ns",`+
		`"labels":{"endpointslice.kubernetes.io/managed-by":"endpointslice-controller.k8s.io","kubernetes.io/service-name":"web","team":"a"}},`+
		`"addressType":"IPv4","endpoints":[{"addresses":["10.0.0.1"],"conditions":{"ready":true,"serving":true,"terminating":false},`+
		`"hostname":"a","targetRef":{"kind":"Pod","namespace":"ns","name":"a","uid":"u-a"},"nodeName":"n1"}],`+
		`"ports":[{"name":"","port":8080,"protocol":"TCP","appProtocol":"http"}]}`, name)
	if string(list[0]) != want {
		t.Fatalf("declared\n%s\nwant\n%s", list[0], want)
	}
}

func TestEndpointSlicesSplitAtTheLimit(t *testing.T) {
	var pods []string
	for i := range 250 {
		pods = append(pods, pod(fmt.Sprintf("p%03d", i), podOpts{ip: fmt.Sprintf("10.1.%d.%d", i/200, i%200+1), ready: true}))
	}
	slices := declaredSlices(t, testutil.Reconcile(t, "EndpointSlice", request(svc(httpPorts), pods...)))
	if len(slices) != 3 {
		t.Fatalf("%d slices, want 3", len(slices))
	}
	names, seen := map[string]bool{}, map[string]bool{}
	for i, s := range slices {
		if want := []int{100, 100, 50}[i]; len(s.Endpoints) != want {
			t.Fatalf("slice %d has %d endpoints, want %d", i, len(s.Endpoints), want)
		}
		names[s.Metadata.Name] = true
		for _, e := range s.Endpoints {
			if seen[e.TargetRef.Name] {
				t.Fatalf("pod %s listed twice", e.TargetRef.Name)
			}
			seen[e.TargetRef.Name] = true
		}
	}
	if len(names) != 3 || len(seen) != 250 {
		t.Fatalf("%d distinct names, %d pods listed", len(names), len(seen))
	}
	// The names do not depend on the slices' contents: the next reconcile updates them.
	again := declaredSlices(t, testutil.Reconcile(t, "EndpointSlice", request(svc(httpPorts), pods[:180]...)))
	if len(again) != 2 || again[0].Metadata.Name != slices[0].Metadata.Name || again[1].Metadata.Name != slices[1].Metadata.Name {
		t.Fatalf("after scaling down the slices are named %s, %s", again[0].Metadata.Name, again[1].Metadata.Name)
	}
}
