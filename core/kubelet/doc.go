// Package kubelet is tug's node agent: it registers its Node, keeps it alive through a Lease
// and node status, and turns the pods bound to the node into running workloads, reporting the
// truth back to the API server.
//
// The parts, in the order a pod meets them:
//
//   - agent.go watches the pods bound to this node (and the static pods of a manifest
//     directory) and gives each pod UID its own worker goroutine (podworker.go).
//   - A worker observes what the runtime runs for its pod, asks the pure decision core
//     (sync.go: pod spec + observed containers + probe results + back-off → actions) what to
//     do, does it, and computes the pod's status (status.go), sent only when it changed.
//   - Runtimes (package container's Runtime, implemented by containerd/ and wasm/) run the
//     containers; a pod's RuntimeClass handler, or its image's platform, picks one.
//   - Probes (probe.go), volumes (volume.go) and environment (env.go) are prepared per
//     container by the worker before the runtime starts it, and so are a containerd pod's
//     /etc/resolv.conf and /etc/hosts (dns.go decides them from the pod's DNS policy,
//     podfiles.go writes them).
//   - server.go is the kubelet HTTP API the API server calls for logs and exec (exec.go:
//     kube's remote command protocol over a WebSocket); with a cluster CA it
//     is served over HTTPS with a certificate the cluster signs (servingcert.go) and checks
//     its callers with the API server (auth.go: TokenReview, SubjectAccessReview).
//
// What decides (restart or not, which state a container is in, which phase the pod has) is
// kept apart from what does I/O so it can be tested with tables, like etcd raft's core.
package kubelet
