// Package admission holds tug's default admission policies: kube-apiserver's built-in
// admission plugins that every Kubernetes user relies on without knowing, rewritten as
// pure decisions over an admission request (ABI.md §4.5) and run as wasm, so that an
// operator can reorder, reconfigure or replace any of them like any other policy.
//
// One module (cmd/defaults) hosts them all; the host calls it once per AdmissionPolicy,
// and the request's policy field picks the policy, its config field the policy's
// configuration. The related objects a policy needs (the namespace, its LimitRanges,
// ServiceAccounts, ResourceQuotas) are handed in the request: the policies do no I/O.
//
// kube runs them in this order, and so should a chain of them, for each later policy
// decides on what the earlier ones made of the object:
//
//	noderestriction           NodeRestriction: a node creates only its own Node, Lease and
//	                          DNS slice, and mirror pods bound to itself (nodes' requests
//	                          only: the policy's matchUserGroups)
//	namespacelifecycle        NamespaceLifecycle: nothing new in a missing or terminating
//	                          namespace; default, kube-system and kube-public never deleted
//	limitranger               LimitRanger: containers' default requests and limits, and the
//	                          LimitRanges' min, max and ratios (pods, claims)
//	serviceaccount            ServiceAccount: the pod's account exists (default when
//	                          unnamed), its pull secrets, optionally its token volume
//	defaulttolerationseconds  DefaultTolerationSeconds: five minutes' grace on a not-ready
//	                          or unreachable node
//	podsecurity               PodSecurity: the Pod Security Standards per namespace
//	resourcequota             ResourceQuota: creates charged against the namespace's
//	                          quotas, atomically with the create (status updates)
//
// Each is a table-tested package; the tests run every case natively and through the
// wasm module and require the same answer (internal/testutil). A policy decodes only the
// fields it reads, since each is a separate wasm call on every pod create and the chain's
// budget is about a millisecond (BenchmarkPodCreate measures it).
package admission
