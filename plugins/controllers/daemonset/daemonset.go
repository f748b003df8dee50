// Package daemonset is the DaemonSet controller's decision: from a DaemonSet, the pods it
// owns and every node, which daemon pods to create or delete so that each eligible node
// runs one, and the set's status — as kube-controller-manager's daemonset controller decides.
//
// A node is eligible when it matches the template's nodeSelector and required node
// affinity and the pod tolerates the node's NoSchedule and NoExecute taints (with the
// tolerations kube adds to every daemon pod); a node being deleted never is. A pod is not
// bound by this controller: it is pinned to its node by a required matchFields term on
// metadata.name, which the scheduler honours, and it belongs to the node it is bound to, or
// else to the node it is pinned to.
//
// Like kube's, a reconcile first fixes placement (creates on nodes lacking a pod, deletes
// pods on nodes that lost eligibility, failed pods, and duplicates) and only when that
// needs nothing runs the rolling update, which replaces pods of an old template hash within
// maxUnavailable, or, with maxSurge, starts the new pod beside the old one first.
package daemonset

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tugboat-io/tug/plugins/controllers/internal/workload"
	"github.com/tugboat-io/tug/plugins/internal/nodeselect"
	tug "github.com/tugboat-io/tug/sdk/go"
)

// Labels kube's daemonset controller puts on its pods.
const (
	HashLabel       = "controller-revision-hash"
	GenerationLabel = "pod-template-generation"
	// templateGenerationAnnotation is where kube's apiserver records the generation of the
	// last template change; without it the generation stands in.
	templateGenerationAnnotation = "deprecated.daemonset.template.generation"
	// FailuresAnnotation counts the failed pods a node's daemon pod replaces in a row:
	// the replacement of a failed pod waits longer each time, without any memory in the
	// controller.
	FailuresAnnotation = "daemonset.tug.dev/failures"
)

// BurstReplicas bounds the pods one reconcile creates, as kube's does.
const BurstReplicas = 250

// Backoff bounds for replacing failed pods: kube's are the same.
const (
	failedBackoffBase = time.Second
	failedBackoffMax  = 15 * time.Minute
)

// ErrNoNodes is the answer to a request without the nodes: deciding without them would
// delete every daemon pod as if its node were gone.
var ErrNoNodes = errors.New("the request has no related v1/Node list: the DaemonSet controller needs every node")

// Keys of the objects this controller reads.
var (
	PodKey  = tug.ObjectKey("v1", "Pod")
	NodeKey = tug.ObjectKey("v1", "Node")
)

type daemonSet struct {
	Metadata workload.Meta `json:"metadata"`
	Spec     struct {
		Template        json.RawMessage `json:"template,omitempty"`
		MinReadySeconds int32           `json:"minReadySeconds,omitempty"`
		UpdateStrategy  struct {
			Type          string `json:"type,omitempty"`
			RollingUpdate *struct {
				MaxUnavailable *workload.IntOrString `json:"maxUnavailable,omitempty"`
				MaxSurge       *workload.IntOrString `json:"maxSurge,omitempty"`
			} `json:"rollingUpdate,omitempty"`
		} `json:"updateStrategy"`
	} `json:"spec"`
	Status Status `json:"status"`
}

// Status is a DaemonSet's status, with kube's field names and omissions.
type Status struct {
	CurrentNumberScheduled int32                `json:"currentNumberScheduled"`
	NumberMisscheduled     int32                `json:"numberMisscheduled"`
	DesiredNumberScheduled int32                `json:"desiredNumberScheduled"`
	NumberReady            int32                `json:"numberReady"`
	ObservedGeneration     int64                `json:"observedGeneration,omitempty"`
	UpdatedNumberScheduled int32                `json:"updatedNumberScheduled,omitempty"`
	NumberAvailable        int32                `json:"numberAvailable,omitempty"`
	NumberUnavailable      int32                `json:"numberUnavailable,omitempty"`
	CollisionCount         *int32               `json:"collisionCount,omitempty"`
	Conditions             []workload.Condition `json:"conditions,omitempty"`
}

// daemonPod is an owned pod and the node it belongs to.
type daemonPod struct {
	workload.Pod
	node     string
	failedAt time.Time
	failures int
}

// podExtra is what this controller reads of a pod beyond workload.Pod.
type podExtra struct {
	Spec struct {
		Affinity *nodeselect.Affinity `json:"affinity,omitempty"`
	} `json:"spec"`
	Status struct {
		ContainerStatuses []struct {
			State struct {
				Terminated *struct {
					FinishedAt time.Time `json:"finishedAt,omitzero"`
				} `json:"terminated,omitempty"`
			} `json:"state"`
		} `json:"containerStatuses,omitempty"`
	} `json:"status"`
}

func decodePod(raw json.RawMessage) (*daemonPod, error) {
	p := &daemonPod{}
	if err := json.Unmarshal(raw, &p.Pod); err != nil {
		return nil, fmt.Errorf("decode pod: %w", err)
	}
	var x podExtra
	if err := json.Unmarshal(raw, &x); err != nil {
		return nil, fmt.Errorf("decode pod %s: %w", p.Metadata.Name, err)
	}
	p.node = p.Spec.NodeName
	if p.node == "" {
		p.node = pinnedNode(x.Spec.Affinity)
	}
	// When the pod failed: its last container's end, else when it stopped being ready,
	// else its creation.
	p.failedAt = p.Metadata.CreationTimestamp
	for _, c := range p.Status.Conditions {
		if c.Type == "Ready" && c.Status != "True" && c.LastTransitionTime.After(p.failedAt) {
			p.failedAt = c.LastTransitionTime
		}
	}
	for _, c := range x.Status.ContainerStatuses {
		if t := c.State.Terminated; t != nil && t.FinishedAt.After(p.failedAt) {
			p.failedAt = t.FinishedAt
		}
	}
	p.failures, _ = strconv.Atoi(p.Metadata.Annotations[FailuresAnnotation])
	return p, nil
}

// plan is one reconcile's working state.
type plan struct {
	ds       *daemonSet
	now      time.Time
	minReady time.Duration
	tmpl     workload.Template
	spec     podSpec
	hash     string
	nodes    []*node                 // by name
	byNode   map[string][]*daemonPod // every owned pod with a node, by that node
	res      *tug.ReconcileResult
	created  int
	deleted  map[string]bool

	// The rolling update's: the nodes that should run a pod, and the bounds against them.
	desired, maxSurge, maxUnavailable int32
}

// Reconcile decides one DaemonSet.
func Reconcile(req *tug.ReconcileRequest) (*tug.ReconcileResult, error) {
	p := &plan{ds: &daemonSet{}, now: req.Time(), res: &tug.ReconcileResult{}, byNode: map[string][]*daemonPod{}, deleted: map[string]bool{}}
	if err := req.DecodeParent(p.ds); err != nil {
		return nil, err
	}
	p.minReady = time.Duration(p.ds.Spec.MinReadySeconds) * time.Second
	var err error
	if p.tmpl, err = workload.DecodeTemplate(p.ds.Spec.Template); err != nil {
		return nil, err
	}
	var t struct {
		Spec podSpec `json:"spec"`
	}
	if len(p.ds.Spec.Template) > 0 {
		if err := json.Unmarshal(p.ds.Spec.Template, &t); err != nil {
			return nil, fmt.Errorf("pod template: %w", err)
		}
	}
	p.spec = t.Spec
	p.hash = p.tmpl.Hash()
	rawNodes, ok := req.Related[NodeKey]
	if !ok {
		return nil, ErrNoNodes
	}
	for _, raw := range rawNodes {
		n, err := decodeNode(raw)
		if err != nil {
			return nil, err
		}
		p.nodes = append(p.nodes, n)
	}
	// Sorted, so that every choice among equals (which nodes get the surge, which old pods
	// go first) is the same natively and in wasm, and from one reconcile to the next.
	slices.SortFunc(p.nodes, func(a, b *node) int { return strings.Compare(a.Name, b.Name) })
	for _, raw := range req.Children[PodKey] {
		dp, err := decodePod(raw)
		if err != nil {
			return nil, err
		}
		// A pod neither bound nor pinned is not one of ours to place; kube skips it too.
		if dp.node != "" {
			p.byNode[dp.node] = append(p.byNode[dp.node], dp)
		}
	}
	for _, pods := range p.byNode {
		slices.SortStableFunc(pods, oldestFirst)
	}

	rolling := false
	if t := p.ds.Spec.UpdateStrategy.Type; t == "" || t == "RollingUpdate" {
		p.desired = p.countDesired()
		if p.maxSurge, p.maxUnavailable, err = p.bounds(p.desired); err != nil {
			// Old pods stay until the strategy is fixed, as with OnDelete.
			p.res.AddEvent("Warning", "InvalidStrategy", err.Error())
			p.maxSurge, p.maxUnavailable = 0, 0
		} else {
			rolling = true
		}
	}
	if p.ds.Metadata.DeletionTimestamp == nil {
		if err := p.manage(); err != nil {
			return nil, err
		}
		// As in kube, the rolling update waits for placement to settle: its counts of
		// what is available would otherwise include pods just asked for or removed.
		if len(p.res.Creates) == 0 && len(p.res.Deletes) == 0 && rolling {
			if err := p.rollingUpdate(); err != nil {
				return nil, err
			}
		}
	}
	return p.res, p.res.SetStatus(p.status())
}

// bounds are maxSurge and maxUnavailable resolved against the desired pods, both rounded
// up as kube's daemonset controller does; both zero would never progress, so maxUnavailable
// is then 1.
func (p *plan) bounds(desired int32) (surge, unavailable int32, err error) {
	unavailable = 1
	if ru := p.ds.Spec.UpdateStrategy.RollingUpdate; ru != nil {
		if ru.MaxSurge != nil {
			if surge, err = ru.MaxSurge.Scaled(desired, true); err != nil {
				return 0, 0, fmt.Errorf("spec.updateStrategy.rollingUpdate.maxSurge: %w", err)
			}
		}
		if ru.MaxUnavailable != nil {
			if unavailable, err = ru.MaxUnavailable.Scaled(desired, true); err != nil {
				return 0, 0, fmt.Errorf("spec.updateStrategy.rollingUpdate.maxUnavailable: %w", err)
			}
		}
	}
	if desired > 0 && surge == 0 && unavailable == 0 {
		unavailable = 1
	}
	return surge, unavailable, nil
}

// manage places daemon pods, node by node, as kube's manage and podsShouldBeOnNode do.
func (p *plan) manage() error {
	known := map[string]bool{}
	for _, n := range p.nodes {
		name := n.Name
		known[name] = true
		shouldRun, shouldContinue := p.spec.placement(n)
		pods := p.byNode[name]
		switch {
		case shouldRun && len(pods) == 0:
			if err := p.create(name, 0); err != nil {
				return err
			}
		case shouldContinue:
			if err := p.keep(name, pods, shouldRun, p.maxSurge > 0); err != nil {
				return err
			}
		default:
			p.deleteLive(pods)
		}
	}
	// Pods of nodes that are gone.
	for name, pods := range p.byNode {
		if !known[name] {
			p.deleteLive(pods)
		}
	}
	// Deletes in a stable order: byNode is a map.
	slices.SortFunc(p.res.Deletes, func(a, b tug.ObjectRef) int { return strings.Compare(a.Name, b.Name) })
	return nil
}

// keep handles a node whose pods may stay: finished pods go (a failed one after its
// backoff, replaced at once), and of the rest one stays — or, while surging, one old and
// one new until the new one is available.
func (p *plan) keep(nodeName string, pods []*daemonPod, shouldRun, surging bool) error {
	var running []*daemonPod
	// A node with a pod terminating or failed and backing off waits for it before
	// getting another.
	blocked, replace := false, -1
	for _, pod := range pods {
		switch {
		case pod.Metadata.DeletionTimestamp != nil:
			blocked = true
		case pod.Status.Phase == workload.PodFailed:
			wait := min(failedBackoffBase<<min(pod.failures, 20), failedBackoffMax)
			if left := pod.failedAt.Add(wait).Sub(p.now); left > 0 {
				p.res.RequeueAfter(left)
				blocked = true
				continue
			}
			p.res.AddEvent("Warning", "FailedDaemonPod", fmt.Sprintf("Found failed daemon pod %s/%s on node %s, will try to kill it",
				pod.Metadata.Namespace, pod.Metadata.Name, nodeName))
			p.delete(pod)
			replace = max(replace, pod.failures+1)
		case pod.Status.Phase == workload.PodSucceeded:
			p.delete(pod)
		default:
			running = append(running, pod)
		}
	}
	if len(running) == 0 && !blocked && shouldRun && replace >= 0 {
		// Kube creates the replacement in its next sync; here the failure count would be
		// gone by then, so it comes with the delete.
		return p.create(nodeName, replace)
	}
	if len(running) <= 1 {
		if len(running) == 0 && !blocked && shouldRun && surging {
			return p.create(nodeName, 0)
		}
		return nil
	}
	if !surging {
		for _, pod := range running[1:] {
			p.delete(pod)
		}
		return nil
	}
	// Surging allows one old and one new pod: the oldest of each. The old one goes once it
	// is not ready or the new one is available.
	var oldest, newest *daemonPod
	for _, pod := range running {
		switch {
		case p.updated(pod) && newest == nil:
			newest = pod
		case !p.updated(pod) && oldest == nil:
			oldest = pod
		default:
			p.delete(pod)
		}
	}
	if oldest != nil && newest != nil {
		if ok, _ := newest.Available(p.minReady, p.now); !oldest.Ready() || ok {
			p.delete(oldest)
		}
	}
	return nil
}

func (p *plan) updated(pod *daemonPod) bool { return pod.Metadata.Labels[HashLabel] == p.hash }

func (p *plan) deleteLive(pods []*daemonPod) {
	for _, pod := range pods {
		if pod.Metadata.DeletionTimestamp == nil {
			p.delete(pod)
		}
	}
}

func (p *plan) delete(pod *daemonPod) {
	if p.deleted[pod.Metadata.Name] {
		return
	}
	p.deleted[pod.Metadata.Name] = true
	p.res.Delete("v1", "Pod", pod.Metadata.Name, pod.Metadata.UID)
}

// create asks for the daemon pod of a node: the template's pod with the revision labels,
// the daemon tolerations, and pinned to the node by its required node affinity, which the
// scheduler then binds it by — kube's way, so that the scheduler still checks resources.
func (p *plan) create(nodeName string, failures int) error {
	if p.created >= BurstReplicas {
		// The rest come in a later reconcile, which the creates themselves trigger.
		return nil
	}
	p.created++
	gen := p.ds.Metadata.Annotations[templateGenerationAnnotation]
	if gen == "" {
		gen = strconv.FormatInt(p.ds.Metadata.Generation, 10)
	}
	tmpl := p.tmpl.WithLabel(HashLabel, p.hash).WithLabel(GenerationLabel, gen)
	if failures > 0 {
		tmpl = tmpl.WithAnnotation(FailuresAnnotation, strconv.Itoa(failures))
	}
	pod := tmpl.Pod(p.ds.Metadata.Name + "-")
	spec := p.tmpl.Spec()
	spec["tolerations"] = withTolerations(spec["tolerations"], daemonTolerations(p.spec.HostNetwork))
	spec["affinity"] = pinned(spec["affinity"], nodeName)
	pod["spec"] = spec
	if err := p.res.Create(pod); err != nil {
		return fmt.Errorf("daemon pod for node %s: %w", nodeName, err)
	}
	return nil
}

// withTolerations adds the tolerations the pod lacks to its list.
func withTolerations(have any, add []tug.Toleration) []any {
	list, _ := have.([]any)
	for _, t := range add {
		found := slices.ContainsFunc(list, func(v any) bool {
			m, _ := v.(map[string]any)
			return m["key"] == t.Key && m["operator"] == t.Operator && m["effect"] == t.Effect && (m["value"] == nil || m["value"] == "")
		})
		if !found {
			list = append(list, map[string]any{"key": t.Key, "operator": t.Operator, "effect": t.Effect})
		}
	}
	return list
}

// pinned is the pod's affinity with its required node affinity replaced by the node's
// name, as kube's ReplaceDaemonSetPodNodeNameNodeAffinity does: the template's own terms
// were already checked against the node, and the preferred ones stay.
func pinned(aff any, nodeName string) map[string]any {
	a, _ := aff.(map[string]any)
	if a == nil {
		a = map[string]any{}
	}
	na, _ := a["nodeAffinity"].(map[string]any)
	if na == nil {
		na = map[string]any{}
		a["nodeAffinity"] = na
	}
	na["requiredDuringSchedulingIgnoredDuringExecution"] = map[string]any{
		"nodeSelectorTerms": []any{map[string]any{
			"matchFields": []any{map[string]any{"key": "metadata.name", "operator": "In", "values": []any{nodeName}}},
		}},
	}
	return a
}

// countDesired is the number of nodes that should run a daemon pod.
func (p *plan) countDesired() int32 {
	var n int32
	for _, nd := range p.nodes {
		if run, _ := p.spec.placement(nd); run {
			n++
		}
	}
	return n
}

// podsOnNode is the node's one old and one new live pod, and whether it has no more than
// that (kube's findUpdatedPodsOnNode).
func (p *plan) podsOnNode(pods []*daemonPod) (newPod, oldPod *daemonPod, ok bool) {
	for _, pod := range pods {
		if pod.Metadata.DeletionTimestamp != nil {
			continue
		}
		if p.updated(pod) {
			if newPod != nil {
				return nil, nil, false
			}
			newPod = pod
		} else {
			if oldPod != nil {
				return nil, nil, false
			}
			oldPod = pod
		}
	}
	return newPod, oldPod, true
}

func (p *plan) available(pod *daemonPod) bool {
	ok, _ := pod.Available(p.minReady, p.now)
	return ok
}

// rollingUpdate replaces pods of an old template, as kube's rollingUpdate: without surge by
// deleting old pods (their nodes then get new ones) while fewer than maxUnavailable
// nodes lack an available pod; with surge by creating new pods beside old available ones,
// at most maxSurge at a time, and deleting the old ones once the new are available.
func (p *plan) rollingUpdate() error {
	if p.maxSurge == 0 {
		p.replaceInPlace(p.maxUnavailable)
		return nil
	}
	return p.surge(p.maxSurge, p.desired)
}

func (p *plan) replaceInPlace(maxUnavailable int32) {
	var unavailable int32
	var allowed, candidates []*daemonPod
	for _, n := range p.nodes {
		name := n.Name
		pods, has := p.byNode[name]
		if !has {
			if run, _ := p.spec.placement(n); !run {
				continue
			}
		}
		newPod, oldPod, ok := p.podsOnNode(pods)
		switch {
		case !ok, newPod == nil && oldPod == nil, newPod != nil && oldPod != nil:
			// Placement will settle this node; meanwhile it counts as unavailable.
			unavailable++
		case newPod != nil:
			if !p.available(newPod) {
				unavailable++
			}
		case !p.available(oldPod):
			// Replacing a pod that is not available costs no availability.
			allowed = append(allowed, oldPod)
			unavailable++
		case unavailable < maxUnavailable:
			candidates = append(candidates, oldPod)
		}
	}
	room := max(0, min(maxUnavailable-unavailable, int32(len(candidates))))
	for _, pod := range append(allowed, candidates[:room]...) {
		p.delete(pod)
	}
}

func (p *plan) surge(maxSurge, desired int32) error {
	var numSurge, numAvailable int32
	var allowedNodes, candidateNodes []string
	var misplaced []*daemonPod // old available pods on nodes that should no longer run one
	for _, n := range p.nodes {
		name := n.Name
		pods, has := p.byNode[name]
		run, _ := p.spec.placement(n)
		if !has && !run {
			continue
		}
		newPod, oldPod, ok := p.podsOnNode(pods)
		if !ok {
			numSurge++
			continue
		}
		switch {
		case oldPod != nil && p.available(oldPod), oldPod == nil && newPod != nil && p.available(newPod):
			numAvailable++
		}
		switch {
		case oldPod == nil:
			// Placement handles this node.
		case newPod == nil && !p.available(oldPod):
			if !run {
				p.delete(oldPod)
				continue
			}
			allowedNodes = append(allowedNodes, name)
		case newPod == nil:
			if !run {
				misplaced = append(misplaced, oldPod)
				continue
			}
			if numSurge < maxSurge {
				candidateNodes = append(candidateNodes, name)
			}
		case !p.available(newPod):
			numSurge++
		default:
			p.delete(oldPod)
		}
	}
	// With surge users expect full availability: a pod on a node that should not run one
	// goes only while more pods are available than desired.
	if extra := int(numAvailable - desired); extra > 0 {
		for _, pod := range misplaced[:min(extra, len(misplaced))] {
			p.delete(pod)
		}
	}
	room := max(0, min(maxSurge-numSurge, int32(len(candidateNodes))))
	for _, name := range append(allowedNodes, candidateNodes[:room]...) {
		if err := p.create(name, 0); err != nil {
			return err
		}
	}
	return nil
}

// status counts, over the nodes, kube's DaemonSet status: each node that should run a pod
// counts its oldest pod (placement trims the others).
func (p *plan) status() Status {
	st := Status{ObservedGeneration: p.ds.Metadata.Generation, CollisionCount: p.ds.Status.CollisionCount, Conditions: p.ds.Status.Conditions}
	var wait time.Duration
	for _, n := range p.nodes {
		run, _ := p.spec.placement(n)
		var pods []*daemonPod
		for _, pod := range p.byNode[n.Name] {
			// Terminal pods being deleted are as good as gone.
			if pod.Metadata.DeletionTimestamp != nil && (pod.Status.Phase == workload.PodFailed || pod.Status.Phase == workload.PodSucceeded) {
				continue
			}
			pods = append(pods, pod)
		}
		if !run {
			if len(pods) > 0 {
				st.NumberMisscheduled++
			}
			continue
		}
		st.DesiredNumberScheduled++
		if len(pods) == 0 {
			continue
		}
		st.CurrentNumberScheduled++
		pod := pods[0]
		if pod.Ready() {
			st.NumberReady++
			ok, left := pod.Available(p.minReady, p.now)
			if ok {
				st.NumberAvailable++
			} else if left > 0 && (wait == 0 || left < wait) {
				wait = left
			}
		}
		if p.updated(pod) {
			st.UpdatedNumberScheduled++
		}
	}
	st.NumberUnavailable = st.DesiredNumberScheduled - st.NumberAvailable
	if wait > 0 {
		// A ready pod becomes available without any event: come back when it does.
		p.res.RequeueAfter(wait)
	}
	return st
}

// oldestFirst orders a node's pods as kube's podByCreationTimestampAndPhase: bound before
// pinned only, then oldest first, then by name.
func oldestFirst(a, b *daemonPod) int {
	if (a.Spec.NodeName == "") != (b.Spec.NodeName == "") {
		if a.Spec.NodeName != "" {
			return -1
		}
		return 1
	}
	if c := a.Metadata.CreationTimestamp.Compare(b.Metadata.CreationTimestamp); c != 0 {
		return c
	}
	return strings.Compare(a.Metadata.Name, b.Metadata.Name)
}
