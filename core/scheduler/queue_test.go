package scheduler

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time       { return c.t }
func (c *fakeClock) step(d time.Duration) { c.t = c.t.Add(d) }
func newClock() *fakeClock                { return &fakeClock{t: time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)} }
func pod(name string, prio int32) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name}, Spec: corev1.PodSpec{Priority: &prio}}
}

func pop(t *testing.T, q *Queue) *QueuedPod {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	qp, err := q.Pop(ctx)
	if err != nil {
		t.Fatalf("Pop: %v", err)
	}
	return qp
}

func popNames(t *testing.T, q *Queue, n int) []string {
	t.Helper()
	var names []string
	for range n {
		names = append(names, pop(t, q).Pod.Name)
	}
	return names
}

func wantLen(t *testing.T, q *Queue, active, backoff, unsched int) {
	t.Helper()
	if a, b, u := q.Len(); a != active || b != backoff || u != unsched {
		t.Fatalf("queue holds %d active, %d backing off, %d unschedulable; want %d, %d, %d", a, b, u, active, backoff, unsched)
	}
}

func TestQueueOrdersByPriorityThenAge(t *testing.T) {
	c := newClock()
	q := NewQueue(c.now)
	for _, p := range []*corev1.Pod{pod("low-old", 0), pod("high", 100), pod("low-new", 0), pod("mid", 10)} {
		q.Add(p)
		c.step(time.Millisecond)
	}
	got := popNames(t, q, 4)
	want := []string{"high", "mid", "low-old", "low-new"}
	if !slices.Equal(got, want) {
		t.Fatalf("popped %v, want %v", got, want)
	}
}

func TestQueueBackoffDoublesToTheCap(t *testing.T) {
	want := []time.Duration{1 * time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 10 * time.Second, 10 * time.Second}
	for i, w := range want {
		if got := backoffFor(i + 1); got != w {
			t.Errorf("backoff after attempt %d = %v, want %v", i+1, got, w)
		}
	}
}

func TestQueueFailedPodBacksOff(t *testing.T) {
	c := newClock()
	q := NewQueue(c.now)
	q.Add(pod("p", 0))
	qp := pop(t, q)
	q.Requeue(qp, false) // an error, not "no node": backs off
	wantLen(t, q, 0, 1, 0)
	c.step(999 * time.Millisecond)
	q.Flush()
	wantLen(t, q, 0, 1, 0)
	c.step(time.Millisecond)
	q.Flush()
	wantLen(t, q, 1, 0, 0)
	qp = pop(t, q)
	if qp.Attempts != 2 {
		t.Fatalf("attempts = %d, want 2", qp.Attempts)
	}
	q.Requeue(qp, false)
	c.step(1999 * time.Millisecond)
	q.Flush()
	wantLen(t, q, 0, 1, 0) // second backoff is 2 s
}

func TestQueueUnschedulableWaitsForAnEvent(t *testing.T) {
	c := newClock()
	q := NewQueue(c.now)
	q.Add(pod("p", 0))
	qp := pop(t, q)
	q.Requeue(qp, true)
	wantLen(t, q, 0, 0, 1)
	c.step(time.Minute)
	q.Flush()
	wantLen(t, q, 0, 0, 1) // no event: it waits
	q.MoveAll()            // e.g. a node was added
	wantLen(t, q, 1, 0, 0) // backoff (1 s) is long over
	if pop(t, q).Pod.Name != "p" {
		t.Fatal("wrong pod")
	}
}

func TestQueueMoveDuringBackoffGoesToBackoff(t *testing.T) {
	c := newClock()
	q := NewQueue(c.now)
	q.Add(pod("p", 0))
	q.Requeue(pop(t, q), true)
	c.step(500 * time.Millisecond)
	q.MoveAll()
	wantLen(t, q, 0, 1, 0) // still backing off
	c.step(500 * time.Millisecond)
	q.Flush()
	wantLen(t, q, 1, 0, 0)
}

// An event that arrives while a pod's cycle runs may be the one it needed: the pod must not
// then sit in the unschedulable set waiting for an event that already passed.
func TestQueueMoveDuringCycleIsNotLost(t *testing.T) {
	c := newClock()
	q := NewQueue(c.now)
	q.Add(pod("p", 0))
	qp := pop(t, q)
	q.MoveAll() // a node appears while p's cycle runs
	q.Requeue(qp, true)
	wantLen(t, q, 0, 1, 0)
	c.step(time.Second)
	q.Flush()
	wantLen(t, q, 1, 0, 0)
	// The next cycle started after the move: an unschedulable result waits again.
	q.Requeue(pop(t, q), true)
	wantLen(t, q, 0, 0, 1)
}

func TestQueueUnschedulableTimesOut(t *testing.T) {
	c := newClock()
	q := NewQueue(c.now)
	q.Add(pod("p", 0))
	q.Requeue(pop(t, q), true)
	c.step(MaxUnschedulableWait - time.Second)
	q.Flush()
	wantLen(t, q, 0, 0, 1)
	c.step(time.Second)
	q.Flush()
	wantLen(t, q, 1, 0, 0)
}

func TestQueueUpdateMovesUnschedulable(t *testing.T) {
	c := newClock()
	q := NewQueue(c.now)
	q.Add(pod("p", 0))
	q.Requeue(pop(t, q), true)
	c.step(2 * time.Second)
	updated := pod("p", 0)
	updated.Spec.NodeSelector = map[string]string{"zone": "b"}
	q.Update(updated)
	wantLen(t, q, 1, 0, 0)
	if got := pop(t, q); got.Pod != updated {
		t.Fatal("popped the old object")
	}
}

func TestQueueStatusUpdateLeavesUnschedulable(t *testing.T) {
	c := newClock()
	q := NewQueue(c.now)
	q.Add(pod("p", 0))
	q.Requeue(pop(t, q), true)
	c.step(2 * time.Second)
	updated := pod("p", 0)
	updated.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse}}
	q.Update(updated)
	wantLen(t, q, 0, 0, 1)
}

func TestQueueUpdateReordersActive(t *testing.T) {
	c := newClock()
	q := NewQueue(c.now)
	q.Add(pod("a", 0))
	c.step(time.Millisecond)
	q.Add(pod("b", 0))
	q.Update(pod("b", 50))
	if got := popNames(t, q, 2); !slices.Equal(got, []string{"b", "a"}) {
		t.Fatalf("popped %v, want [b a]", got)
	}
}

func TestQueueDeleteAndDone(t *testing.T) {
	c := newClock()
	q := NewQueue(c.now)
	q.Add(pod("gone", 0))
	q.Add(pod("kept", 0))
	q.Delete(pod("gone", 0))
	qp := pop(t, q)
	if qp.Pod.Name != "kept" {
		t.Fatalf("popped %s", qp.Pod.Name)
	}
	q.Delete(pod("kept", 0)) // deleted while in flight
	q.Requeue(qp, true)      // the cycle's result comes back: ignored
	wantLen(t, q, 0, 0, 0)

	q.Add(pod("x", 0))
	qp = pop(t, q)
	q.Done(qp)
	q.Add(pod("x", 0)) // a new pod under the same name starts afresh
	if qp2 := pop(t, q); qp2.Attempts != 1 {
		t.Fatalf("attempts = %d, want 1 for a new pod", qp2.Attempts)
	}
}

func TestQueuePopBlocksUntilAddOrClose(t *testing.T) {
	q := NewQueue(nil)
	got := make(chan string, 1)
	go func() {
		qp, err := q.Pop(context.Background())
		if err != nil {
			got <- err.Error()
			return
		}
		got <- qp.Pod.Name
	}()
	select {
	case g := <-got:
		t.Fatalf("Pop returned %q from an empty queue", g)
	case <-time.After(20 * time.Millisecond):
	}
	q.Add(pod("p", 0))
	if g := <-got; g != "p" {
		t.Fatalf("Pop returned %q", g)
	}
	go func() { _, err := q.Pop(context.Background()); got <- err.Error() }()
	q.Close()
	if g := <-got; g != ErrQueueClosed.Error() {
		t.Fatalf("Pop after Close: %q", g)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := NewQueue(nil).Pop(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Pop with a cancelled context: %v", err)
	}
}

// A cluster event after Close (a scheduler term's last profile change, as it ends) must not
// take the process down: Pop goes on answering ErrQueueClosed.
func TestQueueMoveAfterCloseIsHarmless(t *testing.T) {
	c := newClock()
	q := NewQueue(c.now)
	q.Add(pod("p", 0))
	q.Requeue(pop(t, q), true)
	q.Close()
	c.step(time.Minute)
	q.MoveAll()
	q.Add(pod("q", 0))
	q.Flush()
	if _, err := q.Pop(context.Background()); !errors.Is(err, ErrQueueClosed) {
		t.Fatalf("Pop after Close: %v, want ErrQueueClosed", err)
	}
}
