// Package noderestriction is kube-apiserver's NodeRestriction admission plugin: what a node
// agent (user system:node:<name> in system:nodes) may write, beyond what the node authorizer
// can decide from a request's attributes alone. A create names its object only in the body,
// which the authorizer does not see; here a node may create only
//   - its own Node (and changes to it may not set node-restriction.kubernetes.io/ labels,
//     which administrators use to place sensitive workloads by node);
//   - mirror pods (annotation kubernetes.io/config.mirror) bound to itself that reference no
//     service account token, Secret, ConfigMap or claim: a node that could create any pod
//     bound to any node, or one mounting any Secret, would hold the cluster's credentials;
//   - its own Lease in kube-node-lease, and its own kube-dns endpoint slice in kube-system
//     (tug's nodes publish their cluster DNS server there).
//
// The policy matches only requests from system:nodes (spec.matchUserGroups), so it costs
// other users' requests nothing.
package noderestriction
