// Package storetest is the conformance suite for tug's store: every backend it runs on (embedded
// etcd, an external cluster) must pass it. Each case works under its own key prefix so cases
// share one etcd without seeing each other.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tugboat-io/tug/core/store"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Run runs every conformance case against the store s.
func Run(t *testing.T, s *store.Store) {
	cases := []struct {
		name string
		fn   func(t *testing.T, s *store.Store, p string)
	}{
		{"CreateGet", testCreateGet},
		{"CreateExisting", testCreateExisting},
		{"UpdateOptimistic", testUpdateOptimistic},
		{"DeletePreconditions", testDeletePreconditions},
		{"ListRevisionAndPaging", testListPaging},
		{"ListAtRevision", testListAtRevision},
		{"WatchFromRevision", testWatchFromRevision},
		{"SideKeys", testSideKeys},
		{"GuardedSideKeys", testGuardedSideKeys},
		{"Compaction", testCompaction},
		{"TimeToLive", testTTL},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			defer func() {
				if r := recover(); r != nil {
					if f, ok := r.(failure); ok {
						t.Fatal(f.err)
					}
					panic(r)
				}
			}()
			c.fn(t, s, fmt.Sprintf("/storetest/%d-%d/", time.Now().UnixNano(), i))
		})
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// must returns v or stops the case: Run turns the panic into a test failure.
func must[T any](v T, err error) T {
	if err != nil {
		panic(failure{err})
	}
	return v
}

type failure struct{ err error }

func testCreateGet(t *testing.T, s *store.Store, p string) {
	c := ctx(t)
	rev := must(s.Create(c, p+"a", []byte("one")))
	kv := must(s.Get(c, p+"a"))
	if string(kv.Value) != "one" || kv.ModRevision != rev || kv.CreateRevision != rev {
		t.Fatalf("get after create: %+v, created at %d", kv, rev)
	}
	if _, err := s.Get(c, p+"missing"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("get missing: %v, want ErrNotFound", err)
	}
}

func testCreateExisting(t *testing.T, s *store.Store, p string) {
	c := ctx(t)
	must(s.Create(c, p+"a", []byte("one")))
	if _, err := s.Create(c, p+"a", []byte("two")); !errors.Is(err, store.ErrExists) {
		t.Fatalf("second create: %v, want ErrExists", err)
	}
	if kv := must(s.Get(c, p+"a")); string(kv.Value) != "one" {
		t.Fatalf("failed create changed the value to %q", kv.Value)
	}
}

func testUpdateOptimistic(t *testing.T, s *store.Store, p string) {
	c := ctx(t)
	rev := must(s.Create(c, p+"a", []byte("one")))
	rev2 := must(s.Update(c, p+"a", []byte("two"), rev))
	if rev2 <= rev {
		t.Fatalf("update revision %d not after %d", rev2, rev)
	}
	if _, err := s.Update(c, p+"a", []byte("stale"), rev); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("stale update: %v, want ErrConflict", err)
	}
	if _, err := s.Update(c, p+"missing", []byte("x"), rev); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("update of missing key: %v, want ErrNotFound", err)
	}
	if kv := must(s.Get(c, p+"a")); string(kv.Value) != "two" || kv.ModRevision != rev2 || kv.CreateRevision != rev {
		t.Fatalf("after update: %+v", kv)
	}
}

func testDeletePreconditions(t *testing.T, s *store.Store, p string) {
	c := ctx(t)
	rev := must(s.Create(c, p+"a", []byte("one")))
	if _, _, err := s.Delete(c, p+"a", rev+1000); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("delete with wrong revision: %v, want ErrConflict", err)
	}
	prev, delRev, err := s.Delete(c, p+"a", rev)
	if err != nil || string(prev.Value) != "one" || delRev <= rev {
		t.Fatalf("delete: prev %+v rev %d err %v", prev, delRev, err)
	}
	if _, _, err := s.Delete(c, p+"a", 0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("delete of deleted key: %v, want ErrNotFound", err)
	}
}

func testListPaging(t *testing.T, s *store.Store, p string) {
	c := ctx(t)
	for i := 0; i < 7; i++ {
		must(s.Create(c, fmt.Sprintf("%sk%02d", p, i), []byte{byte(i)}))
	}
	// A key sharing the prefix's text but not its folder must not appear.
	must(s.Create(c, strings.TrimSuffix(p, "/")+"x/k", []byte("outside")))
	first := must(s.List(c, p, store.ListOptions{Limit: 3}))
	if len(first.Items) != 3 || first.Continue == "" || first.RemainingCount != 4 {
		t.Fatalf("first page: %d items, continue %q, remaining %d", len(first.Items), first.Continue, first.RemainingCount)
	}
	// A write between pages is not seen: the pages are one snapshot.
	must(s.Create(c, p+"k99", []byte("late")))
	var keys []string
	for _, kv := range first.Items {
		keys = append(keys, kv.Key)
	}
	next := first.Continue
	for next != "" {
		page := must(s.List(c, p, store.ListOptions{Limit: 3, Continue: next}))
		if page.Revision != first.Revision {
			t.Fatalf("page revision %d, first page %d", page.Revision, first.Revision)
		}
		for _, kv := range page.Items {
			keys = append(keys, kv.Key)
		}
		next = page.Continue
	}
	if len(keys) != 7 || keys[0] != p+"k00" || keys[6] != p+"k06" {
		t.Fatalf("paged keys: %v", keys)
	}
	all := must(s.List(c, p, store.ListOptions{}))
	if len(all.Items) != 8 || all.Continue != "" {
		t.Fatalf("full list: %d items, continue %q", len(all.Items), all.Continue)
	}
	if _, err := s.List(c, p, store.ListOptions{Continue: "garbage"}); err == nil {
		t.Fatal("a garbage continue token was accepted")
	}
}

func testListAtRevision(t *testing.T, s *store.Store, p string) {
	c := ctx(t)
	rev := must(s.Create(c, p+"a", []byte("one")))
	must(s.Update(c, p+"a", []byte("two"), rev))
	must(s.Create(c, p+"b", []byte("b")))
	old := must(s.List(c, p, store.ListOptions{Revision: rev}))
	if len(old.Items) != 1 || string(old.Items[0].Value) != "one" || old.Revision != rev {
		t.Fatalf("list at %d: %+v", rev, old)
	}
}

func testWatchFromRevision(t *testing.T, s *store.Store, p string) {
	c := ctx(t)
	rev := must(s.Create(c, p+"a", []byte("one")))
	rev2 := must(s.Update(c, p+"a", []byte("two"), rev))
	_, rev3, err := s.Delete(c, p+"a", rev2)
	if err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithCancel(c)
	defer cancel()
	ch := s.Watch(wctx, p, rev) // everything after the create
	var got []store.Event
	for len(got) < 2 {
		select {
		case resp := <-ch:
			if resp.Err != nil {
				t.Fatal(resp.Err)
			}
			got = append(got, resp.Events...)
		case <-c.Done():
			t.Fatalf("watch saw %d events", len(got))
		}
	}
	if got[0].Type != store.EventPut || string(got[0].Value) != "two" || got[0].Revision != rev2 || got[0].Created {
		t.Fatalf("first event %+v", got[0])
	}
	if got[1].Type != store.EventDelete || string(got[1].PrevValue) != "two" || got[1].Revision != rev3 {
		t.Fatalf("second event %+v", got[1])
	}
}

func testSideKeys(t *testing.T, s *store.Store, p string) {
	c := ctx(t)
	must(s.Create(c, p+"svc1", []byte("1"), store.Claim(p+"ip/10.0.0.1", []byte("svc1"))))
	_, err := s.Create(c, p+"svc2", []byte("2"), store.Claim(p+"ip/10.0.0.1", []byte("svc2")))
	var ce *store.ClaimedError
	if !errors.As(err, &ce) || ce.Key != p+"ip/10.0.0.1" || !errors.Is(err, store.ErrClaimed) {
		t.Fatalf("second claim: %v, want ClaimedError for the IP key", err)
	}
	if _, err := s.Get(c, p+"svc2"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the failed claim still wrote the main key: %v", err)
	}
	kv := must(s.Get(c, p+"svc1"))
	if _, _, err := s.Delete(c, p+"svc1", kv.ModRevision, store.Release(p+"ip/10.0.0.1")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(c, p+"ip/10.0.0.1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("release left the side key: %v", err)
	}
	must(s.Create(c, p+"svc2", []byte("2"), store.Claim(p+"ip/10.0.0.1", []byte("svc2"))))
}

// A guarded side key is written with the main key only while it is unchanged: concurrent
// writers charging one counter serialise on it.
func testGuardedSideKeys(t *testing.T, s *store.Store, p string) {
	c := ctx(t)
	qrev := must(s.Create(c, p+"quota", []byte("used=0")))
	rev := must(s.Create(c, p+"pod1", []byte("1"), store.Guarded(p+"quota", []byte("used=1"), qrev)))
	q := must(s.Get(c, p+"quota"))
	if string(q.Value) != "used=1" || q.ModRevision != rev {
		t.Fatalf("quota after the first charge: %q at %d, want used=1 at %d", q.Value, q.ModRevision, rev)
	}
	// A second writer that read the quota before the first charge loses, and writes nothing.
	_, err := s.Create(c, p+"pod2", []byte("2"), store.Guarded(p+"quota", []byte("used=1"), qrev))
	var se *store.SideChangedError
	if !errors.As(err, &se) || se.Key != p+"quota" || !errors.Is(err, store.ErrSideChanged) {
		t.Fatalf("stale charge: %v, want SideChangedError for the quota", err)
	}
	if _, err := s.Get(c, p+"pod2"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the stale charge still wrote the main key: %v", err)
	}
	// Updates and deletes take guarded keys too; a main-key conflict is still a conflict.
	kv := must(s.Get(c, p+"pod1"))
	if _, err := s.Update(c, p+"pod1", []byte("1b"), kv.ModRevision, store.Guarded(p+"quota", []byte("used=2"), qrev)); !errors.Is(err, store.ErrSideChanged) {
		t.Fatalf("update with a stale guard: %v, want ErrSideChanged", err)
	}
	if _, err := s.Update(c, p+"pod1", []byte("1b"), kv.ModRevision-1, store.Guarded(p+"quota", []byte("used=2"), q.ModRevision)); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("update at a stale revision with a fresh guard: %v, want ErrConflict", err)
	}
	must(s.Update(c, p+"pod1", []byte("1b"), kv.ModRevision, store.Guarded(p+"quota", []byte("used=2"), q.ModRevision)))
	if q := must(s.Get(c, p+"quota")); string(q.Value) != "used=2" {
		t.Fatalf("quota after the update's charge: %q", q.Value)
	}
}

func testCompaction(t *testing.T, s *store.Store, p string) {
	c := ctx(t)
	rev := must(s.Create(c, p+"a", []byte("one")))
	rev2 := must(s.Update(c, p+"a", []byte("two"), rev))
	if err := s.Compact(c, rev2); err != nil {
		t.Fatal(err)
	}
	if _, err := s.List(c, p, store.ListOptions{Revision: rev}); !errors.Is(err, store.ErrCompacted) {
		t.Fatalf("list at compacted revision: %v, want ErrCompacted", err)
	}
	wctx, cancel := context.WithCancel(c)
	defer cancel()
	select {
	case resp := <-s.Watch(wctx, p, rev-1):
		if !errors.Is(resp.Err, store.ErrCompacted) {
			t.Fatalf("watch from compacted revision: %+v, want ErrCompacted", resp)
		}
	case <-c.Done():
		t.Fatal("watch from a compacted revision did not fail")
	}
}

func testTTL(t *testing.T, s *store.Store, p string) {
	c := ctx(t)
	rev := must(s.CreateTTL(c, p+"ev", []byte("1"), time.Hour))
	kv := must(s.Get(c, p+"ev"))
	if kv.Lease == 0 {
		t.Fatal("CreateTTL wrote a key without a lease")
	}
	ttl, err := s.Client().TimeToLive(c, clientv3.LeaseID(kv.Lease))
	if err != nil {
		t.Fatal(err)
	}
	if ttl.TTL < int64(time.Hour/time.Second) || ttl.TTL > int64((time.Hour+2*time.Minute)/time.Second) {
		t.Fatalf("lease has %ds left, want about an hour", ttl.TTL)
	}
	// Writes with the same time to live share a lease.
	must(s.CreateTTL(c, p+"ev2", []byte("2"), time.Hour))
	if kv2 := must(s.Get(c, p+"ev2")); kv2.Lease != kv.Lease {
		t.Fatalf("second write got lease %d, first %d", kv2.Lease, kv.Lease)
	}
	// A key with a short lease goes when the lease does.
	must(s.UpdateTTL(c, p+"ev", []byte("1b"), rev, time.Hour))
	if _, err := s.Client().Revoke(c, clientv3.LeaseID(kv.Lease)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(c, p+"ev"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("key outlived its lease: %v", err)
	}
	// The next write with that time to live gets a fresh lease instead of failing.
	must(s.CreateTTL(c, p+"ev3", []byte("3"), time.Hour))
}
