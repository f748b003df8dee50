package resourcequota_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/tugboat-io/tug/plugins/admission/internal/testutil"
	tug "github.com/tugboat-io/tug/sdk/go"
)

// quota is a ResourceQuota q in namespace dev with the given hard limits, spec extras and
// status.
func quota(name, hard, extra, status string) string {
	return fmt.Sprintf(`{"apiVersion":"v1","kind":"ResourceQuota","metadata":{"name":%q,"namespace":"dev","resourceVersion":"7"},
	"spec":{"hard":%s%s},"status":%s}`, name, hard, extra, status)
}

func admit(t *testing.T, op, obj string, quotas ...string) *tug.AdmissionResponse {
	t.Helper()
	return testutil.Admit(t, testutil.Request(t, "ResourceQuota", op, obj, "", map[string][]string{"v1/ResourceQuota": quotas}))
}

// updates are the response's status updates, compacted.
func updates(t *testing.T, r *tug.AdmissionResponse) []string {
	t.Helper()
	var out []string
	for _, u := range r.StatusUpdates {
		var v any
		if err := json.Unmarshal(u, &v); err != nil {
			t.Fatalf("status update %s: %v", u, err)
		}
		b, _ := json.Marshal(v)
		out = append(out, string(b))
	}
	return out
}

var (
	cpuPod = testutil.Pod("dev", "web", testutil.Containers("containers",
		`{"requests":{"cpu":"250m","memory":"64Mi"},"limits":{"cpu":"500m","memory":"128Mi"}}`,
		`{"requests":{"cpu":"500m","memory":"64Mi"},"limits":{"cpu":"1","memory":"128Mi"}}`), "")
	bare = testutil.Pod("dev", "web", testutil.Containers("containers", `{}`), "")
)

func TestPodCharged(t *testing.T) {
	q := quota("q1", `{"pods":"5","count/pods":"5","requests.cpu":"2","limits.memory":"1Gi","cpu":"2"}`, "",
		`{"hard":{"pods":"5"},"used":{"pods":"2","count/pods":"3","requests.cpu":"500m","limits.memory":"512Mi","cpu":"500m"}}`)
	r := admit(t, "CREATE", cpuPod, q)
	if !r.Allowed {
		t.Fatalf("denied: %s", testutil.Verdict(r))
	}
	got := updates(t, r)
	want := `{"apiVersion":"v1","kind":"ResourceQuota","metadata":{"name":"q1","namespace":"dev","resourceVersion":"7"},"status":{"hard":{"count/pods":"5","cpu":"2","limits.memory":"1Gi","pods":"5","requests.cpu":"2"},"used":{"count/pods":"4","cpu":"1250m","limits.memory":"768Mi","pods":"3","requests.cpu":"1250m"}}}`
	if len(got) != 1 || got[0] != want {
		t.Errorf("status updates\n got %v\nwant [%s]", got, want)
	}
}

func TestDenials(t *testing.T) {
	for _, tc := range []struct {
		name, obj string
		quotas    []string
		verdict   string
	}{
		{"pods at the limit", bare, []string{quota("q1", `{"pods":"5"}`, "", `{"hard":{"pods":"5"},"used":{"pods":"5"}}`)},
			`denied 403: pods "web" is forbidden: exceeded quota: q1, requested: pods=1, used: pods=5, limited: pods=5`},
		{"cpu over the limit", cpuPod, []string{quota("q1", `{"requests.cpu":"1","requests.memory":"1Gi"}`, "", `{"used":{"requests.cpu":"500m","requests.memory":"0"}}`)},
			`denied 403: pods "web" is forbidden: exceeded quota: q1, requested: requests.cpu=750m, used: requests.cpu=500m, limited: requests.cpu=1`},
		{"the first quota by name refuses", bare, []string{
			quota("b", `{"pods":"1"}`, "", `{"used":{"pods":"1"}}`), quota("a", `{"count/pods":"1"}`, "", `{"used":{"count/pods":"1"}}`)},
			`denied 403: pods "web" is forbidden: exceeded quota: a, requested: count/pods=1, used: count/pods=1, limited: count/pods=1`},
		{"limits.cpu unset", testutil.Pod("dev", "web", testutil.Containers("containers", `{"requests":{"cpu":"1"}}`, `{"limits":{"cpu":"1"}}`), ""),
			[]string{quota("q1", `{"limits.cpu":"4","requests.memory":"1Gi"}`, "", `{}`)},
			`denied 403: pods "web" is forbidden: failed quota: q1: must specify limits.cpu for: c0; requests.memory for: c0,c1`},
		{"an init container must set it too", testutil.Pod("dev", "web", testutil.Containers("containers", `{"requests":{"cpu":"1"}}`)+","+testutil.Containers("initContainers", `{}`), ""),
			[]string{quota("q1", `{"cpu":"4"}`, "", `{}`)},
			`denied 403: pods "web" is forbidden: failed quota: q1: must specify cpu for: c0`},
		{"configmaps", `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm","namespace":"dev"}}`,
			[]string{quota("q1", `{"configmaps":"2"}`, "", `{"used":{"configmaps":"2"}}`)},
			`denied 403: configmaps "cm" is forbidden: exceeded quota: q1, requested: configmaps=1, used: configmaps=2, limited: configmaps=2`},
		{"a generic count", `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d","namespace":"dev"}}`,
			[]string{quota("q1", `{"count/deployments.apps":"0"}`, "", `{}`)},
			`denied 403: deployments.apps "d" is forbidden: exceeded quota: q1, requested: count/deployments.apps=1, used: count/deployments.apps=0, limited: count/deployments.apps=0`},
		{"node ports", `{"apiVersion":"v1","kind":"Service","metadata":{"name":"s","namespace":"dev"},"spec":{"type":"NodePort","ports":[{"port":80},{"port":81}]}}`,
			[]string{quota("q1", `{"services":"10","services.nodeports":"1"}`, "", `{}`)},
			`denied 403: services "s" is forbidden: exceeded quota: q1, requested: services.nodeports=2, used: services.nodeports=0, limited: services.nodeports=1`},
		{"storage per class", `{"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"name":"c","namespace":"dev"},"spec":{"storageClassName":"gold","resources":{"requests":{"storage":"5Gi"}}}}`,
			[]string{quota("q1", `{"requests.storage":"100Gi","gold.storageclass.storage.k8s.io/requests.storage":"8Gi"}`, "", `{"used":{"gold.storageclass.storage.k8s.io/requests.storage":"4Gi"}}`)},
			`denied 403: persistentvolumeclaims "c" is forbidden: exceeded quota: q1, requested: gold.storageclass.storage.k8s.io/requests.storage=5Gi, used: gold.storageclass.storage.k8s.io/requests.storage=4Gi, limited: gold.storageclass.storage.k8s.io/requests.storage=8Gi`},
		{"extended resources by request", testutil.Pod("dev", "web", testutil.Containers("containers", `{"requests":{"example.com/gpu":"2"},"limits":{"example.com/gpu":"2"}}`), ""),
			[]string{quota("q1", `{"requests.example.com/gpu":"1"}`, "", `{}`)},
			`denied 403: pods "web" is forbidden: exceeded quota: q1, requested: requests.example.com/gpu=2, used: requests.example.com/gpu=0, limited: requests.example.com/gpu=1`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := testutil.Verdict(admit(t, "CREATE", tc.obj, tc.quotas...)); got != tc.verdict {
				t.Errorf("verdict\n got %s\nwant %s", got, tc.verdict)
			}
		})
	}
}

func TestNotCharged(t *testing.T) {
	full := `{"used":{"pods":"1"}}`
	for _, tc := range []struct {
		name, op, obj string
		quotas        []string
	}{
		{"best effort pod under a NotBestEffort quota", "CREATE", bare, []string{quota("q1", `{"pods":"1"}`, `,"scopes":["NotBestEffort"]`, full)}},
		{"pod without a priority class under a PriorityClass selector", "CREATE", bare,
			[]string{quota("q1", `{"pods":"1"}`, `,"scopeSelector":{"matchExpressions":[{"scopeName":"PriorityClass","operator":"In","values":["high"]}]}`, full)}},
		{"long-running pod under a Terminating quota", "CREATE", bare, []string{quota("q1", `{"pods":"1"}`, `,"scopes":["Terminating"]`, full)}},
		{"configmap under a scoped quota", "CREATE", `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm","namespace":"dev"}}`,
			[]string{quota("q1", `{"configmaps":"0"}`, `,"scopes":["BestEffort"]`, `{}`)}},
		{"a quota limiting other kinds", "CREATE", bare, []string{quota("q1", `{"services":"0"}`, "", `{}`)}},
		{"update", "UPDATE", bare, []string{quota("q1", `{"pods":"1"}`, "", full)}},
		{"delete", "DELETE", bare, []string{quota("q1", `{"pods":"1"}`, "", full)}},
		{"no quotas", "CREATE", bare, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := testutil.Request(t, "ResourceQuota", tc.op, tc.obj, "", map[string][]string{"v1/ResourceQuota": tc.quotas})
			if tc.op == "UPDATE" {
				req.OldObject = req.Object
			}
			r := testutil.Admit(t, req)
			if !r.Allowed || len(r.StatusUpdates) != 0 {
				t.Errorf("verdict %s with %d status updates, want allowed without any", testutil.Verdict(r), len(r.StatusUpdates))
			}
		})
	}
}

func TestScopedAndSeveralQuotas(t *testing.T) {
	pod := testutil.Pod("dev", "web", testutil.Containers("containers", `{"requests":{"cpu":"1"},"limits":{"cpu":"1"}}`)+`,"priorityClassName":"high","activeDeadlineSeconds":60`, "")
	r := admit(t, "CREATE", pod,
		quota("all", `{"pods":"10"}`, "", `{}`),
		quota("high", `{"requests.cpu":"4"}`, `,"scopeSelector":{"matchExpressions":[{"scopeName":"PriorityClass","operator":"In","values":["high"]}]}`, `{"used":{"requests.cpu":"1"}}`),
		quota("term", `{"limits.cpu":"4"}`, `,"scopes":["Terminating","NotBestEffort"]`, `{"used":{"limits.cpu":"500m"}}`),
		quota("unrelated", `{"services":"1"}`, "", `{}`))
	if !r.Allowed {
		t.Fatalf("denied: %s", testutil.Verdict(r))
	}
	got := updates(t, r)
	want := []string{
		`{"apiVersion":"v1","kind":"ResourceQuota","metadata":{"name":"all","namespace":"dev","resourceVersion":"7"},"status":{"hard":{"pods":"10"},"used":{"pods":"1"}}}`,
		`{"apiVersion":"v1","kind":"ResourceQuota","metadata":{"name":"high","namespace":"dev","resourceVersion":"7"},"status":{"hard":{"requests.cpu":"4"},"used":{"requests.cpu":"2"}}}`,
		`{"apiVersion":"v1","kind":"ResourceQuota","metadata":{"name":"term","namespace":"dev","resourceVersion":"7"},"status":{"hard":{"limits.cpu":"4"},"used":{"limits.cpu":"1500m"}}}`,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("status updates\n got %v\nwant %v", got, want)
	}
}
