package user

import (
	"slices"
	"strings"
)

// Info is who a request acts as, as kube's user.Info: a name, an optional unique id, the groups
// the user belongs to and extra attributes an authenticator attached (for example the pod a
// service account token was bound to).
type Info struct {
	Name   string
	UID    string
	Groups []string
	Extra  map[string][]string
}

// Well-known groups.
const (
	// Masters may do anything; the authorizers allow its members without consulting rules.
	Masters = "system:masters"
	// AllAuthenticated is added to every request that presented valid credentials.
	AllAuthenticated = "system:authenticated"
	// AllUnauthenticated is the group of Anonymous.
	AllUnauthenticated = "system:unauthenticated"
	// NodesGroup holds the node agents' users.
	NodesGroup = "system:nodes"
	// ServiceAccountsGroup holds every service account.
	ServiceAccountsGroup = "system:serviceaccounts"
	// Bootstrappers holds users authenticated by a node join (bootstrap) token.
	Bootstrappers = "system:bootstrappers"
)

// Well-known users.
const (
	// Anonymous is the user of a request without credentials, when anonymous access is on.
	Anonymous = "system:anonymous"
	// APIServer is the API server acting on its own behalf.
	APIServer = "system:apiserver"
	// KubeScheduler is the scheduler's user.
	KubeScheduler = "system:kube-scheduler"
	// KubeControllerManager is the controller manager's user.
	KubeControllerManager = "system:kube-controller-manager"
	// KubeProxy is the service proxy's user.
	KubeProxy = "system:kube-proxy"
	// APIServerKubeletClient is the API server when it calls node agents (container logs,
	// exec): the user of kubeadm's apiserver-kubelet-client certificate.
	APIServerKubeletClient = "kube-apiserver-kubelet-client"
)

// Prefixes of generated names.
const (
	// NodeUserPrefix precedes a node's name in its agent's user name: system:node:<name>.
	NodeUserPrefix = "system:node:"
	// ServiceAccountUserPrefix precedes "<namespace>:<name>" in a service account's user name.
	ServiceAccountUserPrefix = "system:serviceaccount:"
	// ServiceAccountGroupPrefix precedes a namespace in the group of its service accounts.
	ServiceAccountGroupPrefix = "system:serviceaccounts:"
	// BootstrapUserPrefix precedes a join token's id in the user it authenticates as.
	BootstrapUserPrefix = "system:bootstrap:"
)

// Keys of Info.Extra that service account tokens fill, as kube names them, so audit and
// admission code written for Kubernetes finds them.
const (
	ExtraPodName      = "authentication.kubernetes.io/pod-name"
	ExtraPodUID       = "authentication.kubernetes.io/pod-uid"
	ExtraNodeName     = "authentication.kubernetes.io/node-name"
	ExtraNodeUID      = "authentication.kubernetes.io/node-uid"
	ExtraCredentialID = "authentication.kubernetes.io/credential-id"
)

// NodeUser is the user name of the agent on node name.
func NodeUser(name string) string { return NodeUserPrefix + name }

// ServiceAccountUser is the user name of service account name in namespace ns.
func ServiceAccountUser(ns, name string) string { return ServiceAccountUserPrefix + ns + ":" + name }

// ServiceAccountGroup is the group of every service account in namespace ns.
func ServiceAccountGroup(ns string) string { return ServiceAccountGroupPrefix + ns }

// ServiceAccountGroups are the groups a service account in namespace ns belongs to, besides
// AllAuthenticated.
func ServiceAccountGroups(ns string) []string {
	return []string{ServiceAccountsGroup, ServiceAccountGroup(ns)}
}

// NodeName returns the node a user is the agent of. A user counts as a node only when it is
// both named system:node:<name> and a member of system:nodes, as kube's node authorizer
// requires: a name alone is easy to put in a certificate request, the group is what the cluster
// vouched for.
func NodeName(u *Info) (string, bool) {
	if u == nil || !u.InGroup(NodesGroup) {
		return "", false
	}
	name, ok := strings.CutPrefix(u.Name, NodeUserPrefix)
	if !ok || name == "" {
		return "", false
	}
	return name, true
}

// ServiceAccount splits a service account user name (system:serviceaccount:<ns>:<name>).
func ServiceAccount(u *Info) (ns, name string, ok bool) {
	if u == nil {
		return "", "", false
	}
	return SplitServiceAccount(u.Name)
}

// SplitServiceAccount splits system:serviceaccount:<ns>:<name> into its namespace and name; both
// must be non-empty and the name has no further colon.
func SplitServiceAccount(username string) (ns, name string, ok bool) {
	rest, ok := strings.CutPrefix(username, ServiceAccountUserPrefix)
	if !ok {
		return "", "", false
	}
	ns, name, ok = strings.Cut(rest, ":")
	if !ok || ns == "" || name == "" || strings.Contains(name, ":") {
		return "", "", false
	}
	return ns, name, true
}

// InGroup says whether the user is a member of group.
func (u *Info) InGroup(group string) bool {
	if u == nil {
		return false
	}
	for _, g := range u.Groups {
		if g == group {
			return true
		}
	}
	return false
}

// WithGroup returns a copy of u that is also a member of group; u itself is not changed, since
// an Info may be shared by the authenticator that produced it.
func (u *Info) WithGroup(group string) *Info {
	c := *u
	if u.InGroup(group) {
		return &c
	}
	c.Groups = append(append(make([]string, 0, len(u.Groups)+1), u.Groups...), group)
	return &c
}

// Clone returns a copy of the user whose groups and extra values may be changed without
// changing u (the union authenticator adds system:authenticated to the groups it returns).
func (u *Info) Clone() *Info {
	if u == nil {
		return nil
	}
	c := *u
	c.Groups = slices.Clone(u.Groups)
	if u.Extra != nil {
		c.Extra = make(map[string][]string, len(u.Extra))
		for k, v := range u.Extra {
			c.Extra[k] = slices.Clone(v)
		}
	}
	return &c
}
