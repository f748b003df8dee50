package cronjob_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tugboat-io/tug/plugins/controllers/cronjob"
	"github.com/tugboat-io/tug/plugins/controllers/internal/testutil"
	"github.com/tugboat-io/tug/plugins/controllers/internal/workload"
	tug "github.com/tugboat-io/tug/sdk/go"
)

// now is five seconds past 10:00 UTC, a time every schedule below fires at.
var now = time.Date(2026, 11, 22, 10, 0, 5, 0, time.UTC)

func at(hh, mm int) time.Time { return time.Date(2026, 11, 22, hh, mm, 0, 0, time.UTC) }

func stamp(t time.Time) string { return t.Format(time.RFC3339) }

// jobName is the name of the CronJob's Job scheduled at t.
func jobName(t time.Time) string { return fmt.Sprintf("hello-%d", t.Unix()/60) }

// cj is a CronJob created a day ago with the spec fields given and the status given.
func cj(spec, status string) string {
	if spec != "" {
		spec += ","
	}
	return fmt.Sprintf(`{"apiVersion":"batch/v1","kind":"CronJob","metadata":{"name":"hello","namespace":"default","uid":"cj-1","creationTimestamp":%q},
	"spec":{%s"jobTemplate":{"metadata":{"labels":{"app":"hello"},"annotations":{"a":"b"}},
	"spec":{"backoffLimit":2,"template":{"spec":{"restartPolicy":"OnFailure","containers":[{"name":"c","image":"busybox"}]}}}}},
	"status":{%s}}`, stamp(now.Add(-24*time.Hour)), spec, status)
}

// last is a status whose last run was at t.
func last(t time.Time) string { return fmt.Sprintf(`"lastScheduleTime":%q`, stamp(t)) }

// job is an owned Job; finished is "", "Complete" or "Failed", started when it started.
func job(name, finished string, started time.Time) string {
	st := fmt.Sprintf(`"startTime":%q`, stamp(started))
	if finished != "" {
		st += fmt.Sprintf(`,"conditions":[{"type":%q,"status":"True"}]`, finished)
		if finished == "Complete" {
			st += fmt.Sprintf(`,"completionTime":%q`, stamp(started.Add(time.Minute)))
		}
	}
	return fmt.Sprintf(`{"apiVersion":"batch/v1","kind":"Job","metadata":{"name":%q,"namespace":"default","uid":"u-%[1]s"},"status":{%s}}`, name, st)
}

func request(parent string, jobs ...string) *tug.ReconcileRequest {
	return &tug.ReconcileRequest{Parent: json.RawMessage(parent), Now: now.Format(time.RFC3339Nano),
		Children: map[string][]json.RawMessage{cronjob.JobKey: testutil.Raw(jobs...)}}
}

func status(t *testing.T, res *tug.ReconcileResult) cronjob.Status {
	return testutil.Decode[cronjob.Status](t, res.Status)
}

func active(st cronjob.Status) string {
	var out []string
	for _, r := range st.Active {
		out = append(out, r.Name)
	}
	return strings.Join(out, ",")
}

func deleted(res *tug.ReconcileResult) string {
	var out []string
	for _, d := range res.Deletes {
		if d.Kind != "Job" || d.UID != "u-"+d.Name {
			return fmt.Sprintf("delete %+v lacks its kind or uid precondition", d)
		}
		out = append(out, d.Name)
	}
	return strings.Join(out, ",")
}

type createdJob struct {
	APIVersion string          `json:"apiVersion"`
	Kind       string          `json:"kind"`
	Metadata   workload.Meta   `json:"metadata"`
	Spec       json.RawMessage `json:"spec"`
}

// createdNames are the names of the Jobs created.
func createdNames(t *testing.T, res *tug.ReconcileResult) string {
	t.Helper()
	var out []string
	for _, j := range testutil.DecodeAll[createdJob](t, res.Creates) {
		out = append(out, j.Metadata.Name)
	}
	return strings.Join(out, ",")
}

func TestRunsAtScheduleTime(t *testing.T) {
	res := testutil.Reconcile(t, "CronJob", request(cj(`"schedule":"*/5 * * * *"`, last(at(9, 55)))))
	if len(res.Creates) != 1 {
		t.Fatalf("creates %d, want 1", len(res.Creates))
	}
	j := testutil.Decode[createdJob](t, res.Creates[0])
	if j.APIVersion != "batch/v1" || j.Kind != "Job" || j.Metadata.Name != jobName(at(10, 0)) ||
		j.Metadata.Labels["app"] != "hello" || j.Metadata.Annotations["a"] != "b" ||
		j.Metadata.Annotations[cronjob.ScheduledTimestampAnnotation] != "2026-11-22T10:00:00Z" ||
		!strings.Contains(string(j.Spec), `"backoffLimit":2`) || !strings.Contains(string(j.Spec), `"image":"busybox"`) {
		t.Fatalf("created job %s is not the template's for 10:00", res.Creates[0])
	}
	st := status(t, res)
	if !st.LastScheduleTime.Equal(at(10, 0)) || active(st) != jobName(at(10, 0)) || st.Active[0].Kind != "Job" || st.Active[0].Namespace != "default" {
		t.Fatalf("status %s", res.Status)
	}
	if testutil.Reasons(res) != "SuccessfulCreate" {
		t.Fatalf("events %s", testutil.Reasons(res))
	}
	if want := at(10, 5).Sub(now).Seconds() + 0.1; res.RequeueAfterSeconds != want {
		t.Fatalf("requeue after %vs, want %vs (10:05)", res.RequeueAfterSeconds, want)
	}
}

func TestNothingDueWaitsForTheNextTime(t *testing.T) {
	res := testutil.Reconcile(t, "CronJob", request(cj(`"schedule":"*/5 * * * *"`, last(at(10, 0))), job(jobName(at(10, 0)), "", at(10, 0))))
	if len(res.Creates) != 0 || res.RequeueAfterSeconds != at(10, 5).Sub(now).Seconds()+0.1 {
		t.Fatalf("creates %d, requeue %vs", len(res.Creates), res.RequeueAfterSeconds)
	}
	if st := status(t, res); active(st) != jobName(at(10, 0)) || st.Active[0].UID != "u-"+jobName(at(10, 0)) {
		t.Fatalf("status %s", res.Status)
	}
}

func TestJobOfTheRunIsNotCreatedTwice(t *testing.T) {
	// The status recording the run was lost; the Job's name remembers it.
	res := testutil.Reconcile(t, "CronJob", request(cj(`"schedule":"*/5 * * * *"`, last(at(9, 55))), job(jobName(at(10, 0)), "", at(10, 0))))
	if len(res.Creates) != 0 {
		t.Fatalf("created %s again", createdNames(t, res))
	}
	if st := status(t, res); st.LastScheduleTime == nil || !st.LastScheduleTime.Equal(at(10, 0)) {
		t.Fatalf("status %s does not record the 10:00 run", res.Status)
	}
}

func TestMissedRunsStartOnlyTheLatest(t *testing.T) {
	res := testutil.Reconcile(t, "CronJob", request(cj(`"schedule":"0 * * * *"`, last(at(6, 0)))))
	if got := createdNames(t, res); got != jobName(at(10, 0)) || testutil.Reasons(res) != "SuccessfulCreate" {
		t.Fatalf("created %q events %s, want only the 10:00 run", got, testutil.Reasons(res))
	}
}

func TestTooManyMissedRuns(t *testing.T) {
	// Created a day ago and never run: 1440 minutes missed.
	res := testutil.Reconcile(t, "CronJob", request(cj(`"schedule":"* * * * *"`, "")))
	if got := createdNames(t, res); got != jobName(at(10, 0)) || testutil.Reasons(res) != "TooManyMissedTimes,SuccessfulCreate" {
		t.Fatalf("created %q events %s", got, testutil.Reasons(res))
	}
	// A starting deadline bounds the runs considered.
	res = testutil.Reconcile(t, "CronJob", request(cj(`"schedule":"* * * * *","startingDeadlineSeconds":300`, "")))
	if got := createdNames(t, res); got != jobName(at(10, 0)) || testutil.Reasons(res) != "SuccessfulCreate" {
		t.Fatalf("with a deadline: created %q events %s", got, testutil.Reasons(res))
	}
}

func TestStartingDeadline(t *testing.T) {
	for _, tc := range []struct {
		name     string
		deadline int
		created  string
	}{
		{"within the deadline", 10, jobName(at(10, 0))},
		{"past the deadline", 3, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := testutil.Reconcile(t, "CronJob", request(cj(fmt.Sprintf(`"schedule":"@hourly","startingDeadlineSeconds":%d`, tc.deadline), last(at(9, 0)))))
			if got := createdNames(t, res); got != tc.created {
				t.Fatalf("created %q, want %q", got, tc.created)
			}
			if want := at(11, 0).Sub(now).Seconds() + 0.1; res.RequeueAfterSeconds != want {
				t.Fatalf("requeue %vs, want %vs", res.RequeueAfterSeconds, want)
			}
		})
	}
}

func TestConcurrencyPolicy(t *testing.T) {
	prev := jobName(at(9, 55))
	for _, tc := range []struct {
		policy, prevState    string
		created, deleted     string
		active, eventReasons string
	}{
		{"Allow", "", jobName(at(10, 0)), "", prev + "," + jobName(at(10, 0)), "SuccessfulCreate"},
		{"Forbid", "", "", "", prev, "JobAlreadyActive"},
		{"Forbid", "Complete", jobName(at(10, 0)), "", jobName(at(10, 0)), "SuccessfulCreate"},
		{"Replace", "", jobName(at(10, 0)), prev, jobName(at(10, 0)), "SuccessfulDelete,SuccessfulCreate"},
	} {
		t.Run(tc.policy+" "+tc.prevState, func(t *testing.T) {
			res := testutil.Reconcile(t, "CronJob", request(cj(fmt.Sprintf(`"schedule":"*/5 * * * *","concurrencyPolicy":%q`, tc.policy), last(at(9, 55))),
				job(prev, tc.prevState, at(9, 55))))
			if got := createdNames(t, res); got != tc.created {
				t.Errorf("created %q, want %q", got, tc.created)
			}
			if got := deleted(res); got != tc.deleted {
				t.Errorf("deleted %q, want %q", got, tc.deleted)
			}
			if got := active(status(t, res)); got != tc.active {
				t.Errorf("active %q, want %q", got, tc.active)
			}
			if got := testutil.Reasons(res); got != tc.eventReasons {
				t.Errorf("events %s, want %s", got, tc.eventReasons)
			}
		})
	}
}

func TestHistoryLimits(t *testing.T) {
	var jobs []string
	for i := range 5 {
		jobs = append(jobs, job(fmt.Sprintf("ok-%d", i), "Complete", at(4+i, 0)))
	}
	jobs = append(jobs, job("bad-0", "Failed", at(3, 0)), job("bad-1", "Failed", at(8, 0)), job("running", "", at(1, 0)))
	for _, tc := range []struct {
		name, limits, deleted string
	}{
		{"defaults keep 3 and 1", "", "ok-0,ok-1,bad-0"},
		{"explicit limits", `"successfulJobsHistoryLimit":4,"failedJobsHistoryLimit":0`, "ok-0,bad-0,bad-1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := `"schedule":"*/5 * * * *"`
			if tc.limits != "" {
				spec += "," + tc.limits
			}
			res := testutil.Reconcile(t, "CronJob", request(cj(spec, last(at(10, 0))), jobs...))
			if got := deleted(res); got != tc.deleted {
				t.Fatalf("deleted %q, want %q", got, tc.deleted)
			}
			if got := active(status(t, res)); got != "running" {
				t.Fatalf("active %q", got)
			}
		})
	}
}

func TestFinishedJobLeavesActive(t *testing.T) {
	done, gone := jobName(at(9, 50)), jobName(at(9, 55))
	st := fmt.Sprintf(`%s,"active":[{"kind":"Job","name":%q,"uid":"u-%[2]s"},{"kind":"Job","name":%q,"uid":"u-%[3]s"}]`, last(at(10, 0)), done, gone)
	res := testutil.Reconcile(t, "CronJob", request(cj(`"schedule":"*/5 * * * *"`, st), job(done, "Complete", at(9, 50))))
	got := status(t, res)
	if active(got) != "" || got.LastSuccessfulTime == nil || !got.LastSuccessfulTime.Equal(at(9, 51)) {
		t.Fatalf("status %s", res.Status)
	}
	if testutil.Reasons(res) != "SawCompletedJob,MissingJob" {
		t.Fatalf("events %s", testutil.Reasons(res))
	}
}

func TestSuspendedStartsNothing(t *testing.T) {
	res := testutil.Reconcile(t, "CronJob", request(cj(`"schedule":"*/5 * * * *","suspend":true`, last(at(9, 55)))))
	if len(res.Creates) != 0 || res.RequeueAfterSeconds != 0 || res.Status == nil {
		t.Fatalf("creates %d requeue %v status %s", len(res.Creates), res.RequeueAfterSeconds, res.Status)
	}
}

func TestTimeZone(t *testing.T) {
	// 11:00 in Berlin is 10:00 UTC in November.
	res := testutil.Reconcile(t, "CronJob", request(cj(`"schedule":"0 11 * * *","timeZone":"Europe/Berlin"`, last(at(9, 0).Add(-24*time.Hour)))))
	if len(res.Creates) != 1 {
		t.Fatalf("creates %d, want the 11:00 Berlin run", len(res.Creates))
	}
	j := testutil.Decode[createdJob](t, res.Creates[0])
	if j.Metadata.Name != jobName(at(10, 0)) || j.Metadata.Annotations[cronjob.ScheduledTimestampAnnotation] != "2026-11-22T11:00:00+01:00" {
		t.Fatalf("created %s", res.Creates[0])
	}
	if st := status(t, res); stamp(*st.LastScheduleTime) != "2026-11-22T10:00:00Z" {
		t.Fatalf("lastScheduleTime %s, want UTC", res.Status)
	}
}

func TestBadScheduleIsReported(t *testing.T) {
	for _, tc := range []struct{ spec, reason string }{
		{`"schedule":"0 11 * * *","timeZone":"Mars/Olympus"`, "UnknownTimeZone"},
		{`"schedule":"every tuesday"`, "UnparseableSchedule"},
		{`"schedule":"0 0 31 2 *"`, "InvalidSchedule"},
	} {
		t.Run(tc.reason, func(t *testing.T) {
			res := testutil.Reconcile(t, "CronJob", request(cj(tc.spec, "")))
			if len(res.Creates) != 0 || testutil.Reasons(res) != tc.reason || res.Events[0].Type != "Warning" || res.Status == nil {
				t.Fatalf("creates %d events %+v status %s", len(res.Creates), res.Events, res.Status)
			}
		})
	}
}

func TestStatusIsStable(t *testing.T) {
	parent := cj(`"schedule":"*/5 * * * *"`, "")
	jobs := []string{job(jobName(at(10, 0)), "", at(10, 0)), job(jobName(at(9, 55)), "Complete", at(9, 55))}
	first := testutil.Reconcile(t, "CronJob", request(parent, jobs...))
	again := strings.Replace(parent, `"status":{}`, `"status":`+string(first.Status), 1)
	second := testutil.Reconcile(t, "CronJob", request(again, jobs...))
	if string(first.Status) != string(second.Status) || len(second.Creates) != 0 {
		t.Fatalf("status moved without a change:\nfirst:  %s\nsecond: %s", first.Status, second.Status)
	}
}
