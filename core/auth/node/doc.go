// Package node is the node authorizer: what a node agent, authenticated as user
// system:node:<name> in group system:nodes, may do, scoped to its own node and the pods bound to
// it, with Kubernetes' node authorizer as the model.
//
// A node may
//   - read (get, list, watch) nodes, pods, services, endpoints, endpointslices, namespaces and
//     runtime classes anywhere: the agent and the service proxy on the node need the cluster's
//     service map, and these carry no secrets (kube allows the same through the system:node
//     role);
//   - create nodes and update/patch its own Node and its status; read and write its own Lease
//     in kube-node-lease; create and update events;
//   - update/patch the status of, and delete, pods bound to it; create pods (mirror pods);
//   - get the secrets, configmaps, persistentvolumeclaims and serviceaccounts that a pod bound
//     to it references, and create tokens (serviceaccounts/token) for those service accounts;
//   - create and read certificate signing requests, to renew its client certificate;
//   - create and write the EndpointSlice kube-dns-<node> in kube-system, where it publishes
//     its cluster DNS server (a tug addition: kube's nodes run no DNS server of their own).
//     Creates carry no name for the authorizer to check: the built-in NodeRestriction
//     admission policy checks the names of what a node creates (plugins/admission).
//
// Writes to another node, or to another node's Lease, are denied outright, whatever RBAC says.
// Everything else gets no opinion, so RBAC may still allow it; nodes get nothing from RBAC by
// default, so in practice the list above is all a node can do.
//
// Requests whose object is in the body cannot be checked from the request line alone: creating
// a Node or Lease with another node's name, a pod that is not a mirror pod bound to this node,
// or a token bound to another node's pod. The admission chain must check those (kube's
// NodeRestriction plugin does); this authorizer allows the verb and says so.
package node
