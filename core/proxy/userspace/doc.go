// Package userspace is the proxy's userspace data plane: a Go proxy per service port, like
// kube-proxy's old userspace mode and the built-in proxies of Nomad and Consul.
//
// It exists for the machines the nftables data plane cannot serve: a node agent run without
// root or without nftables, and wasm workloads, whose endpoints are loopback addresses such
// as 127.100.0.7 that only the node itself reaches, so kernel NAT towards them from a pod's
// network namespace would go nowhere, while a process on the node can simply dial them.
//
// A Proxier listens on every ClusterIP:Port and on the NodePort of every service port, for
// TCP and UDP, and hands each TCP connection, or each UDP client address, to one endpoint:
//
//   - TCP connections go round robin over the endpoints; a dial that fails moves on to the
//     next, each endpoint tried at most once. Bytes are copied both ways, and an EOF on one
//     side becomes a half-close of the other, so HTTP and streaming protocols work. With no
//     endpoint (or none reachable) the connection is accepted and reset at once, so the
//     client fails fast instead of waiting for a timeout.
//   - UDP gets a session per client address: a socket connected to the chosen endpoint,
//     whose replies are sent back from the address the client sent to. A session ends after
//     UDPIdleTimeout without traffic, and when its endpoint leaves the service.
//   - ClientIP session affinity keeps a client on the endpoint it reached while it keeps
//     coming back within the affinity timeout; when that endpoint leaves, it is picked anew.
//
// Each Sync is given the whole State and changes only what differs: listeners of unchanged
// service ports stay open with their connections, new endpoints apply to new connections
// atomically, and connections already made to an endpoint that left go on until they end,
// as conntrack lets them in the kernel's data planes. A listener that cannot bind fails
// only its own service port; Sync names it in its error and tries again next time.
//
// ClusterIPs are assigned to no interface, so a process cannot bind to them as they are.
// With CAP_NET_ADMIN the proxier adds each as a host address to an interface of its own
// (tug-svc0 by default, a dummy like kube-proxy's kube-ipvs0), which makes them local to the
// node and to its pods' traffic routed through it, and Cleanup deletes that interface.
//
// Limits, which are the price of running without kernel NAT:
//
//   - Endpoints see the proxy as the client: the source address of a proxied connection is
//     the node's, not the client's. (ClientIP affinity still uses the real client address.)
//   - UDP to a service with no endpoint is dropped silently; a userspace socket cannot send
//     the ICMP port unreachable the kernel would.
//   - ClusterIPs need CAP_NET_ADMIN. Without it (ClusterIPsAuto and EPERM), the proxier logs
//     once that ClusterIPs are unreachable and serves NodePorts only.
//   - SCTP is not proxied; such service ports are logged once and skipped.
//   - Every byte crosses the process: throughput and latency are below the kernel's data
//     plane. TCP bytes are moved by a few epoll loops of the proxier's own (one per core),
//     not by goroutines: a message costs one read and one write, and a connection holds its
//     two sockets and nothing else while idle (io.Copy's splice(2) held two pipes, four
//     more descriptors, for a connection's whole life).
package userspace
