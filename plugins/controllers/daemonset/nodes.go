package daemonset

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/tugboat-io/tug/plugins/internal/nodeselect"
	"github.com/tugboat-io/tug/plugins/internal/taints"
	tug "github.com/tugboat-io/tug/sdk/go"
)

// node is what the decision reads of a Node: its name, labels and taints, and whether it is
// being deleted.
type node struct {
	tug.Node
	deleting bool
}

func decodeNode(raw json.RawMessage) (*node, error) {
	var n struct {
		Metadata struct {
			tug.ObjectMeta
			DeletionTimestamp *time.Time `json:"deletionTimestamp,omitempty"`
		} `json:"metadata"`
		Spec tug.NodeSpec `json:"spec"`
	}
	if err := json.Unmarshal(raw, &n); err != nil {
		return nil, fmt.Errorf("decode node: %w", err)
	}
	return &node{
		Node:     tug.Node{ObjectMeta: n.Metadata.ObjectMeta, Spec: n.Spec},
		deleting: n.Metadata.DeletionTimestamp != nil,
	}, nil
}

// untolerated reports whether some taint with one of effects is tolerated by none of tols.
func untolerated(ts []tug.Taint, tols []tug.Toleration, effects ...string) bool {
	for _, t := range ts {
		if slices.Contains(effects, t.Effect) && !taints.AnyTolerates(tols, t) {
			return true
		}
	}
	return false
}

// daemonTolerations are the tolerations kube's daemonset controller adds to every daemon
// pod, so that a node's conditions (which the node lifecycle controller turns into taints)
// never evict or keep out the pods that often are what fixes the node: its network plugin,
// its log shipper.
func daemonTolerations(hostNetwork bool) []tug.Toleration {
	tols := []tug.Toleration{
		{Key: "node.kubernetes.io/not-ready", Operator: "Exists", Effect: taints.NoExecute},
		{Key: "node.kubernetes.io/unreachable", Operator: "Exists", Effect: taints.NoExecute},
		{Key: "node.kubernetes.io/disk-pressure", Operator: "Exists", Effect: taints.NoSchedule},
		{Key: "node.kubernetes.io/memory-pressure", Operator: "Exists", Effect: taints.NoSchedule},
		{Key: "node.kubernetes.io/pid-pressure", Operator: "Exists", Effect: taints.NoSchedule},
		{Key: "node.kubernetes.io/unschedulable", Operator: "Exists", Effect: taints.NoSchedule},
	}
	if hostNetwork {
		// A host-network pod needs no pod network: it may well be the one providing it.
		tols = append(tols, tug.Toleration{Key: "node.kubernetes.io/network-unavailable", Operator: "Exists", Effect: taints.NoSchedule})
	}
	return tols
}

// pinnedNode is the node a daemon pod is pinned to by its required matchFields term,
// as kube's GetTargetNodeName reads it ("" when there is none).
func pinnedNode(a *nodeselect.Affinity) string {
	if a == nil || a.NodeAffinity == nil || a.NodeAffinity.Required == nil {
		return ""
	}
	for _, t := range a.NodeAffinity.Required.Terms {
		for _, r := range t.MatchFields {
			if r.Key == "metadata.name" && r.Operator == "In" && len(r.Values) == 1 {
				return r.Values[0]
			}
		}
	}
	return ""
}

// podSpec is what placement reads of the template's pod spec.
type podSpec struct {
	NodeName     string               `json:"nodeName,omitempty"`
	NodeSelector map[string]string    `json:"nodeSelector,omitempty"`
	Affinity     *nodeselect.Affinity `json:"affinity,omitempty"`
	Tolerations  []tug.Toleration     `json:"tolerations,omitempty"`
	HostNetwork  bool                 `json:"hostNetwork,omitempty"`
}

// placement answers, for one node, kube's NodeShouldRunDaemonPod: should a daemon pod be
// created there, and may one that is there keep running.
func (s *podSpec) placement(n *node) (shouldRun, shouldContinue bool) {
	if n.deleting {
		return false, false
	}
	if s.NodeName != "" && s.NodeName != n.Name {
		return false, false
	}
	if !nodeselect.New(s.NodeSelector, s.Affinity).Allows(&n.Node) {
		return false, false
	}
	tols := append(slices.Clone(s.Tolerations), daemonTolerations(s.HostNetwork)...)
	if untolerated(n.Spec.Taints, tols, taints.NoSchedule, taints.NoExecute) {
		// A NoSchedule taint keeps new pods out but lets a running one stay; only an
		// untolerated NoExecute taint evicts.
		return false, !untolerated(n.Spec.Taints, tols, taints.NoExecute)
	}
	return true, true
}
