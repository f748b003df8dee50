package podnet

import (
	"context"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// newTestNetwork makes a network on a bridge of its own, or skips where CNI cannot run.
func newTestNetwork(t *testing.T) *Network {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("pod networks need root (network namespaces, bridges)")
	}
	for _, p := range []string{"bridge", "host-local", "portmap"} {
		if _, err := findPlugin(DefaultPluginDirs, p); err != nil {
			t.Skipf("CNI plugins not available: %v", err)
		}
	}
	// Anything else New fails on (the masquerade rule) is a failure of the code under test.
	n, err := New(Config{Name: "tug-podnet-test", Bridge: "tugtest0", Subnet: netip.MustParsePrefix("10.91.0.0/24"), StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		_ = exec.Command("ip", "link", "del", "tugtest0").Run()
	})
	return n
}

func TestAttachDetach(t *testing.T) {
	n := newTestNetwork(t)
	ctx := context.Background()
	att, err := n.Add(ctx, "pod-a", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !netip.MustParsePrefix("10.91.0.0/24").Contains(att.IP) {
		t.Errorf("address %s outside the subnet", att.IP)
	}
	if !n.Alive(att) {
		t.Error("a new attachment is not alive")
	}
	// The pod's loopback is up: the agent brings it up, no loopback plugin runs.
	if out, err := exec.Command("nsenter", "--net="+att.NetNS, "ip", "-o", "link", "show", "lo").CombinedOutput(); err != nil {
		t.Errorf("ip link show lo in the pod: %v\n%s", err, out)
	} else if !strings.Contains(string(out), "UP") {
		t.Errorf("the pod's lo is not up: %s", out)
	}
	// One masquerade rule covers the range: traffic from the pods to anything but the pods
	// and multicast.
	if out, err := exec.Command("nft", "list", "table", "ip", "tug-podnet-test").CombinedOutput(); err != nil {
		t.Errorf("nft list table: %v\n%s", err, out)
	} else {
		for _, want := range []string{"ip saddr 10.91.0.0/24 ip daddr != 10.91.0.0/24 ip daddr != 224.0.0.0/4", "masquerade", "hook postrouting"} {
			if !strings.Contains(string(out), want) {
				t.Errorf("the network's table lacks %q:\n%s", want, out)
			}
		}
	}
	// The node reaches the pod: nothing listens, so the dial is refused, not timed out.
	_, err = net.DialTimeout("tcp", net.JoinHostPort(att.IP.String(), "9"), 3*time.Second)
	if opErr, ok := err.(*net.OpError); !ok || opErr.Timeout() {
		t.Errorf("dial %s: %v, want connection refused (reachable)", att.IP, err)
	}
	b, err := n.Add(ctx, "pod-b", nil)
	if err != nil {
		t.Fatal(err)
	}
	if b.IP == att.IP {
		t.Errorf("two pods share %s", b.IP)
	}
	if err := n.Del(ctx, att, nil); err != nil {
		t.Fatal(err)
	}
	if n.Alive(att) {
		t.Error("alive after Del")
	}
	if _, err := os.Stat(att.NetNS); !os.IsNotExist(err) {
		t.Errorf("namespace file left: %v", err)
	}
	if err := n.Del(ctx, att, nil); err != nil {
		t.Errorf("a second Del: %v, want none", err)
	}
	if got := n.Attached(); len(got) != 1 || got[0] != "pod-b" {
		t.Errorf("Attached() = %v, want [pod-b]", got)
	}
	_ = n.Del(ctx, b, nil)
}

// An agent that died between making a namespace and recording it leaves the namespace under
// the pod's name; attaching the pod again replaces it instead of leaking it.
func TestAddReplacesAStaleNamespace(t *testing.T) {
	n := newTestNetwork(t)
	ctx := context.Background()
	first, err := n.Add(ctx, "pod-c", nil)
	if err != nil {
		t.Fatal(err)
	}
	again, err := n.Add(ctx, "pod-c", nil)
	if err != nil {
		t.Fatal(err)
	}
	if again.NetNS != first.NetNS || !n.Alive(again) {
		t.Errorf("re-attached at %s (alive %v), want %s alive", again.NetNS, n.Alive(again), first.NetNS)
	}
	entries, _ := os.ReadDir(filepath.Dir(first.NetNS))
	if len(entries) != 1 {
		t.Errorf("%d namespaces after attaching one pod twice, want 1", len(entries))
	}
	_ = n.Del(ctx, again, nil)
}

// New replaces the table a previous agent left, rather than adding a second rule, and Close
// removes it.
func TestMasqueradeIsReplacedAndRemoved(t *testing.T) {
	n := newTestNetwork(t)
	if _, err := New(n.cfg); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("nft", "list", "table", "ip", "tug-podnet-test").CombinedOutput()
	if err != nil {
		t.Fatalf("nft list table: %v\n%s", err, out)
	}
	if got := strings.Count(string(out), "masquerade"); got != 1 {
		t.Errorf("%d masquerade rules after New twice, want 1:\n%s", got, out)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("nft", "list", "table", "ip", "tug-podnet-test").CombinedOutput(); err == nil {
		t.Errorf("table still there after Close:\n%s", out)
	}
	if err := n.Close(); err != nil {
		t.Errorf("a second Close: %v, want none", err)
	}
}
