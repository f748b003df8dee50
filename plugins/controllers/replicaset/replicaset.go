// Package replicaset is the ReplicaSet and ReplicationController controller's decision: from
// the set and the pods it owns, which pods to create or delete so that the number of active
// pods matches spec.replicas, and the set's status — as kube-controller-manager's
// replicaset controller decides it.
//
// It acts on single pods (ABI.md §4.6 actions) rather than declaring all of them: a set of a
// thousand pods changes a few at a time. Creates are bounded per reconcile (BurstReplicas),
// like kube's, so a huge scale-up is spread over several reconciles the host runs back to
// back. On scale-down the least useful pods go first: unscheduled before scheduled, pending
// before running, not ready before ready, ready for less time before longer, more restarts
// before fewer, newer before older.
package replicaset

import (
	"encoding/json"
	"slices"
	"time"

	"github.com/tugboat-io/tug/plugins/controllers/internal/workload"
	tug "github.com/tugboat-io/tug/sdk/go"
	"github.com/tugboat-io/tug/sdk/go/labels"
)

// BurstReplicas bounds the pods one reconcile creates or deletes, as kube's does.
const BurstReplicas = 500

// Keys of the objects this controller reads.
var (
	PodKey = tug.ObjectKey("v1", "Pod")
)

// set is a ReplicaSet or a ReplicationController: they differ only in how they write their
// selector, which this decision does not read — the host hands it the pods the set controls.
type set struct {
	APIVersion string        `json:"apiVersion"`
	Kind       string        `json:"kind"`
	Metadata   workload.Meta `json:"metadata"`
	Spec       struct {
		Replicas        *int32          `json:"replicas,omitempty"`
		MinReadySeconds int32           `json:"minReadySeconds,omitempty"`
		Template        json.RawMessage `json:"template,omitempty"`
	} `json:"spec"`
	Status Status `json:"status"`
}

// Status is the set's status.
type Status struct {
	Replicas             int32                `json:"replicas"`
	FullyLabeledReplicas int32                `json:"fullyLabeledReplicas,omitempty"`
	ReadyReplicas        int32                `json:"readyReplicas,omitempty"`
	AvailableReplicas    int32                `json:"availableReplicas,omitempty"`
	ObservedGeneration   int64                `json:"observedGeneration,omitempty"`
	Conditions           []workload.Condition `json:"conditions,omitempty"`
}

// Reconcile decides one ReplicaSet or ReplicationController.
func Reconcile(req *tug.ReconcileRequest) (*tug.ReconcileResult, error) {
	var s set
	if err := req.DecodeParent(&s); err != nil {
		return nil, err
	}
	now := req.Time()
	tmpl, err := workload.DecodeTemplate(s.Spec.Template)
	if err != nil {
		return nil, err
	}
	pods := make([]*workload.Pod, 0, len(req.Children[PodKey]))
	for _, raw := range req.Children[PodKey] {
		p, err := workload.DecodePod(raw)
		if err != nil {
			return nil, err
		}
		pods = append(pods, p)
	}
	var active []*workload.Pod
	for _, p := range pods {
		if p.Active() {
			active = append(active, p)
		}
	}

	res := &tug.ReconcileResult{}
	want := int32(1)
	if s.Spec.Replicas != nil {
		want = *s.Spec.Replicas
	}
	// A set being deleted makes no more pods; the garbage collector removes the ones it has.
	if s.Metadata.DeletionTimestamp == nil {
		switch diff := len(active) - int(want); {
		case diff < 0:
			n := min(-diff, BurstReplicas)
			for range n {
				if err := res.Create(tmpl.Pod(s.Metadata.Name + "-")); err != nil {
					return nil, err
				}
			}
		case diff > 0:
			n := min(diff, BurstReplicas)
			victims := slices.Clone(active)
			slices.SortStableFunc(victims, func(a, b *workload.Pod) int { return deleteFirst(a, b) })
			for _, p := range victims[:n] {
				res.Delete("v1", "Pod", p.Metadata.Name, p.Metadata.UID)
			}
		}
	}

	// Status counts what the host observed, as kube's does: the pods just asked for show
	// up in the next reconcile's input.
	st := Status{Replicas: int32(len(active)), ObservedGeneration: s.Metadata.Generation, Conditions: s.Status.Conditions}
	minReady := time.Duration(s.Spec.MinReadySeconds) * time.Second
	var wait time.Duration
	// Fully labeled: carrying every label of the template, not only the selector's.
	fullyLabeled := &labels.Selector{MatchLabels: tmpl.Labels()}
	for _, p := range active {
		if fullyLabeled.Matches(p.Metadata.Labels) {
			st.FullyLabeledReplicas++
		}
		if p.Ready() {
			st.ReadyReplicas++
		}
		ok, left := p.Available(minReady, now)
		if ok {
			st.AvailableReplicas++
		} else if left > 0 && (wait == 0 || left < wait) {
			wait = left
		}
	}
	if wait > 0 {
		// A ready pod becomes available without any event: come back when it does.
		res.RequeueAfter(wait)
	}
	if err := res.SetStatus(st); err != nil {
		return nil, err
	}
	return res, nil
}

// deleteFirst orders pods for deletion, the least useful first (kube's ActivePods order).
func deleteFirst(a, b *workload.Pod) int {
	// Unscheduled before scheduled.
	if (a.Spec.NodeName == "") != (b.Spec.NodeName == "") {
		if a.Spec.NodeName == "" {
			return -1
		}
		return 1
	}
	// Pending before Unknown before Running.
	if ra, rb := phaseRank(a.Status.Phase), phaseRank(b.Status.Phase); ra != rb {
		return ra - rb
	}
	// Not ready before ready.
	if a.Ready() != b.Ready() {
		if !a.Ready() {
			return -1
		}
		return 1
	}
	// Ready for less time before longer.
	if a.Ready() {
		if sa, sb := a.ReadySince(), b.ReadySince(); !sa.Equal(sb) {
			return sb.Compare(sa)
		}
	}
	// More restarts before fewer.
	if ra, rb := a.Restarts(), b.Restarts(); ra != rb {
		return int(rb - ra)
	}
	// Newer before older.
	if ca, cb := a.Metadata.CreationTimestamp, b.Metadata.CreationTimestamp; !ca.Equal(cb) {
		return cb.Compare(ca)
	}
	return 0
}

func phaseRank(phase string) int {
	switch phase {
	case workload.PodPending, "":
		return 0
	case workload.PodUnknown:
		return 1
	case workload.PodRunning:
		return 2
	}
	return 3
}
