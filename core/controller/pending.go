package controller

import (
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
)

// pendingTTL bounds how long a write waits to be seen: a watch that never shows it (an
// object created and deleted between two watch events is still shown, so this is for lost
// events only) delays a parent by at most this much.
const pendingTTL = 2 * time.Minute

// pending remembers the children each parent's reconciles created or deleted until the
// informers show them, like kube's controller expectations; unlike those, a parent is not
// held back meanwhile: its next reconcile sees the created children as observed and the
// deleted ones as gone.
type pending struct {
	mu      sync.Mutex
	parents map[types.UID]map[childKey]*write
}

type childKey struct {
	kind, name string // Kind.Key(), object name
}

type write struct {
	obj     *unstructured.Unstructured // the created object; nil for a delete
	uid     types.UID                  // the deleted object's, for a delete
	expires time.Time
}

func newPending() *pending { return &pending{parents: map[types.UID]map[childKey]*write{}} }

func (p *pending) created(parent types.UID, kind string, obj *unstructured.Unstructured, now time.Time) {
	p.put(parent, childKey{kind, obj.GetName()}, &write{obj: obj, expires: now.Add(pendingTTL)})
}

func (p *pending) deleted(parent types.UID, kind, name string, uid types.UID, now time.Time) {
	p.put(parent, childKey{kind, name}, &write{uid: uid, expires: now.Add(pendingTTL)})
}

func (p *pending) put(parent types.UID, k childKey, w *write) {
	p.mu.Lock()
	defer p.mu.Unlock()
	m := p.parents[parent]
	if m == nil {
		m = map[childKey]*write{}
		p.parents[parent] = m
	}
	m[k] = w
}

// observe is an informer's word on a child: it exists (possibly being deleted) or is gone.
// A create is satisfied once the child is seen; a delete once it is gone or being deleted.
func (p *pending) observe(parent types.UID, kind string, obj *unstructured.Unstructured, gone bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	m := p.parents[parent]
	k := childKey{kind, obj.GetName()}
	w, ok := m[k]
	if !ok {
		return
	}
	if w.obj != nil || gone || obj.GetDeletionTimestamp() != nil || obj.GetUID() != w.uid {
		delete(m, k)
		if len(m) == 0 {
			delete(p.parents, parent)
		}
	}
}

// forget drops what a parent waits for (the parent is gone).
func (p *pending) forget(parent types.UID) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.parents, parent)
}

// merge returns the children of one kind a reconcile should see: the observed ones minus
// those deleted and not yet seen gone, plus those created and not yet seen.
func (p *pending) merge(parent types.UID, kind string, observed []*unstructured.Unstructured, now time.Time) []*unstructured.Unstructured {
	p.mu.Lock()
	defer p.mu.Unlock()
	m := p.parents[parent]
	if len(m) == 0 {
		return observed
	}
	seen := make(map[string]*unstructured.Unstructured, len(observed))
	for _, o := range observed {
		seen[o.GetName()] = o
	}
	out := observed[:0:0]
	for _, o := range observed {
		w, ok := m[childKey{kind, o.GetName()}]
		if ok && w.obj == nil && o.GetUID() == w.uid && o.GetDeletionTimestamp() == nil && now.Before(w.expires) {
			continue // deleted; the watch has not caught up
		}
		out = append(out, o)
	}
	for k, w := range m {
		if k.kind != kind {
			continue
		}
		o, isSeen := seen[k.name]
		switch {
		case !now.Before(w.expires):
			delete(m, k)
		case w.obj != nil && isSeen:
			delete(m, k) // created and seen
		case w.obj == nil && (!isSeen || o.GetUID() != w.uid || o.GetDeletionTimestamp() != nil):
			delete(m, k) // deleted and seen gone
		case w.obj != nil:
			out = append(out, w.obj)
		}
	}
	if len(m) == 0 {
		delete(p.parents, parent)
	}
	return out
}
