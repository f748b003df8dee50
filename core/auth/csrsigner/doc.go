// Package csrsigner approves and signs the certificate requests of node agents, as kube's
// csrapproving and csrsigning controllers do:
//
//   - the kubelet client signer (kubernetes.io/kube-apiserver-client-kubelet): a node that
//     joined with a join token, or a node renewing its own certificate, asks for
//     CN=system:node:<name>, O=system:nodes and gets it;
//   - the kubelet serving signer (kubernetes.io/kubelet-serving): a node asks for the
//     certificate its API serves with, for its name and the addresses its Node reports.
//
// It is core mechanics rather than a plugin because it holds the cluster CA's key, which no
// plugin may see. What it approves is fixed and narrow: anything else is left pending for a
// human (kubectl certificate approve) and never signed here.
//
// Request is the other side: what a node calls to ask for a certificate and wait for it.
package csrsigner
