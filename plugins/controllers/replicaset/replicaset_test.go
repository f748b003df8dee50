package replicaset_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tugboat-io/tug/plugins/controllers/internal/testutil"
	"github.com/tugboat-io/tug/plugins/controllers/replicaset"
	tug "github.com/tugboat-io/tug/sdk/go"
)

var now = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

func rs(replicas, minReady int) string {
	return fmt.Sprintf(`{"apiVersion":"apps/v1","kind":"ReplicaSet","metadata":{"name":"web","namespace":"default","uid":"rs-1","generation":3},
	"spec":{"replicas":%d,"minReadySeconds":%d,"selector":{"matchLabels":{"app":"web"}},
	"template":{"metadata":{"labels":{"app":"web"},"annotations":{"a":"b"}},"spec":{"containers":[{"name":"c","image":"nginx"}]}}}}`, replicas, minReady)
}

// pod is a pod of the set: node "" is unscheduled; phase, ready and how long ago it became
// ready, restarts, and how long ago it was created.
func pod(name, node, phase string, readyAgo time.Duration, restarts int, age time.Duration) string {
	ready := ""
	if readyAgo >= 0 {
		ready = fmt.Sprintf(`,"conditions":[{"type":"Ready","status":"True","lastTransitionTime":%q}]`, now.Add(-readyAgo).Format(time.RFC3339))
	}
	return fmt.Sprintf(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":%q,"uid":"u-%s","labels":{"app":"web"},"creationTimestamp":%q},
	"spec":{"nodeName":%q},"status":{"phase":%q%s,"containerStatuses":[{"restartCount":%d}]}}`,
		name, name, now.Add(-age).Format(time.RFC3339), node, phase, ready, restarts)
}

const notReady = -1

func request(parent string, pods ...string) *tug.ReconcileRequest {
	return &tug.ReconcileRequest{Parent: json.RawMessage(parent), Now: now.Format(time.RFC3339Nano),
		Children: map[string][]json.RawMessage{replicaset.PodKey: testutil.Raw(pods...)}}
}

func status(t *testing.T, res *tug.ReconcileResult) replicaset.Status {
	return testutil.Decode[replicaset.Status](t, res.Status)
}

func TestScaleUpCreatesFromTemplate(t *testing.T) {
	res := testutil.Reconcile(t, "ReplicaSet", request(rs(3, 0), pod("web-a", "n1", "Running", time.Minute, 0, time.Hour)))
	if len(res.Creates) != 2 || len(res.Deletes) != 0 {
		t.Fatalf("creates %d deletes %d, want 2 and 0", len(res.Creates), len(res.Deletes))
	}
	var p struct {
		APIVersion, Kind string
		Metadata         struct {
			GenerateName string            `json:"generateName"`
			Name         string            `json:"name"`
			Labels       map[string]string `json:"labels"`
			Annotations  map[string]string `json:"annotations"`
		} `json:"metadata"`
		Spec json.RawMessage `json:"spec"`
	}
	if err := json.Unmarshal(res.Creates[0], &p); err != nil {
		t.Fatal(err)
	}
	if p.Kind != "Pod" || p.Metadata.GenerateName != "web-" || p.Metadata.Name != "" || p.Metadata.Labels["app"] != "web" ||
		p.Metadata.Annotations["a"] != "b" || !strings.Contains(string(p.Spec), `"image":"nginx"`) {
		t.Fatalf("created pod %s is not the template's", res.Creates[0])
	}
	if st := status(t, res); st.Replicas != 1 || st.ReadyReplicas != 1 || st.AvailableReplicas != 1 || st.ObservedGeneration != 3 || st.FullyLabeledReplicas != 1 {
		t.Fatalf("status %+v", st)
	}
}

func TestScaleUpIsBounded(t *testing.T) {
	res := testutil.Reconcile(t, "ReplicaSet", request(rs(800, 0)))
	if len(res.Creates) != replicaset.BurstReplicas {
		t.Fatalf("creates %d, want %d", len(res.Creates), replicaset.BurstReplicas)
	}
}

func TestScaleDownDeletesLeastUsefulFirst(t *testing.T) {
	res := testutil.Reconcile(t, "ReplicaSet", request(rs(2, 0),
		pod("old-ready", "n1", "Running", time.Hour, 0, 2*time.Hour),
		pod("unscheduled", "", "Pending", notReady, 0, time.Hour),
		pod("young-ready", "n1", "Running", time.Minute, 0, 2*time.Hour),
		pod("running-not-ready", "n2", "Running", notReady, 0, time.Hour),
		pod("pending", "n2", "Pending", notReady, 0, time.Hour),
		pod("restarted", "n2", "Running", time.Hour, 5, 2*time.Hour),
	))
	var got []string
	for _, d := range res.Deletes {
		if d.Kind != "Pod" || d.UID != "u-"+d.Name {
			t.Fatalf("delete %+v lacks its kind or uid precondition", d)
		}
		got = append(got, d.Name)
	}
	want := []string{"unscheduled", "pending", "running-not-ready", "young-ready"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("deleted %v, want %v", got, want)
	}
	if len(res.Creates) != 0 {
		t.Fatalf("scale-down created %d pods", len(res.Creates))
	}
}

func TestRestartsBreakTies(t *testing.T) {
	res := testutil.Reconcile(t, "ReplicaSet", request(rs(1, 0),
		pod("calm", "n1", "Running", time.Hour, 0, time.Hour),
		pod("flappy", "n1", "Running", time.Hour, 3, time.Hour)))
	if len(res.Deletes) != 1 || res.Deletes[0].Name != "flappy" {
		t.Fatalf("deleted %+v, want flappy", res.Deletes)
	}
}

func TestFinishedAndTerminatingPodsDoNotCount(t *testing.T) {
	term := strings.Replace(pod("going", "n1", "Running", time.Hour, 0, time.Hour), `"creationTimestamp"`, fmt.Sprintf(`"deletionTimestamp":%q,"creationTimestamp"`, now.Format(time.RFC3339)), 1)
	res := testutil.Reconcile(t, "ReplicaSet", request(rs(3, 0),
		pod("a", "n1", "Running", time.Hour, 0, time.Hour),
		pod("b", "n1", "Running", time.Hour, 0, time.Hour),
		term,
		pod("done", "n1", "Succeeded", notReady, 0, time.Hour)))
	if len(res.Creates) != 1 || len(res.Deletes) != 0 {
		t.Fatalf("creates %d deletes %d, want 1 and 0", len(res.Creates), len(res.Deletes))
	}
	if st := status(t, res); st.Replicas != 2 {
		t.Fatalf("status replicas %d, want 2", st.Replicas)
	}
}

func TestMinReadySecondsDelaysAvailability(t *testing.T) {
	res := testutil.Reconcile(t, "ReplicaSet", request(rs(2, 10),
		pod("a", "n1", "Running", time.Hour, 0, time.Hour),
		pod("b", "n1", "Running", 4*time.Second, 0, time.Hour)))
	st := status(t, res)
	if st.ReadyReplicas != 2 || st.AvailableReplicas != 1 {
		t.Fatalf("ready %d available %d, want 2 and 1", st.ReadyReplicas, st.AvailableReplicas)
	}
	if res.RequeueAfterSeconds != 6 {
		t.Fatalf("requeue after %vs, want 6 (when b becomes available)", res.RequeueAfterSeconds)
	}
}

func TestReplicationController(t *testing.T) {
	rc := `{"apiVersion":"v1","kind":"ReplicationController","metadata":{"name":"rc","uid":"rc-1","generation":1},
	"spec":{"replicas":2,"selector":{"app":"web"},"template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"c","image":"nginx"}]}}}}`
	res := testutil.Reconcile(t, "ReplicationController", request(rc, pod("a", "n1", "Running", time.Hour, 0, time.Hour)))
	if len(res.Creates) != 1 || !strings.Contains(string(res.Creates[0]), `"generateName":"rc-"`) {
		t.Fatalf("creates %s", res.Creates)
	}
}

func TestDeletingSetMakesNoPods(t *testing.T) {
	parent := strings.Replace(rs(3, 0), `"generation":3`, fmt.Sprintf(`"generation":3,"deletionTimestamp":%q`, now.Format(time.RFC3339)), 1)
	res := testutil.Reconcile(t, "ReplicaSet", request(parent))
	if len(res.Creates) != 0 {
		t.Fatalf("a set being deleted created %d pods", len(res.Creates))
	}
}
