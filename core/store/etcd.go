package store

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Store is the revisioned store over one etcd cluster. Keys passed to it are relative; Prefix is
// prepended so several tug clusters can share one etcd.
type Store struct {
	client *clientv3.Client
	prefix string
	leases leaseManager
	// transformer, when set, turns every value into its stored form and back (encryption at
	// rest); nil stores values as given.
	transformer Transformer
}

// Option configures a Store.
type Option func(*Store)

// WithTransformer passes every value the store writes through t.ToStorage and every value it
// reads through t.FromStorage; nil leaves values as they are.
func WithTransformer(t Transformer) Option { return func(s *Store) { s.transformer = t } }

// New returns a store that keeps its keys under prefix (e.g. "/registry").
func New(client *clientv3.Client, prefix string, opts ...Option) *Store {
	s := &Store{client: client, prefix: strings.TrimSuffix(prefix, "/")}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Client returns the underlying etcd client.
func (s *Store) Client() *clientv3.Client { return s.client }

func (s *Store) full(key string) string { return s.prefix + key }

func (s *Store) rel(key []byte) string { return strings.TrimPrefix(string(key), s.prefix) }

// kv is a key as etcd holds it: its value still in stored form.
func (s *Store) kv(kv *mvccpb.KeyValue) KV {
	return KV{Key: s.rel(kv.Key), Value: kv.Value, ModRevision: kv.ModRevision, CreateRevision: kv.CreateRevision, Lease: kv.Lease}
}

// read turns a stored value back into the value written.
func (s *Store) read(kv KV) (KV, error) {
	if s.transformer == nil {
		return kv, nil
	}
	v, stale, err := s.transformer.FromStorage(kv.Key, kv.Value)
	if err != nil {
		return KV{}, &TransformError{Key: kv.Key, Err: err}
	}
	kv.Value, kv.Stale = v, stale
	return kv, nil
}

// fromStorage is read for a bare value, as the watch cache decodes it.
func (s *Store) fromStorage(key string, stored []byte) ([]byte, error) {
	kv, err := s.read(KV{Key: key, Value: stored})
	return kv.Value, err
}

// toStorage returns the form of value to write at key.
func (s *Store) toStorage(key string, value []byte) ([]byte, error) {
	if s.transformer == nil {
		return value, nil
	}
	b, err := s.transformer.ToStorage(key, value)
	if err != nil {
		return nil, fmt.Errorf("store: writing %s: %w", key, err)
	}
	return b, nil
}

// Get reads one key at the latest revision.
func (s *Store) Get(ctx context.Context, key string) (KV, error) {
	resp, err := s.client.Get(ctx, s.full(key))
	if err != nil {
		return KV{}, mapErr(err)
	}
	if len(resp.Kvs) == 0 {
		return KV{}, ErrNotFound
	}
	return s.read(s.kv(resp.Kvs[0]))
}

// Revision returns the store's current revision with a cheap quorum read.
func (s *Store) Revision(ctx context.Context) (int64, error) {
	resp, err := s.client.Get(ctx, s.full("/\x00rev"), clientv3.WithCountOnly())
	if err != nil {
		return 0, mapErr(err)
	}
	return resp.Header.Revision, nil
}

type continueToken struct {
	Rev   int64  `json:"rv"`
	Start string `json:"start"`
}

// EncodeContinue builds a continue token resuming a list of prefix at key start, read at rev.
func EncodeContinue(rev int64, start string) string {
	b, _ := json.Marshal(continueToken{Rev: rev, Start: start})
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeContinue parses a continue token.
func DecodeContinue(tok string) (rev int64, start string, err error) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return 0, "", fmt.Errorf("invalid continue token: %w", err)
	}
	var c continueToken
	if err := json.Unmarshal(b, &c); err != nil || c.Rev <= 0 {
		return 0, "", fmt.Errorf("invalid continue token")
	}
	return c.Rev, c.Start, nil
}

// List reads keys under prefix (which should end in "/"). A page with Limit set returns a
// Continue token; later pages are read at the first page's revision so the whole list is one
// consistent snapshot, and a compacted snapshot surfaces as ErrCompacted. A value that cannot
// be read back (see Transformer) fails the whole page with a TransformError, as it does in
// kube-apiserver: a list that silently missed an object would mislead.
func (s *Store) List(ctx context.Context, prefix string, opts ListOptions) (ListResult, error) {
	res, err := s.list(ctx, prefix, opts)
	if err != nil {
		return ListResult{}, err
	}
	for i, kv := range res.Items {
		if res.Items[i], err = s.read(kv); err != nil {
			return ListResult{}, err
		}
	}
	return res, nil
}

// list is List with the values in stored form.
func (s *Store) list(ctx context.Context, prefix string, opts ListOptions) (ListResult, error) {
	start := prefix
	rev := opts.Revision
	if opts.Continue != "" {
		r, st, err := DecodeContinue(opts.Continue)
		if err != nil {
			return ListResult{}, err
		}
		if !strings.HasPrefix(st, prefix) {
			return ListResult{}, fmt.Errorf("invalid continue token: key %q outside %q", st, prefix)
		}
		rev, start = r, st
	}
	end := clientv3.GetPrefixRangeEnd(s.full(prefix))
	ops := []clientv3.OpOption{clientv3.WithRange(end)}
	if rev > 0 {
		ops = append(ops, clientv3.WithRev(rev))
	}
	if opts.Limit > 0 {
		ops = append(ops, clientv3.WithLimit(opts.Limit))
	}
	resp, err := s.client.Get(ctx, s.full(start), ops...)
	if err != nil {
		return ListResult{}, mapErr(err)
	}
	res := ListResult{Revision: resp.Header.Revision, Items: make([]KV, 0, len(resp.Kvs))}
	if rev > 0 {
		res.Revision = rev
	}
	for _, kv := range resp.Kvs {
		res.Items = append(res.Items, s.kv(kv))
	}
	if resp.More && len(resp.Kvs) > 0 {
		last := res.Items[len(res.Items)-1].Key
		res.Continue = EncodeContinue(res.Revision, last+"\x00")
		res.RemainingCount = resp.Count - int64(len(resp.Kvs))
	}
	return res, nil
}

// Create writes key only if it does not exist, applying side ops in the same transaction.
func (s *Store) Create(ctx context.Context, key string, value []byte, sides ...SideOp) (int64, error) {
	return s.CreateTTL(ctx, key, value, 0, sides...)
}

// CreateTTL is Create for a key that expires ttl after its last write (0: never), as Events do.
func (s *Store) CreateTTL(ctx context.Context, key string, value []byte, ttl time.Duration, sides ...SideOp) (int64, error) {
	rev, err := s.createTTL(ctx, key, value, ttl, sides)
	if ttl > 0 && errors.Is(err, rpctypes.ErrLeaseNotFound) {
		s.leases.forget(ttl) // revoked or expired under us: one retry with a fresh lease
		rev, err = s.createTTL(ctx, key, value, ttl, sides)
	}
	return rev, err
}

func (s *Store) createTTL(ctx context.Context, key string, value []byte, ttl time.Duration, sides []SideOp) (int64, error) {
	k := s.full(key)
	stored, err := s.toStorage(key, value)
	if err != nil {
		return 0, err
	}
	put, err := s.put(ctx, k, stored, ttl)
	if err != nil {
		return 0, err
	}
	cmps := []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(k), "=", 0)}
	ops := []clientv3.Op{put}
	resp, err := s.txn(ctx, cmps, ops, sides, clientv3.OpGet(k, clientv3.WithCountOnly()))
	if err != nil {
		return 0, err
	}
	if !resp.Succeeded {
		if err := s.sideFailure(resp, len(cmps), sides); err != nil {
			return 0, err
		}
		return 0, ErrExists
	}
	return resp.Header.Revision, nil
}

// Update replaces key if its mod revision is still rev.
func (s *Store) Update(ctx context.Context, key string, value []byte, rev int64, sides ...SideOp) (int64, error) {
	return s.UpdateTTL(ctx, key, value, rev, 0, sides...)
}

// UpdateTTL is Update that also restarts the key's time to live (0: never expires).
func (s *Store) UpdateTTL(ctx context.Context, key string, value []byte, rev int64, ttl time.Duration, sides ...SideOp) (int64, error) {
	newRev, err := s.updateTTL(ctx, key, value, rev, ttl, sides)
	if ttl > 0 && errors.Is(err, rpctypes.ErrLeaseNotFound) {
		s.leases.forget(ttl)
		newRev, err = s.updateTTL(ctx, key, value, rev, ttl, sides)
	}
	return newRev, err
}

func (s *Store) updateTTL(ctx context.Context, key string, value []byte, rev int64, ttl time.Duration, sides []SideOp) (int64, error) {
	k := s.full(key)
	stored, err := s.toStorage(key, value)
	if err != nil {
		return 0, err
	}
	put, err := s.put(ctx, k, stored, ttl)
	if err != nil {
		return 0, err
	}
	cmps := []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(k), "=", rev)}
	ops := []clientv3.Op{put}
	resp, err := s.txn(ctx, cmps, ops, sides, clientv3.OpGet(k, clientv3.WithCountOnly()))
	if err != nil {
		return 0, err
	}
	if !resp.Succeeded {
		if err := s.sideFailure(resp, len(cmps), sides); err != nil {
			return 0, err
		}
		if resp.Responses[0].GetResponseRange().Count == 0 {
			return 0, ErrNotFound
		}
		return 0, ErrConflict
	}
	return resp.Header.Revision, nil
}

// Delete removes key if its mod revision is still rev (rev 0: whatever it is) and returns the
// deleted value and the revision of the delete. A deleted value that cannot be read back (see
// Transformer) comes back with a nil Value and no error: the delete happened, and deleting is
// how an unreadable object is got rid of.
func (s *Store) Delete(ctx context.Context, key string, rev int64, sides ...SideOp) (KV, int64, error) {
	k := s.full(key)
	var cmps []clientv3.Cmp
	if rev > 0 {
		cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(k), "=", rev))
	} else {
		cmps = append(cmps, clientv3.Compare(clientv3.CreateRevision(k), ">", 0))
	}
	ops := []clientv3.Op{clientv3.OpDelete(k, clientv3.WithPrevKV())}
	resp, err := s.txn(ctx, cmps, ops, sides, clientv3.OpGet(k, clientv3.WithCountOnly()))
	if err != nil {
		return KV{}, 0, err
	}
	if !resp.Succeeded {
		if err := s.sideFailure(resp, len(cmps), sides); err != nil {
			return KV{}, 0, err
		}
		if resp.Responses[0].GetResponseRange().Count == 0 {
			return KV{}, 0, ErrNotFound
		}
		return KV{}, 0, ErrConflict
	}
	dr := resp.Responses[0].GetResponseDeleteRange()
	if dr == nil || len(dr.PrevKvs) == 0 {
		return KV{}, 0, ErrNotFound
	}
	prev := s.kv(dr.PrevKvs[0])
	if read, err := s.read(prev); err == nil {
		prev = read
	} else {
		prev.Value = nil
	}
	return prev, resp.Header.Revision, nil
}

// put builds the write of k, attached to a shared lease when it must expire.
func (s *Store) put(ctx context.Context, k string, value []byte, ttl time.Duration) (clientv3.Op, error) {
	if ttl <= 0 {
		return clientv3.OpPut(k, string(value)), nil
	}
	id, err := s.leases.lease(ctx, s.client, ttl)
	if err != nil {
		return clientv3.Op{}, err
	}
	return clientv3.OpPut(k, string(value), clientv3.WithLease(id)), nil
}

// txn runs cmps (plus a claim check per claimed side key) then ops and side ops; on failure it
// reads back the main key count and each claimed side key so the caller can say what failed.
func (s *Store) txn(ctx context.Context, cmps []clientv3.Cmp, ops []clientv3.Op, sides []SideOp, onFail clientv3.Op) (*clientv3.TxnResponse, error) {
	failOps := []clientv3.Op{onFail}
	for _, sd := range sides {
		k := s.full(sd.Key)
		var stored []byte
		if sd.Rev > 0 || sd.Claim {
			var err error
			if stored, err = s.toStorage(sd.Key, sd.Value); err != nil {
				return nil, err
			}
		}
		if sd.Rev > 0 {
			cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(k), "=", sd.Rev))
			ops = append(ops, clientv3.OpPut(k, string(stored)))
			failOps = append(failOps, clientv3.OpGet(k, clientv3.WithKeysOnly()))
			continue
		}
		if sd.Claim {
			cmps = append(cmps, clientv3.Compare(clientv3.CreateRevision(k), "=", 0))
			ops = append(ops, clientv3.OpPut(k, string(stored)))
			failOps = append(failOps, clientv3.OpGet(k, clientv3.WithCountOnly()))
		} else {
			ops = append(ops, clientv3.OpDelete(k))
		}
	}
	resp, err := s.client.Txn(ctx).If(cmps...).Then(ops...).Else(failOps...).Commit()
	if err != nil {
		return nil, mapErr(err)
	}
	return resp, nil
}

// sideFailure returns a ClaimedError when a claimed side key caused the failed transaction,
// and a SideChangedError when a guarded one did.
func (s *Store) sideFailure(resp *clientv3.TxnResponse, _ int, sides []SideOp) error {
	i := 1
	for _, sd := range sides {
		if !sd.Claim && sd.Rev == 0 {
			continue
		}
		if i >= len(resp.Responses) {
			break
		}
		r := resp.Responses[i].GetResponseRange()
		i++
		switch {
		case sd.Rev > 0 && (len(r.Kvs) == 0 || r.Kvs[0].ModRevision != sd.Rev):
			return &SideChangedError{Key: sd.Key, Revision: resp.Header.Revision}
		case sd.Claim && r.Count > 0:
			return &ClaimedError{Key: sd.Key}
		}
	}
	return nil
}

// Watch streams changes under prefix starting after revision from (0: from now). The channel
// closes when ctx ends or the watch fails; a final response with Err says why (a
// TransformError for a value that cannot be read back). Progress notifications arrive as
// responses with no events.
func (s *Store) Watch(ctx context.Context, prefix string, from int64) <-chan WatchResponse {
	return s.watch(ctx, prefix, from, true)
}

// watch is Watch; with read false the values stay in stored form, for the watch cache, which
// reads each one when it first decodes it.
func (s *Store) watch(ctx context.Context, prefix string, from int64, read bool) <-chan WatchResponse {
	out := make(chan WatchResponse, 16)
	opts := []clientv3.OpOption{clientv3.WithPrefix(), clientv3.WithPrevKV(), clientv3.WithProgressNotify()}
	if from > 0 {
		opts = append(opts, clientv3.WithRev(from+1))
	}
	wctx := clientv3.WithRequireLeader(ctx)
	wch := s.client.Watch(wctx, s.full(prefix), opts...)
	go func() {
		defer close(out)
		for resp := range wch {
			if err := resp.Err(); err != nil {
				if resp.CompactRevision > 0 || errors.Is(err, rpctypes.ErrCompacted) {
					err = fmt.Errorf("%w: watch from %d, compacted at %d", ErrCompacted, from, resp.CompactRevision)
				}
				select {
				case out <- WatchResponse{Err: err}:
				case <-ctx.Done():
				}
				return
			}
			wr := WatchResponse{Revision: resp.Header.Revision}
			if read {
				if err := s.readEvents(resp.Events); err != nil {
					select {
					case out <- WatchResponse{Err: err}:
					case <-ctx.Done():
					}
					return
				}
			}
			for _, ev := range resp.Events {
				e := Event{Key: s.rel(ev.Kv.Key), Revision: ev.Kv.ModRevision}
				if ev.Type == clientv3.EventTypeDelete {
					e.Type = EventDelete
					if ev.PrevKv != nil {
						e.PrevValue = ev.PrevKv.Value
					}
				} else {
					e.Type = EventPut
					e.Value = ev.Kv.Value
					e.Created = ev.IsCreate()
					if ev.PrevKv != nil {
						e.PrevValue = ev.PrevKv.Value
					}
				}
				wr.Events = append(wr.Events, e)
			}
			select {
			case out <- wr:
			case <-ctx.Done():
				return
			}
		}
		if ctx.Err() == nil {
			select {
			case out <- WatchResponse{Err: errors.New("store: watch channel closed")}:
			case <-ctx.Done():
			}
		}
	}()
	return out
}

// readEvents turns the stored values of events back into the values written, in place.
func (s *Store) readEvents(events []*clientv3.Event) error {
	if s.transformer == nil {
		return nil
	}
	for _, ev := range events {
		for _, kv := range []*mvccpb.KeyValue{ev.Kv, ev.PrevKv} {
			if kv == nil || (kv == ev.Kv && ev.Type == clientv3.EventTypeDelete) {
				continue
			}
			v, err := s.fromStorage(s.rel(kv.Key), kv.Value)
			if err != nil {
				return err
			}
			kv.Value = v
		}
	}
	return nil
}

// RequestProgress asks etcd to send a progress notification on every watch of this client, so
// caches learn they are current even when their prefix is quiet.
//
// The etcd client keys watch streams by the context's outgoing metadata, so the request must
// carry the same require-leader marker as the watches or it reaches a stream with none on it.
func (s *Store) RequestProgress(ctx context.Context) error {
	return mapErr(s.client.RequestProgress(clientv3.WithRequireLeader(ctx)))
}

// Compact discards history before rev.
func (s *Store) Compact(ctx context.Context, rev int64) error {
	_, err := s.client.Compact(ctx, rev)
	return mapErr(err)
}

func mapErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, rpctypes.ErrCompacted) {
		return fmt.Errorf("%w: %v", ErrCompacted, err)
	}
	if errors.Is(err, rpctypes.ErrFutureRev) {
		return fmt.Errorf("%w: %v", ErrFuture, err)
	}
	return fmt.Errorf("etcd: %w", err)
}

// leaseManager shares one etcd lease among all writes with the same time to live made within a
// minute, as kube-apiserver does for Events: a lease per write would cost a round trip and an
// object in etcd per event. A key may so live up to a minute longer than asked, never shorter.
type leaseManager struct {
	mu     sync.Mutex
	leases map[time.Duration]grantedLease
}

type grantedLease struct {
	id      clientv3.LeaseID
	granted time.Time
}

const leaseReuse = time.Minute

func (m *leaseManager) forget(ttl time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.leases, ttl)
}

func (m *leaseManager) lease(ctx context.Context, cli *clientv3.Client, ttl time.Duration) (clientv3.LeaseID, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if l, ok := m.leases[ttl]; ok && time.Since(l.granted) < leaseReuse {
		return l.id, nil
	}
	resp, err := cli.Grant(ctx, int64((ttl+leaseReuse)/time.Second))
	if err != nil {
		return 0, mapErr(err)
	}
	if m.leases == nil {
		m.leases = map[time.Duration]grantedLease{}
	}
	m.leases[ttl] = grantedLease{id: resp.ID, granted: time.Now()}
	return resp.ID, nil
}
