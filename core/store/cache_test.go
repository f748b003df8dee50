package store_test

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/tugboat-io/tug/core/store"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
)

// decodeCM stands in for the API server's decoder: the value is the object's label "app".
func decodeCM(key string, value []byte, rev int64) (runtime.Object, error) {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: key, Labels: map[string]string{"app": string(value)},
		ResourceVersion: strconv.FormatInt(rev, 10)}}, nil
}

func appIs(v string) func(runtime.Object) bool {
	return func(o runtime.Object) bool { return o.(*corev1.ConfigMap).Labels["app"] == v }
}

func next(t *testing.T, w *store.CacheWatcher) *store.CacheEvent {
	t.Helper()
	for {
		select {
		case ev, ok := <-w.C:
			if !ok {
				t.Fatalf("watch closed: %v", w.Err())
			}
			if ev.Type == watch.Bookmark {
				continue
			}
			return ev
		case <-time.After(10 * time.Second):
			t.Fatal("no event within 10s")
		}
	}
}

func TestCache(t *testing.T) {
	cli := embedded(t)
	s := store.New(cli, "/registry")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p := "/cm/"
	rev1, _ := s.Create(ctx, p+"a", []byte("web"))
	_, _ = s.Create(ctx, p+"b", []byte("db"))

	c := store.NewCache(s, p, 3, decodeCM, nil)
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}

	t.Run("InitialState", func(t *testing.T) {
		w, err := c.Watch(store.WatchOptions{Initial: true, Prefix: p, Filter: appIs("web")})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Stop()
		if len(w.Initial) != 1 || w.Initial[0].Key != p+"a" || w.Initial[0].Type != watch.Added {
			t.Fatalf("initial events: %+v", w.Initial)
		}
	})

	t.Run("FilterTransitions", func(t *testing.T) {
		w, err := c.Watch(store.WatchOptions{From: c.Revision(), Prefix: p, Filter: appIs("web")})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Stop()
		kv, _ := s.Get(ctx, p+"b")
		rev, _ := s.Update(ctx, p+"b", []byte("web"), kv.ModRevision) // moves into the filter
		if ev := next(t, w); ev.Type != watch.Added || ev.Key != p+"b" || ev.Revision != rev {
			t.Fatalf("moving in: %+v", ev)
		}
		_, _ = s.Update(ctx, p+"b", []byte("db"), rev) // moves out
		if ev := next(t, w); ev.Type != watch.Deleted || ev.Key != p+"b" {
			t.Fatalf("moving out: %+v", ev)
		}
	})

	t.Run("ResumeAndTooOld", func(t *testing.T) {
		from := c.Revision()
		kv, _ := s.Get(ctx, p+"a")
		r, _ := s.Update(ctx, p+"a", []byte("web2"), kv.ModRevision)
		if err := c.WaitFresh(ctx, r); err != nil {
			t.Fatal(err)
		}
		w, err := c.Watch(store.WatchOptions{From: from, Prefix: p})
		if err != nil {
			t.Fatal(err)
		}
		if len(w.Initial) != 1 || w.Initial[0].Revision != r {
			t.Fatalf("replay from %d: %+v", from, w.Initial)
		}
		w.Stop()
		// The window holds 3 events; after more writes the first revision falls out.
		for i := 0; i < 4; i++ {
			kv, _ := s.Get(ctx, p+"a")
			r, _ = s.Update(ctx, p+"a", []byte("x"+strconv.Itoa(i)), kv.ModRevision)
		}
		if err := c.WaitFresh(ctx, r); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Watch(store.WatchOptions{From: rev1, Prefix: p}); !errors.Is(err, store.ErrCompacted) {
			t.Fatalf("watch from before the window: %v, want ErrCompacted", err)
		}
	})

	t.Run("WaitFreshOnQuietPrefix", func(t *testing.T) {
		// A write elsewhere moves etcd's revision; the cache learns of it by progress
		// notification, not by an event.
		r, _ := s.Create(ctx, "/other/x", []byte("x"))
		wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
		defer wcancel()
		if err := c.WaitFresh(wctx, r); err != nil {
			t.Fatal(err)
		}
		if c.Revision() < r {
			t.Fatalf("cache at %d after WaitFresh(%d)", c.Revision(), r)
		}
	})

	t.Run("SlowWatcherEnded", func(t *testing.T) {
		w, err := c.Watch(store.WatchOptions{From: c.Revision(), Prefix: p, Buffer: 1})
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 3; i++ {
			kv, _ := s.Get(ctx, p+"a")
			_, _ = s.Update(ctx, p+"a", []byte("y"+strconv.Itoa(i)), kv.ModRevision)
		}
		deadline := time.After(10 * time.Second)
		for {
			select {
			case _, ok := <-w.C:
				if !ok {
					if !errors.Is(w.Err(), store.ErrTooSlow) {
						t.Fatalf("closed with %v, want ErrTooSlow", w.Err())
					}
					return
				}
				time.Sleep(200 * time.Millisecond) // read slower than the writes arrive
			case <-deadline:
				t.Fatal("slow watcher was never ended")
			}
		}
	})
}

// ListEncoded encodes each object once per state: a second list reuses the bytes, and a
// change encodes the changed object again.
func TestCacheListEncoded(t *testing.T) {
	cli := embedded(t)
	s := store.New(cli, "/registry")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p := "/enc/"
	_, _ = s.Create(ctx, p+"a", []byte("web"))
	rev, _ := s.Create(ctx, p+"b", []byte("db"))
	c := store.NewCache(s, p, 3, decodeCM, nil)
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	calls := 0
	enc := func(o runtime.Object) ([]byte, error) {
		calls++
		return []byte(o.(*corev1.ConfigMap).Labels["app"]), nil
	}
	list := func() string {
		t.Helper()
		out, err := c.ListEncoded(p, enc)
		if err != nil {
			t.Fatal(err)
		}
		return string(bytes.Join(out, []byte(",")))
	}
	if got := list(); got != "web,db" || calls != 2 {
		t.Fatalf("first list %q with %d encodings, want web,db and 2", got, calls)
	}
	if got := list(); got != "web,db" || calls != 2 {
		t.Fatalf("second list %q with %d encodings, want the same bytes and no new encoding", got, calls)
	}
	next, err := s.Update(ctx, p+"b", []byte("cache"), rev)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.WaitFresh(ctx, next); err != nil {
		t.Fatal(err)
	}
	if got := list(); got != "web,cache" || calls != 3 {
		t.Fatalf("after a change %q with %d encodings, want web,cache and 3", got, calls)
	}
}
