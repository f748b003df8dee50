// Package deployment is the Deployment controller's decision: from a Deployment and the
// ReplicaSets it owns, which ReplicaSets should exist with how many replicas, and the
// Deployment's status and conditions — as kube-controller-manager's deployment controller
// decides them, so that kubectl rollout status, history and undo work unchanged.
//
// A ReplicaSet per pod template: the one whose template equals the Deployment's (ignoring
// the pod-template-hash label) is the new one; creating it names it <deployment>-<hash> and
// gives it the next revision (a rollback re-uses an old ReplicaSet and moves it to the
// next revision). The ReplicaSets are declared (ABI.md §4.6): every one that should exist,
// with its replicas; a ReplicaSet left out is deleted, which is how history beyond
// revisionHistoryLimit goes.
//
// RollingUpdate keeps two bounds at every moment: pods, counted as each ReplicaSet's
// replicas or (when its controller has not caught up) its observed pods, never exceed
// replicas+maxSurge; available pods, counted from ReplicaSet statuses capped by their
// replicas, never fall below replicas-maxUnavailable. Stale statuses only make both counts
// more cautious, never less. As in kube, a reconcile that scales the new ReplicaSet up stops
// there; the next one, woken by that ReplicaSet's status, scales old ones down.
package deployment

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tugboat-io/tug/plugins/controllers/internal/workload"
	tug "github.com/tugboat-io/tug/sdk/go"
)

// Annotations and labels kube's deployment controller writes, which kubectl reads.
const (
	RevisionAnnotation        = "deployment.kubernetes.io/revision"
	DesiredReplicasAnnotation = "deployment.kubernetes.io/desired-replicas"
	MaxReplicasAnnotation     = "deployment.kubernetes.io/max-replicas"
	HashLabel                 = "pod-template-hash"
)

// ReplicaSetKey is the key of the children.
var ReplicaSetKey = tug.ObjectKey("apps/v1", "ReplicaSet")

const (
	defaultHistoryLimit     = 10
	defaultProgressDeadline = 600
)

type deployment struct {
	Metadata workload.Meta `json:"metadata"`
	Spec     struct {
		Replicas *int32          `json:"replicas,omitempty"`
		Selector map[string]any  `json:"selector,omitempty"`
		Template json.RawMessage `json:"template,omitempty"`
		Strategy struct {
			Type          string `json:"type,omitempty"`
			RollingUpdate *struct {
				MaxUnavailable *workload.IntOrString `json:"maxUnavailable,omitempty"`
				MaxSurge       *workload.IntOrString `json:"maxSurge,omitempty"`
			} `json:"rollingUpdate,omitempty"`
		} `json:"strategy"`
		MinReadySeconds         int32  `json:"minReadySeconds,omitempty"`
		RevisionHistoryLimit    *int32 `json:"revisionHistoryLimit,omitempty"`
		Paused                  bool   `json:"paused,omitempty"`
		ProgressDeadlineSeconds *int32 `json:"progressDeadlineSeconds,omitempty"`
	} `json:"spec"`
	Status Status `json:"status"`
}

// Status is a Deployment's status.
type Status struct {
	ObservedGeneration  int64                `json:"observedGeneration,omitempty"`
	Replicas            int32                `json:"replicas,omitempty"`
	UpdatedReplicas     int32                `json:"updatedReplicas,omitempty"`
	ReadyReplicas       int32                `json:"readyReplicas,omitempty"`
	AvailableReplicas   int32                `json:"availableReplicas,omitempty"`
	UnavailableReplicas int32                `json:"unavailableReplicas,omitempty"`
	Conditions          []workload.Condition `json:"conditions,omitempty"`
}

// replicaSet is an owned ReplicaSet and what this reconcile plans for it.
type replicaSet struct {
	raw      json.RawMessage
	Metadata workload.Meta `json:"metadata"`
	Spec     struct {
		Replicas *int32          `json:"replicas,omitempty"`
		Template json.RawMessage `json:"template,omitempty"`
	} `json:"spec"`
	Status struct {
		Replicas          int32 `json:"replicas"`
		ReadyReplicas     int32 `json:"readyReplicas,omitempty"`
		AvailableReplicas int32 `json:"availableReplicas,omitempty"`
	} `json:"status"`

	tmpl     workload.Template
	revision int64
	replicas int32 // planned spec.replicas
	obj      workload.Object
	created  bool
	changed  bool
}

// available is the ReplicaSet's available pods as far as the plan can count on them.
func (rs *replicaSet) available() int32 { return min(rs.Status.AvailableReplicas, rs.replicas) }

// pods is the ReplicaSet's pods as far as the surge bound must count them.
func (rs *replicaSet) pods() int32 { return max(rs.replicas, rs.Status.Replicas) }

// plan is one reconcile's working state.
type plan struct {
	d            *deployment
	now          time.Time
	desired      int32
	surge, unav  int32
	newRS        *replicaSet
	olds         []*replicaSet // oldest first
	res          *tug.ReconcileResult
	progressed   bool
	createdNewRS bool
}

// Reconcile decides one Deployment.
func Reconcile(req *tug.ReconcileRequest) (*tug.ReconcileResult, error) {
	p := &plan{d: &deployment{}, now: req.Time(), res: &tug.ReconcileResult{}}
	if err := req.DecodeParent(p.d); err != nil {
		return nil, err
	}
	d := p.d
	p.desired = 1
	if d.Spec.Replicas != nil {
		p.desired = *d.Spec.Replicas
	}
	if err := p.resolveBounds(); err != nil {
		p.res.AddEvent("Warning", "InvalidStrategy", err.Error())
		return p.res, nil
	}
	tmpl, err := workload.DecodeTemplate(d.Spec.Template)
	if err != nil {
		return nil, err
	}
	all, err := decodeReplicaSets(req.Children[ReplicaSetKey])
	if err != nil {
		return nil, err
	}
	// Being deleted: the garbage collector takes the ReplicaSets; only the status moves.
	if d.Metadata.DeletionTimestamp != nil {
		return p.res, p.res.SetStatus(p.status(all))
	}

	bare := tmpl.WithoutLabel(HashLabel)
	var maxOld int64
	for _, rs := range all {
		if p.newRS == nil && rs.tmpl.WithoutLabel(HashLabel).Equal(bare) {
			p.newRS = rs
			continue
		}
		p.olds = append(p.olds, rs)
		maxOld = max(maxOld, rs.revision)
	}
	switch {
	case p.newRS == nil && !d.Spec.Paused:
		p.newRS = p.createReplicaSet(bare, maxOld+1)
		all = append(all, p.newRS)
	case p.newRS != nil && p.newRS.revision <= maxOld:
		// The template went back to an old one (kubectl rollout undo): that ReplicaSet
		// is the newest revision again.
		p.newRS.revision = maxOld + 1
		p.newRS.changed = true
	}
	if p.newRS != nil {
		p.res.AnnotateParent(RevisionAnnotation, strconv.FormatInt(p.newRS.revision, 10))
	}

	switch {
	case d.Spec.Paused:
		p.scalePaused()
	case d.Spec.Strategy.Type == "Recreate":
		p.recreate()
	default:
		if !p.scaleNewUp() {
			p.scaleOldDown()
		}
	}
	if !d.Spec.Paused && p.complete() {
		all = p.cleanup(all)
	}
	for _, rs := range all {
		obj, err := p.write(rs)
		if err != nil {
			return nil, err
		}
		if err := p.res.AddChild(obj); err != nil {
			return nil, err
		}
	}
	p.res.DeclareNone("apps/v1", "ReplicaSet")
	return p.res, p.res.SetStatus(p.status(all))
}

func decodeReplicaSets(raws []json.RawMessage) ([]*replicaSet, error) {
	out := make([]*replicaSet, 0, len(raws))
	for _, raw := range raws {
		rs := &replicaSet{raw: raw}
		if err := json.Unmarshal(raw, rs); err != nil {
			return nil, fmt.Errorf("decode replica set: %w", err)
		}
		t, err := workload.DecodeTemplate(rs.Spec.Template)
		if err != nil {
			return nil, fmt.Errorf("replica set %s: %w", rs.Metadata.Name, err)
		}
		rs.tmpl = t
		rs.revision, _ = strconv.ParseInt(rs.Metadata.Annotations[RevisionAnnotation], 10, 64)
		rs.replicas = 1
		if rs.Spec.Replicas != nil {
			rs.replicas = *rs.Spec.Replicas
		}
		out = append(out, rs)
	}
	// Oldest first: kube scales old ReplicaSets down in this order.
	slices.SortStableFunc(out, func(a, b *replicaSet) int {
		if c := a.Metadata.CreationTimestamp.Compare(b.Metadata.CreationTimestamp); c != 0 {
			return c
		}
		return strings.Compare(a.Metadata.Name, b.Metadata.Name)
	})
	return out, nil
}

// resolveBounds resolves maxSurge (rounded up) and maxUnavailable (rounded down) against
// the replicas; both zero would deadlock a rollout, so maxUnavailable becomes 1, as in kube.
func (p *plan) resolveBounds() error {
	if p.d.Spec.Strategy.Type == "Recreate" {
		return nil
	}
	surge, unav := &workload.IntOrString{IsText: true, Str: "25%"}, &workload.IntOrString{IsText: true, Str: "25%"}
	if ru := p.d.Spec.Strategy.RollingUpdate; ru != nil {
		if ru.MaxSurge != nil {
			surge = ru.MaxSurge
		}
		if ru.MaxUnavailable != nil {
			unav = ru.MaxUnavailable
		}
	}
	var err error
	if p.surge, err = surge.Scaled(p.desired, true); err != nil {
		return fmt.Errorf("spec.strategy.rollingUpdate.maxSurge: %w", err)
	}
	if p.unav, err = unav.Scaled(p.desired, false); err != nil {
		return fmt.Errorf("spec.strategy.rollingUpdate.maxUnavailable: %w", err)
	}
	if p.surge == 0 && p.unav == 0 {
		p.unav = 1
	}
	p.unav = min(p.unav, p.desired)
	return nil
}

// createReplicaSet plans the ReplicaSet of the current template, with no replicas yet.
func (p *plan) createReplicaSet(bare workload.Template, revision int64) *replicaSet {
	d := p.d
	hash := bare.Hash()
	tmpl := bare.WithLabel(HashLabel, hash)
	name := d.Metadata.Name + "-" + hash
	sel := map[string]any{}
	for k, v := range d.Spec.Selector {
		sel[k] = v
	}
	ml := map[string]any{}
	if m, ok := sel["matchLabels"].(map[string]any); ok {
		for k, v := range m {
			ml[k] = v
		}
	}
	ml[HashLabel] = hash
	sel["matchLabels"] = ml
	rsLabels := map[string]any{}
	for k, v := range tmpl.Labels() {
		rsLabels[k] = v
	}
	obj := workload.Object{
		"apiVersion": "apps/v1",
		"kind":       "ReplicaSet",
		"metadata": map[string]any{
			"name":        name,
			"labels":      rsLabels,
			"annotations": map[string]any{},
		},
		"spec": map[string]any{
			"replicas":        0,
			"minReadySeconds": d.Spec.MinReadySeconds,
			"selector":        sel,
			"template":        map[string]any(tmpl),
		},
	}
	rs := &replicaSet{tmpl: tmpl, revision: revision, obj: obj, created: true, changed: true}
	rs.Metadata.Name = name
	p.createdNewRS, p.progressed = true, true
	p.res.AddEvent("Normal", "ScalingReplicaSet", fmt.Sprintf("Created new replica set %q", name))
	return rs
}

// scale plans replicas for rs, with kube's event.
func (p *plan) scale(rs *replicaSet, n int32) {
	if rs.replicas == n {
		return
	}
	verb := "up"
	if n < rs.replicas {
		verb = "down"
	}
	p.res.AddEvent("Normal", "ScalingReplicaSet", fmt.Sprintf("Scaled %s replica set %s from %d to %d", verb, rs.Metadata.Name, rs.replicas, n))
	rs.replicas, rs.changed, p.progressed = n, true, true
}

// scaleNewUp moves the new ReplicaSet towards the replicas within the surge bound, and
// reports whether it scaled it.
func (p *plan) scaleNewUp() bool {
	rs := p.newRS
	switch {
	case rs.replicas == p.desired:
		return false
	case rs.replicas > p.desired:
		p.scale(rs, p.desired)
		return true
	}
	var current int32
	for _, o := range p.olds {
		current += o.pods()
	}
	current += rs.pods()
	room := p.desired + p.surge - current
	if room <= 0 {
		return false
	}
	p.scale(rs, rs.replicas+min(room, p.desired-rs.replicas))
	return true
}

// scaleOldDown scales old ReplicaSets down as far as the availability bound allows: first
// their pods that are not available (which cost no availability), then available ones,
// oldest ReplicaSet first.
func (p *plan) scaleOldDown() {
	var oldPods, allPods int32
	for _, o := range p.olds {
		oldPods += o.replicas
	}
	if oldPods == 0 {
		return
	}
	allPods = oldPods + p.newRS.replicas
	minAvailable := p.desired - p.unav
	newUnavailable := p.newRS.replicas - p.newRS.available()
	room := allPods - minAvailable - newUnavailable
	if room <= 0 {
		return
	}
	for _, o := range p.olds {
		if room <= 0 {
			break
		}
		unhealthy := o.replicas - o.available()
		if o.replicas == 0 || unhealthy <= 0 {
			continue
		}
		down := min(room, unhealthy)
		p.scale(o, o.replicas-down)
		room -= down
	}
	var available int32
	for _, o := range p.olds {
		available += o.available()
	}
	available += p.newRS.available()
	if available <= minAvailable {
		return
	}
	over := available - minAvailable
	for _, o := range p.olds {
		if over <= 0 {
			break
		}
		if o.replicas == 0 {
			continue
		}
		down := min(o.replicas, over)
		p.scale(o, o.replicas-down)
		over -= down
	}
}

// recreate scales every old ReplicaSet to zero, waits until their pods are gone, then
// scales the new one up.
func (p *plan) recreate() {
	scaledDown := false
	for _, o := range p.olds {
		if o.replicas > 0 {
			p.scale(o, 0)
			scaledDown = true
		}
	}
	if scaledDown {
		return
	}
	for _, o := range p.olds {
		if o.Status.Replicas > 0 {
			return
		}
	}
	p.scale(p.newRS, p.desired)
}

// scalePaused follows a replicas change while paused: the newest active ReplicaSet takes it.
func (p *plan) scalePaused() {
	var total int32
	var target *replicaSet
	for _, rs := range append(slices.Clone(p.olds), p.newRS) {
		if rs == nil {
			continue
		}
		total += rs.replicas
		if rs.replicas > 0 && (target == nil || rs.revision > target.revision) {
			target = rs
		}
	}
	if target == nil {
		target = p.newRS
	}
	if target == nil || total == p.desired {
		return
	}
	p.scale(target, max(0, target.replicas+p.desired-total))
}

// complete reports whether the rollout is done: the new ReplicaSet has every replica,
// available, and nothing old is left running.
func (p *plan) complete() bool {
	if p.newRS == nil || p.newRS.replicas != p.desired || p.newRS.Status.Replicas != p.desired ||
		p.newRS.available() != p.desired {
		return false
	}
	for _, o := range p.olds {
		if o.replicas > 0 || o.Status.Replicas > 0 {
			return false
		}
	}
	return true
}

// cleanup drops old ReplicaSets beyond revisionHistoryLimit, lowest revisions first.
func (p *plan) cleanup(all []*replicaSet) []*replicaSet {
	limit := int32(defaultHistoryLimit)
	if p.d.Spec.RevisionHistoryLimit != nil {
		limit = *p.d.Spec.RevisionHistoryLimit
	}
	var idle []*replicaSet
	for _, o := range p.olds {
		if o.replicas == 0 && o.Status.Replicas == 0 && o.Metadata.DeletionTimestamp == nil {
			idle = append(idle, o)
		}
	}
	if int32(len(idle)) <= limit {
		return all
	}
	slices.SortStableFunc(idle, func(a, b *replicaSet) int { return int(a.revision - b.revision) })
	drop := idle[:int32(len(idle))-limit]
	return slices.DeleteFunc(all, func(rs *replicaSet) bool { return slices.Contains(drop, rs) })
}

// write is the ReplicaSet as declared: as observed when nothing changed, else with its
// planned replicas and kube's annotations.
func (p *plan) write(rs *replicaSet) (any, error) {
	if !rs.changed {
		return rs.raw, nil
	}
	obj := rs.obj
	if obj == nil {
		var err error
		if obj, err = workload.DecodeObject(rs.raw); err != nil {
			return nil, fmt.Errorf("replica set %s: %w", rs.Metadata.Name, err)
		}
	}
	obj.Set(rs.replicas, "spec", "replicas")
	ann, _ := obj["metadata"].(map[string]any)["annotations"].(map[string]any)
	if ann == nil {
		ann = map[string]any{}
		obj.Set(ann, "metadata", "annotations")
	}
	ann[RevisionAnnotation] = strconv.FormatInt(rs.revision, 10)
	ann[DesiredReplicasAnnotation] = strconv.Itoa(int(p.desired))
	ann[MaxReplicasAnnotation] = strconv.Itoa(int(p.desired + p.surge))
	return obj, nil
}

// status is the Deployment's status from its ReplicaSets' statuses and this plan.
func (p *plan) status(all []*replicaSet) Status {
	d := p.d
	st := Status{ObservedGeneration: d.Metadata.Generation}
	var planned int32
	for _, rs := range all {
		st.Replicas += rs.Status.Replicas
		st.ReadyReplicas += rs.Status.ReadyReplicas
		st.AvailableReplicas += rs.Status.AvailableReplicas
		planned += rs.replicas
	}
	if p.newRS != nil {
		st.UpdatedReplicas = p.newRS.Status.Replicas
	}
	st.UnavailableReplicas = max(0, planned-st.AvailableReplicas)
	conds := slices.Clone(d.Status.Conditions)
	if st.AvailableReplicas >= p.desired-p.unav {
		conds = setCondition(conds, p.now, "Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability.")
	} else {
		conds = setCondition(conds, p.now, "Available", "False", "MinimumReplicasUnavailable", "Deployment does not have minimum availability.")
	}
	conds = p.progressing(conds, st)
	st.Conditions = conds
	return st
}

// progressing sets the Progressing condition as kube's does, and asks to be woken at the
// progress deadline of an unfinished rollout.
func (p *plan) progressing(conds []workload.Condition, st Status) []workload.Condition {
	d := p.d
	prev := findCondition(conds, "Progressing")
	if d.Spec.Paused {
		return setCondition(conds, p.now, "Progressing", "Unknown", "DeploymentPaused", "Deployment is paused")
	}
	if prev != nil && prev.Reason == "DeploymentPaused" {
		return setCondition(conds, p.now, "Progressing", "Unknown", "DeploymentResumed", "Deployment is resumed")
	}
	name := ""
	if p.newRS != nil {
		name = p.newRS.Metadata.Name
	}
	deadline := time.Duration(defaultProgressDeadline) * time.Second
	if d.Spec.ProgressDeadlineSeconds != nil {
		deadline = time.Duration(*d.Spec.ProgressDeadlineSeconds) * time.Second
	}
	complete := p.complete() && st.UpdatedReplicas == p.desired && st.AvailableReplicas >= p.desired
	switch {
	case complete:
		return setCondition(conds, p.now, "Progressing", "True", "NewReplicaSetAvailable", fmt.Sprintf("ReplicaSet %q has successfully progressed.", name))
	case p.createdNewRS:
		return setCondition(conds, p.now, "Progressing", "True", "NewReplicaSetCreated", fmt.Sprintf("Created new replica set %q", name))
	case p.progressed || prev == nil || madeProgress(d.Status, st):
		// Progress restarts the deadline: the update time moves even if nothing else does.
		p.res.RequeueAfter(deadline)
		conds = setCondition(conds, p.now, "Progressing", "True", "ReplicaSetUpdated", fmt.Sprintf("ReplicaSet %q is progressing.", name))
		findCondition(conds, "Progressing").LastUpdateTime = p.now.UTC().Truncate(time.Second)
		return conds
	case prev.Reason == "ProgressDeadlineExceeded":
		return conds
	}
	if left := prev.LastUpdateTime.Add(deadline).Sub(p.now); left > 0 {
		p.res.RequeueAfter(left)
		return conds
	}
	p.res.AddEvent("Warning", "ProgressDeadlineExceeded", fmt.Sprintf("ReplicaSet %q has timed out progressing.", name))
	return setCondition(conds, p.now, "Progressing", "False", "ProgressDeadlineExceeded", fmt.Sprintf("ReplicaSet %q has timed out progressing.", name))
}

// madeProgress reports whether the rollout moved since the last status.
func madeProgress(old, cur Status) bool {
	return cur.UpdatedReplicas > old.UpdatedReplicas || cur.ReadyReplicas > old.ReadyReplicas ||
		cur.AvailableReplicas > old.AvailableReplicas || cur.Replicas < old.Replicas
}

func findCondition(conds []workload.Condition, typ string) *workload.Condition {
	for i := range conds {
		if conds[i].Type == typ {
			return &conds[i]
		}
	}
	return nil
}

// setCondition sets a condition: its transition time moves only when its status does, its
// update time whenever anything of it changes.
func setCondition(conds []workload.Condition, now time.Time, typ, status, reason, msg string) []workload.Condition {
	now = now.UTC().Truncate(time.Second)
	c := findCondition(conds, typ)
	if c == nil {
		return append(conds, workload.Condition{Type: typ, Status: status, Reason: reason, Message: msg,
			LastUpdateTime: now, LastTransitionTime: now})
	}
	if c.Status == status && c.Reason == reason && c.Message == msg {
		return conds
	}
	if c.Status != status {
		c.LastTransitionTime = now
	}
	c.Status, c.Reason, c.Message, c.LastUpdateTime = status, reason, msg, now
	return conds
}
