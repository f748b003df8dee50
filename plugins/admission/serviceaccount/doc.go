// Package serviceaccount is kube-apiserver's ServiceAccount admission plugin: every pod runs
// as a service account that exists in its namespace ("default" when it names none), takes
// the account's image pull secrets when it has none, and — when the policy's configuration
// asks, as kube does by default — gets the account's token, the cluster's CA and its
// namespace projected at the path client libraries look for them.
//
// Mirror pods (a node's static pods) are exempt from all of it: the node agent creates them
// from files, with no account to run as.
//
// kube names the token volume kube-api-access-<5 random characters>. A plugin has no
// randomness unless granted, and an admission answer should not change when the request
// is retried, so the suffix is drawn from a hash of the pod's namespace, name, generateName
// and uid instead, in the same alphabet.
package serviceaccount
