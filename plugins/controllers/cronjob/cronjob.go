// Package cronjob is the batch/v1 CronJob controller's decision: from a CronJob and the
// Jobs it owns, whether a scheduled run is due and which Jobs to create or delete for it and
// for the history limits, and the CronJob's status — as kube-controller-manager's cronjob
// controller (v2) decides them.
//
// A run is due at the latest schedule time after the last one (or the CronJob's creation)
// that is not after now; earlier missed times are skipped, as in kube, and more than 100 of
// them are reported. startingDeadlineSeconds moves that lower bound to now minus the
// deadline, so a run missed by longer is never started. The Job of a run is named
// <cronjob>-<scheduled time in Unix minutes>, which makes creating it twice impossible even
// when the status recording the run is lost. The reconcile asks to come back at the next
// schedule time.
//
// status.active is derived from the Jobs the host hands over (owned, unfinished, not being
// deleted) rather than kept as its own list, so a Job the status forgot is not left out;
// comparing with the list the status had yields the SawCompletedJob and MissingJob events.
//
// Schedules are read by github.com/robfig/cron/v3, the parser kube uses. spec.timeZone needs
// the tz database, which a wasip1 module cannot read from the host's files: the package
// embeds Go's copy (time/tzdata, about 400 kB of the module), so a zone name means the same
// natively and in wasm. Without a timeZone the schedule is read in UTC, the host's clock.
package cronjob

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	_ "time/tzdata" // see the package comment

	"github.com/robfig/cron/v3"

	"github.com/tugboat-io/tug/plugins/controllers/internal/workload"
	tug "github.com/tugboat-io/tug/sdk/go"
)

// ScheduledTimestampAnnotation is the annotation on each Job with the time it was scheduled
// for (RFC 3339, in the CronJob's time zone).
const ScheduledTimestampAnnotation = "batch.kubernetes.io/cronjob-scheduled-timestamp"

// JobKey is the key of the children.
var JobKey = tug.ObjectKey("batch/v1", "Job")

const (
	// maxMissed is how many missed schedule times pass silently; past it a warning says the
	// clock or startingDeadlineSeconds is likely wrong, as kube's does.
	maxMissed = 100
	// nextScheduleDelta is added to the wait for the next schedule time, so that the host's
	// clock is past it when the reconcile comes.
	nextScheduleDelta        = 100 * time.Millisecond
	defaultSuccessfulHistory = 3
	defaultFailedHistory     = 1
)

// errNeverRuns is a schedule with no time at all ("0 0 31 2 *").
var errNeverRuns = errors.New("the schedule has no next time")

type cronJob struct {
	Metadata workload.Meta `json:"metadata"`
	Spec     struct {
		Schedule                   string `json:"schedule"`
		TimeZone                   string `json:"timeZone,omitempty"`
		StartingDeadlineSeconds    *int64 `json:"startingDeadlineSeconds,omitempty"`
		ConcurrencyPolicy          string `json:"concurrencyPolicy,omitempty"`
		Suspend                    bool   `json:"suspend,omitempty"`
		SuccessfulJobsHistoryLimit *int32 `json:"successfulJobsHistoryLimit,omitempty"`
		FailedJobsHistoryLimit     *int32 `json:"failedJobsHistoryLimit,omitempty"`
		JobTemplate                struct {
			Metadata struct {
				Labels      map[string]string `json:"labels,omitempty"`
				Annotations map[string]string `json:"annotations,omitempty"`
			} `json:"metadata"`
			Spec json.RawMessage `json:"spec,omitempty"`
		} `json:"jobTemplate"`
	} `json:"spec"`
	Status Status `json:"status"`
}

// Status is a CronJob's status.
type Status struct {
	Active             []ObjectReference `json:"active,omitempty"`
	LastScheduleTime   *time.Time        `json:"lastScheduleTime,omitempty"`
	LastSuccessfulTime *time.Time        `json:"lastSuccessfulTime,omitempty"`
}

// ObjectReference names an active Job.
type ObjectReference struct {
	APIVersion string `json:"apiVersion,omitempty"`
	Kind       string `json:"kind,omitempty"`
	Namespace  string `json:"namespace,omitempty"`
	Name       string `json:"name,omitempty"`
	UID        string `json:"uid,omitempty"`
}

// job is what the CronJob reads of one of its Jobs.
type job struct {
	Metadata workload.Meta `json:"metadata"`
	Status   struct {
		StartTime      *time.Time `json:"startTime,omitempty"`
		CompletionTime *time.Time `json:"completionTime,omitempty"`
		Conditions     []struct {
			Type   string `json:"type"`
			Status string `json:"status"`
		} `json:"conditions,omitempty"`
	} `json:"status"`
}

// finished is the Job's terminal condition, Complete or Failed, or "" while it runs.
func (j *job) finished() string {
	for _, c := range j.Status.Conditions {
		if (c.Type == "Complete" || c.Type == "Failed") && c.Status == "True" {
			return c.Type
		}
	}
	return ""
}

// running reports whether the Job counts as active: unfinished and not being deleted.
func (j *job) running() bool { return j.finished() == "" && j.Metadata.DeletionTimestamp == nil }

// plan is one reconcile's working state.
type plan struct {
	cj      *cronJob
	now     time.Time
	jobs    []*job
	res     *tug.ReconcileResult
	deleted map[*job]bool
	created *ObjectReference
}

// Reconcile decides one CronJob.
func Reconcile(req *tug.ReconcileRequest) (*tug.ReconcileResult, error) {
	p := &plan{cj: &cronJob{}, now: req.Time(), res: &tug.ReconcileResult{}, deleted: map[*job]bool{}}
	if err := req.DecodeParent(p.cj); err != nil {
		return nil, err
	}
	for _, raw := range req.Children[JobKey] {
		j := &job{}
		if err := json.Unmarshal(raw, j); err != nil {
			return nil, fmt.Errorf("decode job: %w", err)
		}
		p.jobs = append(p.jobs, j)
	}
	st := p.observe()
	// Being deleted: the garbage collector takes the Jobs; only the status moves.
	if p.cj.Metadata.DeletionTimestamp == nil {
		if err := p.run(&st); err != nil {
			return nil, err
		}
		p.cleanup()
	}
	st.Active = p.active()
	return p.res, p.res.SetStatus(st)
}

// observe compares the Jobs with the active list of the status: the ones that finished or
// went missing are reported. It returns the status with lastSuccessfulTime moved to the
// latest completion.
func (p *plan) observe() Status {
	old := p.cj.Status
	st := Status{LastScheduleTime: old.LastScheduleTime, LastSuccessfulTime: old.LastSuccessfulTime}
	seen := make([]bool, len(old.Active))
	for _, j := range p.jobs {
		for i, ref := range old.Active {
			// A reference written with the Job's create has no UID yet.
			if ref.UID != "" && ref.UID == j.Metadata.UID || ref.UID == "" && ref.Name == j.Metadata.Name {
				seen[i] = true
				if c := j.finished(); c != "" {
					p.res.AddEvent("Normal", "SawCompletedJob", fmt.Sprintf("Saw completed job: %s, condition: %s", j.Metadata.Name, c))
				}
			}
		}
		if t := j.Status.CompletionTime; j.finished() == "Complete" && t != nil &&
			(st.LastSuccessfulTime == nil || t.After(*st.LastSuccessfulTime)) {
			st.LastSuccessfulTime = t
		}
	}
	for i, ref := range old.Active {
		if !seen[i] {
			p.res.AddEvent("Normal", "MissingJob", "Active job went missing: "+ref.Name)
		}
	}
	return st
}

// run starts the Job of the due schedule time, if one is due and the concurrency policy
// allows, and asks to come back at the next time.
func (p *plan) run(st *Status) error {
	cj := p.cj
	sched, loc, ok := p.schedule()
	if !ok || cj.Spec.Suspend {
		return nil
	}
	from := cj.Metadata.CreationTimestamp
	if st.LastScheduleTime != nil {
		from = *st.LastScheduleTime
	}
	if d := cj.Spec.StartingDeadlineSeconds; d != nil {
		if earliest := p.now.Add(-time.Duration(*d) * time.Second); earliest.After(from) {
			from = earliest
		}
	}
	due, many, err := dueTime(sched, from, p.now)
	if err != nil {
		p.res.AddEvent("Warning", "InvalidSchedule", fmt.Sprintf("invalid schedule: %s : %s", cj.Spec.Schedule, err))
		return nil
	}
	if next := sched.Next(p.now); !next.IsZero() {
		p.res.RequeueAfter(next.Sub(p.now) + nextScheduleDelta)
	}
	if due.IsZero() {
		return nil
	}
	if many {
		p.res.AddEvent("Warning", "TooManyMissedTimes", "too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew")
	}
	name := fmt.Sprintf("%s-%d", cj.Metadata.Name, due.Unix()/60)
	if st.LastScheduleTime != nil && st.LastScheduleTime.Equal(due) {
		return nil
	}
	due = due.UTC()
	if slices.ContainsFunc(p.jobs, func(j *job) bool { return j.Metadata.Name == name }) {
		// The run happened but its status was lost: record it, or every reconcile would
		// count the runs since the old time as missed.
		st.LastScheduleTime = &due
		return nil
	}
	running := slices.DeleteFunc(slices.Clone(p.jobs), func(j *job) bool { return !j.running() })
	switch cj.Spec.ConcurrencyPolicy {
	case "Forbid":
		if len(running) > 0 {
			// The run stays due: it starts when the active Job finishes, if still in time.
			p.res.AddEvent("Normal", "JobAlreadyActive", "Not starting job because prior execution is running and concurrency policy is Forbid")
			return nil
		}
	case "Replace":
		for _, j := range running {
			p.deleteJob(j)
		}
	}
	if err := p.res.Create(p.newJob(name, due, loc)); err != nil {
		return err
	}
	p.res.AddEvent("Normal", "SuccessfulCreate", "Created job "+name)
	p.created = &ObjectReference{APIVersion: "batch/v1", Kind: "Job", Namespace: cj.Metadata.Namespace, Name: name}
	st.LastScheduleTime = &due
	return nil
}

// schedule parses the schedule in the CronJob's time zone; a bad one is reported and runs
// nothing until the spec changes.
func (p *plan) schedule() (cron.Schedule, *time.Location, bool) {
	spec, tz := p.cj.Spec.Schedule, p.cj.Spec.TimeZone
	loc, err := time.LoadLocation(tz) // "" is UTC
	if err != nil {
		// Not err's text: under wasip1 it is the failed read of the host's zoneinfo files
		// ("Bad file number"), which would only mislead.
		p.res.AddEvent("Warning", "UnknownTimeZone", fmt.Sprintf("invalid timeZone: %q: not a zone of the tz database", tz))
		return nil, nil, false
	}
	if tz != "" {
		if strings.Contains(spec, "TZ=") {
			p.res.AddEvent("Warning", "UnsupportedSchedule", fmt.Sprintf("CRON_TZ or TZ used in schedule %q is not officially supported, see https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/ for more details", spec))
		} else {
			spec = "TZ=" + tz + " " + spec
		}
	}
	sched, err := cron.ParseStandard(spec)
	if err != nil {
		p.res.AddEvent("Warning", "UnparseableSchedule", fmt.Sprintf("unparseable schedule: %q : %s", p.cj.Spec.Schedule, err))
		return nil, nil, false
	}
	return sched, loc, true
}

// dueTime is the latest schedule time in (from, now], zero when there is none, and whether
// more than maxMissed times fall in there.
func dueTime(s cron.Schedule, from, now time.Time) (time.Time, bool, error) {
	t := s.Next(from)
	if t.IsZero() {
		return time.Time{}, false, errNeverRuns
	}
	var last time.Time
	for n := 0; !t.IsZero() && !t.After(now); n++ {
		if n == maxMissed {
			return latest(s, from, now), true, nil
		}
		last, t = t, s.Next(t)
	}
	return last, false, nil
}

// latest is the latest schedule time in (from, now] when there are too many to walk
// through: it looks back from now over a doubling span until the span holds a time, then
// walks that span.
func latest(s cron.Schedule, from, now time.Time) time.Time {
	t1 := s.Next(from)
	span := max(s.Next(t1).Sub(t1), time.Second)
	start := now.Add(-span)
	// The cron parser finds no time more than five years on, so a longer span is pointless.
	for start.After(from) && span < 5*365*24*time.Hour && s.Next(start).After(now) {
		span *= 2
		start = now.Add(-span)
	}
	if start.Before(from) {
		start = from
	}
	var last time.Time
	for t := s.Next(start); !t.IsZero() && !t.After(now); t = s.Next(t) {
		last = t
	}
	return last
}

// newJob is the Job of a run: the template's labels, annotations and spec, named after
// the scheduled time.
func (p *plan) newJob(name string, scheduled time.Time, loc *time.Location) map[string]any {
	tmpl := p.cj.Spec.JobTemplate
	annotations := map[string]string{}
	for k, v := range tmpl.Metadata.Annotations {
		annotations[k] = v
	}
	annotations[ScheduledTimestampAnnotation] = scheduled.In(loc).Format(time.RFC3339)
	meta := map[string]any{"name": name, "annotations": annotations}
	if len(tmpl.Metadata.Labels) > 0 {
		meta["labels"] = tmpl.Metadata.Labels
	}
	obj := map[string]any{"apiVersion": "batch/v1", "kind": "Job", "metadata": meta}
	if len(tmpl.Spec) > 0 {
		obj["spec"] = tmpl.Spec
	}
	return obj
}

// cleanup deletes the oldest finished Jobs beyond the history limits.
func (p *plan) cleanup() {
	var succeeded, failed []*job
	for _, j := range p.jobs {
		if j.Metadata.DeletionTimestamp != nil {
			continue
		}
		switch j.finished() {
		case "Complete":
			succeeded = append(succeeded, j)
		case "Failed":
			failed = append(failed, j)
		}
	}
	p.trim(succeeded, p.cj.Spec.SuccessfulJobsHistoryLimit, defaultSuccessfulHistory)
	p.trim(failed, p.cj.Spec.FailedJobsHistoryLimit, defaultFailedHistory)
}

func (p *plan) trim(jobs []*job, limit *int32, def int) {
	keep := def
	if limit != nil {
		keep = int(max(*limit, 0))
	}
	if len(jobs) <= keep {
		return
	}
	slices.SortStableFunc(jobs, olderFirst)
	for _, j := range jobs[:len(jobs)-keep] {
		p.deleteJob(j)
	}
}

// olderFirst orders Jobs by start time, unstarted ones last, then by name.
func olderFirst(a, b *job) int {
	sa, sb := a.Status.StartTime, b.Status.StartTime
	switch {
	case sa == nil && sb != nil:
		return 1
	case sa != nil && sb == nil:
		return -1
	case sa != nil && !sa.Equal(*sb):
		return sa.Compare(*sb)
	}
	return strings.Compare(a.Metadata.Name, b.Metadata.Name)
}

func (p *plan) deleteJob(j *job) {
	if p.deleted[j] {
		return
	}
	p.deleted[j] = true
	p.res.Delete("batch/v1", "Job", j.Metadata.Name, j.Metadata.UID)
	p.res.AddEvent("Normal", "SuccessfulDelete", "Deleted job "+j.Metadata.Name)
}

// active is status.active: the running Jobs not deleted now and the one created now, by
// name — which, for the CronJob's own Jobs, is by scheduled time.
func (p *plan) active() []ObjectReference {
	var refs []ObjectReference
	for _, j := range p.jobs {
		if j.running() && !p.deleted[j] {
			refs = append(refs, ObjectReference{APIVersion: "batch/v1", Kind: "Job",
				Namespace: cmp.Or(j.Metadata.Namespace, p.cj.Metadata.Namespace), Name: j.Metadata.Name, UID: j.Metadata.UID})
		}
	}
	if p.created != nil {
		refs = append(refs, *p.created)
	}
	slices.SortFunc(refs, func(a, b ObjectReference) int { return strings.Compare(a.Name, b.Name) })
	return refs
}
