package store

import (
	"errors"
	"fmt"
)

// Sentinel errors. Callers test with errors.Is; the API server maps them to Status reasons.
var (
	// ErrNotFound: the key does not exist (NotFound).
	ErrNotFound = errors.New("store: not found")
	// ErrExists: a create found the key present (AlreadyExists).
	ErrExists = errors.New("store: already exists")
	// ErrConflict: the key's revision is not the one the caller read (Conflict).
	ErrConflict = errors.New("store: revision conflict")
	// ErrCompacted: the requested revision was compacted away (410 Expired).
	ErrCompacted = errors.New("store: revision compacted")
	// ErrClaimed: a side key the write wanted to claim is already taken.
	ErrClaimed = errors.New("store: side key already claimed")
	// ErrFuture: the requested revision is newer than the store's (Timeout, retry later).
	ErrFuture = errors.New("store: revision is in the future")
	// ErrSideChanged: a side key the write guarded changed since the caller read it.
	ErrSideChanged = errors.New("store: guarded side key changed")
	// ErrTransform: a stored value could not be turned back into what was written — for
	// encryption at rest, a missing or wrong key, or a value modified in etcd.
	ErrTransform = errors.New("store: stored value unreadable")
)

// Transformer changes values on their way into etcd and back: encryption at rest. key is the
// value's key as the store's callers name it (without the store prefix, e.g.
// "/core/secrets/default/db"); a transformer chooses by it what to do, and binds what it
// writes to it, so a stored value copied to another key does not read.
type Transformer interface {
	// ToStorage returns the form of value to store at key.
	ToStorage(key string, value []byte) ([]byte, error)
	// FromStorage returns the value stored at key. stale reports a value stored in a form
	// ToStorage would not write today (under an older key, or unencrypted), so rewriting
	// it, even unchanged, changes what etcd holds.
	FromStorage(key string, stored []byte) (value []byte, stale bool, err error)
}

// TransformError names the key whose stored value could not be read. It wraps ErrTransform
// and the transformer's own error.
type TransformError struct {
	Key string
	Err error
}

func (e *TransformError) Error() string {
	return fmt.Sprintf("store: reading %s: %v", e.Key, e.Err)
}
func (e *TransformError) Unwrap() []error { return []error{ErrTransform, e.Err} }

// SideChangedError names the guarded side key that changed. It wraps ErrSideChanged.
type SideChangedError struct {
	Key string
	// Revision is the store's revision when the write failed: a cache that has caught up
	// with it holds the key's new value.
	Revision int64
}

func (e *SideChangedError) Error() string {
	return fmt.Sprintf("store: side key %q changed since it was read", e.Key)
}
func (e *SideChangedError) Unwrap() error { return ErrSideChanged }

// ClaimedError names the side key that was taken. It wraps ErrClaimed.
type ClaimedError struct{ Key string }

func (e *ClaimedError) Error() string {
	return fmt.Sprintf("store: side key %q already claimed", e.Key)
}
func (e *ClaimedError) Unwrap() error { return ErrClaimed }

// KV is one stored value and its revisions.
type KV struct {
	Key            string
	Value          []byte
	ModRevision    int64
	CreateRevision int64
	// Lease is the etcd lease the key expires with, 0 if it does not expire.
	Lease int64
	// Stale is set when the transformer read Value from a form it no longer writes (see
	// Transformer): a caller that skips writes of unchanged values still rewrites it.
	Stale bool
}

// SideOp is a change to another key made atomically with the main write.
type SideOp struct {
	Key string
	// Claim creates Key with Value and fails the whole write with a ClaimedError if it exists;
	// otherwise (release) Key is deleted if present.
	Claim bool
	Value []byte
	// Rev, when set, makes the op a guarded update: Key is replaced with Value if its mod
	// revision is still Rev, and otherwise the whole write fails with a SideChangedError.
	// Admission uses it to charge a quota atomically with the object it admits.
	Rev int64
}

// Guarded returns a side op that replaces key with value if its mod revision is still rev.
func Guarded(key string, value []byte, rev int64) SideOp {
	return SideOp{Key: key, Value: value, Rev: rev}
}

// Claim returns a side op that takes key.
func Claim(key string, value []byte) SideOp { return SideOp{Key: key, Claim: true, Value: value} }

// Release returns a side op that frees key.
func Release(key string) SideOp { return SideOp{Key: key} }

// ListOptions select a page of a prefix.
type ListOptions struct {
	// Revision reads at a past revision; 0 reads the latest.
	Revision int64
	// Limit caps the page size; 0 means no limit.
	Limit int64
	// Continue is the token a previous page returned.
	Continue string
}

// ListResult is one page of a list.
type ListResult struct {
	Items []KV
	// Revision is the header revision the page was read at; later pages reuse it.
	Revision int64
	// Continue is set when more items remain; RemainingCount estimates how many.
	Continue       string
	RemainingCount int64
}

// EventType says what happened to a key.
type EventType int

const (
	EventPut EventType = iota
	EventDelete
)

// Event is one change seen by a watch. For a delete, Value is empty and PrevValue holds the last
// stored value; Created tells a put that created the key from one that changed it.
type Event struct {
	Type      EventType
	Key       string
	Value     []byte
	PrevValue []byte
	Revision  int64
	Created   bool
}

// WatchResponse carries events or, with no events, a progress notification meaning the watch
// has seen everything up to Revision. Err ends the stream (ErrCompacted for a compacted start).
type WatchResponse struct {
	Events   []Event
	Revision int64
	Err      error
}
