package userspace

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"

	"github.com/tugboat-io/tug/core/proxy"
)

const (
	tcp = corev1.ProtocolTCP
	udp = corev1.ProtocolUDP
)

// nodePortProxier serves NodePorts on 127.0.0.1 only, touching no interface.
func nodePortProxier(t *testing.T) *Proxier {
	return newProxier(t, Config{ClusterIPs: ClusterIPsOff, NodeIPs: []netip.Addr{localhost}})
}

func withNodePort(sp proxy.ServicePort, port uint16) proxy.ServicePort {
	sp.NodePort = port
	return sp
}

func TestNewRejectsBadConfig(t *testing.T) {
	for name, cfg := range map[string]Config{
		"long interface name":  {Interface: "a-very-long-name0"},
		"slash in name":        {Interface: "tug/0"},
		"invalid node IP":      {NodeIPs: []netip.Addr{{}}},
		"negative timeout":     {DialTimeout: -time.Second},
		"unknown cluster mode": {ClusterIPs: ClusterIPMode(7)},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := New(cfg); !errors.Is(err, ErrBadConfig) {
				t.Errorf("New = %v, want ErrBadConfig", err)
			}
		})
	}
}

func TestTCPSpreadsRoundRobin(t *testing.T) {
	a, b, c := tcpBackend(t, "a"), tcpBackend(t, "b"), tcpBackend(t, "c")
	p := nodePortProxier(t)
	np := freePort(t)
	mustSync(t, p, withNodePort(servicePort("web", tcp, a, b, c), np))

	counts := map[string]int{}
	for range 30 {
		counts[who(t, netip.AddrPortFrom(localhost, np))]++
	}
	for _, name := range []string{"a", "b", "c"} {
		if counts[name] != 10 {
			t.Errorf("30 connections reached %v, want 10 on each of a, b, c", counts)
			break
		}
	}
}

func TestTCPHalfClose(t *testing.T) {
	p := nodePortProxier(t)
	np := freePort(t)
	mustSync(t, p, withNodePort(servicePort("web", tcp, tcpBackend(t, "a")), np))

	c, err := net.DialTimeout("tcp4", netip.AddrPortFrom(localhost, np).String(), deadline)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(deadline))
	if _, err := io.WriteString(c, "request body"); err != nil {
		t.Fatal(err)
	}
	// The backend echoes until it sees EOF, then half-closes: both must cross the proxy for
	// ReadAll to end with everything.
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("read after half-close: %v (got %q)", err, got)
	}
	if string(got) != "a\nrequest body" {
		t.Errorf("got %q, want the greeting and the echoed request", got)
	}
	eventually(t, "bytes are counted", func() bool {
		return testutil.ToFloat64(p.m.tcpToEndpoint) == float64(len("request body"))
	})
}

func TestEndpointRemovedAvoidedByNewConnections(t *testing.T) {
	a, b := tcpBackend(t, "a"), tcpBackend(t, "b")
	p := nodePortProxier(t)
	np := freePort(t)
	addr := netip.AddrPortFrom(localhost, np)
	mustSync(t, p, withNodePort(servicePort("web", tcp, a, b), np))
	seen := map[string]bool{}
	for range 4 {
		seen[who(t, addr)] = true
	}
	if !seen["a"] {
		t.Fatalf("a never reached before its removal (%v): the test would prove nothing", seen)
	}

	mustSync(t, p, withNodePort(servicePort("web", tcp, b), np))
	for range 10 {
		if name := who(t, addr); name != "b" {
			t.Fatalf("a connection after a's removal reached %q", name)
		}
	}
}

func TestNoEndpointsResetsTCPAtOnce(t *testing.T) {
	p := nodePortProxier(t)
	np := freePort(t)
	mustSync(t, p, withNodePort(servicePort("web", tcp), np))

	c, err := net.DialTimeout("tcp4", netip.AddrPortFrom(localhost, np).String(), deadline)
	if err == nil {
		defer c.Close()
		_ = c.SetReadDeadline(time.Now().Add(deadline))
		_, err = c.Read(make([]byte, 1))
	}
	if err == nil || isTimeout(err) || !(errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED)) {
		t.Fatalf("connecting to a service with no endpoints: %v, want connection reset or refused", err)
	}
	if got := testutil.ToFloat64(p.m.noEndpoint.WithLabelValues(protoTCP)); got != 1 {
		t.Errorf("no_endpoint_total{tcp} = %v, want 1", got)
	}
}

func TestNoEndpointsDropsUDPUntilOneComes(t *testing.T) {
	p := nodePortProxier(t)
	np := freePort(t)
	addr := netip.AddrPortFrom(localhost, np)
	mustSync(t, p, withNodePort(servicePort("dns", udp), np))

	c := dialUDP(t, addr)
	if _, err := c.Write([]byte("lost")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the datagram is counted as dropped", func() bool {
		return testutil.ToFloat64(p.m.noEndpoint.WithLabelValues(protoUDP)) == 1
	})

	mustSync(t, p, withNodePort(servicePort("dns", udp, udpBackend(t, "u1")), np))
	if got := ask(t, c, "ping"); got != "u1:ping" {
		t.Errorf("reply = %q, want u1:ping", got)
	}
}

func TestAffinityKeepsClientOnOneEndpoint(t *testing.T) {
	a, b, c := tcpBackend(t, "a"), tcpBackend(t, "b"), tcpBackend(t, "c")
	byName := map[string]proxy.Endpoint{"a": a, "b": b, "c": c}
	p := nodePortProxier(t)
	np := freePort(t)
	addr := netip.AddrPortFrom(localhost, np)
	sp := withNodePort(servicePort("web", tcp, a, b, c), np)
	sp.Affinity = time.Hour
	mustSync(t, p, sp)

	first := who(t, addr)
	for range 9 {
		if name := who(t, addr); name != first {
			t.Fatalf("with affinity, a connection reached %q after %q", name, first)
		}
	}

	// Its endpoint leaves: the client is given another, and stays there.
	var rest []proxy.Endpoint
	for _, e := range sp.Endpoints {
		if e != byName[first] {
			rest = append(rest, e)
		}
	}
	sp.Endpoints = rest
	mustSync(t, p, sp)
	second := who(t, addr)
	if second == first {
		t.Fatalf("reached %q after it was removed", first)
	}
	for range 9 {
		if name := who(t, addr); name != second {
			t.Fatalf("with affinity, a connection reached %q after %q", name, second)
		}
	}
}

func TestDeadEndpointSkipped(t *testing.T) {
	a, dead, b := tcpBackend(t, "a"), deadEndpoint(t), tcpBackend(t, "b")
	p := nodePortProxier(t)
	np := freePort(t)
	mustSync(t, p, withNodePort(servicePort("web", tcp, a, dead, b), np))

	seen := map[string]int{}
	for range 12 {
		seen[who(t, netip.AddrPortFrom(localhost, np))]++
	}
	if len(seen) != 2 || seen["a"] == 0 || seen["b"] == 0 {
		t.Errorf("12 connections reached %v, want a and b only", seen)
	}
	if testutil.ToFloat64(p.m.dialErrors) == 0 {
		t.Errorf("the dead endpoint was never tried: the test proved nothing")
	}
}

func TestPortInUseFailsOnlyItsServicePort(t *testing.T) {
	taken, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	busy := uint16(taken.Addr().(*net.TCPAddr).Port)
	free := freePort(t)

	p := nodePortProxier(t)
	// Sorted by key as a State is, the failing one first: the rest must still be served.
	victim := withNodePort(servicePort("busy", tcp, tcpBackend(t, "v")), busy)
	other := withNodePort(servicePort("free", tcp, tcpBackend(t, "o")), free)
	state := proxy.State{Services: []proxy.ServicePort{victim, other}}

	err = p.Sync(t.Context(), state)
	if err == nil {
		t.Fatal("Sync succeeded although a NodePort is in use")
	}
	if !strings.Contains(err.Error(), victim.Key()) || !errors.Is(err, syscall.EADDRINUSE) {
		t.Errorf("Sync error %q: want it to name %s and wrap EADDRINUSE", err, victim.Key())
	}
	if strings.Contains(err.Error(), other.Key()) {
		t.Errorf("Sync error %q names %s, which bound fine", err, other.Key())
	}
	if name := who(t, netip.AddrPortFrom(localhost, free)); name != "o" {
		t.Errorf("other service port reached %q", name)
	}

	// The next Sync retries.
	_ = taken.Close()
	if err := p.Sync(t.Context(), state); err != nil {
		t.Fatalf("Sync after the port was freed: %v", err)
	}
	if name := who(t, netip.AddrPortFrom(localhost, busy)); name != "v" {
		t.Errorf("victim reached %q after the retry", name)
	}
}

func TestRemovedServicePortClosesItsListener(t *testing.T) {
	p := nodePortProxier(t)
	np, np2 := freePort(t), freePort(t)
	gone := withNodePort(servicePort("gone", tcp, tcpBackend(t, "a")), np)
	stays := withNodePort(servicePort("stays", tcp, tcpBackend(t, "b")), np2)
	mustSync(t, p, gone, stays)
	_ = who(t, netip.AddrPortFrom(localhost, np))

	mustSync(t, p, stays)
	if _, err := net.DialTimeout("tcp4", netip.AddrPortFrom(localhost, np).String(), deadline); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("dial a removed service port: %v, want connection refused", err)
	}
	if name := who(t, netip.AddrPortFrom(localhost, np2)); name != "b" {
		t.Errorf("remaining service port reached %q", name)
	}
}

func TestUnchangedServicePortKeepsConnections(t *testing.T) {
	a, b := tcpBackend(t, "a"), tcpBackend(t, "b")
	p := nodePortProxier(t)
	np := freePort(t)
	sp := withNodePort(servicePort("web", tcp, a), np)
	mustSync(t, p, sp)

	c, err := net.DialTimeout("tcp4", netip.AddrPortFrom(localhost, np).String(), deadline)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(deadline))
	r := bufio.NewReader(c)
	roundTrip := func(msg string) {
		t.Helper()
		if _, err := io.WriteString(c, msg+"\n"); err != nil {
			t.Fatalf("write on the established connection: %v", err)
		}
		line, err := r.ReadString('\n')
		if err != nil || line != msg+"\n" {
			t.Fatalf("established connection: read %q, %v; want %q", line, err, msg)
		}
	}
	if greeting, err := r.ReadString('\n'); greeting != "a\n" {
		t.Fatalf("greeting %q, %v; want a", greeting, err)
	}
	roundTrip("before")
	lk := lkey{proto: protoTCP, addr: netip.AddrPortFrom(localhost, np)}
	l := p.listeners[lk]

	// Same State, then another service port added, then the connection's endpoint replaced:
	// none of it may touch the listener or the connection.
	mustSync(t, p, sp)
	other := withNodePort(servicePort("other", tcp, b), freePort(t))
	mustSync(t, p, sp, other)
	roundTrip("after unrelated changes")
	sp.Endpoints = []proxy.Endpoint{b}
	mustSync(t, p, sp, other)
	roundTrip("after its endpoint left")
	if p.listeners[lk] != l {
		t.Errorf("the listener of an unchanged service port was replaced")
	}
	if name := who(t, netip.AddrPortFrom(localhost, np)); name != "b" {
		t.Errorf("a new connection reached %q, want b", name)
	}
}

func TestUDPSessionsAndEndpointRemoval(t *testing.T) {
	u1, u2 := udpBackend(t, "u1"), udpBackend(t, "u2")
	p := nodePortProxier(t)
	np := freePort(t)
	addr := netip.AddrPortFrom(localhost, np)
	sp := withNodePort(servicePort("dns", udp, u1, u2), np)
	mustSync(t, p, sp)

	c1, c2 := dialUDP(t, addr), dialUDP(t, addr)
	first := ask(t, c1, "x")
	if again := ask(t, c1, "y"); again[:2] != first[:2] {
		t.Errorf("one client's datagrams went to %s then %s: want one session", first, again)
	}
	if other := ask(t, c2, "z"); other[:2] == first[:2] {
		t.Errorf("two clients both went to %s: want round robin over sessions", first[:2])
	}

	// c1's endpoint leaves: its session ends and its next datagram goes to the other one.
	remaining, want := u2, "u2:w"
	if first[:2] == "u2" {
		remaining, want = u1, "u1:w"
	}
	sp.Endpoints = []proxy.Endpoint{remaining}
	mustSync(t, p, sp)
	if got := ask(t, c1, "w"); got != want {
		t.Errorf("after its endpoint left, reply = %q, want %q", got, want)
	}
}

func TestUDPSessionExpires(t *testing.T) {
	p := newProxier(t, Config{ClusterIPs: ClusterIPsOff, NodeIPs: []netip.Addr{localhost}, UDPIdleTimeout: 50 * time.Millisecond})
	np := freePort(t)
	addr := netip.AddrPortFrom(localhost, np)
	mustSync(t, p, withNodePort(servicePort("dns", udp, udpBackend(t, "u1")), np))

	c := dialUDP(t, addr)
	_ = ask(t, c, "x")
	l := p.listeners[lkey{proto: protoUDP, addr: addr}].(*udpListener)
	eventually(t, "the idle session expires", func() bool {
		return l.sessionCount() == 0 && testutil.ToFloat64(p.m.active.WithLabelValues(protoUDP)) == 0
	})
	if got := ask(t, c, "y"); got != "u1:y" {
		t.Errorf("after expiry, reply = %q, want u1:y", got)
	}
}

func TestSCTPSkipped(t *testing.T) {
	p := nodePortProxier(t)
	sctp := withNodePort(servicePort("sctp", corev1.ProtocolSCTP, tcpBackend(t, "a")), freePort(t))
	web := withNodePort(servicePort("web", tcp, tcpBackend(t, "b")), freePort(t))
	mustSync(t, p, sctp, web)
	mustSync(t, p, sctp, web)
	if len(p.listeners) != 1 || len(p.services) != 1 {
		t.Errorf("listeners %v, services %v: want web's only", p.listeners, p.services)
	}
	if !p.warned[sctp.Key()] {
		t.Errorf("SCTP service port not recorded as warned about")
	}
}

func TestSyncAfterCloseFails(t *testing.T) {
	p := nodePortProxier(t)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Sync(t.Context(), proxy.State{}); !errors.Is(err, ErrClosed) {
		t.Errorf("Sync after Close = %v, want ErrClosed", err)
	}
}

// TestConcurrentSyncsAndTraffic is for the race detector: Syncs from two goroutines change
// endpoints while clients connect, and every connection must still reach a live endpoint.
func TestConcurrentSyncsAndTraffic(t *testing.T) {
	a, b, c := tcpBackend(t, "a"), tcpBackend(t, "b"), tcpBackend(t, "c")
	ua, ub := udpBackend(t, "ua"), udpBackend(t, "ub")
	p := nodePortProxier(t)
	tnp, unp := freePort(t), freePort(t)
	states := []proxy.State{
		{Services: []proxy.ServicePort{withNodePort(servicePort("web", tcp, a, b), tnp), withNodePort(servicePort("dns", udp, ua), unp)}},
		{Services: []proxy.ServicePort{withNodePort(servicePort("web", tcp, b, c), tnp), withNodePort(servicePort("dns", udp, ua, ub), unp)}},
	}
	states[1].Services[0].Affinity = time.Minute
	if err := p.Sync(t.Context(), states[0]); err != nil {
		t.Fatal(err)
	}

	stop := make(chan struct{})
	var syncs sync.WaitGroup
	syncErrs := make(chan error, 2)
	for i := range 2 {
		syncs.Go(func() {
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				if err := p.Sync(t.Context(), states[(n+i)%2]); err != nil {
					syncErrs <- err
					return
				}
			}
		})
	}

	var clients sync.WaitGroup
	errs := make(chan error, 100)
	for range 3 {
		clients.Go(func() {
			for range 20 {
				conn, err := net.DialTimeout("tcp4", netip.AddrPortFrom(localhost, tnp).String(), deadline)
				if err != nil {
					errs <- err
					return
				}
				_ = conn.SetDeadline(time.Now().Add(deadline))
				line, err := bufio.NewReader(conn).ReadString('\n')
				_ = conn.Close()
				if err != nil || !strings.Contains("a\nb\nc\n", line) {
					errs <- errors.New("tcp: read " + line + ": " + errString(err))
					return
				}
			}
		})
	}
	clients.Go(func() {
		for range 20 {
			if err := askRetrying(netip.AddrPortFrom(localhost, unp)); err != nil {
				errs <- err
				return
			}
		}
	})
	clients.Wait()
	close(stop)
	syncs.Wait()
	close(errs)
	close(syncErrs)
	for err := range errs {
		t.Error(err)
	}
	for err := range syncErrs {
		t.Errorf("sync: %v", err)
	}
}

// askRetrying sends a datagram from a fresh socket until a reply comes: a session ended by
// a concurrent Sync loses the datagram in flight, as UDP may.
func askRetrying(addr netip.AddrPort) error {
	c, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(addr))
	if err != nil {
		return err
	}
	defer c.Close()
	end := time.Now().Add(deadline)
	buf := make([]byte, 100)
	for time.Now().Before(end) {
		if _, err := c.Write([]byte("q")); err != nil {
			return err
		}
		_ = c.SetReadDeadline(time.Now().Add(time.Second))
		n, err := c.Read(buf)
		if err == nil {
			if got := string(buf[:n]); got != "ua:q" && got != "ub:q" {
				return errors.New("udp: unexpected reply " + got)
			}
			return nil
		}
		if !isTimeout(err) {
			return err
		}
	}
	return errors.New("udp: no reply")
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}
