// Package proxy is the node's service proxy, the part of tug that kube-proxy is in
// Kubernetes: it watches Services and EndpointSlices and programs a data plane so that
// traffic to a Service's cluster IP and port, or to its NodePort on the node, reaches one of
// the Service's ready endpoints.
//
// The package is split the way the decision and the mechanics differ:
//
//   - servicemap.go is a pure function from Services and EndpointSlices to the State a data
//     plane programs: one ServicePort per (Service, port) with its cluster IPs, NodePort,
//     session affinity and ready endpoints. It is where Kubernetes' rules live — which
//     endpoints serve (ready, or serving and terminating when none is ready), which are
//     local for internalTrafficPolicy Local, which Services get nothing (ExternalName,
//     headless, no selector and no slices) — and it is tested without a kernel.
//   - A Dataplane makes a State real. Each Sync hands it the whole State, never a diff, so a
//     data plane that missed a change, or a proxy that restarted, converges on the next sync.
//     Two exist, chosen by Mode: nftables (subpackage nftables: the kernel's NAT, like
//     kube-proxy's nftables mode; needs root) and userspace (subpackage userspace: a Go proxy
//     per service port, for machines without root or nftables, and for wasm workloads, whose
//     endpoints are loopback addresses only the node itself reaches).
//   - Proxy (proxy.go) runs the informers and calls Sync when something changed, coalescing
//     bursts: at most one sync runs at a time, and a change during one causes exactly one
//     more, so an endpoint change is programmed within one sync's time of its event.
//
// Cluster DNS (subpackage dns) reads the same informers' listers.
package proxy
