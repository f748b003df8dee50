// Package dns is tug's cluster DNS: the server every node runs so that pods find services by
// name, as kube-dns and CoreDNS's kubernetes plugin do in Kubernetes.
//
// It answers the records of the Kubernetes DNS specification
// (https://github.com/kubernetes/dns/blob/master/docs/specification.md) from the node proxy's
// informer caches, read through client-go listers, so one watch of Services and EndpointSlices
// feeds both the data plane and DNS, and an answer is never older than what the proxy routes:
//
//   - <svc>.<ns>.svc.<zone>: A/AAAA of a Service's cluster IPs; for a headless Service
//     (clusterIP None) those of its ready endpoints; for an ExternalName Service a CNAME to
//     spec.externalName, followed so that the answer also holds the target's addresses.
//   - <endpoint>.<svc>.<ns>.svc.<zone>: A/AAAA of one endpoint of a headless Service, named by
//     its hostname (StatefulSet pods) or, without one, by its address with dashes (10-1-2-3).
//   - _<port>._<proto>.<svc>.<ns>.svc.<zone>: SRV for each named port; one record targeting
//     the Service's name, or for a headless Service one per ready endpoint targeting the
//     endpoint's name, with the addresses in the additional section.
//   - <a-b-c-d>.<ns>.pod.<zone>: the address written in the name (kube-dns "pods insecure").
//   - PTR in in-addr.arpa and ip6.arpa for cluster IPs and headless endpoints.
//   - dns-version.<zone> TXT: the version of the specification served.
//
// Within the zone the server is authoritative: a name that does not exist is NXDOMAIN and a
// name without records of the asked type is NOERROR with no answer (NODATA), both with the
// zone's SOA so that resolvers cache the denial for the TTL. A headless Service with no ready
// endpoint is NXDOMAIN, as the specification, kube-dns and CoreDNS agree. Names compare
// case-insensitively and answers keep the asker's spelling of the name.
//
// Every other name, and reverse names that are no cluster address, is forwarded to the node's
// upstream resolvers (its resolv.conf by default) over the transport the query came on: a
// truncated UDP reply is retried over TCP, the next upstream is tried on error, and SERVFAIL
// is the answer when all fail. UDP answers are cut to the asker's EDNS0 buffer size (512
// bytes without one), with TC set so the asker retries over TCP.
//
// The server reads the listers at every query and keeps no copy: they are in-memory indexes,
// and a copy would be one more thing to keep in sync. It starts no informer; the caller owns
// them and may pass HasSynced so that, until the caches are filled, cluster names are
// answered SERVFAIL (retried by resolvers) rather than a cached NXDOMAIN.
package dns
