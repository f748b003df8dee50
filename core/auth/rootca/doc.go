// Package rootca publishes the cluster CA into every namespace as the ConfigMap
// kube-root-ca.crt (key ca.crt), as kube's root-ca-cert-publisher does, so that the token
// volume the ServiceAccount admission policy mounts into pods carries the CA the pod checks
// the API server's certificate against.
package rootca
