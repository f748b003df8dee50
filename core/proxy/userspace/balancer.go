package userspace

import (
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tugboat-io/tug/core/proxy"
)

// table is what a Sync gives a service port's balancer; it is replaced whole, never
// changed, so a connection sees either the old endpoints or the new ones.
type table struct {
	eps      []proxy.Endpoint
	has      map[proxy.Endpoint]bool
	affinity time.Duration
}

func newTable(eps []proxy.Endpoint, affinity time.Duration) *table {
	t := &table{eps: slices.Clone(eps), has: make(map[proxy.Endpoint]bool, len(eps)), affinity: affinity}
	for _, ep := range eps {
		t.has[ep] = true
	}
	return t
}

// balancer chooses endpoints for one service port.
//
// It goes round robin rather than at random, as kube-proxy's userspace mode did: spread is
// even over any number of connections, not only on average, which matters for the few
// long-lived connections that services often carry, and it costs one atomic add. A dial
// that fails moves on to the next endpoint in the same order, so each is tried at most once.
//
// With ClientIP affinity a client is stuck to the endpoint it last reached while it keeps
// opening connections (or UDP sessions) less than the affinity timeout apart, as the
// iptables "recent" match of kube-proxy does.
type balancer struct {
	tab  atomic.Pointer[table]
	next atomic.Uint32
	now  func() time.Time // time.Now, but tests move it

	mu      sync.Mutex
	sticky  map[netip.Addr]stickyEntry
	sweepAt time.Time // expired entries are swept at most once per affinity timeout
}

type stickyEntry struct {
	ep   proxy.Endpoint
	seen time.Time
}

func newBalancer() *balancer {
	b := &balancer{now: time.Now, sticky: map[netip.Addr]stickyEntry{}}
	b.tab.Store(newTable(nil, 0))
	return b
}

// set replaces the endpoints and affinity; new connections see them at once. Sticky entries
// to endpoints that left stay until used: pick ignores them, and they expire.
func (b *balancer) set(eps []proxy.Endpoint, affinity time.Duration) {
	b.tab.Store(newTable(eps, affinity))
	if affinity == 0 {
		b.mu.Lock()
		clear(b.sticky)
		b.mu.Unlock()
	}
}

func (b *balancer) endpoints() *table { return b.tab.Load() }

// pick returns the endpoints to try, in order, for a connection from client: the client's
// sticky endpoint first if it has a live one, then the rest round robin. Nil means none.
func (b *balancer) pick(client netip.Addr) []proxy.Endpoint {
	t := b.tab.Load()
	n := len(t.eps)
	if n == 0 {
		return nil
	}
	order := make([]proxy.Endpoint, 0, n)
	var stuck proxy.Endpoint
	if t.affinity > 0 {
		b.mu.Lock()
		e, ok := b.sticky[client]
		b.mu.Unlock()
		if ok && t.has[e.ep] && b.now().Sub(e.seen) < t.affinity {
			stuck = e.ep
			order = append(order, stuck)
		}
	}
	var start int
	if len(order) > 0 {
		// A sticky hit takes no turn from the others.
		start = int(b.next.Load() % uint32(n))
	} else {
		start = int((b.next.Add(1) - 1) % uint32(n))
	}
	for i := range n {
		if ep := t.eps[(start+i)%n]; len(order) == 0 || ep != stuck {
			order = append(order, ep)
		}
	}
	return order
}

// used records that client reached ep: with affinity, its next connections go there too.
func (b *balancer) used(client netip.Addr, ep proxy.Endpoint) {
	b.record(client, ep, true)
}

// ended records that client's connection to ep ended: a client whose connections last
// longer than the timeout still counts as active. It does not restore an affinity that
// moved to another endpoint meanwhile.
func (b *balancer) ended(client netip.Addr, ep proxy.Endpoint) {
	b.record(client, ep, false)
}

func (b *balancer) record(client netip.Addr, ep proxy.Endpoint, opened bool) {
	t := b.tab.Load()
	if t.affinity == 0 {
		return
	}
	now := b.now()
	b.mu.Lock()
	defer b.mu.Unlock()
	if e, ok := b.sticky[client]; opened || (ok && e.ep == ep) {
		b.sticky[client] = stickyEntry{ep: ep, seen: now}
	}
	if now.After(b.sweepAt) {
		for ip, e := range b.sticky {
			if now.Sub(e.seen) >= t.affinity {
				delete(b.sticky, ip)
			}
		}
		b.sweepAt = now.Add(t.affinity)
	}
}

// forget drops client's affinity to ep (which just failed), so its next connection picks
// anew instead of returning to a dead endpoint.
func (b *balancer) forget(client netip.Addr, ep proxy.Endpoint) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if e, ok := b.sticky[client]; ok && e.ep == ep {
		delete(b.sticky, client)
	}
}
