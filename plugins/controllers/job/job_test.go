package job_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tugboat-io/tug/plugins/controllers/internal/testutil"
	"github.com/tugboat-io/tug/plugins/controllers/internal/workload"
	"github.com/tugboat-io/tug/plugins/controllers/job"
	tug "github.com/tugboat-io/tug/sdk/go"
)

var now = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

func ts(ago time.Duration) string { return now.Add(-ago).Format(time.RFC3339) }

const template = `{"metadata":{"labels":{"app":"pi"},"annotations":{"a":"b"}},
	"spec":{"restartPolicy":"Never","containers":[{"name":"pi","image":"perl","env":[{"name":"X","value":"1"}]}]}}`

// jobOf is a Job with the spec fields given (template added) and the status given.
func jobOf(spec, status string) string {
	if spec != "" {
		spec += ","
	}
	return fmt.Sprintf(`{"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"pi","namespace":"default","uid":"job-1"},
	"spec":{%s"template":%s},"status":{%s}}`, spec, template, status)
}

// started is the status of a Job that started a minute ago.
var started = fmt.Sprintf(`"startTime":%q`, ts(time.Minute))

type podOpt func(m map[string]any)

// pod is a pod of the Job in phase, created an hour ago; options add to it.
func pod(name, phase string, opts ...podOpt) string {
	m := map[string]any{"apiVersion": "v1", "kind": "Pod",
		"metadata": map[string]any{"name": name, "uid": "u-" + name, "creationTimestamp": ts(time.Hour),
			"labels": map[string]any{job.JobNameLabel: "pi"}, "annotations": map[string]any{}},
		"spec":   map[string]any{"nodeName": "n1"},
		"status": map[string]any{"phase": phase, "conditions": []any{}, "containerStatuses": []any{}}}
	for _, o := range opts {
		o(m)
	}
	b, _ := json.Marshal(m)
	return string(b)
}

func field(m map[string]any, path ...string) map[string]any {
	for _, k := range path {
		m = m[k].(map[string]any)
	}
	return m
}

func ready(m map[string]any) {
	st := field(m, "status")
	st["conditions"] = append(st["conditions"].([]any), map[string]any{"type": "Ready", "status": "True"})
}

func index(ix int) podOpt {
	return func(m map[string]any) {
		field(m, "metadata", "annotations")[job.CompletionIndexAnnotation] = fmt.Sprint(ix)
	}
}

// exited says when the pod's container terminated.
func exited(ago time.Duration) podOpt {
	return func(m map[string]any) {
		st := field(m, "status")
		st["containerStatuses"] = []any{map[string]any{"restartCount": 0, "state": map[string]any{"terminated": map[string]any{"finishedAt": ts(ago)}}}}
	}
}

func restarts(n int) podOpt {
	return func(m map[string]any) {
		field(m, "status")["containerStatuses"] = []any{map[string]any{"restartCount": n}}
	}
}

func deleting(m map[string]any) { field(m, "metadata")["deletionTimestamp"] = ts(0) }

func request(parent string, pods ...string) *tug.ReconcileRequest {
	return &tug.ReconcileRequest{Parent: json.RawMessage(parent), Now: now.Format(time.RFC3339Nano),
		Children: map[string][]json.RawMessage{job.PodKey: testutil.Raw(pods...)}}
}

func status(t *testing.T, res *tug.ReconcileResult) job.Status {
	return testutil.Decode[job.Status](t, res.Status)
}

// conditions are the status's conditions as "Type=Status/Reason".
func conditions(st job.Status) string {
	var out []string
	for _, c := range st.Conditions {
		out = append(out, c.Type+"="+c.Status+"/"+c.Reason)
	}
	return strings.Join(out, ",")
}

func deleted(res *tug.ReconcileResult) string { return strings.Join(testutil.Deleted(res), ",") }

type createdPod struct {
	Metadata workload.Meta `json:"metadata"`
	Spec     struct {
		RestartPolicy string `json:"restartPolicy"`
		Hostname      string `json:"hostname"`
		Containers    []struct {
			Image string `json:"image"`
			Env   []struct {
				Name      string          `json:"name"`
				ValueFrom json.RawMessage `json:"valueFrom"`
			} `json:"env"`
		} `json:"containers"`
	} `json:"spec"`
}

func created(t *testing.T, res *tug.ReconcileResult) []createdPod {
	return testutil.DecodeAll[createdPod](t, res.Creates)
}

func TestCreatesPodsUpToParallelism(t *testing.T) {
	res := testutil.Reconcile(t, "Job", request(jobOf(`"parallelism":3,"completions":5`, ""),
		pod("pi-a", "Succeeded"), pod("pi-b", "Running", ready)))
	pods := created(t, res)
	if len(pods) != 2 || len(res.Deletes) != 0 {
		t.Fatalf("creates %d deletes %d, want 2 and 0", len(pods), len(res.Deletes))
	}
	p := pods[0]
	if p.Metadata.GenerateName != "pi-" || p.Metadata.Name != "" || p.Metadata.Annotations["a"] != "b" ||
		p.Spec.RestartPolicy != "Never" || len(p.Spec.Containers) != 1 || p.Spec.Containers[0].Image != "perl" {
		t.Fatalf("created pod %s is not the template's", res.Creates[0])
	}
	for k, v := range map[string]string{"app": "pi", job.JobNameLabel: "pi", job.LegacyJobNameLabel: "pi",
		job.ControllerUIDLabel: "job-1", job.LegacyControllerUIDLabel: "job-1"} {
		if p.Metadata.Labels[k] != v {
			t.Errorf("label %s=%q, want %q", k, p.Metadata.Labels[k], v)
		}
	}
	st := status(t, res)
	if st.Active != 1 || *st.Ready != 1 || st.Succeeded != 1 || st.Failed != 0 || st.StartTime == nil || !st.StartTime.Equal(now) {
		t.Fatalf("status %s", res.Status)
	}
	if testutil.Reasons(res) != "SuccessfulCreate" {
		t.Fatalf("events %s", testutil.Reasons(res))
	}
}

func TestRemainingCompletionsBoundActivePods(t *testing.T) {
	res := testutil.Reconcile(t, "Job", request(jobOf(`"parallelism":3,"completions":4`, started),
		pod("pi-a", "Succeeded"), pod("pi-b", "Succeeded"), pod("pi-c", "Succeeded"),
		pod("pi-ready", "Running", ready), pod("pi-pending", "Pending")))
	if len(res.Creates) != 0 || deleted(res) != "pi-pending" {
		t.Fatalf("creates %d, deleted %q; want 0 and the pending pod", len(res.Creates), deleted(res))
	}
}

func TestCompletionsReachedCompletesTheJob(t *testing.T) {
	res := testutil.Reconcile(t, "Job", request(jobOf(`"completions":2`, started),
		pod("pi-a", "Succeeded"), pod("pi-b", "Succeeded")))
	st := status(t, res)
	if got := conditions(st); got != "SuccessCriteriaMet=True/CompletionsReached,Complete=True/CompletionsReached" {
		t.Fatalf("conditions %s", got)
	}
	if st.CompletionTime == nil || !st.CompletionTime.Equal(now) || st.Succeeded != 2 || len(res.Creates) != 0 {
		t.Fatalf("status %s, creates %d", res.Status, len(res.Creates))
	}
	if testutil.Reasons(res) != "Completed" {
		t.Fatalf("events %s", testutil.Reasons(res))
	}
}

func TestSuccessStopsPodsBeforeComplete(t *testing.T) {
	parent := jobOf(`"completions":2,"parallelism":3`, started)
	res := testutil.Reconcile(t, "Job", request(parent, pod("pi-a", "Succeeded"), pod("pi-b", "Succeeded"), pod("pi-c", "Running")))
	st := status(t, res)
	if got := conditions(st); got != "SuccessCriteriaMet=True/CompletionsReached" || deleted(res) != "pi-c" || st.CompletionTime != nil {
		t.Fatalf("conditions %s, deleted %q, completionTime %v", got, deleted(res), st.CompletionTime)
	}

	// Next reconcile: the pod is terminating, then gone.
	withStatus := func(st job.Status) string {
		b, _ := json.Marshal(st)
		return strings.Replace(parent, `"status":{`+started+`}`, `"status":`+string(b), 1)
	}
	res = testutil.Reconcile(t, "Job", request(withStatus(st), pod("pi-a", "Succeeded"), pod("pi-b", "Succeeded"), pod("pi-c", "Running", deleting)))
	if got := conditions(status(t, res)); got != "SuccessCriteriaMet=True/CompletionsReached" || len(res.Deletes) != 0 {
		t.Fatalf("with a terminating pod: conditions %s, deleted %q", got, deleted(res))
	}
	res = testutil.Reconcile(t, "Job", request(withStatus(st), pod("pi-a", "Succeeded"), pod("pi-b", "Succeeded")))
	if got := conditions(status(t, res)); !strings.HasSuffix(got, "Complete=True/CompletionsReached") {
		t.Fatalf("with the pod gone: conditions %s", got)
	}
}

func TestWorkQueue(t *testing.T) {
	for _, tc := range []struct {
		name     string
		pods     []string
		creates  int
		complete bool
	}{
		{"starts parallelism pods", nil, 2, false},
		{"a success stops new pods", []string{pod("pi-a", "Succeeded")}, 0, true},
		{"running pods finish first", []string{pod("pi-a", "Succeeded"), pod("pi-b", "Running")}, 0, false},
		{"failed pods are replaced", []string{pod("pi-a", "Failed", exited(time.Hour)), pod("pi-b", "Running")}, 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := testutil.Reconcile(t, "Job", request(jobOf(`"parallelism":2`, started), tc.pods...))
			if len(res.Creates) != tc.creates || len(res.Deletes) != 0 {
				t.Fatalf("creates %d deletes %d, want %d and 0", len(res.Creates), len(res.Deletes), tc.creates)
			}
			if c := conditions(status(t, res)); strings.Contains(c, "Complete=True") != tc.complete {
				t.Fatalf("conditions %q, want complete %v", c, tc.complete)
			}
		})
	}
}

func TestBackoffLimitExceeded(t *testing.T) {
	res := testutil.Reconcile(t, "Job", request(jobOf(`"backoffLimit":1`, started),
		pod("pi-a", "Failed", exited(time.Hour)), pod("pi-b", "Failed", exited(time.Minute))))
	st := status(t, res)
	if got := conditions(st); got != "FailureTarget=True/BackoffLimitExceeded,Failed=True/BackoffLimitExceeded" {
		t.Fatalf("conditions %s", got)
	}
	if st.Failed != 2 || st.CompletionTime != nil || len(res.Creates) != 0 {
		t.Fatalf("status %s, creates %d", res.Status, len(res.Creates))
	}
	if len(res.Events) != 1 || res.Events[0].Type != "Warning" || res.Events[0].Reason != "BackoffLimitExceeded" {
		t.Fatalf("events %+v", res.Events)
	}
}

func TestBackoffLimitStopsRunningPods(t *testing.T) {
	res := testutil.Reconcile(t, "Job", request(jobOf(`"backoffLimit":0,"parallelism":2,"completions":2`, started),
		pod("pi-a", "Failed", exited(time.Minute)), pod("pi-b", "Running")))
	if got := conditions(status(t, res)); got != "FailureTarget=True/BackoffLimitExceeded" || deleted(res) != "pi-b" {
		t.Fatalf("conditions %s, deleted %q", got, deleted(res))
	}
}

func TestRestartsCountTowardsBackoffLimitOnFailure(t *testing.T) {
	onFailure := strings.Replace(jobOf(`"backoffLimit":3`, started), `"Never"`, `"OnFailure"`, 1)
	res := testutil.Reconcile(t, "Job", request(onFailure, pod("pi-a", "Running", restarts(3))))
	if got := conditions(status(t, res)); got != "FailureTarget=True/BackoffLimitExceeded" || deleted(res) != "pi-a" {
		t.Fatalf("conditions %s, deleted %q", got, deleted(res))
	}
	res = testutil.Reconcile(t, "Job", request(onFailure, pod("pi-a", "Running", restarts(2))))
	if got := conditions(status(t, res)); got != "" {
		t.Fatalf("two restarts of three: conditions %s", got)
	}
}

func TestFailedPodsAreReplacedAfterBackoff(t *testing.T) {
	for _, tc := range []struct {
		name    string
		pods    []string
		creates int
		requeue float64
	}{
		{"one failure waits 10s", []string{pod("pi-a", "Failed", exited(4*time.Second))}, 0, 6},
		{"two failures wait 20s", []string{pod("pi-a", "Failed", exited(time.Hour)), pod("pi-b", "Failed", exited(15*time.Second))}, 0, 5},
		{"waited long enough", []string{pod("pi-a", "Failed", exited(11*time.Second))}, 1, 0},
		{"failures before a success do not count", []string{pod("pi-a", "Failed", exited(time.Second)),
			pod("pi-b", "Succeeded", exited(0))}, 1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := testutil.Reconcile(t, "Job", request(jobOf(`"completions":2`, started), tc.pods...))
			if len(res.Creates) != tc.creates || res.RequeueAfterSeconds != tc.requeue {
				t.Fatalf("creates %d requeue %vs, want %d and %vs", len(res.Creates), res.RequeueAfterSeconds, tc.creates, tc.requeue)
			}
		})
	}
}

func TestActiveDeadline(t *testing.T) {
	res := testutil.Reconcile(t, "Job", request(jobOf(`"activeDeadlineSeconds":90`, started), pod("pi-a", "Running")))
	if res.RequeueAfterSeconds != 30 || conditions(status(t, res)) != "" {
		t.Fatalf("requeue %vs, conditions %s; want 30s and none", res.RequeueAfterSeconds, conditions(status(t, res)))
	}

	res = testutil.Reconcile(t, "Job", request(jobOf(`"activeDeadlineSeconds":60`, started), pod("pi-a", "Running")))
	if got := conditions(status(t, res)); got != "FailureTarget=True/DeadlineExceeded" || deleted(res) != "pi-a" || len(res.Creates) != 0 {
		t.Fatalf("past the deadline: conditions %s, deleted %q, creates %d", got, deleted(res), len(res.Creates))
	}

	res = testutil.Reconcile(t, "Job", request(jobOf(`"activeDeadlineSeconds":60`, started)))
	if got := conditions(status(t, res)); got != "FailureTarget=True/DeadlineExceeded,Failed=True/DeadlineExceeded" || testutil.Reasons(res) != "DeadlineExceeded" {
		t.Fatalf("past the deadline, no pods: conditions %s, events %s", got, testutil.Reasons(res))
	}
}

func TestSuspend(t *testing.T) {
	res := testutil.Reconcile(t, "Job", request(jobOf(`"suspend":true,"activeDeadlineSeconds":1`, started), pod("pi-a", "Running")))
	st := status(t, res)
	if got := conditions(st); got != "Suspended=True/JobSuspended" || deleted(res) != "pi-a" || len(res.Creates) != 0 {
		t.Fatalf("conditions %s, deleted %q, creates %d", got, deleted(res), len(res.Creates))
	}
	if testutil.Reasons(res) != "Suspended,SuccessfulDelete" || res.RequeueAfterSeconds != 0 {
		t.Fatalf("events %s, requeue %v (a suspended job has no running deadline)", testutil.Reasons(res), res.RequeueAfterSeconds)
	}

	res = testutil.Reconcile(t, "Job", request(jobOf(`"suspend":true`, "")))
	if st := status(t, res); st.StartTime != nil {
		t.Fatalf("a job created suspended started at %v", st.StartTime)
	}

	suspended := fmt.Sprintf(`"startTime":%q,"conditions":[{"type":"Suspended","status":"True","reason":"JobSuspended","message":"Job suspended","lastProbeTime":%[2]q,"lastTransitionTime":%[2]q}]`,
		ts(time.Hour), ts(time.Minute))
	res = testutil.Reconcile(t, "Job", request(jobOf(`"activeDeadlineSeconds":60`, suspended)))
	st = status(t, res)
	if got := conditions(st); got != "Suspended=False/JobResumed" || len(res.Creates) != 1 || !st.StartTime.Equal(now) {
		t.Fatalf("resumed: conditions %s, creates %d, startTime %v", got, len(res.Creates), st.StartTime)
	}
	if res.RequeueAfterSeconds != 60 {
		t.Fatalf("resumed: requeue %vs, want the full deadline again", res.RequeueAfterSeconds)
	}
}

// finished is the status of a Job that completed ago.
func finished(ago time.Duration) string {
	return fmt.Sprintf(`"startTime":%q,"completionTime":%[2]q,"succeeded":1,
	"conditions":[{"type":"Complete","status":"True","lastTransitionTime":%[2]q}]`, ts(time.Hour), ts(ago))
}

func TestTTLAfterFinished(t *testing.T) {
	for _, tc := range []struct {
		name    string
		parent  string
		delete  bool
		requeue float64
	}{
		{"waits for the ttl", jobOf(`"ttlSecondsAfterFinished":100`, finished(40*time.Second)), false, 60},
		{"deletes past the ttl", jobOf(`"ttlSecondsAfterFinished":100`, finished(100*time.Second)), true, 0},
		{"no ttl keeps the job", jobOf("", finished(time.Hour)), false, 0},
		{"the finishing reconcile comes back", jobOf(`"ttlSecondsAfterFinished":0`, started), false, 0.001},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := testutil.Reconcile(t, "Job", request(tc.parent, pod("pi-a", "Succeeded")))
			if res.DeleteParent != tc.delete || res.RequeueAfterSeconds != tc.requeue {
				t.Fatalf("deleteParent %v requeue %vs, want %v and %vs", res.DeleteParent, res.RequeueAfterSeconds, tc.delete, tc.requeue)
			}
		})
	}
}

func TestFinishedJobKeepsItsStatusAndStopsPods(t *testing.T) {
	failed := fmt.Sprintf(`"failed":3,"conditions":[{"type":"Failed","status":"True","reason":"BackoffLimitExceeded","lastTransitionTime":%q}]`, ts(time.Minute))
	res := testutil.Reconcile(t, "Job", request(jobOf("", failed), pod("pi-a", "Running"), pod("pi-b", "Failed")))
	if res.Status != nil || len(res.Creates) != 0 || deleted(res) != "pi-a" {
		t.Fatalf("status %s, creates %d, deleted %q", res.Status, len(res.Creates), deleted(res))
	}
}

func TestStatusIsStable(t *testing.T) {
	parent := jobOf(`"parallelism":2,"completions":4,"activeDeadlineSeconds":600`, "")
	pods := []string{pod("pi-a", "Succeeded"), pod("pi-b", "Running", ready), pod("pi-c", "Failed", exited(time.Hour))}
	first := testutil.Reconcile(t, "Job", request(parent, pods...))
	again := strings.Replace(parent, `"status":{}`, `"status":`+string(first.Status), 1)
	req := request(again, pods...)
	req.Now = now.Add(42 * time.Second).Format(time.RFC3339Nano)
	second := testutil.Reconcile(t, "Job", req)
	if string(first.Status) != string(second.Status) {
		t.Fatalf("status moved without a change:\nfirst:  %s\nsecond: %s", first.Status, second.Status)
	}
}

func TestCountsNeverGoBack(t *testing.T) {
	res := testutil.Reconcile(t, "Job", request(jobOf(`"completions":5,"parallelism":1`, started+`,"succeeded":3,"failed":2`), pod("pi-d", "Succeeded")))
	if st := status(t, res); st.Succeeded != 3 || st.Failed != 2 {
		t.Fatalf("succeeded %d failed %d, want 3 and 2 (finished pods removed)", st.Succeeded, st.Failed)
	}
}

func TestTerminatingPodsAreNotActive(t *testing.T) {
	res := testutil.Reconcile(t, "Job", request(jobOf("", started), pod("pi-a", "Running", deleting)))
	st := status(t, res)
	if st.Active != 0 || *st.Terminating != 1 || len(res.Creates) != 1 {
		t.Fatalf("active %d terminating %d creates %d, want 0, 1 and a replacement", st.Active, *st.Terminating, len(res.Creates))
	}
}

func TestDeletingJobMakesNoPods(t *testing.T) {
	parent := strings.Replace(jobOf(`"parallelism":3`, started), `"uid":"job-1"`, fmt.Sprintf(`"uid":"job-1","deletionTimestamp":%q`, ts(0)), 1)
	res := testutil.Reconcile(t, "Job", request(parent))
	if len(res.Creates) != 0 || res.Status == nil {
		t.Fatalf("creates %d status %s", len(res.Creates), res.Status)
	}
}

func TestOtherManagerIsLeftAlone(t *testing.T) {
	res := testutil.Reconcile(t, "Job", request(jobOf(`"managedBy":"example.com/queue"`, "")))
	if len(res.Creates) != 0 || res.Status != nil {
		t.Fatalf("decided a job managed elsewhere: %+v", res)
	}
}

func TestIndexedCreatesLowestPendingIndexes(t *testing.T) {
	res := testutil.Reconcile(t, "Job", request(jobOf(`"completionMode":"Indexed","completions":5,"parallelism":2`, started),
		pod("pi-0", "Succeeded", index(0)), pod("pi-2", "Running", index(2))))
	pods := created(t, res)
	if len(pods) != 1 {
		t.Fatalf("creates %d, want 1", len(pods))
	}
	p := pods[0]
	if p.Metadata.GenerateName != "pi-1-" || p.Metadata.Annotations[job.CompletionIndexAnnotation] != "1" ||
		p.Metadata.Labels[job.CompletionIndexAnnotation] != "1" || p.Metadata.Annotations["a"] != "b" || p.Spec.Hostname != "pi-1" {
		t.Fatalf("created pod %s does not carry index 1", res.Creates[0])
	}
	env := p.Spec.Containers[0].Env
	if len(env) != 2 || env[0].Name != "X" || env[1].Name != job.CompletionIndexEnv || !strings.Contains(string(env[1].ValueFrom), job.CompletionIndexAnnotation) {
		t.Fatalf("env %+v lacks %s", env, job.CompletionIndexEnv)
	}
	if st := status(t, res); st.CompletedIndexes != "0" || st.Succeeded != 1 || st.Active != 1 {
		t.Fatalf("status %s", res.Status)
	}
}

func TestIndexedDropsUselessPods(t *testing.T) {
	young := func(m map[string]any) { field(m, "metadata")["creationTimestamp"] = ts(time.Minute) }
	res := testutil.Reconcile(t, "Job", request(jobOf(`"completionMode":"Indexed","completions":3,"parallelism":3`, started),
		pod("done-0", "Succeeded", index(0)),
		pod("again-0", "Running", index(0)),
		pod("old-1", "Running", ready, index(1)),
		pod("young-1", "Running", ready, index(1), young),
		pod("none", "Running"),
		pod("out-of-range", "Running", index(7))))
	got := strings.Split(deleted(res), ",")
	slices.Sort(got)
	if strings.Join(got, ",") != "again-0,none,out-of-range,young-1" {
		t.Fatalf("deleted %v", got)
	}
	if len(res.Creates) != 1 || !strings.Contains(string(res.Creates[0]), `"generateName":"pi-2-"`) {
		t.Fatalf("creates %s, want index 2", res.Creates)
	}
}

func TestIndexedCompletes(t *testing.T) {
	res := testutil.Reconcile(t, "Job", request(jobOf(`"completionMode":"Indexed","completions":4,"parallelism":2`, started+`,"completedIndexes":"0-1"`),
		pod("pi-2", "Succeeded", index(2)), pod("pi-3", "Succeeded", index(3)), pod("pi-3b", "Succeeded", index(3))))
	st := status(t, res)
	if st.CompletedIndexes != "0-3" || st.Succeeded != 4 || !strings.HasSuffix(conditions(st), "Complete=True/CompletionsReached") {
		t.Fatalf("status %s", res.Status)
	}
}

func TestIndexedWithoutCompletionsIsReported(t *testing.T) {
	res := testutil.Reconcile(t, "Job", request(jobOf(`"completionMode":"Indexed","parallelism":2`, "")))
	if len(res.Creates) != 0 || len(res.Events) != 1 || !strings.Contains(res.Events[0].Message, "spec.completions") {
		t.Fatalf("creates %d events %+v, want none and a warning naming spec.completions", len(res.Creates), res.Events)
	}
}
