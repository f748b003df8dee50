package apiserver

import (
	"crypto/tls"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/tugboat-io/tug/core/api"
	"github.com/tugboat-io/tug/core/store"
)

// Config is everything the API server needs. The caller owns the etcd client.
type Config struct {
	// Listen is the HOST:PORT the API server binds, e.g. 127.0.0.1:6443.
	Listen string
	// Etcd is the client for the store (embedded or external cluster).
	Etcd *clientv3.Client
	// Registry holds the served kinds; nil means api.Builtin().
	Registry *api.Registry
	// ServiceClusterIPRange is the CIDR ClusterIPs are allocated from (default 10.96.0.0/12).
	ServiceClusterIPRange string
	// ServiceNodePortRange is "MIN-MAX" for NodePorts (default 30000-32767).
	ServiceNodePortRange string
	// MaxRequestBodyBytes caps request bodies (default 3 MiB, like kube-apiserver).
	MaxRequestBodyBytes int64
	// WatchCacheSize is the number of recent events kept per resource (default 10000).
	WatchCacheSize int
	Logger         *slog.Logger
	// Metrics is where the server registers its request metrics, and what /metrics serves
	// (nil: the Prometheus default registry, which the wasm runtime also uses in tug up).
	Metrics *prometheus.Registry

	// Profiling serves Go's profiles under /debug/pprof/ (kube-apiserver's --profiling), to
	// callers the authorizer lets get that path: with RBAC, system:masters only.
	Profiling bool

	// Transformer, when set, encrypts values at rest (see core/store/encrypt): the server's
	// store passes every value through it.
	Transformer store.Transformer

	// TLS, when set, is the serving configuration: its certificate, and how client
	// certificates are asked for (requested, not required: a request without one may still
	// carry a token). Nil serves plain HTTP, for development and tests.
	TLS *tls.Config

	// KubeletTLS, when set, is how the server reaches node agents (pods/log, pods/exec):
	// HTTPS with its kubelet client certificate (Certificates), the agent's certificate
	// verified against RootCAs and required to be the pod's node's (CN system:node:<name>).
	// Nil: plain HTTP, for agents that serve it (--secure=false).
	KubeletTLS *tls.Config

	// Authn, Authz and Admission are the request-path stages; nil means allow-all.
	Authn     Authenticator
	Authz     Authorizer
	Admission Admission

	// Rules lists a user's rules for SelfSubjectRulesReview; nil answers an empty list
	// marked incomplete.
	Rules RuleLister

	// APIAudiences are the audiences the server's tokens are good for (kube-apiserver's
	// --api-audiences): what a TokenReview that names none gets, and what one that names
	// others must share.
	APIAudiences []string

	// TokenIssuer signs service account tokens (the serviceaccounts/token subresource); nil
	// serves none.
	TokenIssuer TokenIssuer
}
