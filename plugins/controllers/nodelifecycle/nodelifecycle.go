// Package nodelifecycle is the node lifecycle controller's decision, as kube-controller-
// manager's node lifecycle controller and its taint-based eviction make it: a node whose
// kubelet (or tug node agent) has not renewed its Lease nor posted status for the grace
// period is marked Unknown; a node not Ready carries the not-ready or unreachable taints;
// and the pods on a node with a NoExecute taint they do not tolerate are evicted — at once,
// or after their tolerationSeconds.
//
// Its parent is a Node; it reads the node's Lease in kube-node-lease and the pods bound to
// the node, and may delete those pods (the host allows it, ABI.md §4.6). Left out from kube:
// the zone-wide rate limits of eviction (--node-eviction-rate and the disruption modes) and
// marking the pods of an unreachable node not Ready.
package nodelifecycle

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/tugboat-io/tug/plugins/controllers/internal/workload"
	"github.com/tugboat-io/tug/plugins/internal/taints"
	tug "github.com/tugboat-io/tug/sdk/go"
)

// Keys of the related objects this controller reads.
var (
	LeaseKey = tug.ObjectKey("coordination.k8s.io/v1", "Lease")
	PodKey   = tug.ObjectKey("v1", "Pod")
)

// The taints a node's Ready condition puts on it (kube's well-known taints).
const (
	NotReadyTaint    = "node.kubernetes.io/not-ready"
	UnreachableTaint = "node.kubernetes.io/unreachable"
)

// DefaultGracePeriod is how long a node may go without a heartbeat before it is Unknown:
// kube-controller-manager's --node-monitor-grace-period.
const DefaultGracePeriod = 40 * time.Second

// GracePeriod is the configured grace period (the module's configuration sets it).
var GracePeriod = DefaultGracePeriod

// conditionsGoneUnknown are the conditions a silent node's are all set to Unknown.
var conditionsGoneUnknown = []string{"Ready", "MemoryPressure", "DiskPressure", "PIDPressure"}

type node struct {
	Metadata workload.Meta `json:"metadata"`
	Spec     struct {
		Taints []taint `json:"taints,omitempty"`
	} `json:"spec"`
	Status struct {
		Conditions []nodeCondition `json:"conditions,omitempty"`
	} `json:"status"`
}

type nodeCondition struct {
	Type              string    `json:"type"`
	Status            string    `json:"status"`
	LastHeartbeatTime time.Time `json:"lastHeartbeatTime,omitzero"`
}

// taint is a taint as the API has it: the SDK's and when it was added (NoExecute ones).
type taint struct {
	Key       string     `json:"key"`
	Value     string     `json:"value,omitempty"`
	Effect    string     `json:"effect"`
	TimeAdded *time.Time `json:"timeAdded,omitempty"`
}

func (t taint) sdk() tug.Taint { return tug.Taint{Key: t.Key, Value: t.Value, Effect: t.Effect} }

type lease struct {
	Spec struct {
		RenewTime *time.Time `json:"renewTime,omitempty"`
	} `json:"spec"`
}

type pod struct {
	Metadata workload.Meta `json:"metadata"`
	Spec     struct {
		Tolerations []tug.Toleration `json:"tolerations,omitempty"`
	} `json:"spec"`
}

// Reconcile decides one node.
func Reconcile(req *tug.ReconcileRequest) (*tug.ReconcileResult, error) {
	var n node
	if err := req.DecodeParent(&n); err != nil {
		return nil, err
	}
	now := req.Time()
	res := &tug.ReconcileResult{}

	ready := n.condition("Ready")
	heard := n.lastHeard(req)
	if silent := now.Sub(heard); silent > GracePeriod {
		if ready == nil || ready.Status != "Unknown" {
			status, err := goneUnknown(req.Parent, now, ready == nil)
			if err != nil {
				return nil, err
			}
			if err := res.SetStatus(status); err != nil {
				return nil, err
			}
			res.AddEvent("Normal", "NodeNotReady", fmt.Sprintf("Node %s status is now: NodeNotReady (no heartbeat for %s)", n.Metadata.Name, silent.Round(time.Second)))
		}
		ready = &nodeCondition{Type: "Ready", Status: "Unknown"}
	} else {
		// Silent for longer than the grace period from then on is the next thing to notice.
		res.RequeueAfter(heard.Add(GracePeriod).Sub(now) + time.Second)
	}

	want := desiredTaints(n.Spec.Taints, ready, now)
	if !sameTaints(want, n.Spec.Taints) {
		var v any = want
		if len(want) == 0 {
			v = nil // a merge patch removes the list with null
		}
		if err := res.PatchParent(map[string]any{"spec": map[string]any{"taints": v}}); err != nil {
			return nil, err
		}
	}
	if err := evict(req, res, n.Metadata.Name, want, now); err != nil {
		return nil, err
	}
	return res, nil
}

func (n *node) condition(t string) *nodeCondition {
	for i := range n.Status.Conditions {
		if n.Status.Conditions[i].Type == t {
			return &n.Status.Conditions[i]
		}
	}
	return nil
}

// lastHeard is when the node last gave a sign of life: its Lease's renewal or its Ready
// condition's heartbeat, whichever is later; a node never heard from counts from its
// creation.
func (n *node) lastHeard(req *tug.ReconcileRequest) time.Time {
	t := n.Metadata.CreationTimestamp
	if c := n.condition("Ready"); c != nil && c.LastHeartbeatTime.After(t) {
		t = c.LastHeartbeatTime
	}
	for _, raw := range req.Related[LeaseKey] {
		var l lease
		if json.Unmarshal(raw, &l) == nil && l.Spec.RenewTime != nil && l.Spec.RenewTime.After(t) {
			t = *l.Spec.RenewTime
		}
	}
	return t
}

// goneUnknown is the node's status with its conditions Unknown, everything else kept.
func goneUnknown(raw json.RawMessage, now time.Time, neverPosted bool) (any, error) {
	obj, err := workload.DecodeObject(raw)
	if err != nil {
		return nil, fmt.Errorf("decode node: %w", err)
	}
	status, _ := obj["status"].(map[string]any)
	if status == nil {
		status = map[string]any{}
	}
	conds, _ := status["conditions"].([]any)
	stamp := now.UTC().Format(time.RFC3339)
	seen := map[string]bool{}
	for _, c := range conds {
		m, ok := c.(map[string]any)
		if !ok {
			continue
		}
		t, _ := m["type"].(string)
		if !slices.Contains(conditionsGoneUnknown, t) {
			continue
		}
		seen[t] = true
		if m["status"] != "Unknown" {
			m["lastTransitionTime"] = stamp
		}
		m["status"], m["reason"], m["message"] = "Unknown", "NodeStatusUnknown", "Kubelet stopped posting node status."
	}
	if !seen["Ready"] {
		reason := "NodeStatusUnknown"
		if neverPosted {
			reason = "NodeStatusNeverUpdated"
		}
		conds = append(conds, map[string]any{"type": "Ready", "status": "Unknown", "reason": reason,
			"message": "Kubelet never posted node status.", "lastTransitionTime": stamp, "lastHeartbeatTime": stamp})
	}
	status["conditions"] = conds
	return status, nil
}

// desiredTaints are the node's taints with the not-ready and unreachable ones matching its
// Ready condition; a taint already present keeps when it was added.
func desiredTaints(cur []taint, ready *nodeCondition, now time.Time) []taint {
	var want []taint
	switch {
	case ready == nil:
	case ready.Status == "False":
		want = []taint{{Key: NotReadyTaint, Effect: taints.NoSchedule}, {Key: NotReadyTaint, Effect: taints.NoExecute}}
	case ready.Status == "Unknown":
		want = []taint{{Key: UnreachableTaint, Effect: taints.NoSchedule}, {Key: UnreachableTaint, Effect: taints.NoExecute}}
	}
	out := make([]taint, 0, len(cur)+len(want))
	for _, t := range cur {
		if t.Key != NotReadyTaint && t.Key != UnreachableTaint {
			out = append(out, t)
		}
	}
	for _, w := range want {
		i := slices.IndexFunc(cur, func(t taint) bool { return t.Key == w.Key && t.Effect == w.Effect })
		switch {
		case i >= 0:
			w = cur[i]
		case w.Effect == taints.NoExecute:
			at := now.UTC().Truncate(time.Second)
			w.TimeAdded = &at
		}
		out = append(out, w)
	}
	return out
}

func sameTaints(a, b []taint) bool {
	return slices.EqualFunc(a, b, func(x, y taint) bool {
		return x.Key == y.Key && x.Value == y.Value && x.Effect == y.Effect &&
			(x.TimeAdded == nil) == (y.TimeAdded == nil) && (x.TimeAdded == nil || x.TimeAdded.Equal(*y.TimeAdded))
	})
}

// evict deletes the pods that do not tolerate one of the node's NoExecute taints, or whose
// tolerationSeconds ran out, and asks to be called again when the next one runs out.
func evict(req *tug.ReconcileRequest, res *tug.ReconcileResult, nodeName string, ts []taint, now time.Time) error {
	var noExec []taint
	for _, t := range ts {
		if t.Effect == taints.NoExecute {
			noExec = append(noExec, t)
		}
	}
	if len(noExec) == 0 {
		return nil
	}
	for _, raw := range req.Related[PodKey] {
		var p pod
		if err := json.Unmarshal(raw, &p); err != nil {
			return fmt.Errorf("decode pod: %w", err)
		}
		if p.Metadata.DeletionTimestamp != nil {
			continue
		}
		at, ok := evictionTime(p.Spec.Tolerations, noExec)
		if !ok {
			continue // tolerates them all for ever
		}
		if at.After(now) {
			res.RequeueAfter(at.Sub(now))
			continue
		}
		res.Delete("v1", "Pod", p.Metadata.Name, p.Metadata.UID)
		res.AddEvent("Normal", "TaintManagerEviction", fmt.Sprintf("Marking for deletion Pod %s/%s: node %s is tainted %s",
			p.Metadata.Namespace, p.Metadata.Name, nodeName, describe(noExec)))
	}
	return nil
}

// evictionTime is when a pod with these tolerations must leave a node with these NoExecute
// taints: at once when one is not tolerated, else the soonest of each taint's time added
// plus the least tolerationSeconds tolerating it; false when every taint is tolerated for
// ever.
func evictionTime(tols []tug.Toleration, noExec []taint) (time.Time, bool) {
	var at time.Time
	found := false
	for _, t := range noExec {
		var least *int64
		tolerated := false
		for _, tol := range tols {
			if !taints.Tolerates(tol, t.sdk()) {
				continue
			}
			tolerated = true
			if tol.TolerationSeconds == nil {
				continue
			}
			if least == nil || *tol.TolerationSeconds < *least {
				least = tol.TolerationSeconds
			}
		}
		if !tolerated {
			return time.Time{}, true
		}
		if least == nil {
			continue
		}
		added := time.Time{}
		if t.TimeAdded != nil {
			added = *t.TimeAdded
		}
		when := added.Add(time.Duration(max(*least, 0)) * time.Second)
		if !found || when.Before(at) {
			at, found = when, true
		}
	}
	return at, found
}

func describe(ts []taint) string {
	s := ""
	for i, t := range ts {
		if i > 0 {
			s += ", "
		}
		s += t.Key + ":" + t.Effect
	}
	return s
}
