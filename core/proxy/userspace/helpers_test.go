package userspace

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/tugboat-io/tug/core/proxy"
)

// deadline bounds every wait in these tests. It is generous: it only turns a hang into a
// failure, and no test asserts on how long anything took.
const deadline = 20 * time.Second

var localhost = netip.MustParseAddr("127.0.0.1")

// tcpBackend starts a server that greets every connection with "name\n", then echoes what
// it reads and half-closes when the client does.
func tcpBackend(t *testing.T, name string) proxy.Endpoint {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if _, err := fmt.Fprintf(c, "%s\n", name); err != nil {
					return
				}
				if _, err := io.Copy(c, c); err != nil {
					return
				}
				_ = c.(*net.TCPConn).CloseWrite()
				_, _ = io.Copy(io.Discard, c)
			}()
		}
	}()
	return endpointOf(ln.Addr())
}

// udpBackend starts a server that answers every datagram with "name:" and the datagram.
func udpBackend(t *testing.T, name string) proxy.Endpoint {
	t.Helper()
	c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(localhost, 0)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	go func() {
		buf := make([]byte, maxDatagram)
		for {
			n, from, err := c.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			_, _ = c.WriteToUDPAddrPort(append([]byte(name+":"), buf[:n]...), from)
		}
	}()
	return endpointOf(c.LocalAddr())
}

// deadEndpoint returns an address nothing listens on (for TCP and UDP alike).
func deadEndpoint(t *testing.T) proxy.Endpoint {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ep := endpointOf(ln.Addr())
	_ = ln.Close()
	return ep
}

func endpointOf(a net.Addr) proxy.Endpoint {
	var ap netip.AddrPort
	switch a := a.(type) {
	case *net.TCPAddr:
		ap = a.AddrPort()
	case *net.UDPAddr:
		ap = a.AddrPort()
	}
	return proxy.Endpoint{IP: ap.Addr().Unmap(), Port: ap.Port()}
}

// freePort returns a port free for both TCP and UDP on 127.0.0.1 (and 0.0.0.0) right now.
func freePort(t *testing.T) uint16 {
	t.Helper()
	for range 100 {
		ln, err := net.Listen("tcp4", "0.0.0.0:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		u, err := net.ListenUDP("udp4", &net.UDPAddr{Port: port})
		_ = ln.Close()
		if err == nil {
			_ = u.Close()
			return uint16(port)
		}
	}
	t.Fatal("no free port")
	return 0
}

func servicePort(name string, proto corev1.Protocol, eps ...proxy.Endpoint) proxy.ServicePort {
	return proxy.ServicePort{
		Service:   types.NamespacedName{Namespace: "default", Name: name},
		Protocol:  proto,
		Port:      80,
		Endpoints: eps,
	}
}

// newProxier returns a Proxier with its own metrics registry, cleaned up after the test.
func newProxier(t *testing.T, cfg Config) *Proxier {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if cfg.Metrics == nil {
		cfg.Metrics = prometheus.NewRegistry()
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Cleanup(t.Context()); err != nil {
			t.Errorf("cleanup: %v", err)
		}
		_ = p.Close()
	})
	return p
}

// testWriter sends log lines to t.Log, so they show with the failing test only.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(b), "\n"))
	return len(b), nil
}

func mustSync(t *testing.T, p *Proxier, sps ...proxy.ServicePort) {
	t.Helper()
	if err := p.Sync(t.Context(), proxy.State{Services: sps}); err != nil {
		t.Fatalf("sync: %v", err)
	}
}

// identify connects to addr through TCP and returns the greeting's name; the connection is
// returned open.
func identify(t *testing.T, addr netip.AddrPort) (string, *net.TCPConn) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr.String(), deadline)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	_ = c.SetDeadline(time.Now().Add(deadline))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		_ = c.Close()
		t.Fatalf("read greeting from %s: %v", addr, err)
	}
	return strings.TrimSuffix(line, "\n"), c.(*net.TCPConn)
}

// who connects once and returns the name of the endpoint reached.
func who(t *testing.T, addr netip.AddrPort) string {
	t.Helper()
	name, c := identify(t, addr)
	_ = c.Close()
	return name
}

// ask sends msg over c (a connected UDP socket) and returns the reply.
func ask(t *testing.T, c *net.UDPConn, msg string) string {
	t.Helper()
	if _, err := c.Write([]byte(msg)); err != nil {
		t.Fatalf("udp write: %v", err)
	}
	_ = c.SetReadDeadline(time.Now().Add(deadline))
	buf := make([]byte, 1500)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("udp read: %v", err)
	}
	return string(buf[:n])
}

func dialUDP(t *testing.T, to netip.AddrPort) *net.UDPConn {
	t.Helper()
	c, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(to))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	end := time.Now().Add(deadline)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// needRoot skips tests that change interfaces when the test cannot.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (CAP_NET_ADMIN) to add cluster IPs to an interface")
	}
}

// testIface is an interface name of this test process's own, so that test runs side by
// side do not share one.
func testIface(suffix string) string {
	return fmt.Sprintf("tugt%d%s", os.Getpid()%1000000, suffix)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
