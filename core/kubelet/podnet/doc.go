// Package podnet wires pods to the node's network through CNI (libcni, with the standard
// plugins Debian ships as containernetworking-plugins): each pod gets its own network
// namespace (with its loopback up), a veth on the node's bridge, an address from the node's
// pod range (host-local IPAM), and hostPort mappings (portmap, only for pods that have any).
//
// The network configuration is generated from the node's settings rather than read from
// /etc/cni/net.d, so a node needs no CNI files of its own; two nodes on one machine use
// different bridges and ranges. Pods reach each other across the bridge, the node reaches
// them through the bridge's gateway address, and one nftables masquerade rule for the pod
// range (table ip <name>) lets them reach out with the node's address.
package podnet
