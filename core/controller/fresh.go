package controller

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/tools/cache"
)

// progress is how far one informer has got, as a Fresh controller's handlers saw it.
type progress struct {
	informer interface{ LastSyncResourceVersion() string }
	// rev is the highest resourceVersion a handler was called with: every object up to it
	// is in the informer's store, which is updated before handlers run.
	rev atomic.Int64
	// synced is the watch position (LastSyncResourceVersion) last seen, and since when.
	mu       sync.Mutex
	synced   int64
	syncedAt time.Time
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
}

// settle is how long an informer's watch position must have stayed where it is before it
// alone — a bookmark's advance, with no object behind it — counts as caught up. The reflector
// moves the position when it receives an event, just before the event reaches the store and
// the handlers; an event received is handled within microseconds, so a position that has not
// moved for this long has nothing pending behind it (and one that moves keeps resetting the
// wait, until the handlers' own revision shows the store caught up).
const settle = 100 * time.Millisecond

// caughtUp says whether the informer holds every change up to rev: a handler saw rev or
// later, or the watch has been past rev, unmoved, for settle (bookmarks move it on in quiet
// resources).
func (p *progress) caughtUp(rev int64, now time.Time) bool {
	if p.rev.Load() >= rev {
		return true
	}
	synced, err := strconv.ParseInt(p.informer.LastSyncResourceVersion(), 10, 64)
	if err != nil {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if synced != p.synced {
		p.synced, p.syncedAt = synced, now
	}
	return synced >= rev && now.Sub(p.syncedAt) >= settle
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
