// Package namespacelifecycle is kube-apiserver's NamespaceLifecycle admission plugin: no new
// content in a namespace that does not exist or is being deleted — which is what lets the
// namespace controller finish deleting one — and the namespaces the system needs are never
// deleted.
//
// kube looks the namespace up in an informer (and live, right after a create); the host
// hands the request's Namespace instead (spec.reads v1/Namespace), read in the same
// snapshot as the request, so there is no stale cache to second-guess.
package namespacelifecycle
