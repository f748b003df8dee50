package proxy

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// ServicePort is one port of one Service, as a data plane programs it.
type ServicePort struct {
	// Service is the Service's namespace and name; PortName the port's name ("" for a
	// Service's single unnamed port).
	Service  types.NamespacedName
	PortName string
	Protocol corev1.Protocol
	// ClusterIPs are the Service's cluster addresses (IPv4 only, for now), and Port the port
	// clients dial on them.
	ClusterIPs []netip.Addr
	Port       uint16
	// NodePort is the port on every node address (0: none).
	NodePort uint16
	// Affinity is the ClientIP session affinity timeout (0: none): a client keeps reaching
	// the endpoint it reached first until it has been silent this long.
	Affinity time.Duration
	// Endpoints are where connections go, in a stable order. Empty means the Service has no
	// endpoint that may serve: connections are refused, not left to time out.
	Endpoints []Endpoint
}

// Key names the service port uniquely and stably: "namespace/name:port/PROTOCOL".
func (sp *ServicePort) Key() string {
	return fmt.Sprintf("%s/%s:%s/%s", sp.Service.Namespace, sp.Service.Name, sp.PortName, sp.Protocol)
}

// Endpoint is one backend of a service port.
type Endpoint struct {
	IP   netip.Addr
	Port uint16
}

func (e Endpoint) String() string { return netip.AddrPortFrom(e.IP, e.Port).String() }

// State is everything a data plane programs: every service port, sorted by Key.
type State struct {
	Services []ServicePort
}

// Dataplane makes a State real. Sync is given the whole State each time and must leave
// exactly it programmed — adding, changing and removing — so that it converges whatever Proxy
// missed before; a failed Sync is retried with the then current State. A data plane may
// trust its record of what it programmed between syncs and check the kernel's view only
// now and then (nftables: a full replace every FullSyncInterval). Cleanup removes everything
// the data plane programmed on this node, including what an earlier process left.
type Dataplane interface {
	Sync(ctx context.Context, s State) error
	Cleanup(ctx context.Context) error
}
