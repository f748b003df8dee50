// Package nftables is the proxy's kernel data plane, on nftables through
// github.com/google/nftables, as kube-proxy's nftables mode is: traffic to a Service is
// DNATed in the kernel to one of its endpoints, with no process in the path.
//
// Everything lives in one table (ip tug-proxy by default), which every sync replaces whole
// in a single netlink transaction: the kernel switches from the old rules to the new at once,
// so no packet sees a half-programmed table, rules of removed Services disappear with it, and
// a restarted proxy's first sync takes over what the last one left. Connections already
// tracked keep their NAT mapping across a replacement (conntrack holds it, not the rules).
//
// The table, in the order a packet meets it:
//
//   - filter-input, filter-forward, filter-output (filter hooks, priority -110, before any
//     DNAT): a packet to a Service port that has no endpoint — its cluster IP, or a NodePort
//     on a local address — is rejected with ICMP port unreachable, so clients fail at once
//     instead of waiting for a timeout.
//   - nat-prerouting and nat-output (dstnat): jump to services, which looks the packet's
//     (daddr . protocol . dport) up in the service-ips verdict map, and (protocol . dport) to
//     a local address in service-nodeports; a hit goes to the service port's chain (through
//     an ext- chain for NodePorts, which marks a packet from another host for masquerading so
//     replies come back through this node).
//   - svc-<hash>-<ns>/<name>/<proto>/<port>: marks for masquerading what comes from neither
//     the pod range nor this host (other hosts), sends a client with a live affinity entry to
//     its endpoint, and otherwise picks an endpoint uniformly with numgen random through the
//     service port's verdict map eps-<hash>-….
//
// The whole table goes to the kernel as one netlink batch, so the connection's socket buffers
// are raised to hold it and its acknowledgements, and set elements go in slices that fit a
// message. Per-service verdict maps are named rather than anonymous (as nft would write
// them): the kernel binds an anonymous set by scanning the whole transaction, which made a
// sync of 1000 Services cost the square of their number.
//   - ep-<hash>-…: marks hairpin traffic (a pod reaching itself through its Service), records
//     affinity, and DNATs to the endpoint.
//   - nat-postrouting (srcnat): masquerades what was marked (mark bit 0x4000, as kube-proxy).
//
// Not done: IPv6, externalTrafficPolicy Local, loadBalancer and external IPs, NodePorts on
// 127.0.0.1 (route_localnet; kube-proxy's nftables mode does not do it either), and flushing
// UDP conntrack entries of removed endpoints (a UDP flow keeps its old endpoint until the
// flow goes idle).
package nftables
