// Package authz is the glue between tug's authorizers and the API server: a three-way
// Decision (allow, deny, no opinion), the Decider interface the node and RBAC authorizers
// implement, a Union that asks them in order, and the forbidden message Kubernetes shows.
//
// The API server's Authorizer answers only allowed or not; authorizers that must be chained
// need a third answer, "no opinion", so that the node authorizer can leave a request it does
// not govern to RBAC while still denying outright what a node must never do. As in
// kube-apiserver, the first Allow or Deny wins and a request nobody allows is forbidden.
package authz
