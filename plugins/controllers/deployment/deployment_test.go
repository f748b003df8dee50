package deployment_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tugboat-io/tug/plugins/controllers/deployment"
	"github.com/tugboat-io/tug/plugins/controllers/internal/testutil"
	"github.com/tugboat-io/tug/plugins/controllers/internal/workload"
	tug "github.com/tugboat-io/tug/sdk/go"
)

var now = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

const (
	v1 = `{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"c","image":"nginx:1"}]}}`
	v2 = `{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"c","image":"nginx:2"}]}}`
)

// deploy is a Deployment of replicas pods of template; strategy is its strategy's JSON.
func deploy(replicas int, template, strategy string, extra string) string {
	return fmt.Sprintf(`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"default","uid":"d-1","generation":2},
	"spec":{"replicas":%d,"selector":{"matchLabels":{"app":"web"}},"template":%s,"strategy":%s%s}}`, replicas, template, strategy, extra)
}

const rolling = `{"type":"RollingUpdate","rollingUpdate":{"maxSurge":1,"maxUnavailable":1}}`

// rs is an owned ReplicaSet of template at revision rev with spec replicas and status
// replicas/available.
func rs(t *testing.T, template string, rev, replicas, have, available int, age time.Duration) string {
	var tm workload.Template
	if err := json.Unmarshal([]byte(template), &tm); err != nil {
		t.Fatal(err)
	}
	hash := tm.Hash()
	withHash, _ := json.Marshal(tm.WithLabel(deployment.HashLabel, hash))
	return fmt.Sprintf(`{"apiVersion":"apps/v1","kind":"ReplicaSet","metadata":{"name":"web-%s","uid":"rs-%s","namespace":"default",
	"creationTimestamp":%q,"annotations":{"deployment.kubernetes.io/revision":"%d"},"labels":{"app":"web","pod-template-hash":%q}},
	"spec":{"replicas":%d,"selector":{"matchLabels":{"app":"web","pod-template-hash":%q}},"template":%s},
	"status":{"replicas":%d,"readyReplicas":%d,"availableReplicas":%d}}`,
		hash, hash, now.Add(-age).Format(time.RFC3339), rev, hash, replicas, hash, withHash, have, available, available)
}

type child struct {
	Metadata struct {
		Name        string            `json:"name"`
		Labels      map[string]string `json:"labels"`
		Annotations map[string]string `json:"annotations"`
	} `json:"metadata"`
	Spec struct {
		Replicas int32 `json:"replicas"`
		Selector struct {
			MatchLabels map[string]string `json:"matchLabels"`
		} `json:"selector"`
		Template json.RawMessage `json:"template"`
	} `json:"spec"`
}

func reconcile(t *testing.T, parent string, sets ...string) (*tug.ReconcileResult, []child, deployment.Status) {
	t.Helper()
	res := testutil.Reconcile(t, "Deployment", &tug.ReconcileRequest{Parent: json.RawMessage(parent), Now: now.Format(time.RFC3339Nano),
		Children: map[string][]json.RawMessage{deployment.ReplicaSetKey: testutil.Raw(sets...)}})
	declared, ok := res.Children[deployment.ReplicaSetKey]
	if !ok {
		t.Fatalf("the result does not declare the ReplicaSets: %+v", res)
	}
	return res, testutil.DecodeAll[child](t, declared), testutil.Decode[deployment.Status](t, res.Status)
}

// replicas is "name=replicas@revision" for each declared ReplicaSet, by template image.
func replicas(cs []child) string {
	var out []string
	for _, c := range cs {
		img := "nginx:1"
		if strings.Contains(string(c.Spec.Template), "nginx:2") {
			img = "nginx:2"
		}
		out = append(out, fmt.Sprintf("%s=%d@%s", img, c.Spec.Replicas, c.Metadata.Annotations[deployment.RevisionAnnotation]))
	}
	return strings.Join(out, " ")
}

func condition(st deployment.Status, typ string) workload.Condition {
	for _, c := range st.Conditions {
		if c.Type == typ {
			return c
		}
	}
	return workload.Condition{}
}

func TestNewDeploymentCreatesReplicaSet(t *testing.T) {
	res, cs, st := reconcile(t, deploy(5, v1, `{}`, ""))
	if len(cs) != 1 {
		t.Fatalf("declared %d replica sets, want 1", len(cs))
	}
	c := cs[0]
	hash := c.Metadata.Labels[deployment.HashLabel]
	if hash == "" || c.Metadata.Name != "web-"+hash || c.Spec.Selector.MatchLabels[deployment.HashLabel] != hash ||
		c.Spec.Selector.MatchLabels["app"] != "web" || !strings.Contains(string(c.Spec.Template), `"pod-template-hash":"`+hash+`"`) {
		t.Fatalf("new replica set %+v is not named, labelled and selected by its template hash", c)
	}
	// Default maxSurge 25% of 5 rounds up to 2: all 5 fit under 5+2 from nothing.
	if got := replicas(cs); got != "nginx:1=5@1" {
		t.Fatalf("replica sets %s, want nginx:1=5@1", got)
	}
	if res.ParentAnnotations[deployment.RevisionAnnotation] != "1" {
		t.Fatalf("parent annotations %v, want revision 1", res.ParentAnnotations)
	}
	if c := condition(st, "Progressing"); c.Reason != "NewReplicaSetCreated" || c.Status != "True" {
		t.Fatalf("Progressing %+v", c)
	}
	if st.ObservedGeneration != 2 {
		t.Fatalf("observedGeneration %d", st.ObservedGeneration)
	}
}

func TestRollingUpdateSurgesFirst(t *testing.T) {
	_, cs, _ := reconcile(t, deploy(5, v2, rolling, ""), rs(t, v1, 1, 5, 5, 5, time.Hour))
	if got := replicas(cs); got != "nginx:1=5@1 nginx:2=1@2" {
		t.Fatalf("replica sets %s, want the new one at maxSurge 1", got)
	}
}

func TestRollingUpdateScalesOldDownWithinAvailability(t *testing.T) {
	// 5+1 pods, all available: scaling the old one down by 2 leaves 4 = 5-1 available.
	_, cs, st := reconcile(t, deploy(5, v2, rolling, ""), rs(t, v1, 1, 5, 5, 5, time.Hour), rs(t, v2, 2, 1, 1, 1, time.Minute))
	if got := replicas(cs); got != "nginx:1=3@1 nginx:2=1@2" {
		t.Fatalf("replica sets %s, want nginx:1=3@1 nginx:2=1@2", got)
	}
	if st.UpdatedReplicas != 1 || st.Replicas != 6 || st.AvailableReplicas != 6 {
		t.Fatalf("status %+v", st)
	}
}

func TestRollingUpdateWaitsForNewPodsToBeAvailable(t *testing.T) {
	// The new pod is not available yet: only one old pod may go.
	_, cs, _ := reconcile(t, deploy(5, v2, rolling, ""), rs(t, v1, 1, 5, 5, 5, time.Hour), rs(t, v2, 2, 1, 1, 0, time.Minute))
	if got := replicas(cs); got != "nginx:1=4@1 nginx:2=1@2" {
		t.Fatalf("replica sets %s, want nginx:1=4@1 nginx:2=1@2", got)
	}
}

func TestRollingUpdateCountsPodsNotYetDeleted(t *testing.T) {
	// The old set was scaled to 3 but still has 5 pods: the surge bound counts 5+1, so no room.
	_, cs, _ := reconcile(t, deploy(5, v2, rolling, ""), rs(t, v1, 1, 3, 5, 5, time.Hour), rs(t, v2, 2, 1, 1, 1, time.Minute))
	if got := replicas(cs); !strings.HasSuffix(got, "nginx:2=1@2") {
		t.Fatalf("replica sets %s: the new one grew past the surge bound", got)
	}
}

func TestUnhealthyOldPodsGoFirst(t *testing.T) {
	// The old set has 3 of 5 available: its 2 unavailable pods go, which costs nothing, and
	// then no available one may (3 = 5-2 are left).
	_, cs, _ := reconcile(t, deploy(5, v2, `{"type":"RollingUpdate","rollingUpdate":{"maxSurge":0,"maxUnavailable":2}}`, ""),
		rs(t, v1, 1, 5, 5, 3, time.Hour), rs(t, v2, 2, 0, 0, 0, time.Minute))
	if got := replicas(cs); got != "nginx:1=3@1 nginx:2=0@2" {
		t.Fatalf("replica sets %s, want nginx:1=3@1", got)
	}
}

func TestCompleteRolloutCleansHistory(t *testing.T) {
	v0 := strings.Replace(v1, "nginx:1", "nginx:0", 1)
	vm := strings.Replace(v1, "nginx:1", "nginx:m", 1)
	_, cs, st := reconcile(t, deploy(3, v2, rolling, `,"revisionHistoryLimit":1`),
		rs(t, v0, 1, 0, 0, 0, 3*time.Hour), rs(t, vm, 2, 0, 0, 0, 2*time.Hour), rs(t, v1, 3, 0, 0, 0, time.Hour), rs(t, v2, 4, 3, 3, 3, time.Minute))
	if got := replicas(cs); got != "nginx:1=0@3 nginx:2=3@4" {
		t.Fatalf("replica sets %s, want only revision 3 kept besides the new one", got)
	}
	if c := condition(st, "Progressing"); c.Reason != "NewReplicaSetAvailable" {
		t.Fatalf("Progressing %+v, want NewReplicaSetAvailable", c)
	}
	if c := condition(st, "Available"); c.Status != "True" {
		t.Fatalf("Available %+v", c)
	}
	if st.UpdatedReplicas != 3 || st.Replicas != 3 || st.AvailableReplicas != 3 {
		t.Fatalf("status %+v is not what kubectl rollout status calls done", st)
	}
}

func TestRollbackMovesOldReplicaSetToNextRevision(t *testing.T) {
	res, cs, _ := reconcile(t, deploy(2, v1, rolling, ""), rs(t, v1, 1, 0, 0, 0, time.Hour), rs(t, v2, 2, 2, 2, 2, time.Minute))
	if got := replicas(cs); got != "nginx:1=1@3 nginx:2=2@2" {
		t.Fatalf("replica sets %s, want nginx:1 back at revision 3 and surging", got)
	}
	if res.ParentAnnotations[deployment.RevisionAnnotation] != "3" {
		t.Fatalf("revision %v, want 3", res.ParentAnnotations)
	}
}

func TestRecreateScalesOldToZeroFirst(t *testing.T) {
	_, cs, _ := reconcile(t, deploy(3, v2, `{"type":"Recreate"}`, ""), rs(t, v1, 1, 3, 3, 3, time.Hour))
	if got := replicas(cs); got != "nginx:1=0@1 nginx:2=0@2" {
		t.Fatalf("replica sets %s, want old at 0 and new waiting", got)
	}
	_, cs, _ = reconcile(t, deploy(3, v2, `{"type":"Recreate"}`, ""), rs(t, v1, 1, 0, 1, 0, time.Hour), rs(t, v2, 2, 0, 0, 0, time.Minute))
	if got := replicas(cs); got != "nginx:1=0@1 nginx:2=0@2" {
		t.Fatalf("replica sets %s: the new one grew while old pods remain", got)
	}
	_, cs, _ = reconcile(t, deploy(3, v2, `{"type":"Recreate"}`, ""), rs(t, v1, 1, 0, 0, 0, time.Hour), rs(t, v2, 2, 0, 0, 0, time.Minute))
	if got := replicas(cs); got != "nginx:1=0@1 nginx:2=3@2" {
		t.Fatalf("replica sets %s, want the new one at 3 once old pods are gone", got)
	}
}

func TestPausedDeploymentDoesNotRoll(t *testing.T) {
	_, cs, st := reconcile(t, deploy(3, v2, rolling, `,"paused":true`), rs(t, v1, 1, 3, 3, 3, time.Hour))
	if got := replicas(cs); got != "nginx:1=3@1" {
		t.Fatalf("replica sets %s: a paused deployment rolled", got)
	}
	if c := condition(st, "Progressing"); c.Reason != "DeploymentPaused" {
		t.Fatalf("Progressing %+v", c)
	}
	_, cs, _ = reconcile(t, deploy(5, v2, rolling, `,"paused":true`), rs(t, v1, 1, 3, 3, 3, time.Hour))
	if got := replicas(cs); got != "nginx:1=5@1" {
		t.Fatalf("replica sets %s: a paused deployment did not scale", got)
	}
}

func TestScaleDown(t *testing.T) {
	_, cs, _ := reconcile(t, deploy(2, v1, rolling, ""), rs(t, v1, 1, 5, 5, 5, time.Hour))
	if got := replicas(cs); got != "nginx:1=2@1" {
		t.Fatalf("replica sets %s, want nginx:1=2@1", got)
	}
}

func TestProgressDeadline(t *testing.T) {
	stale := now.Add(-20 * time.Second).Format(time.RFC3339)
	parent := deploy(2, v2, `{"type":"RollingUpdate","rollingUpdate":{"maxSurge":1,"maxUnavailable":0}}`, `,"progressDeadlineSeconds":10`)
	parent = strings.TrimSuffix(parent, "}") + fmt.Sprintf(`,"status":{"updatedReplicas":1,"replicas":3,"availableReplicas":2,"readyReplicas":2,
	"conditions":[{"type":"Progressing","status":"True","reason":"ReplicaSetUpdated","lastUpdateTime":%q,"lastTransitionTime":%q}]}}`, stale, stale)
	// Stuck: the new pod never becomes available, and there is no room to move.
	res, _, st := reconcile(t, parent, rs(t, v1, 1, 2, 2, 2, time.Hour), rs(t, v2, 2, 1, 1, 0, time.Minute))
	if c := condition(st, "Progressing"); c.Status != "False" || c.Reason != "ProgressDeadlineExceeded" {
		t.Fatalf("Progressing %+v, want ProgressDeadlineExceeded", c)
	}
	if len(res.Events) == 0 || res.Events[len(res.Events)-1].Reason != "ProgressDeadlineExceeded" {
		t.Fatalf("events %+v", res.Events)
	}
}
