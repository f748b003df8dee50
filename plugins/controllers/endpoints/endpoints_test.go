package endpoints_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/tugboat-io/tug/plugins/controllers/endpoints"
	"github.com/tugboat-io/tug/plugins/controllers/internal/testutil"
	tug "github.com/tugboat-io/tug/sdk/go"
)

// svc is a service "web" in namespace "ns" selecting app=web, with spec fields added.
func svc(spec string) string {
	return fmt.Sprintf(`{"apiVersion":"v1","kind":"Service","metadata":{"name":"web","namespace":"ns","uid":"svc-1","labels":{"team":"a"}},
	"spec":{"selector":{"app":"web"},"clusterIP":"10.96.0.10"%s}}`, spec)
}

const httpPorts = `,"ports":[{"name":"http","port":80,"protocol":"TCP","targetPort":8080}]`

// podOpts shape a test pod.
type podOpts struct {
	ip, ips, node, phase string
	ready                bool
	terminating          bool
	labels               string // default app=web
	namespace            string // default ns
	spec                 string // extra spec fields
}

func pod(name string, o podOpts) string {
	ready := "False"
	if o.ready {
		ready = "True"
	}
	meta := ""
	if o.terminating {
		meta = `,"deletionTimestamp":"2026-11-22T10:00:00Z"`
	}
	status := fmt.Sprintf(`"phase":%q,"conditions":[{"type":"Ready","status":%q}]`, cmpOr(o.phase, "Running"), ready)
	if o.ip != "" {
		status += fmt.Sprintf(`,"podIP":%q`, o.ip)
	}
	if o.ips != "" {
		status += `,"podIPs":` + o.ips
	}
	return fmt.Sprintf(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":%q,"namespace":%q,"uid":"u-%s","labels":%s%s},
	"spec":{"nodeName":%q,"containers":[{"name":"c","image":"x"}]%s},"status":{%s}}`,
		name, cmpOr(o.namespace, "ns"), name, cmpOr(o.labels, `{"app":"web"}`), meta, o.node, o.spec, status)
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func request(service string, pods ...string) *tug.ReconcileRequest {
	return &tug.ReconcileRequest{Parent: json.RawMessage(service), Related: map[string][]json.RawMessage{endpoints.PodKey: testutil.Raw(pods...)}}
}

// declaredEndpoints is the one Endpoints object a result declares.
func declaredEndpoints(t *testing.T, res *tug.ReconcileResult) endpoints.Endpoints {
	t.Helper()
	list, ok := res.Children["v1/Endpoints"]
	if !ok || len(list) != 1 || len(res.Children) != 1 {
		t.Fatalf("result declares %v, want one v1/Endpoints", res.Children)
	}
	if len(res.Creates)+len(res.Updates)+len(res.Deletes) != 0 || res.Status != nil {
		t.Fatalf("result acts or sets a status: %+v", res)
	}
	return testutil.Decode[endpoints.Endpoints](t, list[0])
}

// summary writes subsets compactly: "ready=[ip/pod@node …] notReady=[…] ports=[name:port/proto …]".
func summary(ss []endpoints.Subset) string {
	var out []string
	addrs := func(as []endpoints.Address) string {
		var s []string
		for _, a := range as {
			x := a.IP + "/" + a.TargetRef.Name
			if a.NodeName != "" {
				x += "@" + a.NodeName
			}
			if a.Hostname != "" {
				x += "#" + a.Hostname
			}
			s = append(s, x)
		}
		return strings.Join(s, " ")
	}
	for _, s := range ss {
		var ports []string
		for _, p := range s.Ports {
			ports = append(ports, fmt.Sprintf("%s:%d/%s", p.Name, p.Port, p.Protocol))
		}
		out = append(out, fmt.Sprintf("ready=[%s] notReady=[%s] ports=[%s]", addrs(s.Addresses), addrs(s.NotReadyAddresses), strings.Join(ports, " ")))
	}
	return strings.Join(out, "; ")
}

func TestEndpoints(t *testing.T) {
	named := `,"ports":[{"name":"web","port":80,"protocol":"TCP","targetPort":"http"},{"name":"metrics","port":9100,"protocol":"TCP","targetPort":9100}]`
	withPort := func(name string, n int) string {
		return fmt.Sprintf(`,"initContainers":[],"hostname":"","containers":[{"name":"c","ports":[{"name":%q,"containerPort":%d,"protocol":"TCP"}]}]`, name, n)
	}
	cases := []struct {
		name, service string
		pods          []string
		want          string
	}{{
		name:    "ready and not ready, sorted by IP",
		service: svc(httpPorts),
		pods: []string{
			pod("b", podOpts{ip: "10.0.0.2", node: "n1", ready: true}),
			pod("a", podOpts{ip: "10.0.0.9", node: "n2", ready: true}),
			pod("slow", podOpts{ip: "10.0.0.5", node: "n1"}),
		},
		want: "ready=[10.0.0.2/b@n1 10.0.0.9/a@n2] notReady=[10.0.0.5/slow@n1] ports=[http:8080/TCP]",
	}, {
		name:    "pods without an IP, finished, terminating or not selected are left out",
		service: svc(httpPorts),
		pods: []string{
			pod("ok", podOpts{ip: "10.0.0.1", ready: true}),
			pod("no-ip", podOpts{ready: true}),
			pod("done", podOpts{ip: "10.0.0.2", phase: "Succeeded"}),
			pod("failed", podOpts{ip: "10.0.0.3", phase: "Failed"}),
			pod("going", podOpts{ip: "10.0.0.4", ready: true, terminating: true}),
			pod("other-app", podOpts{ip: "10.0.0.5", ready: true, labels: `{"app":"db"}`}),
			pod("other-ns", podOpts{ip: "10.0.0.6", ready: true, namespace: "elsewhere"}),
		},
		want: "ready=[10.0.0.1/ok] notReady=[] ports=[http:8080/TCP]",
	}, {
		name:    "publishNotReadyAddresses lists every pod as ready, terminating ones too",
		service: svc(`,"publishNotReadyAddresses":true` + httpPorts),
		pods: []string{
			pod("a", podOpts{ip: "10.0.0.1"}),
			pod("b", podOpts{ip: "10.0.0.2", terminating: true}),
			pod("c", podOpts{ip: "10.0.0.3", phase: "Failed"}),
		},
		want: "ready=[10.0.0.1/a 10.0.0.2/b] notReady=[] ports=[http:8080/TCP]",
	}, {
		name:    "named target ports resolve per pod; a pod without the name is left out of that port",
		service: svc(named),
		pods: []string{
			pod("a", podOpts{ip: "10.0.0.1", ready: true, spec: withPort("http", 8080)}),
			pod("b", podOpts{ip: "10.0.0.2", ready: true, spec: withPort("http", 9090)}),
			pod("c", podOpts{ip: "10.0.0.3", ready: true, spec: withPort("grpc", 7000)}),
		},
		want: "ready=[10.0.0.1/a] notReady=[] ports=[web:8080/TCP]; " +
			"ready=[10.0.0.2/b] notReady=[] ports=[web:9090/TCP]; " +
			"ready=[10.0.0.1/a 10.0.0.2/b 10.0.0.3/c] notReady=[] ports=[metrics:9100/TCP]",
	}, {
		name:    "named port of another protocol does not match; a sidecar's does",
		service: svc(`,"ports":[{"name":"dns","port":53,"protocol":"UDP","targetPort":"dns"}]`),
		pods: []string{
			pod("tcp-only", podOpts{ip: "10.0.0.1", ready: true, spec: withPort("dns", 5353)}),
			pod("sidecar", podOpts{ip: "10.0.0.2", ready: true,
				spec: `,"initContainers":[{"name":"s","restartPolicy":"Always","ports":[{"name":"dns","containerPort":1053,"protocol":"UDP"}]}]`}),
		},
		want: "ready=[10.0.0.2/sidecar] notReady=[] ports=[dns:1053/UDP]",
	}, {
		name:    "ports served by the same pods share a subset; unset target port is the port",
		service: svc(`,"ports":[{"name":"http","port":80,"targetPort":8080},{"name":"https","port":443}]`),
		pods:    []string{pod("a", podOpts{ip: "10.0.0.1", ready: true}), pod("b", podOpts{ip: "10.0.0.2"})},
		want:    "ready=[10.0.0.1/a] notReady=[10.0.0.2/b] ports=[http:8080/TCP https:443/TCP]",
	}, {
		name:    "headless without ports lists addresses; hostnames under the subdomain",
		service: strings.Replace(svc(""), `"clusterIP":"10.96.0.10"`, `"clusterIP":"None"`, 1),
		pods: []string{
			pod("db-0", podOpts{ip: "10.0.0.1", ready: true, spec: `,"hostname":"db-0","subdomain":"web"`}),
			pod("db-1", podOpts{ip: "10.0.0.2", ready: true, spec: `,"hostname":"db-1","subdomain":"other"`}),
		},
		want: "ready=[10.0.0.1/db-0#db-0 10.0.0.2/db-1] notReady=[] ports=[]",
	}, {
		name:    "a service with a cluster IP and no ports has no endpoints",
		service: svc(""),
		pods:    []string{pod("a", podOpts{ip: "10.0.0.1", ready: true})},
		want:    "",
	}, {
		name:    "no pods: an empty Endpoints",
		service: svc(httpPorts),
		want:    "",
	}, {
		name:    "the address is of the service's family",
		service: svc(`,"ipFamilies":["IPv6"]` + httpPorts),
		pods: []string{
			pod("dual", podOpts{ip: "10.0.0.1", ips: `[{"ip":"10.0.0.1"},{"ip":"fd00::1"}]`, ready: true}),
			pod("v4-only", podOpts{ip: "10.0.0.2", ready: true}),
		},
		want: "ready=[fd00::1/dual] notReady=[] ports=[http:8080/TCP]",
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ep := declaredEndpoints(t, testutil.Reconcile(t, "Endpoints", request(c.service, c.pods...)))
			if got := summary(ep.Subsets); got != c.want {
				t.Fatalf("subsets %s\nwant    %s", got, c.want)
			}
			if ep.Subsets == nil {
				t.Fatal("subsets left out: an emptied Endpoints would keep its old addresses")
			}
		})
	}
}

func TestEndpointsObject(t *testing.T) {
	res := testutil.Reconcile(t, "Endpoints", request(svc(httpPorts), pod("a", podOpts{ip: "10.0.0.1", node: "n1", ready: true})))
	raw := string(res.Children["v1/Endpoints"][0])
	want := `{"apiVersion":"v1","kind":"Endpoints","metadata":{"name":"web","namespace":"ns","labels":{"team":"a"}},` +
		`"subsets":[{"addresses":[{"ip":"10.0.0.1","nodeName":"n1","targetRef":{"kind":"Pod","namespace":"ns","name":"a","uid":"u-a"}}],` +
		`"ports":[{"name":"http","port":80,"protocol":"TCP"}]}]}`
	// The target port, not the service port, is what Endpoints list.
	want = strings.Replace(want, `"port":80`, `"port":8080`, 1)
	if raw != want {
		t.Fatalf("declared\n%s\nwant\n%s", raw, want)
	}
	headless := strings.Replace(svc(httpPorts), `"clusterIP":"10.96.0.10"`, `"clusterIP":"None"`, 1)
	ep := declaredEndpoints(t, testutil.Reconcile(t, "Endpoints", request(headless)))
	if v, ok := ep.Metadata.Labels["service.kubernetes.io/headless"]; !ok || v != "" || ep.Metadata.Labels["team"] != "a" {
		t.Fatalf("headless service's Endpoints labels %v", ep.Metadata.Labels)
	}
}

func TestUnmanagedServicesAreLeftAlone(t *testing.T) {
	cases := map[string]string{
		"no selector":    strings.Replace(svc(httpPorts), `"selector":{"app":"web"},`, "", 1),
		"empty selector": strings.Replace(svc(httpPorts), `"selector":{"app":"web"}`, `"selector":{}`, 1),
		"ExternalName":   svc(`,"type":"ExternalName","externalName":"db.example.com"`),
	}
	for name, service := range cases {
		for _, controller := range []string{"Endpoints", "EndpointSlice"} {
			t.Run(name+"/"+controller, func(t *testing.T) {
				res := testutil.Reconcile(t, controller, request(service, pod("a", podOpts{ip: "10.0.0.1", ready: true})))
				if res.Children != nil || res.Creates != nil || res.Deletes != nil || res.Status != nil {
					t.Fatalf("result %+v touches the user's endpoints", res)
				}
			})
		}
	}
}

func TestOutputIsDeterministic(t *testing.T) {
	var pods []string
	for i := range 30 {
		pods = append(pods, pod(fmt.Sprintf("p%02d", i), podOpts{ip: fmt.Sprintf("10.0.%d.%d", i%3, 200-i), node: fmt.Sprintf("n%d", i%4), ready: i%5 != 0,
			spec: fmt.Sprintf(`,"containers":[{"name":"c","ports":[{"name":"http","containerPort":%d}]}]`, 8000+i%2)}))
	}
	service := svc(`,"ports":[{"name":"http","port":80,"targetPort":"http"},{"name":"admin","port":81}]`)
	reversed := slices.Clone(pods)
	slices.Reverse(reversed)
	for _, controller := range []string{"Endpoints", "EndpointSlice"} {
		a, _ := json.Marshal(testutil.Reconcile(t, controller, request(service, pods...)))
		b, _ := json.Marshal(testutil.Reconcile(t, controller, request(service, reversed...)))
		if string(a) != string(b) {
			t.Fatalf("%s depends on the order of the pods:\n%s\n%s", controller, a, b)
		}
	}
}
