package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
)

// Decoder turns a stored value into an object whose resourceVersion is rev.
type Decoder func(key string, value []byte, rev int64) (runtime.Object, error)

// objState is one stored version of an object, decoded on first use: a resource nobody
// watches or lists from the cache never pays for decoding its writes.
type objState struct {
	key    string
	raw    []byte
	rev    int64
	decode Decoder
	log    *slog.Logger

	once sync.Once
	obj  runtime.Object

	// encoded is the object encoded by ListEncoded's encoder, kept for the next caller:
	// admission hands the same LimitRanges and quotas to every create in a namespace.
	encOnce sync.Once
	encoded []byte
	encErr  error
}

func (o *objState) object() runtime.Object {
	if o == nil {
		return nil
	}
	o.once.Do(func() {
		obj, err := o.decode(o.key, o.raw, o.rev)
		if err != nil {
			o.log.Error("skipping undecodable object", "key", o.key, "rev", o.rev, "err", err)
			return
		}
		o.obj, o.raw = obj, nil
	})
	return o.obj
}

// CacheEvent is one change as the cache saw it. Bookmark events carry only a Revision: the
// watcher has seen every change up to it.
type CacheEvent struct {
	Type     watch.EventType
	Key      string
	Revision int64

	state *objState
	prev  *objState // the key's state before this change, if the cache held one

	// An encoding of this event (JSON, protobuf) is the same for every watcher asking for
	// it, so the first one to need it encodes and the rest reuse it.
	encs [EncodingSlots]encoding
}

// EncodingSlots is how many encodings of an event the cache keeps for its watchers.
const EncodingSlots = 2

type encoding struct {
	once sync.Once
	b    []byte
	err  error
}

// Object is the object after the change (for DELETED, its last state). It is nil only if the
// stored bytes could not be decoded, which is logged.
func (e *CacheEvent) Object() runtime.Object { return e.state.object() }

// PrevObject is the object before the change, or nil.
func (e *CacheEvent) PrevObject() runtime.Object { return e.prev.object() }

// Encoded returns the event encoded once by enc, shared by every caller that asks for the
// same slot (0 ≤ slot < EncodingSlots; a slot stands for one encoding, the caller's choice).
func (e *CacheEvent) Encoded(slot int, enc func(*CacheEvent) ([]byte, error)) ([]byte, error) {
	x := &e.encs[slot]
	x.once.Do(func() { x.b, x.err = enc(e) })
	return x.b, x.err
}

// with returns a copy of the event with another type, sharing the decoded object.
func (e *CacheEvent) with(t watch.EventType) *CacheEvent {
	return &CacheEvent{Type: t, Key: e.Key, Revision: e.Revision, state: e.state, prev: e.prev}
}

// ErrTooSlow ends a watch whose client did not keep up; it resumes from its last revision.
var ErrTooSlow = errors.New("store: watcher too slow, events dropped")

// Cache keeps the current state of one resource prefix and a window of recent events, fed by a
// single etcd watch, and serves any number of watches from it.
type Cache struct {
	store    *Store
	prefix   string
	decode   Decoder
	capacity int
	log      *slog.Logger

	mu    sync.RWMutex
	fresh *sync.Cond // broadcast whenever rev advances
	rev   int64      // everything up to rev has been applied
	ready bool
	objs  map[string]*CacheEvent // key → last put event (its Object is the current state)
	// dirs indexes objs by the key's folder (a namespace), so listing or watching one
	// namespace costs its own size, not the whole resource's.
	dirs     map[string]map[string]*CacheEvent
	ring     []*CacheEvent
	ringHead int   // index of oldest event in ring
	ringLen  int   // events in ring
	floor    int64 // watches may start at revisions ≥ floor
	watchers map[*CacheWatcher]struct{}
}

// NewCache returns a cache of prefix holding up to capacity recent events. Start runs it.
func NewCache(s *Store, prefix string, capacity int, decode Decoder, log *slog.Logger) *Cache {
	if capacity <= 0 {
		capacity = 10000
	}
	if log == nil {
		log = slog.Default()
	}
	if s.transformer != nil {
		// The cache holds values as etcd does and reads (decrypts) one only when it first
		// decodes it, so nobody pays for a value nobody looks at. One that cannot be read is
		// logged and left out, as an undecodable one is: a read of it from etcd reports why.
		plain := decode
		decode = func(key string, stored []byte, rev int64) (runtime.Object, error) {
			value, err := s.fromStorage(key, stored)
			if err != nil {
				return nil, err
			}
			return plain(key, value, rev)
		}
	}
	c := &Cache{store: s, prefix: prefix, decode: decode, capacity: capacity,
		log: log.With("component", "watchcache", "prefix", prefix), watchers: map[*CacheWatcher]struct{}{}}
	c.fresh = sync.NewCond(c.mu.RLocker())
	return c
}

// Start lists the prefix and follows it until ctx ends, re-listing after any watch failure.
// It returns once the first list is loaded.
func (c *Cache) Start(ctx context.Context) error {
	rev, err := c.load(ctx)
	if err != nil {
		return err
	}
	go c.run(ctx, rev)
	return nil
}

func (c *Cache) load(ctx context.Context) (int64, error) {
	res, err := c.store.list(ctx, c.prefix, ListOptions{})
	if err != nil {
		return 0, fmt.Errorf("watch cache %s: initial list: %w", c.prefix, err)
	}
	objs := make(map[string]*CacheEvent, len(res.Items))
	for _, kv := range res.Items {
		objs[kv.Key] = &CacheEvent{Type: watch.Added, Key: kv.Key, Revision: kv.ModRevision, state: c.state(kv.Key, kv.Value, kv.ModRevision)}
	}
	c.mu.Lock()
	// Watchers of the previous generation cannot be continued seamlessly: end them so their
	// clients resume from their last revision (or relist if it is gone).
	for w := range c.watchers {
		w.stop(fmt.Errorf("watch cache restarted"))
	}
	c.watchers = map[*CacheWatcher]struct{}{}
	c.objs = objs
	c.dirs = map[string]map[string]*CacheEvent{}
	for k, ce := range objs {
		c.index(k, ce)
	}
	c.rev = res.Revision
	c.floor = res.Revision
	c.ring = make([]*CacheEvent, c.capacity)
	c.ringHead, c.ringLen = 0, 0
	c.ready = true
	c.mu.Unlock()
	c.fresh.Broadcast()
	return res.Revision, nil
}

func (c *Cache) run(ctx context.Context, rev int64) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := c.follow(ctx, rev)
		if ctx.Err() != nil {
			break
		}
		c.log.Warn("watch ended, re-listing", "err", err)
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
		}
		if backoff < 5*time.Second {
			backoff *= 2
		}
		if r, err := c.load(ctx); err == nil {
			rev = r
			backoff = 100 * time.Millisecond
		}
	}
	c.mu.Lock()
	for w := range c.watchers {
		w.stop(nil)
	}
	c.watchers = map[*CacheWatcher]struct{}{}
	c.mu.Unlock()
}

func (c *Cache) follow(ctx context.Context, rev int64) error {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for resp := range c.store.watch(wctx, c.prefix, rev, false) {
		if resp.Err != nil {
			return resp.Err
		}
		c.apply(resp)
	}
	return errors.New("watch closed")
}

func (c *Cache) state(key string, raw []byte, rev int64) *objState {
	return &objState{key: key, raw: raw, rev: rev, decode: c.decode, log: c.log}
}

func (c *Cache) apply(resp WatchResponse) {
	events := make([]*CacheEvent, 0, len(resp.Events))
	for _, e := range resp.Events {
		ce := &CacheEvent{Key: e.Key, Revision: e.Revision}
		switch e.Type {
		case EventPut:
			ce.Type = watch.Modified
			if e.Created {
				ce.Type = watch.Added
			}
			ce.state = c.state(e.Key, e.Value, e.Revision)
		case EventDelete:
			if len(e.PrevValue) == 0 {
				c.log.Error("skipping delete without previous value", "key", e.Key, "rev", e.Revision)
				continue
			}
			ce.Type = watch.Deleted
			// A deleted object is reported at the revision of its deletion.
			ce.state = c.state(e.Key, e.PrevValue, e.Revision)
		}
		events = append(events, ce)
	}

	c.mu.Lock()
	for _, ce := range events {
		if prev, ok := c.objs[ce.Key]; ok {
			ce.prev = prev.state
		}
		if ce.Type == watch.Deleted {
			delete(c.objs, ce.Key)
			c.unindex(ce.Key)
		} else {
			c.objs[ce.Key] = ce
			c.index(ce.Key, ce)
		}
		c.push(ce)
		for w := range c.watchers {
			w.send(ce)
		}
	}
	newRev := resp.Revision
	if n := len(resp.Events); n > 0 && resp.Events[n-1].Revision > newRev {
		newRev = resp.Events[n-1].Revision
	}
	advanced := newRev > c.rev
	if advanced {
		c.rev = newRev
	}
	if len(resp.Events) == 0 && advanced {
		bm := &CacheEvent{Type: watch.Bookmark, Revision: c.rev}
		for w := range c.watchers {
			w.sendBookmark(bm)
		}
	}
	c.mu.Unlock()
	if advanced {
		c.fresh.Broadcast()
	}
}

func dirOf(key string) string { return key[:strings.LastIndexByte(key, '/')+1] }

func (c *Cache) index(key string, ce *CacheEvent) {
	d := dirOf(key)
	m := c.dirs[d]
	if m == nil {
		m = map[string]*CacheEvent{}
		c.dirs[d] = m
	}
	m[key] = ce
}

func (c *Cache) unindex(key string) {
	d := dirOf(key)
	if m := c.dirs[d]; m != nil {
		delete(m, key)
		if len(m) == 0 {
			delete(c.dirs, d)
		}
	}
}

// under returns the objects whose keys start with prefix: one folder's index when prefix is a
// folder that holds objects directly, else a scan of everything.
func (c *Cache) under(prefix string) map[string]*CacheEvent {
	if m, ok := c.dirs[prefix]; ok {
		return m
	}
	if prefix == c.prefix || prefix == "" {
		return c.objs
	}
	if strings.HasSuffix(prefix, "/") && strings.Count(prefix[len(c.prefix):], "/") == 1 {
		return nil // a namespace folder with nothing in it
	}
	out := map[string]*CacheEvent{}
	for k, ce := range c.objs {
		if strings.HasPrefix(k, prefix) {
			out[k] = ce
		}
	}
	return out
}

// push appends to the ring, raising the floor when the oldest event falls out.
func (c *Cache) push(ce *CacheEvent) {
	if c.ringLen == c.capacity {
		old := c.ring[c.ringHead]
		c.floor = old.Revision
		c.ringHead = (c.ringHead + 1) % c.capacity
		c.ringLen--
	}
	c.ring[(c.ringHead+c.ringLen)%c.capacity] = ce
	c.ringLen++
}

// Revision is the revision the cache is current to.
func (c *Cache) Revision() int64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.rev
}

// WaitFresh blocks until the cache has applied every change up to rev, asking etcd for a
// progress notification so a quiet prefix still catches up.
func (c *Cache) WaitFresh(ctx context.Context, rev int64) error {
	c.mu.RLock()
	ok := c.ready && c.rev >= rev
	c.mu.RUnlock()
	if ok {
		return nil
	}
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		_ = c.store.RequestProgress(ctx)
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				c.fresh.Broadcast()
				return
			case <-t.C:
				_ = c.store.RequestProgress(ctx)
			}
		}
	}()
	defer close(done)
	c.mu.RLock()
	defer c.mu.RUnlock()
	for !(c.ready && c.rev >= rev) {
		if ctx.Err() != nil {
			return fmt.Errorf("watch cache %s: waiting for revision %d (at %d): %w", c.prefix, rev, c.rev, ctx.Err())
		}
		c.fresh.Wait()
	}
	return nil
}

// Get returns the cached object at key.
func (c *Cache) Get(key string) (runtime.Object, bool) {
	obj, _, ok := c.GetRevision(key)
	return obj, ok
}

// GetRevision returns the cached object of key and the revision it was last written at (its
// resourceVersion), or false when the cache holds none.
func (c *Cache) GetRevision(key string) (runtime.Object, int64, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	ce, ok := c.objs[key]
	if !ok {
		return nil, 0, false
	}
	obj := ce.Object()
	return obj, ce.Revision, obj != nil
}

// List returns the cached objects whose keys start with prefix and that pass filter (nil: all),
// sorted by key like an etcd range read, and the revision they are current to.
func (c *Cache) List(prefix string, filter func(runtime.Object) bool) ([]runtime.Object, int64) {
	c.mu.RLock()
	set := c.under(prefix)
	keys := make([]string, 0, len(set))
	for k, ce := range set {
		if obj := ce.Object(); obj != nil && (filter == nil || filter(obj)) {
			keys = append(keys, k)
		}
	}
	objs := make([]runtime.Object, 0, len(keys))
	sort.Strings(keys)
	for _, k := range keys {
		objs = append(objs, set[k].Object())
	}
	rev := c.rev
	c.mu.RUnlock()
	return objs, rev
}

// ListEncoded is List without a filter, each object encoded by enc. The encoding is kept
// with the object's state and reused until the object changes, so enc must give the same
// bytes for the same object every time (one encoder per cache).
func (c *Cache) ListEncoded(prefix string, enc func(runtime.Object) ([]byte, error)) ([][]byte, error) {
	c.mu.RLock()
	set := c.under(prefix)
	states := make([]*objState, 0, len(set))
	keys := make([]string, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		states = append(states, set[k].state)
	}
	c.mu.RUnlock()
	out := make([][]byte, 0, len(states))
	for _, st := range states {
		obj := st.object()
		if obj == nil {
			continue
		}
		st.encOnce.Do(func() { st.encoded, st.encErr = enc(obj) })
		if st.encErr != nil {
			return nil, st.encErr
		}
		out = append(out, st.encoded)
	}
	return out, nil
}

// WatchOptions say where a cache watch starts.
type WatchOptions struct {
	// Initial: begin with a synthetic ADDED event for every current object, then changes after
	// the cache's current revision (resourceVersion "" or "0", or sendInitialEvents).
	Initial bool
	// From: otherwise, replay every change after this revision.
	From int64
	// Prefix narrows the watch to keys under it (a namespace, or one object's key).
	Prefix string
	// Filter drops events whose object does not match (label and field selectors).
	Filter func(runtime.Object) bool
	// Buffer is how many events may queue before the watcher is ended as too slow.
	Buffer int
}

// CacheWatcher is one client watch. Read Initial first, then C until it closes; Err says why
// it closed (nil on a normal stop).
type CacheWatcher struct {
	Initial []*CacheEvent
	// StartRevision is the revision the initial events are current to.
	StartRevision int64
	C             chan *CacheEvent

	cache  *Cache
	prefix string
	filter func(runtime.Object) bool
	// from: events at or before it are already known to the client. A client that listed from
	// etcd at a revision the cache has not reached yet must not see those events again.
	from    int64
	stopped bool
	err     error
}

// Watch starts a watch. A From older than the cache's window is ErrCompacted (410 Expired);
// the client re-lists, as with kube-apiserver's "too old resource version".
func (c *Cache) Watch(opts WatchOptions) (*CacheWatcher, error) {
	if opts.Buffer <= 0 {
		opts.Buffer = 1024
	}
	w := &CacheWatcher{C: make(chan *CacheEvent, opts.Buffer), cache: c, prefix: opts.Prefix, filter: opts.Filter, from: opts.From}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.ready {
		return nil, errors.New("watch cache not ready")
	}
	if opts.Initial {
		set := c.under(opts.Prefix)
		keys := make([]string, 0, len(set))
		for k, ce := range set {
			if w.matches(ce) {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			w.Initial = append(w.Initial, set[k].with(watch.Added))
		}
		w.StartRevision = c.rev
		w.from = c.rev
	} else {
		if opts.From < c.floor {
			return nil, fmt.Errorf("%w: too old resource version: %d (%d)", ErrCompacted, opts.From, c.floor)
		}
		for i := 0; i < c.ringLen; i++ {
			ce := c.ring[(c.ringHead+i)%c.capacity]
			if ce.Revision > opts.From && w.matches(ce) {
				w.Initial = append(w.Initial, ce)
			}
		}
		w.StartRevision = max(opts.From, c.rev)
	}
	c.watchers[w] = struct{}{}
	return w, nil
}

func (w *CacheWatcher) matches(ce *CacheEvent) bool {
	if len(ce.Key) < len(w.prefix) || ce.Key[:len(w.prefix)] != w.prefix {
		return false
	}
	if w.filter == nil {
		return true
	}
	obj := ce.Object()
	return obj != nil && w.filter(obj)
}

// send delivers an event (caller holds the cache lock). A modified object that moved out of the
// filter is delivered as DELETED and one that moved in as ADDED, as kube-apiserver does.
func (w *CacheWatcher) send(ce *CacheEvent) {
	if w.stopped || ce.Revision <= w.from {
		return
	}
	if len(ce.Key) < len(w.prefix) || ce.Key[:len(w.prefix)] != w.prefix {
		return
	}
	out := ce
	if w.filter != nil {
		obj := ce.Object()
		if obj == nil {
			return
		}
		cur := w.filter(obj)
		po := ce.PrevObject()
		prev := po != nil && w.filter(po)
		switch {
		case ce.Type == watch.Modified && cur && !prev:
			out = ce.with(watch.Added)
		case ce.Type == watch.Modified && !cur && prev:
			out = ce.with(watch.Deleted)
		case !cur:
			return
		}
	}
	select {
	case w.C <- out:
	default:
		w.stop(ErrTooSlow)
		delete(w.cache.watchers, w)
	}
}

func (w *CacheWatcher) sendBookmark(bm *CacheEvent) {
	if w.stopped || bm.Revision <= w.from {
		return
	}
	select {
	case w.C <- bm:
	default: // a bookmark is only a hint; dropping one is harmless
	}
}

func (w *CacheWatcher) stop(err error) {
	if !w.stopped {
		w.stopped = true
		w.err = err
		close(w.C)
	}
}

// Stop ends the watch.
func (w *CacheWatcher) Stop() {
	w.cache.mu.Lock()
	defer w.cache.mu.Unlock()
	w.stop(nil)
	delete(w.cache.watchers, w)
}

// Err says why C closed.
func (w *CacheWatcher) Err() error {
	w.cache.mu.RLock()
	defer w.cache.mu.RUnlock()
	return w.err
}
