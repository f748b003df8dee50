// Package api holds the table of kinds the API server serves: for each kind its group, version,
// resource names, scope and subresources, plus the strategy the server applies to it — defaults
// as the real Kubernetes API applies them, validation with causes that name each field, the
// Table columns `kubectl get` prints, and the attributes field selectors match.
//
// Serving is data-driven: the API server knows nothing about a kind beyond its Kind entry, so
// later parts of tug (plugins, profiles, custom resources) add kinds by registering entries,
// not by writing handlers.
package api
