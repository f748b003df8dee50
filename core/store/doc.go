// Package store is tug's revisioned object store over the etcd v3 client.
//
// It speaks bytes and revisions, not Kubernetes kinds: a key's resourceVersion is its etcd mod
// revision, a list's resourceVersion is the header revision of the read that produced it, and
// every write is one etcd transaction guarded by the revision the caller read (optimistic
// concurrency). Side keys let a write claim or release other keys in the same transaction — the
// API server uses them for ClusterIP and NodePort allocation, so a crash can never leak or
// double-assign an address.
//
// Cache is the watch cache: one etcd watch per resource prefix feeds the current state and a
// window of recent events to any number of client watches, which resume from a revision.
//
// A Transformer (WithTransformer) changes values on their way into etcd and back; encrypt's
// implements encryption at rest. The store applies it on every path a value takes — writes,
// side keys, reads, lists, watches, a delete's previous value — so callers only ever see
// plaintext, and a value it cannot read is a TransformError naming the key. The watch cache
// keeps values as etcd holds them and reads each when it first decodes it.
//
// storetest holds the conformance suite every backend (embedded etcd, an external cluster) runs.
package store
