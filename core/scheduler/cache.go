package scheduler

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// AssumeTTL is how long an assumed pod whose binding was written may wait for the watch to
// show it bound before the cache drops it (the binding was lost, or the pod deleted).
const AssumeTTL = 30 * time.Second

// maxTombstones bounds how many node removals the cache remembers for deltas; an instance
// further behind than that gets a full resend.
const maxTombstones = 4096

// Cache is the scheduler's view of nodes and the pods on them (see the package doc). Node
// and pod objects are encoded to JSON once, when they change, and reused in every delta.
// It is safe for concurrent use.
type Cache struct {
	now func() time.Time

	mu    sync.RWMutex
	gen   uint64
	nodes map[string]*cachedNode // by node name
	pods  map[string]*cachedPod  // by pod key
	ids   idSet
	// removed remembers, in generation order, the ids of removed nodes; removals at or
	// before trimmed are forgotten.
	removed []tombstone
	trimmed uint64
	// list is the node list by id, built by the first reader after a node came or went
	// (readers hold only the read lock, hence the atomic).
	list atomic.Pointer[[]NodeRef]
	// oldest and newest end the nodes' list in order of their last change, so that a delta
	// walks back from the newest through the changed nodes only, not the whole cluster.
	oldest, newest *cachedNode
}

type cachedNode struct {
	id   uint32
	name string
	node *corev1.Node
	json []byte
	pods map[string]*cachedPod
	gen  uint64 // last change of the node or its pods
	// older and newer link the nodes by gen (Cache.oldest … Cache.newest).
	older, newer *cachedNode
}

type cachedPod struct {
	pod      *corev1.Pod
	json     []byte
	node     string
	assumed  bool
	deadline time.Time // set when an assumed pod's binding is written
	// nominated: assumed only to keep room for a preemptor (Nominate), not chosen by a cycle.
	nominated bool
}

type tombstone struct {
	id  uint32
	gen uint64
}

// NewCache returns an empty cache that reads time from now (time.Now when nil).
func NewCache(now func() time.Time) *Cache {
	if now == nil {
		now = time.Now
	}
	return &Cache{now: now, nodes: map[string]*cachedNode{}, pods: map[string]*cachedPod{}}
}

// SetNode adds or updates a node.
func (c *Cache) SetNode(n *corev1.Node) error {
	b, err := json.Marshal(n)
	if err != nil {
		return fmt.Errorf("cache: encode node %s: %w", n.Name, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	cn := c.nodes[n.Name]
	if cn == nil {
		cn = &cachedNode{id: c.ids.take(), name: n.Name, pods: map[string]*cachedPod{}}
		c.nodes[n.Name] = cn
		c.list.Store(nil)
		// Pods the watch showed bound before their node appeared.
		for k, cp := range c.pods {
			if cp.node == n.Name {
				cn.pods[k] = cp
			}
		}
	}
	cn.node, cn.json = n, b
	c.touchLocked(cn)
	return nil
}

// RemoveNode removes a node; the pods the cache placed on it go with it.
func (c *Cache) RemoveNode(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cn := c.nodes[name]
	if cn == nil {
		return
	}
	for k := range cn.pods {
		delete(c.pods, k)
	}
	c.unlinkLocked(cn)
	delete(c.nodes, name)
	c.list.Store(nil)
	c.gen++
	c.removed = append(c.removed, tombstone{cn.id, c.gen})
	if len(c.removed) > maxTombstones {
		drop := len(c.removed) - maxTombstones
		c.trimmed = c.removed[drop-1].gen
		c.removed = slices.Delete(c.removed, 0, drop)
	}
	c.ids.free(cn.id)
}

// touchLocked marks a change of cn: a new generation, and cn moves to the newest end.
func (c *Cache) touchLocked(cn *cachedNode) {
	c.gen++
	cn.gen = c.gen
	if c.newest == cn {
		return
	}
	c.unlinkLocked(cn)
	cn.older = c.newest
	if c.newest != nil {
		c.newest.newer = cn
	}
	c.newest = cn
	if c.oldest == nil {
		c.oldest = cn
	}
}

func (c *Cache) unlinkLocked(cn *cachedNode) {
	if cn.older != nil {
		cn.older.newer = cn.newer
	} else if c.oldest == cn {
		c.oldest = cn.newer
	}
	if cn.newer != nil {
		cn.newer.older = cn.older
	} else if c.newest == cn {
		c.newest = cn.older
	}
	cn.older, cn.newer = nil, nil
}

// AddPod records a pod the API shows bound to a node (spec.nodeName set); a pod the
// scheduler assumed is thereby confirmed. An update of a known pod is the same call.
func (c *Cache) AddPod(p *corev1.Pod) error {
	if p.Spec.NodeName == "" {
		return nil
	}
	b, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("cache: encode pod %s: %w", Key(p), err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.placeLocked(&cachedPod{pod: p, json: b, node: p.Spec.NodeName})
	return nil
}

// placeLocked puts cp on its node, replacing whatever the cache had under its key. A pod
// on a node the cache does not know is remembered but reaches no plugin until the node does.
func (c *Cache) placeLocked(cp *cachedPod) {
	key := Key(cp.pod)
	if old := c.pods[key]; old != nil {
		if cn := c.nodes[old.node]; cn != nil {
			delete(cn.pods, key)
			c.touchLocked(cn)
		}
	}
	c.pods[key] = cp
	if cn := c.nodes[cp.node]; cn != nil {
		cn.pods[key] = cp
		c.touchLocked(cn)
	}
}

// RemovePod forgets a pod (deleted, or finished and gone).
func (c *Cache) RemovePod(p *corev1.Pod) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.removePodLocked(Key(p))
}

func (c *Cache) removePodLocked(key string) {
	cp := c.pods[key]
	if cp == nil {
		return
	}
	delete(c.pods, key)
	if cn := c.nodes[cp.node]; cn != nil {
		delete(cn.pods, key)
		c.touchLocked(cn)
	}
}

// Assume places a pod on a node before its binding is written, so that the next cycle
// counts what it takes. The pod must not be in the cache already.
func (c *Cache) Assume(p *corev1.Pod, node string) error { return c.assume(p, node, false) }

func (c *Cache) assume(p *corev1.Pod, node string, nominated bool) error {
	q := p.DeepCopy()
	q.Spec.NodeName = node
	b, err := json.Marshal(q)
	if err != nil {
		return fmt.Errorf("cache: encode pod %s: %w", Key(p), err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pods[Key(p)] != nil {
		return fmt.Errorf("cache: pod %s is already on node %s", Key(p), c.pods[Key(p)].node)
	}
	if c.nodes[node] == nil {
		return fmt.Errorf("cache: no node %s", node)
	}
	c.placeLocked(&cachedPod{pod: q, json: b, node: node, assumed: true, nominated: nominated})
	return nil
}

// BindingWritten starts an assumed pod's AssumeTTL: the watch should show it bound by then.
func (c *Cache) BindingWritten(p *corev1.Pod) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cp := c.pods[Key(p)]; cp != nil && cp.assumed {
		cp.deadline = c.now().Add(AssumeTTL)
	}
}

// Forget drops an assumed pod whose binding failed.
func (c *Cache) Forget(p *corev1.Pod) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cp := c.pods[Key(p)]; cp != nil && cp.assumed {
		c.removePodLocked(Key(p))
	}
}

// Expire drops assumed pods whose binding was written more than AssumeTTL ago and never
// showed up; it returns how many.
func (c *Cache) Expire() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	now, n := c.now(), 0
	for k, cp := range c.pods {
		if cp.assumed && !cp.deadline.IsZero() && !now.Before(cp.deadline) {
			c.removePodLocked(k)
			n++
		}
	}
	return n
}

// IsAssumed reports whether the cache holds p as assumed (not yet confirmed by the watch).
func (c *Cache) IsAssumed(p *corev1.Pod) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	cp := c.pods[Key(p)]
	return cp != nil && cp.assumed
}

// NodeRef names a node by the id plugins know it by.
type NodeRef struct {
	ID   uint32
	Name string
}

// Nodes returns every node, ordered by id. The slice is shared: do not modify it.
func (c *Cache) Nodes() []NodeRef {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.nodesLocked()
}

func (c *Cache) nodesLocked() []NodeRef {
	if l := c.list.Load(); l != nil {
		return *l
	}
	refs := make([]NodeRef, 0, len(c.nodes))
	for _, cn := range c.nodes {
		refs = append(refs, NodeRef{cn.id, cn.name})
	}
	slices.SortFunc(refs, func(a, b NodeRef) int { return int(a.ID) - int(b.ID) })
	c.list.Store(&refs)
	return refs
}

// Delta is what brings a plugin instance from one generation of the cache to another: the
// input of tug_sched_nodes (hostabi/ABI.md §4.1).
type Delta struct {
	// Gen is the generation the instance is at once it has applied the delta.
	Gen uint64
	// Message is the tug_sched_nodes input; nil when there is nothing to send.
	Message []byte
	// Set and Removed count the nodes set and removed.
	Set, Removed int
}

// Delta returns the changes since generation since; since 0 is a fresh instance, which gets
// every node. An instance further behind than the removals the cache remembers gets every
// node, and the removal of every id not in use.
func (c *Cache) Delta(since uint64) Delta {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.deltaLocked(since)
}

// sync returns the node list and, for instances at generations gens, the deltas that bring
// each to the list's generation: one consistent view for a cycle.
func (c *Cache) sync(gens []uint64) ([]NodeRef, []Delta) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	ds := make([]Delta, len(gens))
	for i, g := range gens {
		ds[i] = c.deltaLocked(g)
	}
	return c.nodesLocked(), ds
}

func (c *Cache) deltaLocked(since uint64) Delta {
	d := Delta{Gen: c.gen}
	if since >= c.gen {
		return d
	}
	full := since > 0 && since < c.trimmed
	set := map[uint32]bool{}
	msg := []byte(`{"set":[`)
	for cn := c.newest; cn != nil; cn = cn.older {
		if cn.gen <= since && !full {
			break // the rest changed earlier still
		}
		if len(set) > 0 {
			msg = append(msg, ',')
		}
		set[cn.id] = true
		msg = appendNodeEntry(msg, cn, nil)
	}
	msg = append(msg, `],"remove":[`...)
	var removed []uint32
	switch {
	case full:
		removed = c.ids.unused()
	case since > 0:
		for _, t := range c.removed {
			if t.gen > since && !set[t.id] && !slices.Contains(removed, t.id) {
				removed = append(removed, t.id)
			}
		}
	}
	for i, id := range removed {
		if i > 0 {
			msg = append(msg, ',')
		}
		msg = strconv.AppendUint(msg, uint64(id), 10)
	}
	msg = append(msg, "]}"...)
	d.Message, d.Set, d.Removed = msg, len(set), len(removed)
	return d
}

// idSet hands out dense node ids from 0, reusing freed ones (ABI.md §4.1 asks hosts to).
type idSet struct {
	next  uint32
	freed []uint32
}

func (s *idSet) take() uint32 {
	if n := len(s.freed); n > 0 {
		id := s.freed[n-1]
		s.freed = s.freed[:n-1]
		return id
	}
	s.next++
	return s.next - 1
}

func (s *idSet) free(id uint32) { s.freed = append(s.freed, id) }

// unused returns the ids handed out before and free now.
func (s *idSet) unused() []uint32 { return slices.Clone(s.freed) }

// podsOn returns a node's ref and the pods the cache has on it (nil if it has no such node).
func (c *Cache) podsOn(name string) (NodeRef, []*corev1.Pod, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	cn := c.nodes[name]
	if cn == nil {
		return NodeRef{}, nil, false
	}
	pods := make([]*corev1.Pod, 0, len(cn.pods))
	for _, cp := range cn.pods {
		pods = append(pods, cp.pod)
	}
	return NodeRef{cn.id, cn.name}, pods, true
}

// entry is a tug_sched_nodes message that sets a node with only the pods keep allows (all
// when keep is nil) — a what-if for preemption, and the way back from it. A node that is gone
// is removed.
func (c *Cache) entry(ref NodeRef, keep func(*corev1.Pod) bool) []byte {
	c.mu.RLock()
	defer c.mu.RUnlock()
	cn := c.nodes[ref.Name]
	if cn == nil || cn.id != ref.ID {
		return []byte(`{"remove":[` + strconv.FormatUint(uint64(ref.ID), 10) + `]}`)
	}
	return append(appendNodeEntry([]byte(`{"set":[`), cn, keep), "]}"...)
}

// appendNodeEntry appends one entry of node changes (ABI.md §4.1): the node and its pods, or
// those keep allows when keep is not nil.
func appendNodeEntry(msg []byte, cn *cachedNode, keep func(*corev1.Pod) bool) []byte {
	msg = append(msg, `{"id":`...)
	msg = strconv.AppendUint(msg, uint64(cn.id), 10)
	msg = append(msg, `,"node":`...)
	msg = append(msg, cn.json...)
	msg = append(msg, `,"pods":[`...)
	first := true
	for _, cp := range cn.pods {
		if keep != nil && !keep(cp.pod) {
			continue
		}
		if !first {
			msg = append(msg, ',')
		}
		first = false
		msg = append(msg, cp.json...)
	}
	return append(msg, "]}"...)
}

// Nominate keeps room on node for a pod that preempted pods there, until its next cycle
// (Unnominate), its binding, or its deletion: pods scheduled meanwhile see the room taken.
func (c *Cache) Nominate(p *corev1.Pod, node string) error { return c.assume(p, node, true) }

// Unnominate gives back the room Nominate kept for a pod.
func (c *Cache) Unnominate(p *corev1.Pod) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cp := c.pods[Key(p)]; cp != nil && cp.nominated {
		c.removePodLocked(Key(p))
	}
}
