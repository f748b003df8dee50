package userspace

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/tugboat-io/tug/core/proxy"
)

func ep(last byte) proxy.Endpoint {
	return proxy.Endpoint{IP: netip.AddrFrom4([4]byte{10, 0, 0, last}), Port: 8080}
}

var (
	clientA = netip.MustParseAddr("192.168.0.1")
	clientB = netip.MustParseAddr("192.168.0.2")
)

// fakeClock lets affinity expire without waiting.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newTestBalancer(eps []proxy.Endpoint, affinity time.Duration) (*balancer, *fakeClock) {
	clock := &fakeClock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	b := newBalancer()
	b.now = clock.now
	b.set(eps, affinity)
	return b, clock
}

func TestBalancerRoundRobin(t *testing.T) {
	b, _ := newTestBalancer([]proxy.Endpoint{ep(1), ep(2), ep(3)}, 0)
	want := [][]proxy.Endpoint{
		{ep(1), ep(2), ep(3)},
		{ep(2), ep(3), ep(1)},
		{ep(3), ep(1), ep(2)},
		{ep(1), ep(2), ep(3)},
	}
	for i, w := range want {
		if got := b.pick(clientA); !slices.Equal(got, w) {
			t.Errorf("pick %d = %v, want %v", i, got, w)
		}
	}
}

func TestBalancerNoEndpoints(t *testing.T) {
	b, _ := newTestBalancer(nil, time.Hour)
	if got := b.pick(clientA); got != nil {
		t.Errorf("pick with no endpoints = %v, want nil", got)
	}
}

func TestBalancerAffinity(t *testing.T) {
	const affinity = time.Minute
	eps := []proxy.Endpoint{ep(1), ep(2), ep(3)}

	t.Run("client sticks, others keep their turns", func(t *testing.T) {
		b, _ := newTestBalancer(eps, affinity)
		b.used(clientA, ep(2))
		for range 3 {
			if got := b.pick(clientA); got[0] != ep(2) || len(got) != 3 {
				t.Fatalf("pick for the stuck client = %v, want ep(2) first and all three", got)
			}
		}
		// The stuck client's picks took no turn: another client still starts at the first.
		if got := b.pick(clientB); got[0] != ep(1) {
			t.Errorf("pick for another client = %v, want ep(1) first", got)
		}
	})

	t.Run("expires after silence", func(t *testing.T) {
		b, clock := newTestBalancer(eps, affinity)
		b.used(clientA, ep(3))
		clock.advance(affinity - time.Second)
		if got := b.pick(clientA); got[0] != ep(3) {
			t.Fatalf("before expiry pick = %v, want ep(3) first", got)
		}
		clock.advance(time.Second)
		if got := b.pick(clientA); got[0] != ep(1) {
			t.Errorf("after expiry pick = %v, want round robin from ep(1)", got)
		}
	})

	t.Run("connection end keeps it alive", func(t *testing.T) {
		b, clock := newTestBalancer(eps, affinity)
		b.used(clientA, ep(3))
		clock.advance(affinity - time.Second)
		b.ended(clientA, ep(3))
		clock.advance(affinity - time.Second)
		if got := b.pick(clientA); got[0] != ep(3) {
			t.Errorf("pick = %v, want ep(3) first: the connection ended within the timeout", got)
		}
	})

	t.Run("endpoint that left is replaced", func(t *testing.T) {
		b, _ := newTestBalancer(eps, affinity)
		b.used(clientA, ep(2))
		b.set([]proxy.Endpoint{ep(1), ep(3)}, affinity)
		got := b.pick(clientA)
		if slices.Contains(got, ep(2)) || len(got) != 2 {
			t.Fatalf("pick = %v, want ep(1) and ep(3) only", got)
		}
		b.used(clientA, got[0])
		// An old connection to ep(2) ending must not bring the client back to it.
		b.ended(clientA, ep(2))
		b.set(eps, affinity)
		if again := b.pick(clientA); again[0] != got[0] {
			t.Errorf("pick = %v, want %v first (the new choice)", again, got[0])
		}
	})

	t.Run("forget drops a failed choice", func(t *testing.T) {
		b, _ := newTestBalancer(eps, affinity)
		b.used(clientA, ep(2))
		b.forget(clientA, ep(2))
		if got := b.pick(clientA); got[0] != ep(1) {
			t.Errorf("pick = %v, want round robin from ep(1)", got)
		}
	})

	t.Run("turning affinity off forgets", func(t *testing.T) {
		b, _ := newTestBalancer(eps, affinity)
		b.used(clientA, ep(2))
		b.set(eps, 0)
		b.set(eps, affinity)
		if got := b.pick(clientA); got[0] != ep(1) {
			t.Errorf("pick = %v, want round robin from ep(1)", got)
		}
	})

	t.Run("expired entries are swept", func(t *testing.T) {
		b, clock := newTestBalancer(eps, affinity)
		b.used(clientA, ep(1))
		clock.advance(2 * affinity)
		b.used(clientB, ep(2))
		if _, ok := b.sticky[clientA]; ok {
			t.Errorf("expired entry of %v kept: %v", clientA, b.sticky)
		}
	})
}
