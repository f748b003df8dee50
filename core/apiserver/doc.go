// Package apiserver serves the Kubernetes REST API over echo, for real kubectl and client-go.
//
// A request passes fixed stages, in order: request info (which group, version, resource, verb),
// authentication, authorization, then the verb handler, which for writes runs admission
// (mutating, then validating) around the kind's own defaulting and validation before one
// optimistic-concurrency write to the store. The stages are interfaces so the security and
// admission parts of tug fill them without touching the handlers; today they allow everything.
//
// Nothing here knows a kind by name except where Kubernetes itself special-cases it (namespace
// lifecycle, graceful pod deletion, service address allocation): kinds are served from the
// table in core/api, so new kinds need entries, not handlers.
package apiserver
