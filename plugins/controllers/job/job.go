// Package job is the batch/v1 Job controller's decision: from a Job and the pods it owns,
// which pods to create or delete, and the Job's status and conditions — as
// kube-controller-manager's job controller decides them, so that kubectl wait
// --for=condition=complete and kubectl describe job work unchanged.
//
// Finished pods stay and are what the Job counts: succeeded and failed come from the pods
// the host observes, never below what the status already says, so a finished pod removed
// by someone else does not undo progress. That counting is why a Job can be decided from
// its pods alone; kube tracks the same with pod finalizers, which a pure decision does not
// need because the host hands every owned pod over, finished or not.
//
// Finishing takes two steps, as in kube since 1.31: the decision is recorded first
// (condition FailureTarget or SuccessCriteriaMet), the pods still running are deleted, and
// the terminal condition (Failed or Complete) follows once no pod of the Job is running or
// terminating. The conditions are in the status the host persists, so the two steps may
// land in different reconciles. A finished Job is left alone except for pods still running
// and its ttlSecondsAfterFinished, past which it asks the host to delete it (DeleteParent).
//
// Left out, as kube features beyond the core Job: podFailurePolicy, backoffLimitPerIndex,
// successPolicy and podReplacementPolicy Failed (terminating pods are never waited for
// before a replacement is created, kube's default TerminatingOrFailed).
package job

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/tugboat-io/tug/plugins/controllers/internal/workload"
	tug "github.com/tugboat-io/tug/sdk/go"
)

// Labels and annotations kube's job controller puts on its pods.
const (
	JobNameLabel              = "batch.kubernetes.io/job-name"
	LegacyJobNameLabel        = "job-name"
	ControllerUIDLabel        = "batch.kubernetes.io/controller-uid"
	LegacyControllerUIDLabel  = "controller-uid"
	CompletionIndexAnnotation = "batch.kubernetes.io/job-completion-index"
	// CompletionIndexEnv is the variable an Indexed Job's containers read their index from.
	CompletionIndexEnv = "JOB_COMPLETION_INDEX"
)

// ManagedBy is the spec.managedBy of Jobs this controller decides; a Job naming another
// manager is left to it.
const ManagedBy = "kubernetes.io/job-controller"

// Condition types and the reasons this controller gives them.
const (
	Complete           = "Complete"
	Failed             = "Failed"
	FailureTarget      = "FailureTarget"
	SuccessCriteriaMet = "SuccessCriteriaMet"
	Suspended          = "Suspended"

	ReasonBackoffLimitExceeded = "BackoffLimitExceeded"
	ReasonDeadlineExceeded     = "DeadlineExceeded"
	ReasonCompletionsReached   = "CompletionsReached"
)

const (
	// MaxPodChanges bounds the pods one reconcile creates, as kube's
	// MaxPodCreateDeletePerSync does; the host reconciles again when they show up.
	MaxPodChanges       = 500
	defaultBackoffLimit = 6
	// A failed pod is replaced after 10s, doubling with each failure since the last
	// success up to 6 minutes: kube's DefaultJobPodFailureBackOff and its maximum.
	podFailureBackoff    = 10 * time.Second
	maxPodFailureBackoff = 6 * time.Minute
)

// PodKey is the key of the children.
var PodKey = tug.ObjectKey("v1", "Pod")

type job struct {
	Metadata workload.Meta `json:"metadata"`
	Spec     struct {
		Parallelism             *int32          `json:"parallelism,omitempty"`
		Completions             *int32          `json:"completions,omitempty"`
		CompletionMode          string          `json:"completionMode,omitempty"`
		BackoffLimit            *int32          `json:"backoffLimit,omitempty"`
		ActiveDeadlineSeconds   *int64          `json:"activeDeadlineSeconds,omitempty"`
		Suspend                 bool            `json:"suspend,omitempty"`
		TTLSecondsAfterFinished *int32          `json:"ttlSecondsAfterFinished,omitempty"`
		ManagedBy               string          `json:"managedBy,omitempty"`
		Template                json.RawMessage `json:"template,omitempty"`
	} `json:"spec"`
	Status Status `json:"status"`
}

// Status is a Job's status.
type Status struct {
	Conditions       []Condition `json:"conditions,omitempty"`
	StartTime        *time.Time  `json:"startTime,omitempty"`
	CompletionTime   *time.Time  `json:"completionTime,omitempty"`
	Active           int32       `json:"active,omitempty"`
	Succeeded        int32       `json:"succeeded,omitempty"`
	Failed           int32       `json:"failed,omitempty"`
	Terminating      *int32      `json:"terminating,omitempty"`
	CompletedIndexes string      `json:"completedIndexes,omitempty"`
	Ready            *int32      `json:"ready,omitempty"`
}

// Condition is a Job's condition.
type Condition struct {
	Type               string    `json:"type"`
	Status             string    `json:"status"`
	LastProbeTime      time.Time `json:"lastProbeTime,omitzero"`
	LastTransitionTime time.Time `json:"lastTransitionTime,omitzero"`
	Reason             string    `json:"reason,omitempty"`
	Message            string    `json:"message,omitempty"`
}

// plan is one reconcile's working state.
type plan struct {
	j    *job
	now  time.Time
	tmpl workload.Template
	pods []*pod
	res  *tug.ReconcileResult
	// deleted are the pods this reconcile deletes, so that nothing deletes one twice.
	deleted map[*pod]bool
}

// Reconcile decides one Job.
func Reconcile(req *tug.ReconcileRequest) (*tug.ReconcileResult, error) {
	p := &plan{j: &job{}, now: req.Time(), res: &tug.ReconcileResult{}, deleted: map[*pod]bool{}}
	if err := req.DecodeParent(p.j); err != nil {
		return nil, err
	}
	j := p.j
	if j.Spec.ManagedBy != "" && j.Spec.ManagedBy != ManagedBy {
		return p.res, nil
	}
	if j.indexed() && j.Spec.Completions == nil {
		// Validation refuses such a Job; one that got past it is reported, not guessed at.
		p.res.AddEvent("Warning", "InvalidSpec", "spec.completions: required for completionMode Indexed")
		return p.res, nil
	}
	var err error
	if p.tmpl, err = workload.DecodeTemplate(j.Spec.Template); err != nil {
		return nil, err
	}
	if p.pods, err = decodePods(req.Children[PodKey], j.completions()); err != nil {
		return nil, err
	}

	// A finished Job keeps the status it finished with, as kube's does.
	if c := finishedCondition(j.Status.Conditions); c != nil {
		p.deletePods(p.active())
		if !c.LastTransitionTime.IsZero() {
			p.expire(c.LastTransitionTime, false)
		}
		return p.res, nil
	}

	// Times in status are whole seconds, as the API stores them: a time that round-trips
	// unchanged keeps the host from rewriting the status on every reconcile.
	stamp := p.now.UTC().Truncate(time.Second)
	st := p.count()
	p.suspension(&st, stamp)

	target := trueCondition(st.Conditions, FailureTarget)
	if target == nil {
		target = trueCondition(st.Conditions, SuccessCriteriaMet)
	}
	if target == nil {
		if reason, msg := p.failure(&st); reason != "" {
			target = setCondition(&st.Conditions, stamp, FailureTarget, "True", reason, msg)
		} else if p.succeeded(&st) {
			target = setCondition(&st.Conditions, stamp, SuccessCriteriaMet, "True", ReasonCompletionsReached, "Reached expected number of succeeded pods")
		}
	}

	switch {
	case target != nil:
		p.finish(&st, *target, stamp)
	case j.Metadata.DeletionTimestamp != nil:
		// Being deleted: the garbage collector takes the pods; only the status moves.
	case j.Spec.Suspend:
		p.deletePods(p.active())
	default:
		if err := p.manage(&st); err != nil {
			return nil, err
		}
		p.requeueAtDeadline(&st)
	}
	return p.res, p.res.SetStatus(st)
}

func (j *job) indexed() bool { return j.Spec.CompletionMode == "Indexed" }

// completions is spec.completions, -1 for a work queue (unset).
func (j *job) completions() int32 {
	if j.Spec.Completions != nil {
		return *j.Spec.Completions
	}
	// Defaulting makes a Job that sets neither parallelism nor completions run one pod to
	// one completion; the API server does it, this covers one that did not.
	if j.Spec.Parallelism == nil {
		return 1
	}
	return -1
}

func (j *job) parallelism() int32 {
	if j.Spec.Parallelism != nil {
		return *j.Spec.Parallelism
	}
	return 1
}

// count is the status as the observed pods make it, with the times and conditions the Job
// already has.
func (p *plan) count() Status {
	old := p.j.Status
	st := Status{StartTime: old.StartTime, Conditions: slices.Clone(old.Conditions)}
	var ready, terminating int32
	var succeeded, failed int32
	for _, q := range p.pods {
		switch {
		case q.Status.Phase == workload.PodSucceeded:
			succeeded++
		case q.Status.Phase == workload.PodFailed:
			failed++
		case q.Metadata.DeletionTimestamp != nil:
			terminating++
		default:
			st.Active++
			if q.Ready() {
				ready++
			}
		}
	}
	st.Ready, st.Terminating = &ready, &terminating
	st.Failed = max(old.Failed, failed)
	if p.j.indexed() {
		done := p.completedIndexes()
		st.Succeeded = int32(done.count())
		st.CompletedIndexes = done.String()
	} else {
		st.Succeeded = max(old.Succeeded, succeeded)
	}
	return st
}

// suspension moves the Suspended condition; resuming restarts the clock of
// activeDeadlineSeconds, which counts the time a Job is continuously allowed to run.
func (p *plan) suspension(st *Status, stamp time.Time) {
	if p.j.Spec.Suspend {
		if setCondition(&st.Conditions, stamp, Suspended, "True", "JobSuspended", "Job suspended") != nil {
			p.res.AddEvent("Normal", "Suspended", "Job suspended")
		}
		return
	}
	if c := trueCondition(st.Conditions, Suspended); c != nil {
		setCondition(&st.Conditions, stamp, Suspended, "False", "JobResumed", "Job resumed")
		p.res.AddEvent("Normal", "Resumed", "Job resumed")
		st.StartTime = &stamp
	}
	if st.StartTime == nil {
		st.StartTime = &stamp
	}
}

// failure is why the Job fails now, if it does: more failed pods than backoffLimit (or, for
// pods restarted in place, as many container restarts), or running past its deadline.
func (p *plan) failure(st *Status) (reason, msg string) {
	limit := int32(defaultBackoffLimit)
	if p.j.Spec.BackoffLimit != nil {
		limit = *p.j.Spec.BackoffLimit
	}
	if st.Failed > limit || p.restartsExceed(limit) {
		return ReasonBackoffLimitExceeded, "Job has reached the specified backoff limit"
	}
	if left, ok := p.deadlineLeft(st); ok && left <= 0 {
		return ReasonDeadlineExceeded, "Job was active longer than specified deadline"
	}
	return "", ""
}

// restartsExceed reports whether the restarts of a restartPolicy OnFailure Job's running
// pods reach the backoff limit: their failures never make a Failed pod.
func (p *plan) restartsExceed(limit int32) bool {
	spec, _ := p.tmpl["spec"].(map[string]any)
	if spec["restartPolicy"] != "OnFailure" {
		return false
	}
	var n int32
	for _, q := range p.pods {
		if q.Status.Phase == workload.PodRunning || q.Status.Phase == workload.PodPending {
			n += q.restarts
		}
	}
	if limit == 0 {
		return n > 0
	}
	return n >= limit
}

// deadlineLeft is the time until activeDeadlineSeconds passes, if the Job has a running
// deadline.
func (p *plan) deadlineLeft(st *Status) (time.Duration, bool) {
	d := p.j.Spec.ActiveDeadlineSeconds
	if d == nil || st.StartTime == nil || p.j.Spec.Suspend {
		return 0, false
	}
	return st.StartTime.Add(time.Duration(*d) * time.Second).Sub(p.now), true
}

func (p *plan) requeueAtDeadline(st *Status) {
	if left, ok := p.deadlineLeft(st); ok && left > 0 {
		p.res.RequeueAfter(left)
	}
}

// succeeded reports whether the Job reached its completions; a work queue is done when a
// pod succeeded and none runs any more.
func (p *plan) succeeded(st *Status) bool {
	if c := p.j.completions(); c >= 0 {
		return st.Succeeded >= c
	}
	return st.Succeeded > 0 && st.Active == 0
}

// finish carries out a decision to finish: stop the pods still running, and once none runs
// or terminates, add the terminal condition.
func (p *plan) finish(st *Status, target Condition, stamp time.Time) {
	active := p.active()
	p.deletePods(active)
	if len(active) > 0 || *st.Terminating > 0 {
		return
	}
	if target.Type == SuccessCriteriaMet {
		setCondition(&st.Conditions, stamp, Complete, "True", target.Reason, target.Message)
		st.CompletionTime = &stamp
		p.res.AddEvent("Normal", "Completed", "Job completed")
	} else {
		setCondition(&st.Conditions, stamp, Failed, "True", target.Reason, target.Message)
		p.res.AddEvent("Warning", target.Reason, target.Message)
	}
	p.expire(stamp, true)
}

// expire deletes the finished Job once ttlSecondsAfterFinished passed since it finished,
// and comes back then until it has. The reconcile that finishes the Job only comes back, so
// that its status and events land before the Job goes.
func (p *plan) expire(finished time.Time, justFinished bool) {
	ttl := p.j.Spec.TTLSecondsAfterFinished
	if ttl == nil || p.j.Metadata.DeletionTimestamp != nil {
		return
	}
	left := finished.Add(time.Duration(*ttl) * time.Second).Sub(p.now)
	if left <= 0 && !justFinished {
		p.res.DeleteParent = true
		return
	}
	p.res.RequeueAfter(left)
}

// manage creates and deletes pods so that as many run as the Job wants now.
func (p *plan) manage(st *Status) error {
	if p.j.indexed() {
		return p.manageIndexed(st)
	}
	active := p.active()
	want := p.j.parallelism()
	if c := p.j.completions(); c >= 0 {
		want = min(want, max(c-st.Succeeded, 0))
	} else if st.Succeeded > 0 {
		// A work queue with a success makes no new pods; the running ones finish.
		want = int32(len(active))
	}
	switch diff := int(want) - len(active); {
	case diff < 0:
		slices.SortStableFunc(active, deleteFirst)
		p.deletePods(active[:-diff])
	case diff > 0:
		if wait := p.backoff(); wait > 0 {
			p.res.RequeueAfter(wait)
			return nil
		}
		n := min(diff, MaxPodChanges)
		for range n {
			if err := p.res.Create(p.newPod(-1)); err != nil {
				return err
			}
		}
		p.res.AddEvent("Normal", "SuccessfulCreate", "Created "+plural(n, "pod"))
	}
	return nil
}

// manageIndexed keeps one running pod per index that has not succeeded, lowest indexes
// first, at most parallelism of them.
func (p *plan) manageIndexed(st *Status) error {
	completions := int(*p.j.Spec.Completions)
	done := p.completedIndexes()
	byIndex := map[int][]*pod{}
	var drop []*pod
	for _, q := range p.active() {
		// A pod without a valid index, or of an index that already succeeded, is of no use.
		if q.index < 0 || done.has(q.index) {
			drop = append(drop, q)
			continue
		}
		byIndex[q.index] = append(byIndex[q.index], q)
	}
	running := make([]int, 0, len(byIndex))
	for ix, qs := range byIndex {
		// Of two pods of one index the most useful stays.
		slices.SortStableFunc(qs, deleteFirst)
		drop = append(drop, qs[:len(qs)-1]...)
		running = append(running, ix)
	}
	slices.Sort(running)
	want := min(int(p.j.parallelism()), completions-done.count())
	if extra := len(running) - want; extra > 0 {
		// Past parallelism the highest indexes stop, as in kube.
		for _, ix := range running[len(running)-extra:] {
			drop = append(drop, byIndex[ix]...)
		}
		running = running[:want]
	}
	p.deletePods(drop)

	n := min(want-len(running), MaxPodChanges)
	if n <= 0 {
		return nil
	}
	if wait := p.backoff(); wait > 0 {
		p.res.RequeueAfter(wait)
		return nil
	}
	created := newIndexSet(completions)
	for ix := 0; ix < completions && n > 0; ix++ {
		if done.has(ix) || slices.Contains(running, ix) {
			continue
		}
		if err := p.res.Create(p.newPod(ix)); err != nil {
			return err
		}
		created.add(ix)
		n--
	}
	p.res.AddEvent("Normal", "SuccessfulCreate", fmt.Sprintf("Created %s for indexes %s", plural(created.count(), "pod"), created))
	return nil
}

// completedIndexes are the indexes with a succeeded pod, and those the status already
// lists (their pods may be gone).
func (p *plan) completedIndexes() indexSet {
	done := parseIndexSet(p.j.Status.CompletedIndexes, int(*p.j.Spec.Completions))
	for _, q := range p.pods {
		if q.Status.Phase == workload.PodSucceeded && q.index >= 0 {
			done.add(q.index)
		}
	}
	return done
}

// backoff is how long to wait before replacing failed pods: it doubles with each failure
// since the last success, counted from the latest failure.
func (p *plan) backoff() time.Duration {
	var lastSuccess, lastFailure time.Time
	for _, q := range p.pods {
		if q.Status.Phase == workload.PodSucceeded && q.finished.After(lastSuccess) {
			lastSuccess = q.finished
		}
	}
	n := 0
	for _, q := range p.pods {
		if q.Status.Phase == workload.PodFailed && q.finished.After(lastSuccess) {
			n++
			if q.finished.After(lastFailure) {
				lastFailure = q.finished
			}
		}
	}
	if n == 0 {
		return 0
	}
	delay := maxPodFailureBackoff
	if n <= 6 { // 10s·2⁵ already passes the cap
		delay = min(podFailureBackoff<<(n-1), maxPodFailureBackoff)
	}
	return max(lastFailure.Add(delay).Sub(p.now), 0)
}

// active are the pods running or about to: neither finished nor being deleted.
func (p *plan) active() []*pod {
	var out []*pod
	for _, q := range p.pods {
		if q.Active() {
			out = append(out, q)
		}
	}
	return out
}

func (p *plan) deletePods(pods []*pod) {
	for _, q := range pods {
		if p.deleted[q] {
			continue
		}
		p.deleted[q] = true
		p.res.Delete("v1", "Pod", q.Metadata.Name, q.Metadata.UID)
		p.res.AddEvent("Normal", "SuccessfulDelete", "Deleted pod: "+q.Metadata.Name)
	}
}

// newPod is a pod of the template with the Job's labels; of an Indexed Job (index ≥ 0)
// also its index, as annotation, label, environment variable and hostname.
func (p *plan) newPod(index int) map[string]any {
	name, uid := p.j.Metadata.Name, p.j.Metadata.UID
	t := p.tmpl.WithLabel(JobNameLabel, name).WithLabel(LegacyJobNameLabel, name).
		WithLabel(ControllerUIDLabel, uid).WithLabel(LegacyControllerUIDLabel, uid)
	if index < 0 {
		return t.Pod(name + "-")
	}
	ix := strconv.Itoa(index)
	pod := t.WithLabel(CompletionIndexAnnotation, ix).WithAnnotation(CompletionIndexAnnotation, ix).Pod(name + "-" + ix + "-")
	spec := p.tmpl.Spec()
	if h, _ := spec["hostname"].(string); h == "" {
		spec["hostname"] = name + "-" + ix
	}
	for _, key := range []string{"initContainers", "containers"} {
		if cs, ok := spec[key].([]any); ok {
			spec[key] = withIndexEnv(cs)
		}
	}
	pod["spec"] = spec
	return pod
}

// withIndexEnv adds JOB_COMPLETION_INDEX, read from the pod's annotation, to containers
// that do not set it themselves.
func withIndexEnv(containers []any) []any {
	out := make([]any, len(containers))
	for i, c := range containers {
		m, ok := c.(map[string]any)
		if !ok {
			out[i] = c
			continue
		}
		env, _ := m["env"].([]any)
		if slices.ContainsFunc(env, func(e any) bool {
			em, _ := e.(map[string]any)
			return em["name"] == CompletionIndexEnv
		}) {
			out[i] = m
			continue
		}
		m["env"] = append(slices.Clone(env), map[string]any{"name": CompletionIndexEnv, "valueFrom": map[string]any{
			"fieldRef": map[string]any{"fieldPath": "metadata.annotations['" + CompletionIndexAnnotation + "']"}}})
		out[i] = m
	}
	return out
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

// finishedCondition is the Job's terminal condition, if it has one.
func finishedCondition(conds []Condition) *Condition {
	if c := trueCondition(conds, Complete); c != nil {
		return c
	}
	return trueCondition(conds, Failed)
}

func trueCondition(conds []Condition, typ string) *Condition {
	for i := range conds {
		if conds[i].Type == typ && conds[i].Status == "True" {
			return &conds[i]
		}
	}
	return nil
}

// setCondition sets a condition as kube's job controller does: a change of status, reason
// or message rewrites it with both times now, and a False condition is not added where
// there is none. It returns the condition when it changed.
func setCondition(conds *[]Condition, now time.Time, typ, status, reason, msg string) *Condition {
	c := Condition{Type: typ, Status: status, Reason: reason, Message: msg, LastProbeTime: now, LastTransitionTime: now}
	for i := range *conds {
		old := &(*conds)[i]
		if old.Type != typ {
			continue
		}
		if old.Status == status && old.Reason == reason && old.Message == msg {
			return nil
		}
		*old = c
		return old
	}
	if status == "False" {
		return nil
	}
	*conds = append(*conds, c)
	return &(*conds)[len(*conds)-1]
}
