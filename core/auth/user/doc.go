// Package user holds who a request acts as (Info) and the well-known user and group names that
// tug, like Kubernetes, gives meaning to.
//
// Authentication produces an Info, authorization and admission read it. The names are
// Kubernetes' own so that RBAC manifests, kubeconfigs and client certificates written for a
// Kubernetes cluster mean the same thing here. The package depends on nothing so that every
// other auth package, and the API server itself, can share the one type.
package user
