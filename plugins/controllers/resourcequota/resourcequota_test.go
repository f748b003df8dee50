package resourcequota_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tugboat-io/tug/plugins/controllers/internal/testutil"
	"github.com/tugboat-io/tug/plugins/controllers/resourcequota"
	tug "github.com/tugboat-io/tug/sdk/go"
)

var now = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

// quota is a ResourceQuota with the given hard limits and spec extras (",\"scopes\":[…]").
func quota(hard, extra, status string) string {
	return fmt.Sprintf(`{"apiVersion":"v1","kind":"ResourceQuota","metadata":{"name":"q","namespace":"ns","uid":"q-1"},
	"spec":{"hard":%s%s},"status":%s}`, hard, extra, status)
}

// pod is a pod with the given spec fields (containers and the rest), phase and metadata
// extras.
func pod(name, spec, phase, meta string) string {
	return fmt.Sprintf(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":%q,"namespace":"ns"%s},"spec":{%s},"status":{"phase":%q}}`, name, meta, spec, phase)
}

// containers is a containers list of the given resources JSON, one container each.
func containers(field string, resources ...string) string {
	var cs []string
	for i, r := range resources {
		cs = append(cs, fmt.Sprintf(`{"name":"c%d","image":"x","resources":%s}`, i, r))
	}
	return fmt.Sprintf(`%q:[%s]`, field, strings.Join(cs, ","))
}

func request(parent string, related map[string][]string) *tug.ReconcileRequest {
	req := &tug.ReconcileRequest{Parent: json.RawMessage(parent), Now: now.Format(time.RFC3339Nano), Related: map[string][]json.RawMessage{}}
	for k, objs := range related {
		req.Related[k] = testutil.Raw(objs...)
	}
	return req
}

// used is the result's status.used, each quantity as written.
func used(t *testing.T, res *tug.ReconcileResult) map[string]string {
	t.Helper()
	var st struct {
		Hard map[string]string `json:"hard"`
		Used map[string]string `json:"used"`
	}
	if err := json.Unmarshal(res.Status, &st); err != nil {
		t.Fatalf("status %s: %v", res.Status, err)
	}
	return st.Used
}

func same(t *testing.T, got, want map[string]string) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("used %v\nwant %v", got, want)
	}
}

const computeHard = `{"pods":"10","count/pods":"20","requests.cpu":"4","cpu":"4","limits.cpu":"8","requests.memory":"8Gi","memory":"8Gi","limits.memory":"16Gi"}`

func TestPodComputeUsage(t *testing.T) {
	del := func(ago time.Duration, grace int) string {
		return fmt.Sprintf(`,"deletionTimestamp":%q,"deletionGracePeriodSeconds":%d`, now.Add(-ago).Format(time.RFC3339), grace)
	}
	res := testutil.Reconcile(t, "ResourceQuota", request(quota(computeHard, "", "{}"), map[string][]string{resourcequota.PodKey: {
		// Two containers add up.
		pod("a", containers("containers",
			`{"requests":{"cpu":"250m","memory":"64Mi"},"limits":{"cpu":"500m","memory":"128Mi"}}`,
			`{"requests":{"cpu":"500m","memory":"64Mi"},"limits":{"cpu":"1","memory":"128Mi"}}`), "Running", ""),
		// An init container larger than the app containers sets the pod's requests.
		pod("b", containers("containers", `{"requests":{"cpu":"100m","memory":"1Gi"}}`)+","+
			containers("initContainers", `{"requests":{"cpu":"2","memory":"10Mi"}}`), "Pending", ""),
		// Finished pods and pods stuck terminating past their grace are not charged…
		pod("done", containers("containers", `{"requests":{"cpu":"3"}}`), "Succeeded", ""),
		pod("failed", containers("containers", `{"requests":{"cpu":"3"}}`), "Failed", ""),
		pod("stuck", containers("containers", `{"requests":{"cpu":"3"}}`), "Running", del(time.Minute, 30)),
		// … but a pod still within its grace is.
		pod("going", containers("containers", `{"requests":{"cpu":"1"}}`), "Running", del(0, 30)),
		// A pod without requests counts as a pod.
		pod("empty", containers("containers", `{}`), "Running", ""),
	}}))
	same(t, used(t, res), map[string]string{
		"pods": "4", "count/pods": "7",
		"requests.cpu": "3750m", "cpu": "3750m", "limits.cpu": "1500m",
		"requests.memory": "1152Mi", "memory": "1152Mi", "limits.memory": "256Mi",
	})
	if res.RequeueAfterSeconds < 30 || res.RequeueAfterSeconds > 30.01 {
		t.Fatalf("requeue after %vs, want 30 (when going's grace ends)", res.RequeueAfterSeconds)
	}
	if len(res.Creates)+len(res.Updates)+len(res.Deletes)+len(res.Children) != 0 {
		t.Fatal("a quota's reconcile changed objects")
	}
}

func TestSidecarsOverheadAndPodLevelResources(t *testing.T) {
	hard := `{"requests.cpu":"10","limits.cpu":"10","requests.memory":"10Gi","limits.memory":"10Gi"}`
	cases := []struct {
		name, spec string
		want       map[string]string
	}{{
		name: "sidecar runs beside the app containers",
		spec: containers("containers", `{"requests":{"cpu":"1"}}`) + "," +
			strings.Replace(containers("initContainers", `{"requests":{"cpu":"500m"}}`), `"name"`, `"restartPolicy":"Always","name"`, 1),
		want: map[string]string{"requests.cpu": "1500m", "limits.cpu": "0", "requests.memory": "0", "limits.memory": "0"},
	}, {
		name: "init container after a sidecar needs both",
		spec: containers("containers", `{"requests":{"cpu":"1"}}`) + `,"initContainers":[` +
			`{"name":"side","restartPolicy":"Always","resources":{"requests":{"cpu":"500m"}}},` +
			`{"name":"setup","resources":{"requests":{"cpu":"2"}}}]`,
		want: map[string]string{"requests.cpu": "2500m", "limits.cpu": "0", "requests.memory": "0", "limits.memory": "0"},
	}, {
		name: "overhead adds to requests, and to limits only where set",
		spec: containers("containers", `{"requests":{"cpu":"1","memory":"1Gi"},"limits":{"cpu":"2"}}`) +
			`,"overhead":{"cpu":"250m","memory":"120Mi"}`,
		want: map[string]string{"requests.cpu": "1250m", "limits.cpu": "2250m", "requests.memory": "1144Mi", "limits.memory": "0"},
	}, {
		name: "pod-level resources stand for the containers'",
		spec: containers("containers", `{"requests":{"cpu":"1"}}`, `{"requests":{"cpu":"1"}}`) +
			`,"resources":{"requests":{"cpu":"1500m","memory":"2Gi"},"limits":{"memory":"4Gi"}}`,
		want: map[string]string{"requests.cpu": "1500m", "limits.cpu": "0", "requests.memory": "2Gi", "limits.memory": "4Gi"},
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := testutil.Reconcile(t, "ResourceQuota", request(quota(hard, "", "{}"),
				map[string][]string{resourcequota.PodKey: {pod("p", c.spec, "Running", "")}}))
			same(t, used(t, res), c.want)
		})
	}
}

func TestExtendedResourcesAndHugePages(t *testing.T) {
	hard := `{"requests.example.com/gpu":"4","hugepages-2Mi":"1Gi","requests.hugepages-2Mi":"1Gi","requests.ephemeral-storage":"10Gi","limits.ephemeral-storage":"20Gi"}`
	res := testutil.Reconcile(t, "ResourceQuota", request(quota(hard, "", "{}"), map[string][]string{resourcequota.PodKey: {
		pod("a", containers("containers", `{"requests":{"example.com/gpu":"1","hugepages-2Mi":"4Mi","ephemeral-storage":"1Gi"},"limits":{"example.com/gpu":"1","ephemeral-storage":"2Gi"}}`), "Running", ""),
		pod("b", containers("containers", `{"requests":{"example.com/gpu":"2","hugepages-2Mi":"6Mi"}}`), "Running", ""),
	}}))
	same(t, used(t, res), map[string]string{
		"requests.example.com/gpu": "3", "hugepages-2Mi": "10Mi", "requests.hugepages-2Mi": "10Mi",
		"requests.ephemeral-storage": "1Gi", "limits.ephemeral-storage": "2Gi",
	})
}

func TestObjectCounts(t *testing.T) {
	svc := func(name, typ, extra string, nodePorts ...int) string {
		var ports []string
		for i, np := range nodePorts {
			ports = append(ports, fmt.Sprintf(`{"port":%d,"nodePort":%d}`, 80+i, np))
		}
		return fmt.Sprintf(`{"apiVersion":"v1","kind":"Service","metadata":{"name":%q},"spec":{"type":%q%s,"ports":[%s]}}`, name, typ, extra, strings.Join(ports, ","))
	}
	pvc := func(name, class, request, allocated string) string {
		return fmt.Sprintf(`{"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"name":%q},"spec":{"storageClassName":%q,"resources":{"requests":{"storage":%q}}},"status":{"allocatedResources":{"storage":%q}}}`,
			name, class, request, allocated)
	}
	obj := func(kind, name string) string {
		return fmt.Sprintf(`{"apiVersion":"v1","kind":%q,"metadata":{"name":%q}}`, kind, name)
	}
	hard := `{"services":"10","count/services":"10","services.nodeports":"10","services.loadbalancers":"2",
	"configmaps":"5","count/configmaps":"5","secrets":"5","count/secrets":"5",
	"replicationcontrollers":"1","count/replicationcontrollers":"1","resourcequotas":"1","count/resourcequotas":"1",
	"persistentvolumeclaims":"5","count/persistentvolumeclaims":"5","requests.storage":"100Gi",
	"fast.storageclass.storage.k8s.io/requests.storage":"10Gi","fast.storageclass.storage.k8s.io/persistentvolumeclaims":"2",
	"count/deployments.apps":"3"}`
	res := testutil.Reconcile(t, "ResourceQuota", request(quota(hard, "", "{}"), map[string][]string{
		resourcequota.ServiceKey: {
			svc("plain", "ClusterIP", ""),
			svc("np", "NodePort", "", 30001, 30002),
			svc("lb", "LoadBalancer", "", 30003),
			svc("lb-no-np", "LoadBalancer", `,"allocateLoadBalancerNodePorts":false`, 0, 30004),
		},
		resourcequota.ConfigMapKey:             {obj("ConfigMap", "a"), obj("ConfigMap", "b")},
		resourcequota.SecretKey:                {obj("Secret", "s")},
		resourcequota.ReplicationControllerKey: {},
		resourcequota.ResourceQuotaKey:         {quota("{}", "", "{}")},
		resourcequota.PersistentVolumeClaimKey: {
			pvc("a", "fast", "1Gi", "1Gi"),
			pvc("b", "fast", "1Gi", "2Gi"), // expanded: charged its allocation
			pvc("c", "slow", "1500m", "0"), // charged whole bytes
		},
		// count/deployments.apps is left alone: the host handed no Deployments.
	}))
	same(t, used(t, res), map[string]string{
		"services": "4", "count/services": "4", "services.nodeports": "4", "services.loadbalancers": "2",
		"configmaps": "2", "count/configmaps": "2", "secrets": "1", "count/secrets": "1",
		"replicationcontrollers": "0", "count/replicationcontrollers": "0", "resourcequotas": "1", "count/resourcequotas": "1",
		"persistentvolumeclaims": "3", "count/persistentvolumeclaims": "3", "requests.storage": "3221225474", // 3Gi and 2 bytes
		"fast.storageclass.storage.k8s.io/requests.storage": "3Gi", "fast.storageclass.storage.k8s.io/persistentvolumeclaims": "2",
	})
}

func TestStatusHardAndCarriedUsage(t *testing.T) {
	cases := []struct {
		name, hard, status string
		related            map[string][]string
		wantHard, wantUsed map[string]string
	}{{
		name:     "hard is the spec's, canonical; a resource nothing uses is 0",
		hard:     `{"requests.cpu":"1000m","requests.memory":"1024Mi","pods":"5"}`,
		status:   `{}`,
		related:  map[string][]string{resourcequota.PodKey: {}},
		wantHard: map[string]string{"requests.cpu": "1", "requests.memory": "1Gi", "pods": "5"},
		wantUsed: map[string]string{"requests.cpu": "0", "requests.memory": "0", "pods": "0"},
	}, {
		name:     "usage not recalculated is kept, usage no longer limited is dropped",
		hard:     `{"pods":"5","count/widgets.example.com":"3"}`,
		status:   `{"used":{"count/widgets.example.com":"2","services":"4","pods":"9"}}`,
		related:  map[string][]string{resourcequota.PodKey: {pod("a", containers("containers", `{}`), "Running", "")}},
		wantHard: map[string]string{"pods": "5", "count/widgets.example.com": "3"},
		wantUsed: map[string]string{"pods": "1", "count/widgets.example.com": "2"},
	}, {
		name:     "no hard limits, no usage",
		hard:     `{}`,
		status:   `{"used":{"pods":"2"}}`,
		related:  map[string][]string{resourcequota.PodKey: {pod("a", containers("containers", `{}`), "Running", "")}},
		wantHard: map[string]string{},
		wantUsed: map[string]string{},
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := testutil.Reconcile(t, "ResourceQuota", request(quota(c.hard, "", c.status), c.related))
			var st struct{ Hard, Used map[string]string }
			if err := json.Unmarshal(res.Status, &st); err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(st.Hard) != fmt.Sprint(c.wantHard) || fmt.Sprint(st.Used) != fmt.Sprint(c.wantUsed) {
				t.Fatalf("status %s\nwant hard %v used %v", res.Status, c.wantHard, c.wantUsed)
			}
		})
	}
}

func TestScopes(t *testing.T) {
	burstable := containers("containers", `{"requests":{"cpu":"1"}}`)
	bestEffort := containers("containers", `{}`)
	crossNS := `"affinity":{"podAffinity":{"preferredDuringSchedulingIgnoredDuringExecution":[{"weight":1,"podAffinityTerm":{"topologyKey":"zone","namespaceSelector":{}}}]}},` + bestEffort
	pods := []string{
		pod("batch", `"activeDeadlineSeconds":60,`+burstable, "Running", ""),
		pod("web", `"priorityClassName":"high",`+burstable, "Running", ""),
		pod("idle", bestEffort, "Running", ""),
		pod("low", `"priorityClassName":"low",`+bestEffort, "Running", ""),
		pod("cross", crossNS, "Running", ""),
	}
	hard := `{"pods":"10","requests.cpu":"10","services":"5"}`
	svc := `{"apiVersion":"v1","kind":"Service","metadata":{"name":"s"},"spec":{"type":"ClusterIP"}}`
	cases := []struct {
		name, extra, want string
	}{
		{"no scope", ``, "pods=5 cpu=2 services=1"},
		{"Terminating", `,"scopes":["Terminating"]`, "pods=1 cpu=1 services=0"},
		{"NotTerminating", `,"scopes":["NotTerminating"]`, "pods=4 cpu=1 services=0"},
		{"BestEffort", `,"scopes":["BestEffort"]`, "pods=3 cpu=0 services=0"},
		{"NotBestEffort and NotTerminating", `,"scopes":["NotBestEffort","NotTerminating"]`, "pods=1 cpu=1 services=0"},
		{"PriorityClass exists", `,"scopes":["PriorityClass"]`, "pods=2 cpu=1 services=0"},
		{"PriorityClass In", `,"scopeSelector":{"matchExpressions":[{"scopeName":"PriorityClass","operator":"In","values":["high","medium"]}]}`, "pods=1 cpu=1 services=0"},
		{"PriorityClass NotIn", `,"scopeSelector":{"matchExpressions":[{"scopeName":"PriorityClass","operator":"NotIn","values":["high"]}]}`, "pods=4 cpu=1 services=0"},
		{"CrossNamespacePodAffinity", `,"scopes":["CrossNamespacePodAffinity"]`, "pods=1 cpu=0 services=0"},
		{"unknown scope holds nothing", `,"scopes":["Sometimes"]`, "pods=0 cpu=0 services=0"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := testutil.Reconcile(t, "ResourceQuota", request(quota(hard, c.extra, "{}"),
				map[string][]string{resourcequota.PodKey: pods, resourcequota.ServiceKey: {svc}}))
			u := used(t, res)
			if got := fmt.Sprintf("pods=%s cpu=%s services=%s", u["pods"], u["requests.cpu"], u["services"]); got != c.want {
				t.Fatalf("used %s, want %s", got, c.want)
			}
		})
	}
}

func TestMalformedObjectsFail(t *testing.T) {
	req := request(quota(`{"pods":"1"}`, "", "{}"), map[string][]string{resourcequota.PodKey: {`{"spec":{"containers":[{"resources":{"requests":{"cpu":"lots"}}}]}}`}})
	if _, err := resourcequota.Reconcile(req); err == nil || !strings.Contains(err.Error(), "decode pod") {
		t.Fatalf("a pod with a malformed quantity decoded: %v", err)
	}
}
