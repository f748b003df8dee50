package dns

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// cluster is the objects the record tests query.
func cluster() []runtime.Object {
	web := service("default", "web", "10.96.0.10",
		svcPort("http", corev1.ProtocolTCP, 80),
		svcPort("syslog", corev1.ProtocolUDP, 514),
		svcPort("", corev1.ProtocolTCP, 8080)) // unnamed: no SRV
	dual := service("default", "dual", "10.96.0.11", svcPort("http", "", 80)) // protocol defaults to TCP
	dual.Spec.ClusterIPs = []string{"10.96.0.11", "fd00::11"}
	lb := service("default", "lb", "10.96.0.12")
	lb.Spec.Type = corev1.ServiceTypeLoadBalancer
	np := service("default", "np", "10.96.0.13")
	np.Spec.Type = corev1.ServiceTypeNodePort

	// A StatefulSet's headless Service: db-0 and db-1 have hostnames, 10.0.0.3 has none, db-3
	// is not ready. Pods listen on 15432, which SRV must carry rather than the Service port.
	db := service("default", "db", corev1.ClusterIPNone, svcPort("pg", corev1.ProtocolTCP, 5432))
	dbSlice := slice("default", "db-abcde", "db", discoveryv1.AddressTypeIPv4,
		[]discoveryv1.EndpointPort{slicePort("pg", corev1.ProtocolTCP, 15432)},
		ep{ip: "10.0.0.1", hostname: "db-0", ready: ptr(true)},
		ep{ip: "10.0.0.2", hostname: "db-1"},
		ep{ip: "10.0.0.3", ready: ptr(true)},
		ep{ip: "10.0.0.4", hostname: "db-3", ready: ptr(false)})
	// The same endpoint in a second slice (the controller moving it) is still one record.
	dbDup := slice("default", "db-fghij", "db", discoveryv1.AddressTypeIPv4,
		[]discoveryv1.EndpointPort{slicePort("pg", corev1.ProtocolTCP, 15432)},
		ep{ip: "10.0.0.1", hostname: "db-0", ready: ptr(true)})
	// A slice of another Service in the namespace must not leak into db.
	otherSlice := slice("default", "web-xyz", "web", discoveryv1.AddressTypeIPv4,
		[]discoveryv1.EndpointPort{slicePort("http", corev1.ProtocolTCP, 8080)},
		ep{ip: "10.0.9.9", hostname: "db-9"})
	// A headless dual-stack Service with an IPv6 slice.
	v6 := service("default", "v6", corev1.ClusterIPNone, svcPort("http", corev1.ProtocolTCP, 80))
	v6Slice := slice("default", "v6-abcde", "v6", discoveryv1.AddressTypeIPv6,
		[]discoveryv1.EndpointPort{slicePort("http", corev1.ProtocolTCP, 8080)},
		ep{ip: "fd00::1:5", hostname: "v6-0"})

	empty := service("default", "empty", corev1.ClusterIPNone)
	notReady := service("default", "notready", corev1.ClusterIPNone)
	notReadySlice := slice("default", "notready-abcde", "notready", discoveryv1.AddressTypeIPv4, nil,
		ep{ip: "10.0.2.1", ready: ptr(false)})
	publish := service("default", "publish", corev1.ClusterIPNone)
	publish.Spec.PublishNotReadyAddresses = true
	publishSlice := slice("default", "publish-abcde", "publish", discoveryv1.AddressTypeIPv4, nil,
		ep{ip: "10.0.1.1", ready: ptr(false)})

	return []runtime.Object{
		web, dual, lb, np, db, dbSlice, dbDup, otherSlice, v6, v6Slice, empty, notReady, notReadySlice, publish, publishSlice,
		service("other", "web", "10.96.1.10"),
		externalName("default", "alias", "web.default.svc.cluster.local"),
		externalName("default", "ext", "Example.COM"),
		externalName("default", "loop1", "loop2.default.svc.cluster.local"),
		externalName("default", "loop2", "loop1.default.svc.cluster.local"),
	}
}

const soa = "cluster.local."

// TestRecords queries every kind of record the zone holds, over UDP and TCP.
func TestRecords(t *testing.T) {
	f := start(t, Config{}, cluster()...)
	type tc struct {
		name   string
		qtype  uint16
		rcode  int
		answer []string // zone-file lines; empty with rcode success means NODATA
		extra  []string
	}
	const (
		ok    = dns.RcodeSuccess
		nxdom = dns.RcodeNameError
	)
	cases := []tc{
		// Services with a cluster IP, of every type that has one.
		{"web.default.svc.cluster.local.", dns.TypeA, ok, []string{"web.default.svc.cluster.local. 5 IN A 10.96.0.10"}, nil},
		{"web.other.svc.cluster.local.", dns.TypeA, ok, []string{"web.other.svc.cluster.local. 5 IN A 10.96.1.10"}, nil},
		{"lb.default.svc.cluster.local.", dns.TypeA, ok, []string{"lb.default.svc.cluster.local. 5 IN A 10.96.0.12"}, nil},
		{"np.default.svc.cluster.local.", dns.TypeA, ok, []string{"np.default.svc.cluster.local. 5 IN A 10.96.0.13"}, nil},
		{"dual.default.svc.cluster.local.", dns.TypeA, ok, []string{"dual.default.svc.cluster.local. 5 IN A 10.96.0.11"}, nil},
		{"dual.default.svc.cluster.local.", dns.TypeAAAA, ok, []string{"dual.default.svc.cluster.local. 5 IN AAAA fd00::11"}, nil},
		{"web.default.svc.cluster.local.", dns.TypeAAAA, ok, nil, nil}, // IPv4 only: NODATA
		{"web.default.svc.cluster.local.", dns.TypeTXT, ok, nil, nil},
		{"web.default.svc.cluster.local.", dns.TypeANY, ok, []string{"web.default.svc.cluster.local. 5 IN A 10.96.0.10"}, nil},
		// Case-insensitive, and the answer spells the name as asked.
		{"WEB.Default.SVC.Cluster.Local.", dns.TypeA, ok, []string{"WEB.Default.SVC.Cluster.Local. 5 IN A 10.96.0.10"}, nil},

		// SRV for named ports of a ClusterIP Service, targeting the Service.
		{"_http._tcp.web.default.svc.cluster.local.", dns.TypeSRV, ok,
			[]string{"_http._tcp.web.default.svc.cluster.local. 5 IN SRV 0 100 80 web.default.svc.cluster.local."},
			[]string{"web.default.svc.cluster.local. 5 IN A 10.96.0.10"}},
		{"_syslog._udp.web.default.svc.cluster.local.", dns.TypeSRV, ok,
			[]string{"_syslog._udp.web.default.svc.cluster.local. 5 IN SRV 0 100 514 web.default.svc.cluster.local."},
			[]string{"web.default.svc.cluster.local. 5 IN A 10.96.0.10"}},
		{"_HTTP._TCP.dual.default.svc.cluster.local.", dns.TypeSRV, ok,
			[]string{"_HTTP._TCP.dual.default.svc.cluster.local. 5 IN SRV 0 100 80 dual.default.svc.cluster.local."},
			[]string{"dual.default.svc.cluster.local. 5 IN A 10.96.0.11", "dual.default.svc.cluster.local. 5 IN AAAA fd00::11"}},
		{"_http._udp.web.default.svc.cluster.local.", dns.TypeSRV, nxdom, nil, nil}, // wrong protocol
		{"_nope._tcp.web.default.svc.cluster.local.", dns.TypeSRV, nxdom, nil, nil},
		{"_http._tcp.web.default.svc.cluster.local.", dns.TypeA, ok, nil, nil}, // the name exists: NODATA
		{"_tcp.web.default.svc.cluster.local.", dns.TypeSRV, ok, nil, nil},     // parent of SRV names: NODATA
		{"_sctp.web.default.svc.cluster.local.", dns.TypeSRV, nxdom, nil, nil},
		{"_http.tcp.web.default.svc.cluster.local.", dns.TypeSRV, nxdom, nil, nil},
		{"foo.web.default.svc.cluster.local.", dns.TypeA, nxdom, nil, nil}, // no endpoint names for ClusterIP Services

		// Headless: ready endpoints only (ready nil counts), once each, and none of web's.
		{"db.default.svc.cluster.local.", dns.TypeA, ok, []string{
			"db.default.svc.cluster.local. 5 IN A 10.0.0.1",
			"db.default.svc.cluster.local. 5 IN A 10.0.0.2",
			"db.default.svc.cluster.local. 5 IN A 10.0.0.3",
		}, nil},
		{"db.default.svc.cluster.local.", dns.TypeAAAA, ok, nil, nil},
		{"db-0.db.default.svc.cluster.local.", dns.TypeA, ok, []string{"db-0.db.default.svc.cluster.local. 5 IN A 10.0.0.1"}, nil},
		{"DB-1.db.default.svc.cluster.local.", dns.TypeA, ok, []string{"DB-1.db.default.svc.cluster.local. 5 IN A 10.0.0.2"}, nil},
		{"10-0-0-3.db.default.svc.cluster.local.", dns.TypeA, ok, []string{"10-0-0-3.db.default.svc.cluster.local. 5 IN A 10.0.0.3"}, nil},
		{"db-3.db.default.svc.cluster.local.", dns.TypeA, nxdom, nil, nil},     // not ready
		{"db-9.db.default.svc.cluster.local.", dns.TypeA, nxdom, nil, nil},     // web's endpoint
		{"10-0-0-1.db.default.svc.cluster.local.", dns.TypeA, nxdom, nil, nil}, // named by its hostname instead
		{"_pg._tcp.db.default.svc.cluster.local.", dns.TypeSRV, ok, []string{
			"_pg._tcp.db.default.svc.cluster.local. 5 IN SRV 0 33 15432 db-0.db.default.svc.cluster.local.",
			"_pg._tcp.db.default.svc.cluster.local. 5 IN SRV 0 33 15432 db-1.db.default.svc.cluster.local.",
			"_pg._tcp.db.default.svc.cluster.local. 5 IN SRV 0 33 15432 10-0-0-3.db.default.svc.cluster.local.",
		}, []string{
			"db-0.db.default.svc.cluster.local. 5 IN A 10.0.0.1",
			"db-1.db.default.svc.cluster.local. 5 IN A 10.0.0.2",
			"10-0-0-3.db.default.svc.cluster.local. 5 IN A 10.0.0.3",
		}},
		{"_pg._udp.db.default.svc.cluster.local.", dns.TypeSRV, nxdom, nil, nil},
		{"_http._tcp.db.default.svc.cluster.local.", dns.TypeSRV, nxdom, nil, nil}, // web's port
		{"v6.default.svc.cluster.local.", dns.TypeAAAA, ok, []string{"v6.default.svc.cluster.local. 5 IN AAAA fd00::1:5"}, nil},
		{"v6.default.svc.cluster.local.", dns.TypeA, ok, nil, nil},
		{"v6-0.v6.default.svc.cluster.local.", dns.TypeAAAA, ok, []string{"v6-0.v6.default.svc.cluster.local. 5 IN AAAA fd00::1:5"}, nil},
		{"_http._tcp.v6.default.svc.cluster.local.", dns.TypeSRV, ok,
			[]string{"_http._tcp.v6.default.svc.cluster.local. 5 IN SRV 0 100 8080 v6-0.v6.default.svc.cluster.local."},
			[]string{"v6-0.v6.default.svc.cluster.local. 5 IN AAAA fd00::1:5"}},
		// A headless Service without ready endpoints does not exist in DNS, unless it
		// publishes addresses that are not ready.
		{"empty.default.svc.cluster.local.", dns.TypeA, nxdom, nil, nil},
		{"notready.default.svc.cluster.local.", dns.TypeA, nxdom, nil, nil},
		{"publish.default.svc.cluster.local.", dns.TypeA, ok, []string{"publish.default.svc.cluster.local. 5 IN A 10.0.1.1"}, nil},

		// ExternalName: a CNAME, followed within the zone.
		{"ext.default.svc.cluster.local.", dns.TypeCNAME, ok, []string{"ext.default.svc.cluster.local. 5 IN CNAME example.com."}, nil},
		{"alias.default.svc.cluster.local.", dns.TypeA, ok, []string{
			"alias.default.svc.cluster.local. 5 IN CNAME web.default.svc.cluster.local.",
			"web.default.svc.cluster.local. 5 IN A 10.96.0.10",
		}, nil},
		{"alias.default.svc.cluster.local.", dns.TypeAAAA, ok, []string{
			"alias.default.svc.cluster.local. 5 IN CNAME web.default.svc.cluster.local.",
		}, nil},
		{"_http._tcp.ext.default.svc.cluster.local.", dns.TypeSRV, nxdom, nil, nil},

		// The zone's structure.
		{"cluster.local.", dns.TypeSOA, ok, []string{"cluster.local. 5 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. SERIAL 7200 1800 86400 5"}, nil},
		{"cluster.local.", dns.TypeA, ok, nil, nil},
		{"dns-version.cluster.local.", dns.TypeTXT, ok, []string{`dns-version.cluster.local. 5 IN TXT "1.1.0"`}, nil},
		{"svc.cluster.local.", dns.TypeA, ok, nil, nil},
		{"default.svc.cluster.local.", dns.TypeA, ok, nil, nil},
		{"nons.svc.cluster.local.", dns.TypeA, nxdom, nil, nil},
		{"missing.default.svc.cluster.local.", dns.TypeA, nxdom, nil, nil},
		{"web.nons.svc.cluster.local.", dns.TypeA, nxdom, nil, nil},
		{"other.cluster.local.", dns.TypeA, nxdom, nil, nil},
		{"a.b._c._d.web.default.svc.cluster.local.", dns.TypeSRV, nxdom, nil, nil},
		// What a search path makes of an outside name ends in NXDOMAIN, not a forward.
		{"example.com.default.svc.cluster.local.", dns.TypeA, nxdom, nil, nil},

		// Pods ("pods insecure"): the address the name spells.
		{"10-244-1-5.default.pod.cluster.local.", dns.TypeA, ok, []string{"10-244-1-5.default.pod.cluster.local. 5 IN A 10.244.1.5"}, nil},
		{"10-244-1-5.anyns.pod.cluster.local.", dns.TypeAAAA, ok, nil, nil},
		{"fd00--5.default.pod.cluster.local.", dns.TypeAAAA, ok, []string{"fd00--5.default.pod.cluster.local. 5 IN AAAA fd00::5"}, nil},
		{"10-244-1.default.pod.cluster.local.", dns.TypeA, nxdom, nil, nil},
		{"10-244-1-300.default.pod.cluster.local.", dns.TypeA, nxdom, nil, nil},
		{"default.pod.cluster.local.", dns.TypeA, ok, nil, nil},

		// PTR for cluster IPs and headless endpoints.
		{"10.0.96.10.in-addr.arpa.", dns.TypePTR, ok, []string{"10.0.96.10.in-addr.arpa. 5 IN PTR web.default.svc.cluster.local."}, nil},
		{"1.0.0.10.in-addr.arpa.", dns.TypePTR, ok, []string{"1.0.0.10.in-addr.arpa. 5 IN PTR db-0.db.default.svc.cluster.local."}, nil},
		{"3.0.0.10.in-addr.arpa.", dns.TypePTR, ok, []string{"3.0.0.10.in-addr.arpa. 5 IN PTR 10-0-0-3.db.default.svc.cluster.local."}, nil},
		{mustReverse(t, "fd00::11"), dns.TypePTR, ok, []string{mustReverse(t, "fd00::11") + " 5 IN PTR dual.default.svc.cluster.local."}, nil},
		{mustReverse(t, "fd00::1:5"), dns.TypePTR, ok, []string{mustReverse(t, "fd00::1:5") + " 5 IN PTR v6-0.v6.default.svc.cluster.local."}, nil},
	}
	for _, network := range []string{"udp", "tcp"} {
		for _, c := range cases {
			t.Run(fmt.Sprintf("%s/%s/%s", network, dns.TypeToString[c.qtype], c.name), func(t *testing.T) {
				r := f.query(t, network, c.name, c.qtype)
				if r.Rcode != c.rcode {
					t.Fatalf("rcode %s, want %s\n%v", dns.RcodeToString[r.Rcode], dns.RcodeToString[c.rcode], r)
				}
				if !r.Authoritative {
					t.Errorf("AA not set for a name in the zone")
				}
				answer := c.answer
				if c.qtype == dns.TypeSOA && len(r.Answer) == 1 {
					// The serial is the server's start time: take it from the answer.
					answer = []string{strings.Replace(c.answer[0], "SERIAL", fmt.Sprint(r.Answer[0].(*dns.SOA).Serial), 1)}
				}
				want, got := lines(t, answer...), rrs(r.Answer)
				if !equal(got, want) {
					t.Errorf("answer\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
				}
				if want := lines(t, c.extra...); !equal(rrs(r.Extra), want) {
					t.Errorf("additional\n%s\nwant\n%s", strings.Join(rrs(r.Extra), "\n"), strings.Join(want, "\n"))
				}
				// Denials carry the SOA, so that resolvers know how long to cache them.
				negative := c.rcode == nxdom || !hasType(answer, c.qtype)
				if hasSOA := len(r.Ns) == 1 && r.Ns[0].Header().Rrtype == dns.TypeSOA && r.Ns[0].Header().Name == soa; hasSOA != negative {
					t.Errorf("authority %v, want the SOA %v", r.Ns, negative)
				}
			})
		}
	}
}

func mustReverse(t *testing.T, ip string) string {
	t.Helper()
	name, err := dns.ReverseAddr(ip)
	if err != nil {
		t.Fatal(err)
	}
	return name
}

// hasType says whether zone-file lines hold a record of type t (any record for ANY).
func hasType(zoneLines []string, qtype uint16) bool {
	for _, l := range zoneLines {
		rr, err := dns.NewRR(l)
		if err == nil && (qtype == dns.TypeANY || rr.Header().Rrtype == qtype) {
			return true
		}
	}
	return false
}

func equal(a, b []string) bool {
	return strings.Join(a, "\n") == strings.Join(b, "\n")
}

// TestExternalNameLoop: ExternalName Services naming each other end in a bounded answer.
func TestExternalNameLoop(t *testing.T) {
	f := start(t, Config{}, cluster()...)
	r := f.query(t, "udp", "loop1.default.svc.cluster.local.", dns.TypeA)
	if r.Rcode != dns.RcodeSuccess || len(r.Answer) != maxChase+1 {
		t.Fatalf("rcode %s with %d records, want NOERROR with %d CNAMEs", dns.RcodeToString[r.Rcode], len(r.Answer), maxChase+1)
	}
	for _, rr := range r.Answer {
		if rr.Header().Rrtype != dns.TypeCNAME {
			t.Errorf("unexpected %v", rr)
		}
	}
}

// TestChanges: the server reads the caches at each query, so changes show at once.
func TestChanges(t *testing.T) {
	f := start(t, Config{}, cluster()...)
	const name = "web.default.svc.cluster.local."
	if r := f.query(t, "udp", name, dns.TypeA); r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
		t.Fatalf("before deletion: %v", r)
	}
	web, _, _ := f.services.GetByKey("default/web")
	if err := f.services.Delete(web); err != nil {
		t.Fatal(err)
	}
	if r := f.query(t, "udp", name, dns.TypeA); r.Rcode != dns.RcodeNameError {
		t.Errorf("after deletion: rcode %s, want NXDOMAIN", dns.RcodeToString[r.Rcode])
	}
	if r := f.query(t, "tcp", "10.0.96.10.in-addr.arpa.", dns.TypePTR); len(r.Answer) != 0 {
		t.Errorf("PTR after deletion: %v", r.Answer)
	}

	// An endpoint turning ready appears; the other's readiness is unchanged.
	sl := slice("default", "notready-abcde", "notready", discoveryv1.AddressTypeIPv4, nil,
		ep{ip: "10.0.2.1", ready: ptr(true)}, ep{ip: "10.0.2.2", ready: ptr(false)})
	if err := f.slices.Update(sl); err != nil {
		t.Fatal(err)
	}
	r := f.query(t, "udp", "notready.default.svc.cluster.local.", dns.TypeA)
	if got, want := rrs(r.Answer), lines(t, "notready.default.svc.cluster.local. 5 IN A 10.0.2.1"); !equal(got, want) {
		t.Errorf("after readiness change: %v, want %v", got, want)
	}
}

// TestNotSynced: until the caches have synced, names in the zone are SERVFAIL (retried) rather
// than a denial the asker would cache; names outside are still forwarded.
func TestNotSynced(t *testing.T) {
	var synced atomic.Bool
	f := start(t, Config{HasSynced: synced.Load}, cluster()...)
	if r := f.query(t, "udp", "web.default.svc.cluster.local.", dns.TypeA); r.Rcode != dns.RcodeServerFailure {
		t.Errorf("before sync: rcode %s, want SERVFAIL", dns.RcodeToString[r.Rcode])
	}
	synced.Store(true)
	if r := f.query(t, "udp", "web.default.svc.cluster.local.", dns.TypeA); r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
		t.Errorf("after sync: %v", r)
	}
}

// TestOtherDomain: the zone is the configured domain, not cluster.local.
func TestOtherDomain(t *testing.T) {
	f := start(t, Config{Domain: "Tug.Example", TTL: 30 * time.Second}, service("default", "web", "10.96.0.10"))
	r := f.query(t, "udp", "web.default.svc.tug.example.", dns.TypeA)
	if got, want := rrs(r.Answer), lines(t, "web.default.svc.tug.example. 30 IN A 10.96.0.10"); !equal(got, want) {
		t.Errorf("answer %v, want %v", got, want)
	}
	// cluster.local is now outside the zone: forwarded to the silent upstream, so SERVFAIL.
	if r := f.query(t, "udp", "web.default.svc.cluster.local.", dns.TypeA); r.Rcode != dns.RcodeServerFailure || r.Authoritative {
		t.Errorf("cluster.local: rcode %s AA %v, want a non-authoritative SERVFAIL", dns.RcodeToString[r.Rcode], r.Authoritative)
	}
}

// TestMetrics: queries are counted by zone, type and response code.
func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	f := start(t, Config{Metrics: reg}, cluster()...)
	f.query(t, "udp", "web.default.svc.cluster.local.", dns.TypeA)
	f.query(t, "tcp", "web.default.svc.cluster.local.", dns.TypeA)
	f.query(t, "udp", "missing.default.svc.cluster.local.", dns.TypeSRV)
	f.query(t, "udp", "example.com.", dns.TypeNULL) // forwarded to the silent upstream
	m := f.srv.metrics
	for _, c := range []struct {
		labels []string
		want   float64
	}{
		{[]string{zoneCluster, "A", "NOERROR"}, 2},
		{[]string{zoneCluster, "SRV", "NXDOMAIN"}, 1},
		{[]string{zoneForward, "other", "SERVFAIL"}, 1},
	} {
		if got := testutil.ToFloat64(m.requests.WithLabelValues(c.labels...)); got != c.want {
			t.Errorf("tug_dns_requests_total%v = %v, want %v", c.labels, got, c.want)
		}
	}
	if n, err := testutil.GatherAndCount(reg, "tug_dns_requests_total", "tug_dns_upstream_errors_total"); err != nil || n != 4 {
		t.Errorf("registered series: %d, %v; want 4", n, err)
	}
}
