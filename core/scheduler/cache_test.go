package scheduler

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tugboat-io/tug/hostabi"
)

func node(name string) *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}
}

func boundPod(name, node string) *corev1.Pod {
	p := pod(name, 0)
	p.Spec.NodeName = node
	return p
}

// instance replays deltas as a plugin instance would keep them: id → node name and pod names.
type instance struct {
	gen   uint64
	nodes map[uint32]string
	pods  map[uint32][]string
}

func (in *instance) apply(t *testing.T, c *Cache) Delta {
	t.Helper()
	d := c.Delta(in.gen)
	in.gen = d.Gen
	if d.Message == nil {
		return d
	}
	var ch hostabi.NodeChanges
	if err := json.Unmarshal(d.Message, &ch); err != nil {
		t.Fatalf("delta is not node changes: %v\n%s", err, d.Message)
	}
	seen := map[uint32]bool{}
	for _, id := range ch.Remove {
		seen[id] = true
		delete(in.nodes, id)
		delete(in.pods, id)
	}
	for _, e := range ch.Set {
		if seen[e.ID] {
			t.Fatalf("id %d appears twice in one message (ABI.md §4.1)", e.ID)
		}
		seen[e.ID] = true
		var n corev1.Node
		if err := json.Unmarshal(e.Node, &n); err != nil {
			t.Fatal(err)
		}
		in.nodes[e.ID] = n.Name
		in.pods[e.ID] = nil
		for _, raw := range e.Pods {
			var p corev1.Pod
			if err := json.Unmarshal(raw, &p); err != nil {
				t.Fatal(err)
			}
			if p.Spec.NodeName != n.Name {
				t.Errorf("pod %s on node %s says spec.nodeName %q", p.Name, n.Name, p.Spec.NodeName)
			}
			in.pods[e.ID] = append(in.pods[e.ID], p.Name)
		}
		sort.Strings(in.pods[e.ID])
	}
	return d
}

// view is what the instance holds, by node name.
func (in *instance) view() string {
	var lines []string
	for id, name := range in.nodes {
		lines = append(lines, fmt.Sprintf("%s%v", name, in.pods[id]))
	}
	sort.Strings(lines)
	return fmt.Sprint(lines)
}

func newInstance() *instance {
	return &instance{nodes: map[uint32]string{}, pods: map[uint32][]string{}}
}

func TestCacheDeltas(t *testing.T) {
	c := NewCache(nil)
	for _, n := range []string{"n0", "n1", "n2"} {
		if err := c.SetNode(node(n)); err != nil {
			t.Fatal(err)
		}
	}
	must(t, c.AddPod(boundPod("a", "n1")))
	must(t, c.AddPod(pod("pending", 0))) // no node: not the cache's business
	in := newInstance()
	if d := in.apply(t, c); d.Set != 3 || d.Removed != 0 {
		t.Fatalf("fresh instance got %d set, %d removed; want 3, 0", d.Set, d.Removed)
	}
	if got := in.view(); got != "[n0[] n1[a] n2[]]" {
		t.Fatalf("fresh instance holds %s", got)
	}
	if d := in.apply(t, c); d.Message != nil {
		t.Fatalf("nothing changed, yet a delta of %s", d.Message)
	}

	must(t, c.AddPod(boundPod("b", "n2")))
	if d := in.apply(t, c); d.Set != 1 || d.Removed != 0 {
		t.Fatalf("one node changed: delta set %d, removed %d", d.Set, d.Removed)
	}
	c.RemoveNode("n0")
	must(t, c.SetNode(node("n3"))) // reuses n0's id
	d := in.apply(t, c)
	if d.Set != 1 || d.Removed != 0 {
		t.Fatalf("a removal whose id is reused at once is a set only: set %d, removed %d", d.Set, d.Removed)
	}
	c.RemoveNode("n1")
	if d := in.apply(t, c); d.Set != 0 || d.Removed != 1 {
		t.Fatalf("removal: set %d, removed %d", d.Set, d.Removed)
	}
	if got := in.view(); got != "[n2[b] n3[]]" {
		t.Fatalf("instance holds %s", got)
	}
	// A second instance from scratch agrees.
	if got := func() string { i := newInstance(); i.apply(t, c); return i.view() }(); got != in.view() {
		t.Fatalf("a fresh instance holds %s, the updated one %s", got, in.view())
	}
}

func TestCacheAssumedPods(t *testing.T) {
	clock := newClock()
	c := NewCache(clock.now)
	must(t, c.SetNode(node("n1")))
	in := newInstance()
	in.apply(t, c)

	p := pod("web", 0)
	must(t, c.Assume(p, "n1"))
	if p.Spec.NodeName != "" {
		t.Fatal("Assume changed the caller's pod")
	}
	if err := c.Assume(p, "n1"); err == nil {
		t.Fatal("assumed twice")
	}
	if err := c.Assume(pod("other", 0), "nowhere"); err == nil {
		t.Fatal("assumed onto an unknown node")
	}
	in.apply(t, c)
	if got := in.view(); got != "[n1[web]]" {
		t.Fatalf("after Assume the instance holds %s", got)
	}

	// Binding failed: forgotten.
	c.Forget(p)
	in.apply(t, c)
	if got := in.view(); got != "[n1[]]" {
		t.Fatalf("after Forget the instance holds %s", got)
	}

	// Binding written but never confirmed: expires after AssumeTTL.
	must(t, c.Assume(p, "n1"))
	c.BindingWritten(p)
	clock.step(AssumeTTL - time.Second)
	if n := c.Expire(); n != 0 {
		t.Fatalf("expired %d before the TTL", n)
	}
	clock.step(time.Second)
	if n := c.Expire(); n != 1 || c.IsAssumed(p) {
		t.Fatalf("expired %d at the TTL", n)
	}

	// Confirmed by the watch: no longer assumed, never expires.
	must(t, c.Assume(p, "n1"))
	c.BindingWritten(p)
	must(t, c.AddPod(boundPod("web", "n1")))
	if c.IsAssumed(p) {
		t.Fatal("still assumed after the watch showed it bound")
	}
	clock.step(2 * AssumeTTL)
	if n := c.Expire(); n != 0 {
		t.Fatalf("expired a confirmed pod")
	}
	c.Forget(p) // only assumed pods can be forgotten
	in.apply(t, c)
	if got := in.view(); got != "[n1[web]]" {
		t.Fatalf("instance holds %s", got)
	}
}

func TestCachePodMovesAndPodsBeforeTheirNode(t *testing.T) {
	c := NewCache(nil)
	must(t, c.SetNode(node("n1")))
	must(t, c.SetNode(node("n2")))
	must(t, c.Assume(pod("p", 0), "n1"))
	must(t, c.AddPod(boundPod("p", "n2"))) // someone else bound it elsewhere
	must(t, c.AddPod(boundPod("early", "n3")))
	in := newInstance()
	in.apply(t, c)
	if got := in.view(); got != "[n1[] n2[p]]" {
		t.Fatalf("instance holds %s", got)
	}
	must(t, c.SetNode(node("n3")))
	in.apply(t, c)
	if got := in.view(); got != "[n1[] n2[p] n3[early]]" {
		t.Fatalf("instance holds %s", got)
	}
	c.RemovePod(boundPod("p", "n2"))
	in.apply(t, c)
	if got := in.view(); got != "[n1[] n2[] n3[early]]" {
		t.Fatalf("instance holds %s", got)
	}
}

// An instance further behind than the remembered removals gets everything, and the removal
// of every id it may still hold. ("keep" did not change since the instance saw it, so only a
// full resend sets it: Set == 1 shows the full path ran.)
func TestCacheFullResendAfterTrimmedTombstones(t *testing.T) {
	c := NewCache(nil)
	must(t, c.SetNode(node("keep")))
	in := newInstance()
	in.apply(t, c)
	for i := range maxTombstones + 10 {
		name := fmt.Sprintf("tmp-%d", i)
		must(t, c.SetNode(node(name)))
		if i < 5 {
			in.apply(t, c) // the instance sees some of them come
		}
		c.RemoveNode(name)
	}
	d := in.apply(t, c)
	if d.Set != 1 || in.view() != "[keep[]]" {
		t.Fatalf("after a full resend (%d set, %d removed) the instance holds %s", d.Set, d.Removed, in.view())
	}
	if ids := c.Nodes(); len(ids) != 1 || !slices.Contains([]uint32{0}, ids[0].ID) {
		t.Fatalf("nodes %v", ids)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestCacheDeltasRandom: instances that apply deltas at random moments, while nodes and pods
// come, go and move at random, always hold what a fresh instance gets. (Deltas walk the nodes
// in order of their last change; this is the check that the order is kept right.)
func TestCacheDeltasRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	c := NewCache(nil)
	instances := []*instance{newInstance(), newInstance(), newInstance()}
	for step := range 3000 {
		n := fmt.Sprintf("n%d", r.IntN(12))
		switch op := r.IntN(10); {
		case op < 3:
			must(t, c.SetNode(node(n)))
		case op < 4:
			c.RemoveNode(n)
		case op < 8:
			must(t, c.AddPod(boundPod(fmt.Sprintf("p%d", r.IntN(40)), n)))
		default:
			c.RemovePod(pod(fmt.Sprintf("p%d", r.IntN(40)), 0))
		}
		for _, in := range instances {
			if r.IntN(4) == 0 {
				in.apply(t, c)
			}
		}
		if step%100 == 99 {
			want := newInstance()
			want.apply(t, c)
			for i, in := range instances {
				in.apply(t, c)
				if got := in.view(); got != want.view() {
					t.Fatalf("step %d: instance %d holds %s, a fresh one %s", step, i, got, want.view())
				}
			}
		}
	}
}
