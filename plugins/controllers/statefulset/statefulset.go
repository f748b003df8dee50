// Package statefulset is the StatefulSet controller's decision: from a StatefulSet, the pods
// and PersistentVolumeClaims it owns, which pods and claims to create or delete, and the
// set's status — as kube-controller-manager's statefulset controller decides, so that
// kubectl rollout status works unchanged.
//
// Pods have stable names, <set>-<ordinal>, and each ordinal its own claims,
// <claim template>-<set>-<ordinal>, created before its pod and kept when the set scales
// down (kube's default retention). With podManagementPolicy OrderedReady a pod is created
// only once every lower ordinal is Running and Ready, and the set scales down from the
// highest ordinal, one pod at a time, only while the others are; Parallel does both at once.
// A rolling update deletes the highest pods not at the update revision, at or above the
// partition and within maxUnavailable, and they come back at the new template.
//
// A pod's revision is <set>-<template hash>, its controller-revision-hash label. A pod is
// recreated under its name only in a later reconcile than its delete: the host applies one
// result's writes concurrently, and the name is taken until the delete lands.
package statefulset

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/tugboat-io/tug/plugins/controllers/internal/workload"
	tug "github.com/tugboat-io/tug/sdk/go"
)

// Labels kube's statefulset controller puts on its pods.
const (
	RevisionLabel = "controller-revision-hash"
	PodNameLabel  = "statefulset.kubernetes.io/pod-name"
	PodIndexLabel = "apps.kubernetes.io/pod-index"
)

// Keys of the children.
var (
	PodKey   = tug.ObjectKey("v1", "Pod")
	ClaimKey = tug.ObjectKey("v1", "PersistentVolumeClaim")
)

type statefulSet struct {
	Metadata workload.Meta `json:"metadata"`
	Spec     struct {
		Replicas *int32 `json:"replicas,omitempty"`
		Selector struct {
			MatchLabels map[string]string `json:"matchLabels,omitempty"`
		} `json:"selector"`
		Template             json.RawMessage   `json:"template,omitempty"`
		ServiceName          string            `json:"serviceName,omitempty"`
		PodManagementPolicy  string            `json:"podManagementPolicy,omitempty"`
		MinReadySeconds      int32             `json:"minReadySeconds,omitempty"`
		VolumeClaimTemplates []json.RawMessage `json:"volumeClaimTemplates,omitempty"`
		Ordinals             *struct {
			Start int32 `json:"start,omitempty"`
		} `json:"ordinals,omitempty"`
		UpdateStrategy struct {
			Type          string `json:"type,omitempty"`
			RollingUpdate *struct {
				Partition      *int32                `json:"partition,omitempty"`
				MaxUnavailable *workload.IntOrString `json:"maxUnavailable,omitempty"`
			} `json:"rollingUpdate,omitempty"`
		} `json:"updateStrategy"`
	} `json:"spec"`
	Status Status `json:"status"`
}

// Status is a StatefulSet's status, with kube's field names and omissions.
type Status struct {
	ObservedGeneration int64                `json:"observedGeneration,omitempty"`
	Replicas           int32                `json:"replicas"`
	ReadyReplicas      int32                `json:"readyReplicas,omitempty"`
	CurrentReplicas    int32                `json:"currentReplicas,omitempty"`
	UpdatedReplicas    int32                `json:"updatedReplicas,omitempty"`
	CurrentRevision    string               `json:"currentRevision,omitempty"`
	UpdateRevision     string               `json:"updateRevision,omitempty"`
	CollisionCount     *int32               `json:"collisionCount,omitempty"`
	AvailableReplicas  int32                `json:"availableReplicas"`
	Conditions         []workload.Condition `json:"conditions,omitempty"`
}

// setPod is an owned pod with its ordinal.
type setPod struct {
	workload.Pod
	ordinal int
}

func (p *setPod) terminating() bool { return p.Metadata.DeletionTimestamp != nil }

func (p *setPod) finished() bool {
	return p.Status.Phase == workload.PodFailed || p.Status.Phase == workload.PodSucceeded
}

func (p *setPod) runningAndReady() bool { return p.Status.Phase == workload.PodRunning && p.Ready() }

// healthy is kube's isHealthy: running, ready and not going away.
func (p *setPod) healthy() bool { return p.runningAndReady() && !p.terminating() }

// claim is an owned PersistentVolumeClaim.
type claim struct {
	Metadata workload.Meta `json:"metadata"`
}

// claimTemplate is a volumeClaimTemplate, kept whole for the claims made from it.
type claimTemplate struct {
	name string
	obj  map[string]any
}

// plan is one reconcile's working state.
type plan struct {
	set            *statefulSet
	name           string
	now            time.Time
	minReady       time.Duration
	tmpl           workload.Template
	claimTemplates []claimTemplate
	claims         map[string]*claim
	start, count   int
	monotonic      bool
	update         string // the update revision
	current        string // the current revision

	replicas  []*setPod // by ordinal-start; nil where there is no pod
	condemned []*setPod // pods beyond the range, highest ordinal first
	res       *tug.ReconcileResult
	made      map[string]bool // claims created by this reconcile
	wait      time.Duration   // until a ready pod becomes available
}

// Reconcile decides one StatefulSet.
func Reconcile(req *tug.ReconcileRequest) (*tug.ReconcileResult, error) {
	p := &plan{set: &statefulSet{}, now: req.Time(), res: &tug.ReconcileResult{}, claims: map[string]*claim{}, made: map[string]bool{}}
	if err := p.decode(req); err != nil {
		return nil, err
	}
	st := p.status()
	if p.set.Metadata.DeletionTimestamp == nil {
		if err := p.sync(); err != nil {
			return nil, err
		}
	}
	if p.wait > 0 {
		// A ready pod becomes available without any event: come back when it does.
		p.res.RequeueAfter(p.wait)
	}
	return p.res, p.res.SetStatus(st)
}

func (p *plan) decode(req *tug.ReconcileRequest) error {
	s := p.set
	if err := req.DecodeParent(s); err != nil {
		return err
	}
	p.name = s.Metadata.Name
	p.minReady = time.Duration(s.Spec.MinReadySeconds) * time.Second
	var err error
	if p.tmpl, err = workload.DecodeTemplate(s.Spec.Template); err != nil {
		return err
	}
	for i, raw := range s.Spec.VolumeClaimTemplates {
		var obj map[string]any
		if err := json.Unmarshal(raw, &obj); err != nil {
			return fmt.Errorf("spec.volumeClaimTemplates[%d]: %w", i, err)
		}
		meta, _ := obj["metadata"].(map[string]any)
		name, _ := meta["name"].(string)
		p.claimTemplates = append(p.claimTemplates, claimTemplate{name: name, obj: obj})
	}
	// The host hands claims over as related objects (the set does not own them, so they
	// outlive it, kube's Retain); as children they are read the same.
	for _, raw := range append(req.Children[ClaimKey], req.Related[ClaimKey]...) {
		c := &claim{}
		if err := json.Unmarshal(raw, c); err != nil {
			return fmt.Errorf("decode persistent volume claim: %w", err)
		}
		p.claims[c.Metadata.Name] = c
	}
	p.count = 1
	if s.Spec.Replicas != nil {
		p.count = int(*s.Spec.Replicas)
	}
	if s.Spec.Ordinals != nil {
		p.start = int(s.Spec.Ordinals.Start)
	}
	p.monotonic = s.Spec.PodManagementPolicy != "Parallel"
	p.update = p.name + "-" + p.tmpl.Hash()
	// Without ControllerRevisions the status remembers the current revision; a new set
	// starts at its update revision.
	p.current = s.Status.CurrentRevision
	if p.current == "" {
		p.current = p.update
	}

	p.replicas = make([]*setPod, p.count)
	for _, raw := range req.Children[PodKey] {
		sp := &setPod{}
		if err := json.Unmarshal(raw, &sp.Pod); err != nil {
			return fmt.Errorf("decode pod: %w", err)
		}
		sp.ordinal = p.ordinal(sp.Metadata.Name)
		switch {
		case sp.ordinal < 0:
			// Not named as a member of this set: kube ignores such a pod too.
		case sp.ordinal >= p.start && sp.ordinal < p.start+p.count:
			p.replicas[sp.ordinal-p.start] = sp
		default:
			p.condemned = append(p.condemned, sp)
		}
	}
	slices.SortFunc(p.condemned, func(a, b *setPod) int { return b.ordinal - a.ordinal })
	return nil
}

var memberName = regexp.MustCompile(`^(.*)-([0-9]+)$`)

// ordinal is the ordinal of a pod named <set>-<ordinal>, -1 for any other name.
func (p *plan) ordinal(name string) int {
	m := memberName.FindStringSubmatch(name)
	if m == nil || m[1] != p.name {
		return -1
	}
	n, err := strconv.Atoi(m[2])
	if err != nil {
		return -1
	}
	return n
}

func (p *plan) podName(ordinal int) string { return p.name + "-" + strconv.Itoa(ordinal) }

func (p *plan) claimName(t claimTemplate, ordinal int) string {
	return t.name + "-" + p.name + "-" + strconv.Itoa(ordinal)
}

// available reports whether a pod is running and available, noting when a ready one will be.
func (p *plan) available(pod *setPod) bool {
	if !pod.runningAndReady() {
		return false
	}
	ok, left := pod.Available(p.minReady, p.now)
	if !ok && left > 0 && (p.wait == 0 || left < p.wait) {
		p.wait = left
	}
	return ok
}

// sync runs kube's order: the pods in range (creating and recreating), then the condemned
// ones (scale-down), then the rolling update; with OrderedReady anything in the way of
// one step ends the reconcile there.
func (p *plan) sync() error {
	// The first unhealthy pod, in range or else condemned, lowest ordinal first: a missing
	// pod in range counts (and is no condemned pod).
	var firstUnhealthy *setPod
	found := false
	for _, pod := range p.replicas {
		if pod == nil || !pod.healthy() {
			firstUnhealthy, found = pod, true
			break
		}
	}
	for i := len(p.condemned) - 1; i >= 0 && !found; i-- {
		if !p.condemned[i].healthy() {
			firstUnhealthy, found = p.condemned[i], true
		}
	}
	for i := range p.replicas {
		stop, err := p.processReplica(i)
		if err != nil {
			return err
		}
		if stop && p.monotonic {
			return nil
		}
	}
	for _, pod := range p.condemned {
		if p.processCondemned(pod, firstUnhealthy) && p.monotonic {
			return nil
		}
	}
	if p.set.Spec.UpdateStrategy.Type == "OnDelete" {
		return nil
	}
	p.rollingUpdate()
	return nil
}

// processReplica brings the pod of one ordinal in range into being; it reports whether
// OrderedReady must stop here.
func (p *plan) processReplica(i int) (bool, error) {
	ordinal := p.start + i
	pod := p.replicas[i]
	if pod != nil && pod.finished() && !pod.terminating() {
		// The pod has stopped for good; restartPolicy Always would never have let it,
		// so it was evicted or its node lost. It comes back in a later reconcile.
		if pod.Status.Phase == workload.PodFailed {
			p.res.AddEvent("Warning", "RecreatingFailedPod", fmt.Sprintf("StatefulSet %s/%s is recreating failed Pod %s",
				p.set.Metadata.Namespace, p.name, pod.Metadata.Name))
		} else {
			p.res.AddEvent("Normal", "RecreatingTerminatedPod", fmt.Sprintf("StatefulSet %s/%s is recreating terminated Pod %s",
				p.set.Metadata.Namespace, p.name, pod.Metadata.Name))
		}
		p.delete(pod)
		p.replicas[i] = nil
		return true, nil
	}
	if pod == nil {
		// Claims first: a pod whose claims do not exist yet waits for them.
		if ready, err := p.ensureClaims(ordinal); err != nil || !ready {
			return true, err
		}
		if err := p.createPod(ordinal); err != nil {
			return false, err
		}
		return true, nil
	}
	if pod.Status.Phase == workload.PodPending || pod.Status.Phase == "" {
		// A claim deleted under a pod that has not started yet is made again.
		if _, err := p.ensureClaims(ordinal); err != nil {
			return true, err
		}
	}
	if pod.terminating() || !p.available(pod) {
		return true, nil
	}
	return false, nil
}

// processCondemned scales down one pod beyond the range; it reports whether OrderedReady
// must stop here.
func (p *plan) processCondemned(pod, firstUnhealthy *setPod) bool {
	if pod.terminating() {
		return true
	}
	// With OrderedReady only the first unhealthy pod goes before the others are healthy:
	// deleting it cannot make things worse.
	if p.monotonic && pod != firstUnhealthy && !p.available(pod) {
		return true
	}
	p.delete(pod)
	return true
}

// rollingUpdate deletes the highest pods at or above the partition that are not at the
// update revision, as many as maxUnavailable allows, counting every pod in range that is
// missing, terminating or not available as unavailable already.
func (p *plan) rollingUpdate() {
	partition, maxUnavailable := 0, 1
	if ru := p.set.Spec.UpdateStrategy.RollingUpdate; ru != nil {
		if ru.Partition != nil {
			partition = int(*ru.Partition)
		}
		if ru.MaxUnavailable != nil {
			n, err := ru.MaxUnavailable.Scaled(int32(p.count), true)
			if err != nil {
				p.res.AddEvent("Warning", "InvalidStrategy", fmt.Sprintf("spec.updateStrategy.rollingUpdate.maxUnavailable: %v", err))
				return
			}
			maxUnavailable = max(int(n), 1)
		}
	}
	unavailable := 0
	for _, pod := range p.replicas {
		if pod == nil || pod.terminating() || !p.available(pod) {
			unavailable++
		}
	}
	room := maxUnavailable - unavailable
	for i := len(p.replicas) - 1; i >= partition-p.start && i >= 0 && room > 0; i-- {
		pod := p.replicas[i]
		if pod != nil && pod.Metadata.Labels[RevisionLabel] != p.update && !pod.terminating() {
			p.delete(pod)
			room--
		}
	}
}

// ensureClaims creates the ordinal's missing claims and reports whether all of them exist
// (a claim being deleted must go before it can be made again).
func (p *plan) ensureClaims(ordinal int) (bool, error) {
	ready := true
	for _, t := range p.claimTemplates {
		name := p.claimName(t, ordinal)
		if c, ok := p.claims[name]; ok {
			if c.Metadata.DeletionTimestamp != nil {
				ready = false
			}
			continue
		}
		ready = false
		if p.made[name] {
			continue
		}
		p.made[name] = true
		if err := p.res.Create(p.newClaim(t, name)); err != nil {
			return false, fmt.Errorf("claim %s: %w", name, err)
		}
		p.res.AddEvent("Normal", "SuccessfulCreate", fmt.Sprintf("create Claim %s Pod %s in StatefulSet %s success", name, p.podName(ordinal), p.name))
	}
	return ready, nil
}

// newClaim is the claim of a template for one ordinal: the template's metadata and spec,
// labelled with the set's selector as kube labels them.
func (p *plan) newClaim(t claimTemplate, name string) map[string]any {
	tm, _ := workload.DeepCopy(t.obj["metadata"]).(map[string]any)
	meta := map[string]any{"name": name}
	for _, k := range []string{"labels", "annotations", "finalizers"} {
		if v, ok := tm[k]; ok {
			meta[k] = v
		}
	}
	labels, _ := meta["labels"].(map[string]any)
	if labels == nil {
		labels = map[string]any{}
	}
	for k, v := range p.set.Spec.Selector.MatchLabels {
		labels[k] = v
	}
	if len(labels) > 0 {
		meta["labels"] = labels
	}
	c := map[string]any{"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": meta}
	if spec, ok := t.obj["spec"]; ok {
		c["spec"] = workload.DeepCopy(spec)
	}
	return c
}

// createPod asks for the pod of an ordinal at the update revision: the template's, with
// its stable name and network identity, and its claims mounted in place of the template's
// volumes of the same name.
func (p *plan) createPod(ordinal int) error {
	name := p.podName(ordinal)
	pod := p.tmpl.WithLabel(RevisionLabel, p.update).WithLabel(PodNameLabel, name).
		WithLabel(PodIndexLabel, strconv.Itoa(ordinal)).Pod("")
	meta := pod["metadata"].(map[string]any)
	delete(meta, "generateName")
	meta["name"] = name
	spec := p.tmpl.Spec()
	spec["hostname"] = name
	if sn := p.set.Spec.ServiceName; sn != "" {
		spec["subdomain"] = sn
	}
	if len(p.claimTemplates) > 0 {
		var volumes []any
		claimed := map[string]bool{}
		for _, t := range p.claimTemplates {
			claimed[t.name] = true
			volumes = append(volumes, map[string]any{
				"name":                  t.name,
				"persistentVolumeClaim": map[string]any{"claimName": p.claimName(t, ordinal)},
			})
		}
		old, _ := spec["volumes"].([]any)
		for _, v := range old {
			m, _ := v.(map[string]any)
			if n, _ := m["name"].(string); !claimed[n] {
				volumes = append(volumes, v)
			}
		}
		spec["volumes"] = volumes
	}
	pod["spec"] = spec
	if err := p.res.Create(pod); err != nil {
		return fmt.Errorf("pod %s: %w", name, err)
	}
	p.res.AddEvent("Normal", "SuccessfulCreate", fmt.Sprintf("create Pod %s in StatefulSet %s successful", name, p.name))
	return nil
}

func (p *plan) delete(pod *setPod) {
	p.res.Delete("v1", "Pod", pod.Metadata.Name, pod.Metadata.UID)
	p.res.AddEvent("Normal", "SuccessfulDelete", fmt.Sprintf("delete Pod %s in StatefulSet %s successful", pod.Metadata.Name, p.name))
}

// status counts the observed pods as kube's computeReplicaStatus does, and completes a
// rolling update once every pod is at the update revision and ready: the update revision
// becomes the current one.
func (p *plan) status() Status {
	zero := int32(0)
	st := Status{ObservedGeneration: p.set.Metadata.Generation, CurrentRevision: p.current, UpdateRevision: p.update,
		CollisionCount: &zero, Conditions: p.set.Status.Conditions}
	for _, pod := range append(slices.Clone(p.replicas), p.condemned...) {
		if pod == nil {
			continue
		}
		st.Replicas++
		if pod.runningAndReady() {
			st.ReadyReplicas++
			if p.available(pod) {
				st.AvailableReplicas++
			}
		}
		if !pod.terminating() {
			switch rev := pod.Metadata.Labels[RevisionLabel]; {
			case rev == p.current && rev == p.update:
				st.CurrentReplicas++
				st.UpdatedReplicas++
			case rev == p.current:
				st.CurrentReplicas++
			case rev == p.update:
				st.UpdatedReplicas++
			}
		}
	}
	if t := p.set.Spec.UpdateStrategy.Type; (t == "" || t == "RollingUpdate") && st.UpdatedReplicas == st.Replicas && st.ReadyReplicas == st.Replicas {
		st.CurrentRevision, st.CurrentReplicas = st.UpdateRevision, st.UpdatedReplicas
	}
	return st
}
