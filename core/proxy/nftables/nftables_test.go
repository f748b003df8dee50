//go:build linux

package nftables

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/tugboat-io/tug/core/proxy"
)

// The tests program a table of their own and reach "endpoints" that are servers of the test
// on an address of a dummy interface, so the kernel's DNAT, reject and NodePort paths run for
// real from this host.

const (
	testTable = "tug-proxy-test"
	testLink  = "tugtest-ep0"
)

var backendIP = netip.MustParseAddr("10.251.0.1")

func newTestProxier(t *testing.T) *Proxier {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("nftables needs root")
	}
	if err := Available(); err != nil {
		t.Skipf("nftables not usable here: %v", err)
	}
	run := func(args ...string) {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v\n%s", args, err, out)
		}
	}
	_ = exec.Command("ip", "link", "del", testLink).Run()
	// A bridge with no ports holds the address: this kernel may lack the dummy driver.
	run("link", "add", testLink, "type", "bridge")
	run("addr", "add", backendIP.String()+"/32", "dev", testLink)
	run("link", "set", testLink, "up")
	p, err := New(Config{Table: testTable})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = p.Cleanup(context.Background())
		_ = exec.Command("ip", "link", "del", testLink).Run()
	})
	return p
}

// backend serves TCP on backendIP, answering each connection with its name.
func backend(t *testing.T, name string) proxy.Endpoint {
	t.Helper()
	l, err := net.Listen("tcp", netip.AddrPortFrom(backendIP, 0).String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write([]byte(name + "\n"))
			c.Close()
		}
	}()
	return proxy.Endpoint{IP: backendIP, Port: uint16(l.Addr().(*net.TCPAddr).Port)}
}

func udpBackend(t *testing.T, name string) proxy.Endpoint {
	t.Helper()
	pc, err := net.ListenPacket("udp", netip.AddrPortFrom(backendIP, 0).String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			_, _ = pc.WriteTo(append([]byte(name+":"), buf[:n]...), from)
		}
	}()
	return proxy.Endpoint{IP: backendIP, Port: uint16(pc.LocalAddr().(*net.UDPAddr).Port)}
}

// ask connects to addr and returns the name the backend answers with.
func ask(addr string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, 3*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(3 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(line), err
}

func svcPort(name string, ip string, port uint16, eps ...proxy.Endpoint) proxy.ServicePort {
	return proxy.ServicePort{Service: types.NamespacedName{Namespace: "default", Name: name}, Protocol: corev1.ProtocolTCP,
		ClusterIPs: []netip.Addr{netip.MustParseAddr(ip)}, Port: port, Endpoints: eps}
}

func TestClusterIPNodePortAndReject(t *testing.T) {
	p := newTestProxier(t)
	ctx := context.Background()
	a, b, c := backend(t, "a"), backend(t, "b"), backend(t, "c")
	web := svcPort("web", "10.250.1.1", 80, a, b, c)
	web.NodePort = 30080
	empty := svcPort("empty", "10.250.1.2", 80)
	empty.NodePort = 30081
	if err := p.Sync(ctx, proxy.State{Services: []proxy.ServicePort{empty, web}}); err != nil {
		t.Fatal(err)
	}

	for _, addr := range []string{"10.250.1.1:80", netip.AddrPortFrom(backendIP, 30080).String()} {
		seen := map[string]int{}
		for range 60 {
			name, err := ask(addr)
			if err != nil {
				t.Fatalf("%s: %v", addr, err)
			}
			seen[name]++
		}
		if len(seen) != 3 {
			t.Errorf("%s: 60 connections reached %v, want all of a, b and c", addr, seen)
		}
	}

	// No endpoints: refused by the kernel at once, on the cluster IP and on the NodePort.
	for _, addr := range []string{"10.250.1.2:80", netip.AddrPortFrom(backendIP, 30081).String()} {
		_, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("dial %s (no endpoints): %v, want connection refused", addr, err)
		}
	}

	// An endpoint leaves: the next connections avoid it.
	web.Endpoints = []proxy.Endpoint{a, c}
	if err := p.Sync(ctx, proxy.State{Services: []proxy.ServicePort{web}}); err != nil {
		t.Fatal(err)
	}
	for range 30 {
		if name, err := ask("10.250.1.1:80"); err != nil || name == "b" {
			t.Fatalf("after b left: %q, %v", name, err)
		}
	}
	// The service without endpoints left the state: its reject went with it.
	out, err := exec.Command("nft", "list", "table", "ip", testTable).CombinedOutput()
	if err != nil {
		t.Fatalf("nft list: %v\n%s", err, out)
	}
	if strings.Contains(string(out), "10.250.1.2") || strings.Count(string(out), "chain ep-") != 2 {
		t.Errorf("table after the second sync still holds what was removed:\n%s", out)
	}

	if err := p.Cleanup(ctx); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("nft", "list", "table", "ip", testTable).CombinedOutput(); err == nil {
		t.Errorf("table left after Cleanup:\n%s", out)
	}
}

func TestUDPAndAffinity(t *testing.T) {
	p := newTestProxier(t)
	ctx := context.Background()
	u := udpBackend(t, "u")
	dns := svcPort("dns", "10.250.1.3", 53, u)
	dns.Protocol = corev1.ProtocolUDP
	sticky := svcPort("sticky", "10.250.1.4", 80, backend(t, "a"), backend(t, "b"), backend(t, "c"))
	sticky.Affinity = time.Hour
	if err := p.Sync(ctx, proxy.State{Services: []proxy.ServicePort{dns, sticky}}); err != nil {
		t.Fatal(err)
	}

	conn, err := net.Dial("udp", "10.250.1.3:53")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 100)
	n, err := conn.Read(buf)
	if err != nil || string(buf[:n]) != "u:ping" {
		t.Errorf("UDP through the cluster IP: %q, %v; want u:ping", buf[:n], err)
	}

	first, err := ask("10.250.1.4:80")
	if err != nil {
		t.Fatal(err)
	}
	for range 30 {
		if name, err := ask("10.250.1.4:80"); err != nil || name != first {
			t.Fatalf("with ClientIP affinity a connection reached %q (%v), the first reached %q", name, err, first)
		}
	}
}

// A sync that changes only some service ports leaves the same table a full one would: the
// same chains, sets and entries, nothing of the old left behind.
func TestIncrementalSyncMatchesFull(t *testing.T) {
	p := newTestProxier(t)
	ctx := context.Background()
	ep := func(last byte, port uint16) proxy.Endpoint {
		return proxy.Endpoint{IP: netip.AddrFrom4([4]byte{10, 252, 0, last}), Port: port}
	}
	a := svcPort("a", "10.250.2.1", 80, ep(1, 8080), ep(2, 8080))
	b := svcPort("b", "10.250.2.2", 80, ep(3, 8080))
	b.NodePort = 30090
	c := svcPort("c", "10.250.2.3", 80)
	d := svcPort("d", "10.250.2.4", 53, ep(4, 5353))
	d.Protocol = corev1.ProtocolUDP
	d.Affinity = time.Minute
	if err := p.Sync(ctx, proxy.State{Services: []proxy.ServicePort{a, b, c, d}}); err != nil {
		t.Fatal(err)
	}
	// a loses an endpoint, b loses all (its NodePort now rejects), c gains one, d is
	// removed, e is new; the same cluster IP keys now point elsewhere.
	a.Endpoints = a.Endpoints[:1]
	b.Endpoints = nil
	c.Endpoints = []proxy.Endpoint{ep(5, 8080)}
	e := svcPort("e", "10.250.2.5", 80, ep(6, 8080))
	next := proxy.State{Services: []proxy.ServicePort{a, b, c, e}}
	if err := p.Sync(ctx, next); err != nil {
		t.Fatalf("incremental sync: %v", err)
	}
	incremental := listTable(t)
	// Unchanged, it changes nothing.
	if err := p.Sync(ctx, next); err != nil {
		t.Fatal(err)
	}
	if again := listTable(t); again != incremental {
		t.Errorf("a sync of the same state changed the table:\n%s\nthen:\n%s", incremental, again)
	}
	if err := p.Cleanup(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.Sync(ctx, next); err != nil {
		t.Fatal(err)
	}
	if full := listTable(t); full != incremental {
		t.Errorf("incremental sync left:\n%s\na full sync of the same state makes:\n%s", incremental, full)
	}
	for _, gone := range []string{"10.252.0.2", "10.252.0.3", "10.252.0.4", "10.250.2.4"} {
		if strings.Contains(incremental, gone) {
			t.Errorf("the table still mentions %s:\n%s", gone, incremental)
		}
	}
}

// listTable is the test table as nft prints it, lines sorted (creation order differs between
// a full and an incremental sync).
func listTable(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("nft", "list", "table", "ip", testTable).CombinedOutput()
	if err != nil {
		t.Fatalf("nft list table: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	for i := range lines {
		lines[i] = strings.TrimSpace(lines[i])
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}
