// Package pki creates and keeps the cluster's certificates and keys: the cluster CA, the API
// server's serving certificate, client certificates (CN = user, O = groups, as Kubernetes reads
// them), certificates signed from a node's certificate request when it joins, and the key that
// signs service account tokens.
//
// Everything is ECDSA P-256: small keys, fast handshakes, and what Go's TLS stack and kubectl
// handle everywhere. LoadOrCreate keeps the material as PEM files in one directory (the server's
// data directory) so a restarted server keeps its CA and every kubeconfig and node it issued
// stays valid; only the serving certificate is reissued on its own, when its names no longer
// cover what the server is reachable as or it is about to expire.
//
// Nothing here decides who gets a certificate: callers (tug up, the node join flow) do, and
// CheckNodeClientCSR gives them kube's rule for a node's client certificate request.
package pki
