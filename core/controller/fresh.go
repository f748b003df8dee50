package controller

import (
	"strconv"
	"sync/atomic"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/tools/cache"
)

// progress is how far one informer has got, as a Fresh controller's handlers saw it.
type progress struct {
	informer cache.SharedIndexInformer
	// rev is the highest resourceVersion a handler was called with: every object up to it
	// is in the informer's store, which is updated before handlers run.
	rev atomic.Int64
	// last is when a handler last ran (unix nanoseconds).
	last atomic.Int64
}

func (p *progress) saw(obj any) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	if u, ok := obj.(*unstructured.Unstructured); ok {
		if rv, err := strconv.ParseInt(u.GetResourceVersion(), 10, 64); err == nil {
			for cur := p.rev.Load(); rv > cur && !p.rev.CompareAndSwap(cur, rv); cur = p.rev.Load() {
			}
		}
	}
	p.last.Store(time.Now().UnixNano())
}

// quietFor is how long an informer's handlers must have been idle before its watch position
// alone (advanced by a bookmark, with no object behind it) counts as caught up: an event the
// reflector received is in the store and handled within microseconds, so an informer idle
// this long has none pending.
const quietFor = 100 * time.Millisecond

// caughtUp says whether the informer holds every change up to rev: a handler saw rev or
// later, or the watch is past rev (bookmarks move it on in quiet resources) and nothing is
// waiting to be handled.
func (p *progress) caughtUp(rev int64, now time.Time) bool {
	if p.rev.Load() >= rev {
		return true
	}
	synced, err := strconv.ParseInt(p.informer.LastSyncResourceVersion(), 10, 64)
	return err == nil && synced >= rev && now.Sub(time.Unix(0, p.last.Load())) >= quietFor
}

// track follows an informer's progress for a Fresh controller.
func (r *runner) track(inf cache.SharedIndexInformer) error {
	p := &progress{informer: inf}
	r.progress = append(r.progress, p)
	return r.handle(inf, cache.ResourceEventHandlerFuncs{
		AddFunc:    p.saw,
		UpdateFunc: func(_, obj any) { p.saw(obj) },
		DeleteFunc: p.saw,
	})
}

// freshWait is how long to wait before reconciling parent, 0 when every tracked informer
// has caught up with it. The bound is the API server's progress bookmarks (every few
// seconds), which move a quiet informer past any revision.
func (r *runner) freshWait(parent *unstructured.Unstructured) time.Duration {
	rev, err := strconv.ParseInt(parent.GetResourceVersion(), 10, 64)
	if err != nil {
		return 0
	}
	now := time.Now()
	for _, p := range r.progress {
		if !p.caughtUp(rev, now) {
			return 100 * time.Millisecond
		}
	}
	return 0
}
