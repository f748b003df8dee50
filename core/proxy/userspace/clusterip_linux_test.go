//go:build linux

package userspace

import (
	"bytes"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/tugboat-io/tug/core/proxy"
)

// Cluster IPs for these tests come from 10.250.0.0/24, which no real network here uses.
func vip(last byte) netip.Addr { return netip.AddrFrom4([4]byte{10, 250, 0, last}) }

// clusterIPProxier serves cluster IPs on an interface of this test's own, deleted after it
// (by the Cleanup newProxier registers, and here again should that fail).
func clusterIPProxier(t *testing.T, suffix string, nodeIPs ...netip.Addr) (*Proxier, string) {
	t.Helper()
	needRoot(t)
	name := testIface(suffix)
	t.Cleanup(func() {
		if l, err := netlink.LinkByName(name); err == nil {
			_ = netlink.LinkDel(l)
		}
	})
	return newProxier(t, Config{ClusterIPs: ClusterIPsOn, Interface: name, NodeIPs: nodeIPs}), name
}

// ifaceAddrs returns the addresses on the named interface; ok is false when it is missing.
func ifaceAddrs(t *testing.T, name string) (addrs []netip.Addr, ok bool) {
	t.Helper()
	l, err := netlink.LinkByName(name)
	if _, notFound := errors.AsType[netlink.LinkNotFoundError](err); notFound {
		return nil, false
	}
	if err != nil {
		t.Fatal(err)
	}
	list, err := netlink.AddrList(l, netlink.FAMILY_V4)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range list {
		ip, _ := netip.AddrFromSlice(a.IP)
		addrs = append(addrs, ip.Unmap())
	}
	return addrs, true
}

func TestClusterIPTCP(t *testing.T) {
	p, name := clusterIPProxier(t, "a")
	a, b, c := tcpBackend(t, "a"), tcpBackend(t, "b"), tcpBackend(t, "c")
	sp := servicePort("web", tcp, a, b, c)
	sp.ClusterIPs, sp.Port = []netip.Addr{vip(201)}, 8080
	mustSync(t, p, sp)

	if addrs, ok := ifaceAddrs(t, name); !ok || len(addrs) != 1 || addrs[0] != vip(201) {
		t.Fatalf("interface %s: addresses %v (exists: %v), want %v", name, addrs, ok, vip(201))
	}
	seen := map[string]int{}
	for range 9 {
		seen[who(t, netip.AddrPortFrom(vip(201), 8080))]++
	}
	if seen["a"] != 3 || seen["b"] != 3 || seen["c"] != 3 {
		t.Errorf("9 connections to the cluster IP reached %v, want 3 on each", seen)
	}

	// The cluster IP changes: the new address is added, the old one removed with its
	// listener.
	sp.ClusterIPs = []netip.Addr{vip(202)}
	mustSync(t, p, sp)
	if addrs, _ := ifaceAddrs(t, name); len(addrs) != 1 || addrs[0] != vip(202) {
		t.Fatalf("after the cluster IP changed: addresses %v, want %v", addrs, vip(202))
	}
	if name := who(t, netip.AddrPortFrom(vip(202), 8080)); name == "" {
		t.Errorf("no greeting through the new cluster IP")
	}
}

func TestClusterIPUDPRepliesFromTheAddressSentTo(t *testing.T) {
	p, _ := clusterIPProxier(t, "u") // NodePorts on 0.0.0.0
	np := freePort(t)
	sp := withNodePort(servicePort("dns", udp, udpBackend(t, "u1")), np)
	sp.ClusterIPs, sp.Port = []netip.Addr{vip(203)}, 5353
	mustSync(t, p, sp)

	// Through the cluster IP.
	if got := ask(t, dialUDP(t, netip.AddrPortFrom(vip(203), 5353)), "a"); got != "u1:a" {
		t.Errorf("via cluster IP: reply %q, want u1:a", got)
	}
	// Through the wildcard NodePort, from 127.0.0.1 to the cluster IP (a local address like
	// any other): left to itself the kernel would answer from 127.0.0.1, which this socket,
	// connected to the cluster IP, would drop.
	c, err := net.DialUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(localhost, 0)),
		net.UDPAddrFromAddrPort(netip.AddrPortFrom(vip(203), np)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := ask(t, c, "b"); got != "u1:b" {
		t.Errorf("via wildcard NodePort: reply %q, want u1:b", got)
	}
}

func TestCleanupRemovesInterfaceAndClosesEverything(t *testing.T) {
	p, name := clusterIPProxier(t, "c", localhost)
	np := freePort(t)
	sp := withNodePort(servicePort("web", tcp, tcpBackend(t, "a")), np)
	sp.ClusterIPs, sp.Port = []netip.Addr{vip(204)}, 80
	mustSync(t, p, sp)
	greeting, held := identify(t, netip.AddrPortFrom(localhost, np))
	defer held.Close()
	if greeting != "a" {
		t.Fatalf("greeting %q", greeting)
	}
	if _, ok := ifaceAddrs(t, name); !ok {
		t.Fatalf("interface %s not created", name)
	}

	if err := p.Cleanup(t.Context()); err != nil {
		t.Fatalf("cleanup: %v", err)
	}
	if _, ok := ifaceAddrs(t, name); ok {
		t.Errorf("interface %s still exists after Cleanup", name)
	}
	if _, err := net.DialTimeout("tcp4", netip.AddrPortFrom(localhost, np).String(), deadline); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("dial the NodePort after Cleanup: %v, want connection refused", err)
	}
	_ = held.SetReadDeadline(time.Now().Add(deadline))
	if n, err := held.Read(make([]byte, 1)); err == nil || isTimeout(err) {
		t.Errorf("established connection after Cleanup: read %d bytes, %v; want it closed", n, err)
	}

	// Cleanup is not the end: a later Sync starts again.
	mustSync(t, p, sp)
	if name := who(t, netip.AddrPortFrom(vip(204), 80)); name != "a" {
		t.Errorf("after Cleanup and Sync, reached %q", name)
	}
}

func TestForeignInterfaceLeftAlone(t *testing.T) {
	needRoot(t)
	name := testIface("f")
	attrs := netlink.NewLinkAttrs()
	attrs.Name = name
	if err := netlink.LinkAdd(&netlink.Bridge{LinkAttrs: attrs}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if l, err := netlink.LinkByName(name); err == nil {
			_ = netlink.LinkDel(l)
		}
	})
	p, err := New(Config{ClusterIPs: ClusterIPsOn, Interface: name, NodeIPs: []netip.Addr{localhost}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()

	np := freePort(t)
	sp := withNodePort(servicePort("web", tcp, tcpBackend(t, "a")), np)
	sp.ClusterIPs = []netip.Addr{vip(205)}
	if err := p.Sync(t.Context(), proxy.State{Services: []proxy.ServicePort{sp}}); !errors.Is(err, ErrForeignInterface) {
		t.Errorf("Sync = %v, want ErrForeignInterface", err)
	}
	if name := who(t, netip.AddrPortFrom(localhost, np)); name != "a" {
		t.Errorf("NodePort reached %q despite the cluster IP failure", name)
	}
	if err := p.Cleanup(t.Context()); !errors.Is(err, ErrForeignInterface) {
		t.Errorf("Cleanup = %v, want ErrForeignInterface", err)
	}
	if addrs, ok := ifaceAddrs(t, name); !ok || len(addrs) != 0 {
		t.Errorf("foreign interface: exists %v, addresses %v; want it untouched", ok, addrs)
	}
}

// TestAutoWithoutNetAdmin runs this test binary again as an unprivileged user, where
// adding an address fails with EPERM: ClusterIPsAuto must then serve the NodePorts.
func TestAutoWithoutNetAdmin(t *testing.T) {
	if os.Getenv(helperEnv) != "" {
		autoWithoutNetAdmin(t)
		return
	}
	needRoot(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// The binary is in a directory only root may enter; nobody gets a copy.
	dir, err := os.MkdirTemp("", "tugus")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	copyPath := filepath.Join(dir, "userspace.test")
	if err := os.WriteFile(copyPath, bin, 0o755); err != nil {
		t.Fatal(err)
	}
	name := testIface("n")
	cmd := exec.CommandContext(t.Context(), copyPath, "-test.run=^TestAutoWithoutNetAdmin$", "-test.v")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), helperEnv+"="+name)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestAutoWithoutNetAdmin") {
		t.Fatalf("unprivileged run: %v\n%s", err, out)
	}
	if _, ok := ifaceAddrs(t, name); ok {
		t.Errorf("interface %s exists after the unprivileged run", name)
	}
}

const helperEnv = "TUG_USERSPACE_UNPRIVILEGED_IFACE"

func autoWithoutNetAdmin(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Fatal("helper runs as root")
	}
	var logs bytes.Buffer
	p := newProxier(t, Config{
		Interface: os.Getenv(helperEnv),
		NodeIPs:   []netip.Addr{localhost},
		Logger:    slog.New(slog.NewTextHandler(&logs, nil)),
	})
	np := freePort(t)
	sp := withNodePort(servicePort("web", tcp, tcpBackend(t, "a")), np)
	sp.ClusterIPs = []netip.Addr{vip(206)}
	for range 2 {
		mustSync(t, p, sp)
	}
	if name := who(t, netip.AddrPortFrom(localhost, np)); name != "a" {
		t.Errorf("NodePort reached %q", name)
	}
	if n := strings.Count(logs.String(), "cluster IPs are unreachable"); n != 1 {
		t.Errorf("the missing permission was logged %d times, want once:\n%s", n, logs.String())
	}
}
