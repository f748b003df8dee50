// Package controller runs controllers: the mechanics of kube-controller-manager without its
// policy. For each controller it follows the parent kind, the children the parent owns and
// the related objects the controller declares through shared informers, queues parents with
// rate-limited retries, hands each one with what it observed to the controller's wasm
// reconcile plugin (ABI.md §4.6), and applies the answer: children created, updated and
// deleted with controller owner references and optimistic concurrency, the parent's status
// and annotations, events. What a controller wants is decided only in the plugin
// (plugins/controllers).
//
// Two rules keep writes exact. Children a reconcile created or deleted are remembered until
// the watch shows them (pending.go), and the next reconcile sees them as observed, so a slow
// watch never makes a child twice. Every update carries the resourceVersion it was decided
// on, so a decision made on stale input fails with a conflict and is made again.
//
// A reconcile plugin that fails — a trap, a deadline, an error — is contained by the
// runtime; the parent gets a Warning event and is retried with backoff while every other
// parent and controller keeps working. The garbage collector (gc.go) deletes objects whose
// owners are gone and carries out foreground and orphan deletion; the namespace deleter
// (namespace.go) empties a terminating namespace and then finalizes it. Both are Go, not
// plugins: what they do is fixed by the API, not a policy.
package controller
