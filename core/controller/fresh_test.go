package controller

import (
	"strconv"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

type position struct{ rv int64 }

func (p *position) LastSyncResourceVersion() string { return strconv.FormatInt(p.rv, 10) }

func object(rv int64) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetResourceVersion(strconv.FormatInt(rv, 10))
	return u
}

// An informer is caught up with a revision once a handler saw it, or once its watch has been
// past it, unmoved, for settle: an event the reflector received but the store does not hold
// yet must not count.
func TestProgressCaughtUp(t *testing.T) {
	pos := &position{rv: 10}
	p := &progress{informer: pos}
	now := time.Unix(1000, 0)
	if p.caughtUp(20, now) {
		t.Fatal("caught up with 20 at watch position 10")
	}
	// The reflector received an event at 20; the handler has not run.
	pos.rv = 20
	if p.caughtUp(20, now) {
		t.Fatal("caught up on the watch position alone, the moment it moved")
	}
	if p.caughtUp(20, now.Add(settle/2)) {
		t.Fatal("caught up before the position settled")
	}
	// The handler ran: exact.
	p.saw(object(20))
	if !p.caughtUp(20, now.Add(settle/2)) {
		t.Fatal("not caught up after a handler saw 20")
	}
	// A quiet resource: a bookmark moves the position to 35 with no event behind it.
	pos.rv = 35
	later := now.Add(time.Second)
	if p.caughtUp(30, later) {
		t.Fatal("caught up on a bookmark the moment it arrived")
	}
	if !p.caughtUp(30, later.Add(settle)) {
		t.Fatal("not caught up once the bookmark's position settled")
	}
	// A position that keeps moving keeps resetting the wait.
	pos.rv = 36
	if p.caughtUp(36, later.Add(settle+time.Millisecond)) {
		t.Fatal("caught up on a position that just moved")
	}
}
