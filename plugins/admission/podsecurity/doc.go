// Package podsecurity is kube-apiserver's PodSecurity admission plugin: the Pod Security
// Standards' levels (privileged, baseline, restricted), chosen per namespace by its
// pod-security.kubernetes.io/enforce, warn and audit labels (the configuration's defaults
// where a namespace has none), with kube's messages, so that a cluster's namespaces can be
// locked down the way users of Kubernetes already know.
//
// Pods that violate the enforce level are refused; workloads with pod templates are never
// refused (their pods will be) but warned about, as kube does; audit-level violations go
// to the audit annotation. Every version label (v1.x, latest) is read as latest: the checks
// are the latest version's. Exempt users, namespaces and runtime classes are not checked.
//
// The checks decode only the fields they read; a pod update that leaves the spec untouched
// is not checked again, so relabelling a pod in a tightened namespace still works.
package podsecurity
