package scheduler

import (
	"container/heap"
	"context"
	"errors"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
)

// Backoff and flush timings, kube-scheduler's defaults.
const (
	InitialBackoff = 1 * time.Second
	MaxBackoff     = 10 * time.Second
	// MaxUnschedulableWait is how long a pod waits in the unschedulable set without an event
	// before it is tried again anyway (an event the queue did not hear of may have helped).
	MaxUnschedulableWait = 5 * time.Minute
)

// ErrQueueClosed is what Pop returns once the queue is closed.
var ErrQueueClosed = errors.New("scheduling queue closed")

// QueuedPod is a pod in the queue with its scheduling history.
type QueuedPod struct {
	Pod *corev1.Pod
	// Attempts counts the scheduling cycles the pod has been popped for.
	Attempts int
	// Queued is when the pod first entered the queue (kept across attempts, for latency).
	Queued time.Time
	// Cycle is the scheduling cycle that popped it last.
	Cycle int64

	key       string
	since     time.Time // entered its current place: orders equal priorities, times out unschedulable
	backoffTo time.Time
	where     place
	index     int // in its heap
}

type place int

const (
	nowhere place = iota
	inActive
	inBackoff
	inUnschedulable
	inFlight
)

// Queue is the scheduling queue (see the package doc). It is safe for concurrent use.
type Queue struct {
	now func() time.Time

	mu            sync.Mutex
	wake          chan struct{} // closed and replaced when active gains a pod
	active        podHeap
	backoff       podHeap
	unschedulable map[string]*QueuedPod
	pods          map[string]*QueuedPod // every pod the queue holds, in any place, by key
	// cycle counts Pops. moveCycle is the cycle at the last move request: a pod whose cycle
	// started before a move request may have missed the event it was waiting for, so it
	// goes to backoff rather than to the unschedulable set.
	cycle, moveCycle int64
	closed           bool
}

// NewQueue returns an empty queue that reads time from now (time.Now when nil).
func NewQueue(now func() time.Time) *Queue {
	if now == nil {
		now = time.Now
	}
	q := &Queue{
		now:           now,
		wake:          make(chan struct{}),
		unschedulable: map[string]*QueuedPod{},
		pods:          map[string]*QueuedPod{},
		moveCycle:     -1,
	}
	q.active.less = func(a, b *QueuedPod) bool {
		if pa, pb := priority(a.Pod), priority(b.Pod); pa != pb {
			return pa > pb
		}
		return a.since.Before(b.since)
	}
	q.backoff.less = func(a, b *QueuedPod) bool { return a.backoffTo.Before(b.backoffTo) }
	return q
}

func priority(p *corev1.Pod) int32 {
	if p.Spec.Priority != nil {
		return *p.Spec.Priority
	}
	return 0
}

// Key is the queue's and the cache's name for a pod: namespace/name.
func Key(p *corev1.Pod) string { return p.Namespace + "/" + p.Name }

// Add queues a new pending pod, or updates the one queued under its key.
func (q *Queue) Add(p *corev1.Pod) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if qp := q.pods[Key(p)]; qp != nil {
		q.updateLocked(qp, p)
		return
	}
	now := q.now()
	qp := &QueuedPod{Pod: p, Queued: now, key: Key(p), since: now}
	q.pods[qp.key] = qp
	q.pushActiveLocked(qp)
}

// Update replaces a queued pod's object. An update of the spec, labels or annotations of a
// pod waiting in the unschedulable set may be what makes it fit, so it moves the pod on (to
// backoff while it is backing off); a status-only update does not.
func (q *Queue) Update(p *corev1.Pod) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if qp := q.pods[Key(p)]; qp != nil {
		q.updateLocked(qp, p)
	}
}

func (q *Queue) updateLocked(qp *QueuedPod, p *corev1.Pod) {
	old := qp.Pod
	qp.Pod = p
	switch qp.where {
	case inActive:
		heap.Fix(&q.active, qp.index)
	case inBackoff:
		heap.Fix(&q.backoff, qp.index)
	case inUnschedulable:
		// A status-only update (the scheduler's own PodScheduled condition among them)
		// cannot make the pod fit.
		if !schedulingChanged(old, p) {
			return
		}
		delete(q.unschedulable, qp.key)
		q.requeueLocked(qp, q.now())
	}
}

// schedulingChanged reports whether an update touches what scheduling reads: the spec, the
// labels or the annotations.
func schedulingChanged(old, p *corev1.Pod) bool {
	return !equality.Semantic.DeepEqual(old.Spec, p.Spec) ||
		!equality.Semantic.DeepEqual(old.Labels, p.Labels) ||
		!equality.Semantic.DeepEqual(old.Annotations, p.Annotations)
}

// Delete forgets a pod (deleted, or bound by someone else).
func (q *Queue) Delete(p *corev1.Pod) {
	q.mu.Lock()
	defer q.mu.Unlock()
	qp := q.pods[Key(p)]
	if qp == nil {
		return
	}
	q.removeLocked(qp)
	delete(q.pods, qp.key)
}

func (q *Queue) removeLocked(qp *QueuedPod) {
	switch qp.where {
	case inActive:
		heap.Remove(&q.active, qp.index)
	case inBackoff:
		heap.Remove(&q.backoff, qp.index)
	case inUnschedulable:
		delete(q.unschedulable, qp.key)
	}
	qp.where = nowhere
}

// Pop waits for the highest-priority active pod and hands it out for one scheduling cycle.
// The pod stays known to the queue (in flight) until Done or Requeue.
func (q *Queue) Pop(ctx context.Context) (*QueuedPod, error) {
	for {
		q.mu.Lock()
		if q.closed {
			q.mu.Unlock()
			return nil, ErrQueueClosed
		}
		if q.active.Len() > 0 {
			qp := heap.Pop(&q.active).(*QueuedPod)
			q.cycle++
			qp.Cycle = q.cycle
			qp.Attempts++
			qp.where = inFlight
			q.mu.Unlock()
			return qp, nil
		}
		wake := q.wake
		q.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// Done ends a pod's time in the queue: it was scheduled (or given up on).
func (q *Queue) Done(qp *QueuedPod) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.pods[qp.key] == qp {
		q.removeLocked(qp)
		delete(q.pods, qp.key)
	}
}

// Requeue returns a pod whose cycle failed. A pod that found no node waits in the
// unschedulable set for an event — unless a move request came during its cycle, in which case
// it backs off and is tried again; a pod that failed for another reason (an error, a failed
// binding) backs off.
func (q *Queue) Requeue(qp *QueuedPod, unschedulable bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.pods[qp.key] != qp || qp.where != inFlight {
		return // deleted, or re-added, while in flight
	}
	now := q.now()
	qp.backoffTo = now.Add(backoffFor(qp.Attempts))
	if unschedulable && q.moveCycle < qp.Cycle {
		qp.where, qp.since = inUnschedulable, now
		q.unschedulable[qp.key] = qp
		return
	}
	q.requeueLocked(qp, now)
}

// backoffFor is the backoff after a pod's nth failed attempt: 1 s, 2 s, 4 s, 8 s, 10 s, ….
func backoffFor(attempts int) time.Duration {
	d := InitialBackoff
	for i := 1; i < attempts && d < MaxBackoff; i++ {
		d *= 2
	}
	return min(d, MaxBackoff)
}

// requeueLocked sends a pod to backoff while it is backing off, else to active.
func (q *Queue) requeueLocked(qp *QueuedPod, now time.Time) {
	qp.since = now
	if now.Before(qp.backoffTo) {
		qp.where = inBackoff
		heap.Push(&q.backoff, qp)
		return
	}
	q.pushActiveLocked(qp)
}

func (q *Queue) pushActiveLocked(qp *QueuedPod) {
	qp.where = inActive
	heap.Push(&q.active, qp)
	if q.closed {
		// Pop already answers ErrQueueClosed: nobody is left to wake (and the channel
		// is closed already), as when a term's last profile change lands after Close.
		return
	}
	close(q.wake)
	q.wake = make(chan struct{})
}

// MoveAll is a cluster event that may make unschedulable pods fit (a node added or changed,
// a pod deleted): every unschedulable pod goes to backoff or active, and pods in flight that
// fail will back off instead of waiting.
func (q *Queue) MoveAll() { q.MoveOthers(nil) }

// MoveOthers is MoveAll for an event a pod caused itself — the scheduler forgetting it where
// it was assumed — which frees room for the others, not for it.
func (q *Queue) MoveOthers(except *QueuedPod) {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.now()
	for k, qp := range q.unschedulable {
		if qp == except {
			continue
		}
		delete(q.unschedulable, k)
		q.requeueLocked(qp, now)
	}
	q.moveCycle = q.cycle
}

// Flush moves pods whose backoff has ended to active, and pods unschedulable for longer
// than MaxUnschedulableWait on. The scheduler calls it every second.
func (q *Queue) Flush() {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.now()
	for q.backoff.Len() > 0 && !now.Before(q.backoff.items[0].backoffTo) {
		qp := heap.Pop(&q.backoff).(*QueuedPod)
		qp.since = now
		q.pushActiveLocked(qp)
	}
	for k, qp := range q.unschedulable {
		if now.Sub(qp.since) >= MaxUnschedulableWait {
			delete(q.unschedulable, k)
			q.requeueLocked(qp, now)
		}
	}
}

// Close wakes Pop with ErrQueueClosed.
func (q *Queue) Close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.closed {
		q.closed = true
		close(q.wake)
	}
}

// Len reports how many pods are active, backing off and unschedulable.
func (q *Queue) Len() (active, backoff, unschedulable int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.active.Len(), q.backoff.Len(), len(q.unschedulable)
}

// podHeap is a heap of queued pods under less.
type podHeap struct {
	items []*QueuedPod
	less  func(a, b *QueuedPod) bool
}

func (h *podHeap) Len() int           { return len(h.items) }
func (h *podHeap) Less(i, j int) bool { return h.less(h.items[i], h.items[j]) }
func (h *podHeap) Swap(i, j int) {
	h.items[i], h.items[j] = h.items[j], h.items[i]
	h.items[i].index, h.items[j].index = i, j
}
func (h *podHeap) Push(x any) {
	qp := x.(*QueuedPod)
	qp.index = len(h.items)
	h.items = append(h.items, qp)
}
func (h *podHeap) Pop() any {
	n := len(h.items) - 1
	qp := h.items[n]
	h.items[n] = nil
	h.items = h.items[:n]
	qp.index = -1
	return qp
}
