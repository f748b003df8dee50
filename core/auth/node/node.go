package node

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/tugboat-io/tug/core/apiserver"
	"github.com/tugboat-io/tug/core/auth/authz"
	"github.com/tugboat-io/tug/core/auth/user"
)

// LeaseNamespace holds the nodes' heartbeat Leases, one per node, named like the node.
const LeaseNamespace = "kube-node-lease"

// PodLister reads pods, typically from a watch cache. The authorizer asks on every request a
// node makes about pods or what they reference, so it asks narrowly: one pod by name, or the
// pods of one namespace; never every pod of the cluster.
type PodLister interface {
	// GetPod returns the pod, nil when there is none.
	GetPod(ctx context.Context, namespace, name string) (*corev1.Pod, error)
	// PodsOnNode returns the pods of namespace bound to nodeName (spec.nodeName).
	PodsOnNode(ctx context.Context, nodeName, namespace string) ([]*corev1.Pod, error)
}

// Authorizer is the node authorizer.
type Authorizer struct {
	Pods PodLister
}

// New returns a node authorizer that looks pods up through pods.
func New(pods PodLister) *Authorizer { return &Authorizer{Pods: pods} }

// Authorize implements apiserver.Authorizer, for use without other authorizers (tests, and a
// server that only serves nodes); otherwise put Decide in an authz.Union before RBAC.
func (n *Authorizer) Authorize(ctx context.Context, a apiserver.Attributes) (bool, string, error) {
	return authz.Union(n).Authorize(ctx, a)
}

// Where a node publishes its cluster DNS endpoint: the EndpointSlice DNSSlicePrefix+<node> in
// DNSNamespace (core/proxy/dns, which this package does not import).
const (
	DNSNamespace   = "kube-system"
	DNSSlicePrefix = "kube-dns-"
)

// The read-only kinds every node may read cluster-wide.
var readable = map[[2]string]bool{
	{"", "nodes"}: true, {"", "pods"}: true, {"", "services"}: true, {"", "endpoints"}: true,
	{"", "namespaces"}: true, {"discovery.k8s.io", "endpointslices"}: true, {"node.k8s.io", "runtimeclasses"}: true,
}

func isRead(verb string) bool { return verb == "get" || verb == "list" || verb == "watch" }

func isWrite(verb string) bool {
	switch verb {
	case "create", "update", "patch", "delete", "deletecollection":
		return true
	}
	return false
}

// Decide implements authz.Decider.
func (n *Authorizer) Decide(ctx context.Context, a apiserver.Attributes) (authz.Decision, string, error) {
	node, ok := user.NodeName(a.User)
	if !ok || !a.ResourceRequest {
		return authz.NoOpinion, "", nil
	}
	allow := func(why string) (authz.Decision, string, error) { return authz.Allow, "node: " + why, nil }
	noOpinion := func(why string) (authz.Decision, string, error) {
		return authz.NoOpinion, fmt.Sprintf("node %q: %s", node, why), nil
	}
	deny := func(why string) (authz.Decision, string, error) {
		return authz.Deny, fmt.Sprintf("node %q: %s", node, why), nil
	}

	switch gr := [2]string{a.Group, a.Resource}; {
	case gr == [2]string{"", "nodes"}:
		return n.nodes(node, a, allow, noOpinion, deny)
	case gr == [2]string{"coordination.k8s.io", "leases"}:
		if a.Namespace != LeaseNamespace || a.Subresource != "" {
			return noOpinion("only its own lease in " + LeaseNamespace)
		}
		switch {
		case a.Verb == "create":
			return allow("create lease (admission checks the name)")
		case a.Name == node && (isRead(a.Verb) || isWrite(a.Verb)):
			return allow("own lease")
		case a.Name != node && isWrite(a.Verb):
			return deny(fmt.Sprintf("may not modify the lease of node %q", a.Name))
		}
		return noOpinion("only its own lease in " + LeaseNamespace)
	case (a.Group == "" || a.Group == "events.k8s.io") && a.Resource == "events":
		if a.Verb == "create" || a.Verb == "update" || a.Verb == "patch" {
			return allow("events")
		}
	case a.Group == "discovery.k8s.io" && a.Resource == "endpointslices" && a.Namespace == DNSNamespace && a.Subresource == "" && isWrite(a.Verb):
		// A node publishes its cluster DNS server as an endpoint of kube-dns, in a slice
		// of its own (core/proxy/dns.PublishEndpoint), as it renews its own Lease.
		switch {
		case a.Verb == "create":
			return allow("create its DNS endpoint slice")
		case a.Name == DNSSlicePrefix+node && a.Verb != "deletecollection":
			return allow("its own DNS endpoint slice")
		case strings.HasPrefix(a.Name, DNSSlicePrefix):
			return deny(fmt.Sprintf("may not modify the DNS endpoint slice %q of another node", a.Name))
		}
		return noOpinion("only its own DNS endpoint slice")
	case a.Group == "certificates.k8s.io" && a.Resource == "certificatesigningrequests" && a.Subresource == "":
		if a.Verb == "create" || isRead(a.Verb) {
			return allow("certificate signing requests")
		}
	case (gr == [2]string{"authentication.k8s.io", "tokenreviews"} || gr == [2]string{"authorization.k8s.io", "subjectaccessreviews"}) && a.Subresource == "":
		// The node agent checks its API's callers with the API server (kube's system:node
		// rules, which kube's node authorizer applies to what it does not track).
		if a.Verb == "create" {
			return allow("check its API's callers")
		}
	case gr == [2]string{"", "pods"}:
		return n.pods(ctx, node, a, allow, noOpinion)
	case a.Group == "" && (a.Resource == "secrets" || a.Resource == "configmaps" || a.Resource == "persistentvolumeclaims" || a.Resource == "serviceaccounts"):
		return n.referenced(ctx, node, a, allow, noOpinion)
	}
	if readable[[2]string{a.Group, a.Resource}] && a.Subresource == "" && isRead(a.Verb) {
		return allow("read " + a.Resource)
	}
	return authz.NoOpinion, "", nil
}

type decideFunc = func(string) (authz.Decision, string, error)

func (n *Authorizer) nodes(node string, a apiserver.Attributes, allow, noOpinion, deny decideFunc) (authz.Decision, string, error) {
	switch {
	case isRead(a.Verb) && (a.Subresource == "" || a.Subresource == "status"):
		return allow("read nodes")
	case a.Verb == "create" && a.Subresource == "":
		return allow("create node (admission checks the name)")
	case a.Verb == "deletecollection":
		return deny("may not delete other nodes")
	case isWrite(a.Verb) && a.Name != node:
		return deny(fmt.Sprintf("may not modify node %q", a.Name))
	case (a.Verb == "update" || a.Verb == "patch") && (a.Subresource == "" || a.Subresource == "status"):
		return allow("own node")
	}
	return noOpinion("not among a node's permissions on its own Node")
}

func (n *Authorizer) pods(ctx context.Context, node string, a apiserver.Attributes, allow, noOpinion decideFunc) (authz.Decision, string, error) {
	switch {
	case isRead(a.Verb) && (a.Subresource == "" || a.Subresource == "status"):
		return allow("read pods")
	case a.Verb == "create" && a.Subresource == "":
		return allow("create mirror pod (admission checks it is one, bound to this node)")
	case !(a.Verb == "delete" && a.Subresource == "") &&
		!((a.Verb == "update" || a.Verb == "patch") && a.Subresource == "status"):
		return noOpinion(fmt.Sprintf("may not %s pods %s", a.Verb, a.Subresource))
	}
	pod, err := n.boundPod(ctx, node, a.Namespace, a.Name)
	if err != nil {
		return authz.NoOpinion, "", err
	}
	if pod == nil {
		return noOpinion(fmt.Sprintf("pod %s/%s is not bound to it", a.Namespace, a.Name))
	}
	return allow("pod bound to the node")
}

func (n *Authorizer) boundPod(ctx context.Context, node, ns, name string) (*corev1.Pod, error) {
	if name == "" {
		return nil, nil
	}
	p, err := n.Pods.GetPod(ctx, ns, name)
	if err != nil {
		return nil, fmt.Errorf("pod %s/%s: %w", ns, name, err)
	}
	if p == nil || p.Spec.NodeName != node {
		return nil, nil
	}
	return p, nil
}

// referenced allows get of an object a pod on the node references, and token creation for such
// a pod's service account. Only get with a name: list and watch would show every object.
func (n *Authorizer) referenced(ctx context.Context, node string, a apiserver.Attributes, allow, noOpinion decideFunc) (authz.Decision, string, error) {
	tokenRequest := a.Resource == "serviceaccounts" && a.Subresource == "token" && a.Verb == "create"
	if !tokenRequest && (a.Verb != "get" || a.Subresource != "") {
		return noOpinion(fmt.Sprintf("may only get %s its pods reference", a.Resource))
	}
	if a.Name == "" || a.Namespace == "" {
		return noOpinion("no object named")
	}
	pods, err := n.Pods.PodsOnNode(ctx, node, a.Namespace)
	if err != nil {
		return authz.NoOpinion, "", fmt.Errorf("pods on node %s: %w", node, err)
	}
	for _, p := range pods {
		if p.Namespace != a.Namespace || p.Spec.NodeName != node {
			continue
		}
		if references(p, a.Resource, a.Name) {
			return allow(fmt.Sprintf("%s referenced by pod %s/%s", a.Resource, p.Namespace, p.Name))
		}
	}
	return noOpinion(fmt.Sprintf("no relationship found between the node and %s %s/%s", a.Resource, a.Namespace, a.Name))
}
