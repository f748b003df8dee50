package dns

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net"
	"testing"
	"time"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// manyEndpoints is a headless Service with n ready endpoints, too many for 512 bytes.
func manyEndpoints(n int) []runtime.Object {
	var eps []ep
	for i := range n {
		eps = append(eps, ep{ip: fmt.Sprintf("10.1.%d.%d", i/250, i%250+1)})
	}
	return []runtime.Object{
		service("default", "many", corev1.ClusterIPNone, svcPort("http", corev1.ProtocolTCP, 80)),
		slice("default", "many-abcde", "many", discoveryv1.AddressTypeIPv4,
			[]discoveryv1.EndpointPort{slicePort("http", corev1.ProtocolTCP, 8080)}, eps...),
	}
}

// udpRaw sends pkt over UDP and returns the raw reply, so that its size on the wire is seen.
func udpRaw(t *testing.T, addr string, pkt []byte) []byte {
	t.Helper()
	conn, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write(pkt); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(exchangeTimeout))
	buf := make([]byte, 65535)
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatalf("reading the reply: %v", err)
	}
	return buf[:n]
}

// TestTruncation: a headless Service with 100 endpoints does not fit a small UDP buffer. The
// reply fits the asker's buffer (512 bytes without EDNS0, its EDNS0 size otherwise) and has TC
// set; a large enough buffer or TCP gets every record.
func TestTruncation(t *testing.T) {
	const n = 100
	f := start(t, Config{}, manyEndpoints(n)...)
	for _, c := range []struct {
		qtype   uint16
		bufsize uint16 // 0: no EDNS0
		full    bool
	}{
		{dns.TypeA, 0, false},
		{dns.TypeA, 1232, false},
		{dns.TypeA, 4096, true},
		{dns.TypeSRV, 1232, false},
		{dns.TypeSRV, 65000, true},
	} {
		t.Run(fmt.Sprintf("%s/%d", dns.TypeToString[c.qtype], c.bufsize), func(t *testing.T) {
			name := "many.default.svc.cluster.local."
			if c.qtype == dns.TypeSRV {
				name = "_http._tcp." + name
			}
			m := new(dns.Msg)
			m.SetQuestion(name, c.qtype)
			limit := dns.MinMsgSize
			if c.bufsize != 0 {
				m.SetEdns0(c.bufsize, false)
				limit = int(c.bufsize)
			}
			pkt, err := m.Pack()
			if err != nil {
				t.Fatal(err)
			}
			raw := udpRaw(t, f.udp, pkt)
			if len(raw) > limit {
				t.Errorf("reply of %d bytes for a %d-byte buffer", len(raw), limit)
			}
			r := new(dns.Msg)
			if err := r.Unpack(raw); err != nil {
				t.Fatalf("unpacking the reply: %v", err)
			}
			if c.full {
				if r.Truncated || len(r.Answer) != n {
					t.Errorf("TC %v with %d records, want all %d", r.Truncated, len(r.Answer), n)
				}
				return
			}
			if !r.Truncated || len(r.Answer) == 0 || len(r.Answer) >= n {
				t.Errorf("TC %v with %d records, want TC and some of %d", r.Truncated, len(r.Answer), n)
			}
			if c.bufsize != 0 && r.IsEdns0() == nil {
				t.Errorf("no OPT in the reply")
			}
		})
	}
	for _, qtype := range []uint16{dns.TypeA, dns.TypeSRV} {
		name := "many.default.svc.cluster.local."
		if qtype == dns.TypeSRV {
			name = "_http._tcp." + name
		}
		r := f.query(t, "tcp", name, qtype)
		if r.Truncated || len(r.Answer) != n {
			t.Errorf("TCP %s: TC %v with %d records, want all %d", dns.TypeToString[qtype], r.Truncated, len(r.Answer), n)
		}
		if qtype == dns.TypeSRV && len(r.Extra) != n {
			t.Errorf("TCP SRV: %d additional records, want %d", len(r.Extra), n)
		}
	}
}

// TestBadInput: malformed and unexpected messages get FORMERR, NOTIMP, REFUSED or BADVERS, or
// no reply where replying could amplify or loop; the server keeps answering throughout.
func TestBadInput(t *testing.T) {
	f := start(t, Config{}, cluster()...)
	const id = 0x1234
	msg := func(edit func(m *dns.Msg)) []byte {
		m := new(dns.Msg)
		m.SetQuestion("web.default.svc.cluster.local.", dns.TypeA)
		m.Id = id
		edit(m)
		pkt, err := m.Pack()
		if err != nil {
			t.Fatal(err)
		}
		return pkt
	}
	header := func(qdcount uint16, rest ...byte) []byte {
		h := make([]byte, 12)
		binary.BigEndian.PutUint16(h[0:], id)
		binary.BigEndian.PutUint16(h[4:], qdcount)
		return append(h, rest...)
	}
	const noReply = -1
	for _, c := range []struct {
		name  string
		pkt   []byte
		rcode int
	}{
		{"shorter than a header", []byte{1, 2, 3, 4, 5}, noReply},
		{"a response", msg(func(m *dns.Msg) { m.Response = true }), noReply},
		{"a NOTIFY response", msg(func(m *dns.Msg) { m.Response, m.Opcode = true, dns.OpcodeNotify }), noReply},
		{"no question", header(0), dns.RcodeFormatError},
		{"two questions", msg(func(m *dns.Msg) {
			m.Question = append(m.Question, dns.Question{Name: "db.default.svc.cluster.local.", Qtype: dns.TypeA, Qclass: dns.ClassINET})
		}), dns.RcodeFormatError},
		{"question cut short", header(1, 3, 'w', 'w'), dns.RcodeFormatError},
		{"question count beyond the packet", header(5, 0, 0, 1, 0, 1), dns.RcodeFormatError},
		{"label pointing at itself", header(1, 0xc0, 12, 0, 1, 0, 1), dns.RcodeFormatError},
		{"NOTIFY", msg(func(m *dns.Msg) { m.Opcode = dns.OpcodeNotify }), dns.RcodeNotImplemented},
		{"UPDATE", msg(func(m *dns.Msg) { m.Opcode = dns.OpcodeUpdate }), dns.RcodeNotImplemented},
		{"EDNS version 1", msg(func(m *dns.Msg) { m.SetEdns0(1232, false); m.IsEdns0().SetVersion(1) }), dns.RcodeBadVers},
		{"CHAOS class in the zone", msg(func(m *dns.Msg) { m.Question[0].Qclass = dns.ClassCHAOS }), dns.RcodeRefused},
		{"AXFR of the zone", msg(func(m *dns.Msg) {
			m.Question[0] = dns.Question{Name: "cluster.local.", Qtype: dns.TypeAXFR, Qclass: dns.ClassINET}
		}), dns.RcodeRefused},
		{"AXFR elsewhere", msg(func(m *dns.Msg) {
			m.Question[0] = dns.Question{Name: "example.com.", Qtype: dns.TypeAXFR, Qclass: dns.ClassINET}
		}), dns.RcodeRefused},
		{"escaped dot in a label", msg(func(m *dns.Msg) { m.Question[0].Name = `web\.default.svc.cluster.local.` }), dns.RcodeNameError},
		{"255-byte name", msg(func(m *dns.Msg) { m.Question[0].Name = longName() + "svc.cluster.local." }), dns.RcodeNameError},
	} {
		t.Run(c.name, func(t *testing.T) {
			conn, err := net.Dial("udp", f.udp)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if _, err := conn.Write(c.pkt); err != nil {
				t.Fatal(err)
			}
			if c.rcode == noReply {
				// Ask a good question after the bad one: its answer must be the first reply.
				if _, err := conn.Write(msg(func(m *dns.Msg) { m.Id = id + 1 })); err != nil {
					t.Fatal(err)
				}
			}
			_ = conn.SetReadDeadline(time.Now().Add(exchangeTimeout))
			buf := make([]byte, 65535)
			n, err := conn.Read(buf)
			if err != nil {
				t.Fatalf("no reply: %v", err)
			}
			r := new(dns.Msg)
			if err := r.Unpack(buf[:n]); err != nil {
				t.Fatalf("unpacking the reply: %v", err)
			}
			if c.rcode == noReply {
				if r.Id != id+1 || r.Rcode != dns.RcodeSuccess {
					t.Errorf("reply %d %s, want only the good question's answer", r.Id, dns.RcodeToString[r.Rcode])
				}
				return
			}
			if r.Id != id || r.Rcode != c.rcode || !r.Response {
				t.Errorf("reply id %d rcode %s QR %v, want %d %s QR", r.Id, dns.RcodeToString[r.Rcode], r.Response, id, dns.RcodeToString[c.rcode])
			}
		})
	}

	// Random bytes, some with a header that parses: whatever the reply, none may stop the server.
	rng := rand.New(rand.NewPCG(1, 2))
	conn, err := net.Dial("udp", f.udp)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for i := range 500 {
		pkt := make([]byte, 12+rng.IntN(300))
		for j := range pkt {
			pkt[j] = byte(rng.Uint32())
		}
		if i%2 == 0 {
			pkt[2] &^= 0x80 | 0x78 // a query with opcode QUERY
			binary.BigEndian.PutUint16(pkt[4:], 1)
		}
		if _, err := conn.Write(pkt); err != nil {
			t.Fatal(err)
		}
	}

	// Over TCP: garbage in a length-prefixed frame, a frame announcing more than it sends, and
	// a message with no question.
	for _, frame := range [][]byte{
		append([]byte{0, 7}, "garbage"...),
		{0xff, 0xff, 1, 2, 3},
	} {
		c, err := net.Dial("tcp", f.tcp)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = c.Write(frame)
		_ = c.Close()
	}
	tc := &dns.Client{Net: "tcp", Timeout: exchangeTimeout}
	conn2, err := tc.Dial(f.tcp)
	if err != nil {
		t.Fatal(err)
	}
	defer conn2.Close()
	if err := conn2.WriteMsg(&dns.Msg{MsgHdr: dns.MsgHdr{Id: id}}); err != nil {
		t.Fatal(err)
	}
	_ = conn2.SetReadDeadline(time.Now().Add(exchangeTimeout))
	if r, err := conn2.ReadMsg(); err != nil || r.Rcode != dns.RcodeFormatError || r.Id != id {
		t.Errorf("TCP message without a question: %v, %v; want FORMERR", r, err)
	}

	// Still answering, on both transports.
	for _, network := range []string{"udp", "tcp"} {
		r := f.query(t, network, "web.default.svc.cluster.local.", dns.TypeA)
		if got, want := rrs(r.Answer), lines(t, "web.default.svc.cluster.local. 5 IN A 10.96.0.10"); !equal(got, want) {
			t.Errorf("%s after bad input: %v, want %v", network, got, want)
		}
	}
}

// longName is labels filling a name up to 255 bytes with svc.cluster.local. appended.
func longName() string {
	var s string
	for len(s)+len("svc.cluster.local.")+10 <= 255 {
		s += "abcdefghi."
	}
	return s
}

// TestRunErrors: an address already in use fails Run at once and binds nothing; Run twice is
// refused.
func TestRunErrors(t *testing.T) {
	taken, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	srv, err := New(Config{Listen: []string{"127.0.0.1:0", taken.LocalAddr().String()}, Upstreams: []string{"127.0.0.1"}},
		newServiceLister(), newSliceLister())
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Run(t.Context()); err == nil {
		t.Fatal("Run on an address in use returned nil")
	}
	select {
	case <-srv.Ready():
		t.Error("Ready closed though Run failed")
	default:
	}
	if err := srv.Run(t.Context()); err != ErrRunTwice {
		t.Errorf("second Run: %v, want ErrRunTwice", err)
	}
}
