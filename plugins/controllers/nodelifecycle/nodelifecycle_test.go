package nodelifecycle_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tugboat-io/tug/plugins/controllers/internal/testutil"
	"github.com/tugboat-io/tug/plugins/controllers/nodelifecycle"
	tug "github.com/tugboat-io/tug/sdk/go"
)

var now = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

func stamp(ago time.Duration) string { return now.Add(-ago).Format(time.RFC3339) }

// node is a node whose Ready condition has status ready and last heartbeat heartbeatAgo,
// with taints as JSON.
func node(ready string, heartbeatAgo time.Duration, taintsJSON string) string {
	return fmt.Sprintf(`{"apiVersion":"v1","kind":"Node","metadata":{"name":"n1","uid":"n-1","creationTimestamp":%q},
	"spec":{"taints":%s},
	"status":{"capacity":{"cpu":"4"},"conditions":[
	  {"type":"Ready","status":%q,"reason":"KubeletReady","lastHeartbeatTime":%q,"lastTransitionTime":%q},
	  {"type":"MemoryPressure","status":"False","lastHeartbeatTime":%q,"lastTransitionTime":%q}]}}`,
		stamp(time.Hour), taintsJSON, ready, stamp(heartbeatAgo), stamp(time.Hour), stamp(heartbeatAgo), stamp(time.Hour))
}

func lease(renewedAgo time.Duration) string {
	return fmt.Sprintf(`{"apiVersion":"coordination.k8s.io/v1","kind":"Lease","metadata":{"name":"n1","namespace":"kube-node-lease"},
	"spec":{"holderIdentity":"n1","renewTime":%q}}`, now.Add(-renewedAgo).Format(time.RFC3339Nano))
}

// pod is a pod on the node with tolerations as JSON.
func pod(name, tolerations string, terminating bool) string {
	del := ""
	if terminating {
		del = fmt.Sprintf(`,"deletionTimestamp":%q`, stamp(0))
	}
	return fmt.Sprintf(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":%q,"namespace":"default","uid":"u-%s"%s},
	"spec":{"nodeName":"n1","tolerations":%s}}`, name, name, del, tolerations)
}

const (
	noTolerations  = `[]`
	tolerate300    = `[{"key":"node.kubernetes.io/unreachable","operator":"Exists","effect":"NoExecute","tolerationSeconds":300}]`
	tolerateAll    = `[{"operator":"Exists"}]`
	tolerate60Both = `[{"key":"node.kubernetes.io/unreachable","operator":"Exists","effect":"NoExecute","tolerationSeconds":60},
	                   {"key":"node.kubernetes.io/not-ready","operator":"Exists","effect":"NoExecute","tolerationSeconds":60}]`
)

func request(n, l string, pods ...string) *tug.ReconcileRequest {
	rel := map[string][]json.RawMessage{nodelifecycle.PodKey: testutil.Raw(pods...)}
	if l != "" {
		rel[nodelifecycle.LeaseKey] = testutil.Raw(l)
	}
	return &tug.ReconcileRequest{Parent: json.RawMessage(n), Related: rel, Now: now.Format(time.RFC3339Nano)}
}

type taint struct {
	Key, Value, Effect string
	TimeAdded          *time.Time
}

// patchedTaints are the taints the result's parent patch sets; ok is false without a patch.
func patchedTaints(t *testing.T, res *tug.ReconcileResult) (ts []taint, ok bool) {
	t.Helper()
	if len(res.ParentPatch) == 0 {
		return nil, false
	}
	var p struct {
		Spec struct {
			Taints []taint `json:"taints"`
		} `json:"spec"`
	}
	if err := json.Unmarshal(res.ParentPatch, &p); err != nil {
		t.Fatalf("parent patch %s: %v", res.ParentPatch, err)
	}
	return p.Spec.Taints, true
}

func TestHeartbeatingNodeIsLeftAlone(t *testing.T) {
	// The Ready heartbeat is old, but the Lease is fresh: the node is alive.
	res := testutil.Reconcile(t, "NodeLifecycle", request(node("True", 5*time.Minute, `[]`), lease(10*time.Second), pod("a", noTolerations, false)))
	if len(res.Status) != 0 || len(res.ParentPatch) != 0 || len(res.Deletes) != 0 {
		t.Fatalf("a live node was changed: status %s patch %s deletes %v", res.Status, res.ParentPatch, res.Deletes)
	}
	// Checked again just after the grace period would run out.
	if want := (nodelifecycle.DefaultGracePeriod - 10*time.Second + time.Second).Seconds(); res.RequeueAfterSeconds != want {
		t.Fatalf("requeue after %vs, want %vs", res.RequeueAfterSeconds, want)
	}
}

func TestSilentNodeGoesUnknownAndEvicts(t *testing.T) {
	res := testutil.Reconcile(t, "NodeLifecycle", request(node("True", time.Minute, `[{"key":"team","value":"a","effect":"NoSchedule"}]`), lease(time.Minute),
		pod("plain", noTolerations, false), pod("patient", tolerate300, false), pod("stays", tolerateAll, false), pod("leaving", noTolerations, true)))

	var st struct {
		Conditions []struct{ Type, Status, Reason, LastHeartbeatTime string }
		Capacity   map[string]string
	}
	if err := json.Unmarshal(res.Status, &st); err != nil {
		t.Fatalf("status %s: %v", res.Status, err)
	}
	if st.Capacity["cpu"] != "4" {
		t.Errorf("status lost the node's capacity: %s", res.Status)
	}
	for _, c := range st.Conditions {
		if c.Status != "Unknown" || c.Reason != "NodeStatusUnknown" {
			t.Errorf("condition %s is %s (%s), want Unknown (NodeStatusUnknown)", c.Type, c.Status, c.Reason)
		}
		if c.LastHeartbeatTime != stamp(time.Minute) {
			t.Errorf("condition %s heartbeat rewritten to %s", c.Type, c.LastHeartbeatTime)
		}
	}
	ts, ok := patchedTaints(t, res)
	if !ok {
		t.Fatal("no taints patched onto an unreachable node")
	}
	var got []string
	for _, x := range ts {
		got = append(got, x.Key+":"+x.Effect)
		if x.Effect == "NoExecute" && (x.TimeAdded == nil || !x.TimeAdded.Equal(now)) {
			t.Errorf("NoExecute taint added at %v, want now", x.TimeAdded)
		}
	}
	want := []string{"team:NoSchedule", "node.kubernetes.io/unreachable:NoSchedule", "node.kubernetes.io/unreachable:NoExecute"}
	if !slices.Equal(got, want) {
		t.Errorf("taints %v, want %v", got, want)
	}
	if d := testutil.Deleted(res); !slices.Equal(d, []string{"plain"}) {
		t.Errorf("evicted %v, want only the pod tolerating nothing", d)
	}
	if res.RequeueAfterSeconds != 300 {
		t.Errorf("requeue after %vs, want 300 (the patient pod's toleration)", res.RequeueAfterSeconds)
	}
	if len(res.Events) != 2 || res.Events[0].Reason != "NodeNotReady" || res.Events[1].Reason != "TaintManagerEviction" {
		t.Errorf("events %+v, want NodeNotReady and one TaintManagerEviction", res.Events)
	}
}

func TestTolerationSecondsRunOut(t *testing.T) {
	added := stamp(100 * time.Second)
	taints := fmt.Sprintf(`[{"key":"node.kubernetes.io/unreachable","effect":"NoSchedule"},{"key":"node.kubernetes.io/unreachable","effect":"NoExecute","timeAdded":%q}]`, added)
	res := testutil.Reconcile(t, "NodeLifecycle", request(node("Unknown", 10*time.Minute, taints), lease(10*time.Minute),
		pod("short", tolerate60Both, false), pod("long", tolerate300, false)))
	if len(res.Status) != 0 {
		t.Errorf("an Unknown node's status rewritten: %s", res.Status)
	}
	if len(res.ParentPatch) != 0 {
		t.Errorf("taints already right were patched: %s", res.ParentPatch)
	}
	if d := testutil.Deleted(res); !slices.Equal(d, []string{"short"}) {
		t.Errorf("evicted %v, want the pod whose 60s ran out", d)
	}
	if res.RequeueAfterSeconds != 200 {
		t.Errorf("requeue after %vs, want 200 (300s from the taint, added 100s ago)", res.RequeueAfterSeconds)
	}
}

func TestNodeBackRemovesItsTaintsOnly(t *testing.T) {
	taints := fmt.Sprintf(`[{"key":"gpu","value":"true","effect":"NoExecute","timeAdded":%q},{"key":"node.kubernetes.io/unreachable","effect":"NoSchedule"},
	{"key":"node.kubernetes.io/unreachable","effect":"NoExecute","timeAdded":%q}]`, stamp(time.Hour), stamp(time.Minute))
	res := testutil.Reconcile(t, "NodeLifecycle", request(node("True", time.Second, taints), lease(time.Second), pod("gpu-user", `[{"key":"gpu","operator":"Exists"}]`, false)))
	ts, ok := patchedTaints(t, res)
	if !ok || len(ts) != 1 || ts[0].Key != "gpu" || ts[0].TimeAdded == nil || !ts[0].TimeAdded.Equal(now.Add(-time.Hour)) {
		t.Fatalf("taints %+v (patched %v), want only the user's gpu taint, unchanged", ts, ok)
	}
	if len(res.Deletes) != 0 || len(res.Status) != 0 {
		t.Errorf("a node back in service evicted %v / rewrote status %s", res.Deletes, res.Status)
	}
}

func TestNotReadyNodeGetsNotReadyTaints(t *testing.T) {
	res := testutil.Reconcile(t, "NodeLifecycle", request(node("False", 2*time.Second, `[]`), lease(2*time.Second), pod("a", noTolerations, false)))
	ts, _ := patchedTaints(t, res)
	var got []string
	for _, x := range ts {
		got = append(got, x.Key+":"+x.Effect)
	}
	if !slices.Equal(got, []string{"node.kubernetes.io/not-ready:NoSchedule", "node.kubernetes.io/not-ready:NoExecute"}) {
		t.Errorf("taints %v", got)
	}
	if d := testutil.Deleted(res); !slices.Equal(d, []string{"a"}) {
		t.Errorf("evicted %v, want a", d)
	}
}

func TestLastTaintRemovedWithNull(t *testing.T) {
	taints := `[{"key":"node.kubernetes.io/not-ready","effect":"NoSchedule"}]`
	res := testutil.Reconcile(t, "NodeLifecycle", request(node("True", time.Second, taints), lease(time.Second)))
	if !strings.Contains(string(res.ParentPatch), `"taints":null`) {
		t.Fatalf("parent patch %s, want taints removed with null", res.ParentPatch)
	}
}

func TestNeverHeardNodeGoesUnknown(t *testing.T) {
	n := `{"apiVersion":"v1","kind":"Node","metadata":{"name":"n1","uid":"n-1","creationTimestamp":"` + stamp(time.Hour) + `"},"spec":{}}`
	res := testutil.Reconcile(t, "NodeLifecycle", request(n, ""))
	if !strings.Contains(string(res.Status), "NodeStatusNeverUpdated") {
		t.Fatalf("status %s, want Ready Unknown, never updated", res.Status)
	}
}
