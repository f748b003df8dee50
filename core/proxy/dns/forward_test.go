package dns

import (
	"fmt"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// upstream is a resolver the test runs on 127.0.0.1, UDP and TCP on one port. It answers:
//
//	example.com. A   192.0.2.1
//	big.example. A   TC set and nothing over UDP; 40 addresses over TCP
//	fail.example.    SERVFAIL
//	anything else    NXDOMAIN
type upstream struct {
	addr string
	mu   sync.Mutex
	seen []string // "<network> <name> <type>" per query received
}

const bigCount = 40

func startUpstream(t *testing.T) *upstream {
	t.Helper()
	u := &upstream{}
	pc, ln := testListen(t)
	u.addr = pc.LocalAddr().String()
	for _, srv := range []*dns.Server{
		{PacketConn: pc, Handler: u.handler("udp")},
		{Listener: ln, Handler: u.handler("tcp")},
	} {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		done := make(chan error, 1)
		go func() { done <- srv.ActivateAndServe() }()
		select {
		case <-started:
		case err := <-done:
			t.Fatalf("upstream: %v", err)
		}
		t.Cleanup(func() { _ = srv.Shutdown(); <-done })
	}
	return u
}

func (u *upstream) handler(network string) dns.HandlerFunc {
	return func(w dns.ResponseWriter, req *dns.Msg) {
		q := req.Question[0]
		u.mu.Lock()
		u.seen = append(u.seen, fmt.Sprintf("%s %s %s", network, q.Name, dns.TypeToString[q.Qtype]))
		u.mu.Unlock()
		m := new(dns.Msg).SetReply(req)
		m.RecursionAvailable = true
		switch {
		case q.Name == "example.com." && q.Qtype == dns.TypeA:
			m.Answer = append(m.Answer, &dns.A{
				Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60},
				A:   net.IPv4(192, 0, 2, 1),
			})
		case q.Name == "big.example." && network == "udp":
			m.Truncated = true
		case q.Name == "big.example.":
			for i := range bigCount {
				m.Answer = append(m.Answer, &dns.A{
					Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60},
					A:   net.IPv4(192, 0, 2, byte(i+1)),
				})
			}
		case q.Name == "fail.example.":
			m.Rcode = dns.RcodeServerFailure
		default:
			m.Rcode = dns.RcodeNameError
		}
		if opt := req.IsEdns0(); opt != nil {
			m.SetEdns0(opt.UDPSize(), false)
		}
		_ = w.WriteMsg(m)
	}
}

func (u *upstream) queries() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return slices.Clone(u.seen)
}

// TestForward: names outside the zone go upstream over the transport they came on, and the
// upstream's answer comes back under the asker's ID, not as the zone's authority.
func TestForward(t *testing.T) {
	up := startUpstream(t)
	f := start(t, Config{Upstreams: []string{up.addr}}, cluster()...)
	for _, network := range []string{"udp", "tcp"} {
		r := f.query(t, network, "example.com.", dns.TypeA) // the client rejects a reply with another ID
		if got, want := rrs(r.Answer), lines(t, "example.com. 60 IN A 192.0.2.1"); !equal(got, want) || r.Rcode != dns.RcodeSuccess {
			t.Errorf("%s: rcode %s answer %v, want %v", network, dns.RcodeToString[r.Rcode], got, want)
		}
		if r.Authoritative {
			t.Errorf("%s: a forwarded answer is marked authoritative", network)
		}
		if r := f.query(t, network, "nothing.example.", dns.TypeA); r.Rcode != dns.RcodeNameError {
			t.Errorf("%s: upstream NXDOMAIN became %s", network, dns.RcodeToString[r.Rcode])
		}
	}
	// PTR for an address that is no cluster IP goes upstream too.
	f.query(t, "udp", "8.8.8.8.in-addr.arpa.", dns.TypePTR)
	want := []string{
		"udp example.com. A", "udp nothing.example. A",
		"tcp example.com. A", "tcp nothing.example. A",
		"udp 8.8.8.8.in-addr.arpa. PTR",
	}
	if got := up.queries(); !slices.Equal(got, want) {
		t.Errorf("upstream saw %q, want %q", got, want)
	}
}

// TestForwardTruncated: a truncated UDP reply from upstream is asked again over TCP; the whole
// answer reaches a client whose buffer takes it, and one whose buffer does not gets TC.
func TestForwardTruncated(t *testing.T) {
	up := startUpstream(t)
	f := start(t, Config{Upstreams: []string{up.addr}})

	m := new(dns.Msg)
	m.SetQuestion("big.example.", dns.TypeA)
	m.SetEdns0(4096, false)
	r := ask(t, "udp", f.udp, m)
	if len(r.Answer) != bigCount || r.Truncated {
		t.Errorf("EDNS 4096: %d records, TC %v; want %d and no TC", len(r.Answer), r.Truncated, bigCount)
	}
	if got, want := up.queries(), []string{"udp big.example. A", "tcp big.example. A"}; !slices.Equal(got, want) {
		t.Errorf("upstream saw %q, want %q", got, want)
	}

	// Without EDNS0 the client takes 512 bytes: 40 addresses do not fit.
	m = new(dns.Msg)
	m.SetQuestion("big.example.", dns.TypeA)
	r = ask(t, "udp", f.udp, m)
	if !r.Truncated || len(r.Answer) >= bigCount {
		t.Errorf("no EDNS: %d records, TC %v; want fewer than %d and TC", len(r.Answer), r.Truncated, bigCount)
	}
}

// TestForwardFailover: an upstream that does not answer is skipped for the next one; one that
// answers with an error code has answered.
func TestForwardFailover(t *testing.T) {
	silent := silentUpstream(t)
	up, up2 := startUpstream(t), startUpstream(t)
	f := start(t, Config{Upstreams: []string{silent, up.addr, up2.addr}, ForwardTimeout: 200 * time.Millisecond})
	for _, network := range []string{"udp", "tcp"} {
		r := f.query(t, network, "example.com.", dns.TypeA)
		if got, want := rrs(r.Answer), lines(t, "example.com. 60 IN A 192.0.2.1"); !equal(got, want) {
			t.Errorf("%s: answer %v, want %v", network, got, want)
		}
		if r := f.query(t, network, "fail.example.", dns.TypeA); r.Rcode != dns.RcodeServerFailure {
			t.Errorf("%s: rcode %s, want the upstream's SERVFAIL", network, dns.RcodeToString[r.Rcode])
		}
	}
	if got := up2.queries(); len(got) != 0 {
		t.Errorf("the third upstream was asked %q; the second answered everything", got)
	}
	if got := testutil.ToFloat64(f.srv.metrics.upstreamErrors.WithLabelValues(silent)); got != 4 {
		t.Errorf("errors counted for the silent upstream: %v, want 4", got)
	}
}

// TestForwardAllFail: SERVFAIL when no upstream answers, whether they time out or refuse.
func TestForwardAllFail(t *testing.T) {
	// A port nothing listens on: TCP is refused, UDP gets ICMP unreachable or a timeout.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	_ = ln.Close()
	f := start(t, Config{Upstreams: []string{silentUpstream(t), closed}, ForwardTimeout: 200 * time.Millisecond})
	for _, network := range []string{"udp", "tcp"} {
		m := new(dns.Msg)
		m.SetQuestion("example.com.", dns.TypeA)
		m.SetEdns0(1232, false)
		r := ask(t, network, f.addr(network), m)
		if r.Rcode != dns.RcodeServerFailure || len(r.Answer) != 0 {
			t.Errorf("%s: rcode %s with %d records, want SERVFAIL", network, dns.RcodeToString[r.Rcode], len(r.Answer))
		}
		if r.IsEdns0() == nil {
			t.Errorf("%s: no OPT in the answer to a query with one", network)
		}
	}
}

// TestExternalNameUpstream: an ExternalName's target outside the zone is resolved upstream and
// its addresses follow the CNAME; without an upstream the CNAME alone is the answer.
func TestExternalNameUpstream(t *testing.T) {
	up := startUpstream(t)
	f := start(t, Config{Upstreams: []string{up.addr}}, cluster()...)
	r := f.query(t, "udp", "ext.default.svc.cluster.local.", dns.TypeA)
	want := lines(t, "ext.default.svc.cluster.local. 5 IN CNAME example.com.", "example.com. 60 IN A 192.0.2.1")
	if got := rrs(r.Answer); !equal(got, want) || r.Rcode != dns.RcodeSuccess {
		t.Errorf("rcode %s answer %v, want %v", dns.RcodeToString[r.Rcode], got, want)
	}

	f = start(t, Config{}, cluster()...) // upstream silent
	r = f.query(t, "tcp", "ext.default.svc.cluster.local.", dns.TypeA)
	want = lines(t, "ext.default.svc.cluster.local. 5 IN CNAME example.com.")
	if got := rrs(r.Answer); !equal(got, want) || r.Rcode != dns.RcodeSuccess {
		t.Errorf("silent upstream: rcode %s answer %v, want %v", dns.RcodeToString[r.Rcode], got, want)
	}
}
