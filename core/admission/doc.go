// Package admission is the API server's admission stage: every create, update and delete
// passes the mutating policies, then the validating ones, each an AdmissionPolicy naming a
// wasm plugin (ABI.md §4.5).
//
// The chain holds a compiled, immutable list of policies behind an atomic pointer and
// swaps it whole when AdmissionPolicies change, as Caddy swaps a config: a request runs to
// its end on the list it started with, and the next request sees the new one. Plugins are
// resolved at each call — a policy names a plugin by name, and the plugin manager hot-swaps
// versions under that name — so a new plugin version applies to the next request too.
//
// A policy is handed what it declares it reads (spec.reads) from the API server's watch
// caches, and nothing else. Its answer may patch the object (mutating policies), deny the
// request, add warnings, or ask for related objects' status to be written atomically with
// the request (a quota's usage): the server writes those guarded by the resourceVersion the
// policy saw, and admits the request again when another writer got there first.
//
// Failures are contained: a plugin that traps, overruns its timeout or answers garbage
// denies the request under failurePolicy Fail and is skipped under Ignore; either way the
// server keeps serving.
package admission
