package daemonset_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tugboat-io/tug/plugins/controllers/daemonset"
	"github.com/tugboat-io/tug/plugins/controllers/internal/testutil"
	"github.com/tugboat-io/tug/plugins/controllers/internal/workload"
	tug "github.com/tugboat-io/tug/sdk/go"
)

var now = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

const template = `{"metadata":{"labels":{"app":"agent"}},"spec":{"containers":[{"name":"c","image":"agent:2"}]}}`

// newHash is the current template's hash; pods labelled "old" are of an earlier template.
var newHash = hashOf(template)

func hashOf(tmpl string) string {
	var t workload.Template
	if err := json.Unmarshal([]byte(tmpl), &t); err != nil {
		panic(err)
	}
	return t.Hash()
}

// ds is a DaemonSet of template with the given updateStrategy JSON and more spec fields.
func ds(tmpl, strategy, extra string) string {
	return fmt.Sprintf(`{"apiVersion":"apps/v1","kind":"DaemonSet","metadata":{"name":"agent","namespace":"kube-system","uid":"ds-1","generation":4},
	"spec":{"selector":{"matchLabels":{"app":"agent"}},"template":%s,"updateStrategy":%s%s}}`, tmpl, strategy, extra)
}

const rolling = `{"type":"RollingUpdate","rollingUpdate":{"maxUnavailable":1,"maxSurge":0}}`

// withSpec is the template with more pod spec fields.
func withSpec(fields string) string {
	if fields == "" {
		return template
	}
	return strings.Replace(template, `"spec":{`, `"spec":{`+fields+`,`, 1)
}

// node is a Node with labels and taints (JSON lists or objects, "" for none).
func node(name, labels, taints string) string {
	if labels == "" {
		labels = "{}"
	}
	if taints == "" {
		taints = "[]"
	}
	return fmt.Sprintf(`{"apiVersion":"v1","kind":"Node","metadata":{"name":%q,"labels":%s},"spec":{"taints":%s}}`, name, labels, taints)
}

func nodes(names ...string) []string {
	var out []string
	for _, n := range names {
		out = append(out, node(n, "", ""))
	}
	return out
}

// pod is a daemon pod of template hash ("old" or newHash) on a node (bound, or only pinned),
// created age ago, ready since readyAgo ago (notReady: not ready), in phase (Running when
// empty), perhaps being deleted.
type pod struct {
	name, node, hash, phase string
	age, readyAgo           time.Duration
	pinnedOnly, deleting    bool
}

const notReady = -1

func (p pod) json() string {
	ready := ""
	if p.readyAgo >= 0 {
		ready = fmt.Sprintf(`,"conditions":[{"type":"Ready","status":"True","lastTransitionTime":%q}]`, now.Add(-p.readyAgo).Format(time.RFC3339))
	}
	if p.phase == "" {
		p.phase = "Running"
	}
	nodeName := p.node
	if p.pinnedOnly {
		nodeName = ""
	}
	del := ""
	if p.deleting {
		del = fmt.Sprintf(`"deletionTimestamp":%q,`, now.Format(time.RFC3339))
	}
	return fmt.Sprintf(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":%q,"uid":"u-%s","namespace":"kube-system",%s"creationTimestamp":%q,
	"labels":{"app":"agent","controller-revision-hash":%q}},
	"spec":{"nodeName":%q,"affinity":{"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":{"nodeSelectorTerms":[{"matchFields":[{"key":"metadata.name","operator":"In","values":[%q]}]}]}}}},
	"status":{"phase":%q%s}}`, p.name, p.name, del, now.Add(-p.age).Format(time.RFC3339Nano), p.hash, nodeName, p.node, p.phase, ready)
}

// running is a pod of hash on node, up and ready for an hour.
func running(name, node, hash string) pod {
	return pod{name: name, node: node, hash: hash, age: 2 * time.Hour, readyAgo: time.Hour}
}

func reconcile(t *testing.T, parent string, nodeList []string, pods ...pod) (*tug.ReconcileResult, daemonset.Status) {
	t.Helper()
	var raws []string
	for _, p := range pods {
		raws = append(raws, p.json())
	}
	res := testutil.Reconcile(t, "DaemonSet", &tug.ReconcileRequest{Parent: json.RawMessage(parent), Now: now.Format(time.RFC3339Nano),
		Children: map[string][]json.RawMessage{daemonset.PodKey: testutil.Raw(raws...)},
		Related:  map[string][]json.RawMessage{daemonset.NodeKey: testutil.Raw(nodeList...)}})
	return res, testutil.Decode[daemonset.Status](t, res.Status)
}

// createdPod is what the tests read of a created pod.
type createdPod struct {
	Metadata workload.Meta `json:"metadata"`
	Spec     struct {
		NodeName    string `json:"nodeName"`
		Tolerations []struct {
			Key, Operator, Effect string
		} `json:"tolerations"`
		Affinity struct {
			NodeAffinity struct {
				Required struct {
					NodeSelectorTerms []struct {
						MatchExpressions []json.RawMessage `json:"matchExpressions"`
						MatchFields      []struct {
							Key, Operator string
							Values        []string
						} `json:"matchFields"`
					} `json:"nodeSelectorTerms"`
				} `json:"requiredDuringSchedulingIgnoredDuringExecution"`
				Preferred json.RawMessage `json:"preferredDuringSchedulingIgnoredDuringExecution"`
			} `json:"nodeAffinity"`
		} `json:"affinity"`
		Containers json.RawMessage `json:"containers"`
	} `json:"spec"`
}

func created(t *testing.T, res *tug.ReconcileResult) []createdPod {
	return testutil.DecodeAll[createdPod](t, res.Creates)
}

// pinnedTo is the node each created pod is pinned to, in order.
func pinnedTo(t *testing.T, res *tug.ReconcileResult) []string {
	t.Helper()
	var out []string
	for _, p := range created(t, res) {
		terms := p.Spec.Affinity.NodeAffinity.Required.NodeSelectorTerms
		if len(terms) != 1 || len(terms[0].MatchFields) != 1 || len(terms[0].MatchExpressions) != 0 {
			t.Fatalf("created pod is not pinned by one matchFields term: %+v", terms)
		}
		f := terms[0].MatchFields[0]
		if f.Key != "metadata.name" || f.Operator != "In" || len(f.Values) != 1 {
			t.Fatalf("created pod's matchFields %+v", f)
		}
		out = append(out, f.Values[0])
	}
	return out
}

func TestPlacement(t *testing.T) {
	for _, c := range []struct {
		name    string
		podSpec string // more template pod spec fields
		node    string
		wantPod bool
	}{
		{name: "plain node", node: node("n", "", ""), wantPod: true},
		{name: "nodeSelector matches", podSpec: `"nodeSelector":{"disk":"ssd"}`, node: node("n", `{"disk":"ssd"}`, ""), wantPod: true},
		{name: "nodeSelector differs", podSpec: `"nodeSelector":{"disk":"ssd"}`, node: node("n", `{"disk":"hdd"}`, "")},
		{name: "nodeSelector label missing", podSpec: `"nodeSelector":{"disk":"ssd"}`, node: node("n", "", "")},
		{name: "affinity In", podSpec: affinity(`{"matchExpressions":[{"key":"zone","operator":"In","values":["a","b"]}]}`),
			node: node("n", `{"zone":"b"}`, ""), wantPod: true},
		{name: "affinity NotIn", podSpec: affinity(`{"matchExpressions":[{"key":"zone","operator":"NotIn","values":["a"]}]}`),
			node: node("n", `{"zone":"a"}`, "")},
		{name: "affinity Exists", podSpec: affinity(`{"matchExpressions":[{"key":"gpu","operator":"Exists"}]}`),
			node: node("n", `{"zone":"a"}`, "")},
		{name: "affinity DoesNotExist", podSpec: affinity(`{"matchExpressions":[{"key":"gpu","operator":"DoesNotExist"}]}`),
			node: node("n", `{"zone":"a"}`, ""), wantPod: true},
		{name: "affinity Gt", podSpec: affinity(`{"matchExpressions":[{"key":"cores","operator":"Gt","values":["8"]}]}`),
			node: node("n", `{"cores":"16"}`, ""), wantPod: true},
		{name: "affinity Lt", podSpec: affinity(`{"matchExpressions":[{"key":"cores","operator":"Lt","values":["8"]}]}`),
			node: node("n", `{"cores":"16"}`, "")},
		{name: "affinity terms are ORed", podSpec: affinity(`{"matchExpressions":[{"key":"zone","operator":"In","values":["x"]}]},{"matchFields":[{"key":"metadata.name","operator":"In","values":["n"]}]}`),
			node: node("n", "", ""), wantPod: true},
		{name: "affinity matchFields other node", podSpec: affinity(`{"matchFields":[{"key":"metadata.name","operator":"In","values":["m"]}]}`),
			node: node("n", "", "")},
		{name: "untolerated NoSchedule taint", node: node("n", "", `[{"key":"dedicated","value":"db","effect":"NoSchedule"}]`)},
		{name: "untolerated NoExecute taint", node: node("n", "", `[{"key":"dedicated","value":"db","effect":"NoExecute"}]`)},
		{name: "PreferNoSchedule taint", node: node("n", "", `[{"key":"dedicated","value":"db","effect":"PreferNoSchedule"}]`), wantPod: true},
		{name: "tolerated by value", podSpec: `"tolerations":[{"key":"dedicated","operator":"Equal","value":"db","effect":"NoSchedule"}]`,
			node: node("n", "", `[{"key":"dedicated","value":"db","effect":"NoSchedule"}]`), wantPod: true},
		{name: "toleration of another value", podSpec: `"tolerations":[{"key":"dedicated","value":"web"}]`,
			node: node("n", "", `[{"key":"dedicated","value":"db","effect":"NoSchedule"}]`)},
		{name: "tolerate everything", podSpec: `"tolerations":[{"operator":"Exists"}]`,
			node: node("n", "", `[{"key":"dedicated","value":"db","effect":"NoExecute"}]`), wantPod: true},
		{name: "not-ready tolerated by default", node: node("n", "", `[{"key":"node.kubernetes.io/not-ready","effect":"NoExecute"}]`), wantPod: true},
		{name: "unschedulable tolerated by default", node: node("n", "", `[{"key":"node.kubernetes.io/unschedulable","effect":"NoSchedule"}]`), wantPod: true},
		{name: "network-unavailable keeps pod-network pods out", node: node("n", "", `[{"key":"node.kubernetes.io/network-unavailable","effect":"NoSchedule"}]`)},
		{name: "network-unavailable tolerated with hostNetwork", podSpec: `"hostNetwork":true`,
			node: node("n", "", `[{"key":"node.kubernetes.io/network-unavailable","effect":"NoSchedule"}]`), wantPod: true},
		{name: "node being deleted", node: strings.Replace(node("n", "", ""), `"labels"`, `"deletionTimestamp":"2026-11-22T09:00:00Z","labels"`, 1)},
		{name: "template nodeName elsewhere", podSpec: `"nodeName":"m"`, node: node("n", "", "")},
	} {
		t.Run(c.name, func(t *testing.T) {
			res, st := reconcile(t, ds(withSpec(c.podSpec), rolling, ""), []string{c.node})
			if got := len(res.Creates) == 1; got != c.wantPod || len(res.Creates) > 1 {
				t.Fatalf("created %d pods, want a pod: %v", len(res.Creates), c.wantPod)
			}
			if want := map[bool]int32{true: 1}[c.wantPod]; st.DesiredNumberScheduled != want {
				t.Fatalf("desiredNumberScheduled %d, want %d", st.DesiredNumberScheduled, want)
			}
		})
	}
}

func affinity(terms string) string {
	return `"affinity":{"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":{"nodeSelectorTerms":[` + terms + `]}}}`
}

func TestCreatedPodIsPinnedToItsNode(t *testing.T) {
	tmpl := withSpec(`"tolerations":[{"key":"node.kubernetes.io/not-ready","operator":"Exists","effect":"NoExecute"}],
	"affinity":{"nodeAffinity":{
		"requiredDuringSchedulingIgnoredDuringExecution":{"nodeSelectorTerms":[{"matchExpressions":[{"key":"zone","operator":"In","values":["a"]}]}]},
		"preferredDuringSchedulingIgnoredDuringExecution":[{"weight":1,"preference":{"matchExpressions":[{"key":"fast","operator":"Exists"}]}}]}}`)
	res, _ := reconcile(t, ds(tmpl, rolling, ""), []string{node("n2", `{"zone":"a"}`, ""), node("n1", `{"zone":"a"}`, ""), node("n3", `{"zone":"b"}`, "")})
	if got := pinnedTo(t, res); !slices.Equal(got, []string{"n1", "n2"}) {
		t.Fatalf("pods pinned to %v, want n1 and n2", got)
	}
	p := created(t, res)[0]
	if p.Metadata.GenerateName != "agent-" || p.Metadata.Name != "" || p.Spec.NodeName != "" {
		t.Fatalf("pod named %q/%q on node %q: want generateName agent- and no node", p.Metadata.GenerateName, p.Metadata.Name, p.Spec.NodeName)
	}
	if p.Metadata.Labels["app"] != "agent" || p.Metadata.Labels[daemonset.HashLabel] != hashOf(tmpl) || p.Metadata.Labels[daemonset.GenerationLabel] != "4" {
		t.Fatalf("labels %v", p.Metadata.Labels)
	}
	if len(p.Spec.Affinity.NodeAffinity.Preferred) == 0 {
		t.Fatal("preferred node affinity dropped")
	}
	var keys []string
	for _, tol := range p.Spec.Tolerations {
		keys = append(keys, tol.Key+":"+tol.Effect)
	}
	want := []string{"node.kubernetes.io/not-ready:NoExecute", "node.kubernetes.io/unreachable:NoExecute", "node.kubernetes.io/disk-pressure:NoSchedule",
		"node.kubernetes.io/memory-pressure:NoSchedule", "node.kubernetes.io/pid-pressure:NoSchedule", "node.kubernetes.io/unschedulable:NoSchedule"}
	if !slices.Equal(keys, want) {
		t.Fatalf("tolerations %v, want %v (the template's not repeated)", keys, want)
	}
	if !strings.Contains(string(p.Spec.Containers), `"agent:2"`) {
		t.Fatalf("containers %s", p.Spec.Containers)
	}
}

func TestPodsLeaveNodesThatAreGoneOrIneligible(t *testing.T) {
	nodeList := []string{
		node("n1", `{"role":"web"}`, ""),
		node("evicting", `{"role":"web"}`, `[{"key":"maintenance","effect":"NoExecute"}]`),
		node("cordoned", `{"role":"web"}`, `[{"key":"maintenance","effect":"NoSchedule"}]`),
		node("relabelled", `{"role":"db"}`, ""),
	}
	res, st := reconcile(t, ds(withSpec(`"nodeSelector":{"role":"web"}`), rolling, ""), nodeList,
		running("a", "n1", newHash), running("b", "evicting", newHash), running("c", "cordoned", newHash),
		running("d", "relabelled", newHash), running("e", "gone", newHash), pod{name: "f", node: "gone", hash: newHash, pinnedOnly: true, readyAgo: notReady})
	// A NoSchedule taint keeps new pods out but lets c stay; a NoExecute one evicts b.
	if got := testutil.Deleted(res); !slices.Equal(got, []string{"b", "d", "e", "f"}) {
		t.Fatalf("deleted %v, want b d e f", got)
	}
	if len(res.Creates) != 0 {
		t.Fatalf("created %d pods", len(res.Creates))
	}
	if st.NumberMisscheduled != 3 || st.DesiredNumberScheduled != 1 || st.CurrentNumberScheduled != 1 {
		t.Fatalf("status %+v, want 3 misscheduled (pods on existing nodes that should not run one), 1 desired and current", st)
	}
}

func TestPlacementWithoutSelector(t *testing.T) {
	res, st := reconcile(t, ds(template, rolling, ""),
		[]string{node("n1", "", ""), node("n2", "", ""), node("n3", "", "")},
		running("a", "n1", newHash),
		// A duplicate on n2: the oldest stays.
		pod{name: "b-old", node: "n2", hash: newHash, age: 3 * time.Hour, readyAgo: time.Hour},
		pod{name: "b-new", node: "n2", hash: newHash, age: time.Hour, readyAgo: time.Minute},
		running("gone", "n9", newHash))
	if got := testutil.Deleted(res); !slices.Equal(got, []string{"b-new", "gone"}) {
		t.Fatalf("deleted %v, want b-new and gone", got)
	}
	if got := pinnedTo(t, res); !slices.Equal(got, []string{"n3"}) {
		t.Fatalf("created on %v, want n3", got)
	}
	if st.DesiredNumberScheduled != 3 || st.CurrentNumberScheduled != 2 || st.NumberReady != 2 || st.NumberAvailable != 2 ||
		st.NumberUnavailable != 1 || st.UpdatedNumberScheduled != 2 || st.ObservedGeneration != 4 {
		t.Fatalf("status %+v", st)
	}
}

func TestTerminatingPodHoldsItsNode(t *testing.T) {
	res, _ := reconcile(t, ds(template, rolling, ""), nodes("n1"),
		pod{name: "a", node: "n1", hash: "old", deleting: true, readyAgo: notReady})
	if len(res.Creates) != 0 || len(res.Deletes) != 0 {
		t.Fatalf("creates %d deletes %v: a node waits for its terminating pod", len(res.Creates), testutil.Deleted(res))
	}
}

func TestFailedPodIsReplacedAfterBackoff(t *testing.T) {
	// The pod failed when it was created, as a pod the kubelet rejects does.
	failed := func(failedAgo time.Duration) pod {
		return pod{name: "a", node: "n1", hash: newHash, phase: "Failed", age: failedAgo, readyAgo: notReady}
	}
	t.Run("backing off", func(t *testing.T) {
		res, _ := reconcile(t, ds(template, rolling, ""), nodes("n1"), failed(300*time.Millisecond))
		if len(res.Creates) != 0 || len(res.Deletes) != 0 {
			t.Fatalf("creates %d deletes %v during the backoff", len(res.Creates), testutil.Deleted(res))
		}
		if res.RequeueAfterSeconds < 0.69 || res.RequeueAfterSeconds > 0.71 {
			t.Fatalf("requeue after %vs, want 0.7s (the rest of the 1s backoff)", res.RequeueAfterSeconds)
		}
	})
	t.Run("replaced", func(t *testing.T) {
		res, _ := reconcile(t, ds(template, rolling, ""), nodes("n1"), failed(2*time.Second))
		if got := testutil.Deleted(res); !slices.Equal(got, []string{"a"}) {
			t.Fatalf("deleted %v, want the failed pod", got)
		}
		cs := created(t, res)
		if len(cs) != 1 || cs[0].Metadata.Annotations[daemonset.FailuresAnnotation] != "1" {
			t.Fatalf("replacement %+v, want one pod counting 1 failure", cs)
		}
		if len(res.Events) != 1 || res.Events[0].Reason != "FailedDaemonPod" {
			t.Fatalf("events %+v", res.Events)
		}
	})
}

func TestFailedPodBackoffGrows(t *testing.T) {
	// A pod that replaced 3 failed ones waits 8s after it fails.
	p := pod{name: "a", node: "n1", hash: newHash, phase: "Failed", age: 5 * time.Second, readyAgo: notReady}
	raw := strings.Replace(p.json(), `"labels"`, `"annotations":{"daemonset.tug.dev/failures":"3"},"labels"`, 1)
	res := testutil.Reconcile(t, "DaemonSet", &tug.ReconcileRequest{Parent: json.RawMessage(ds(template, rolling, "")), Now: now.Format(time.RFC3339Nano),
		Children: map[string][]json.RawMessage{daemonset.PodKey: testutil.Raw(raw)},
		Related:  map[string][]json.RawMessage{daemonset.NodeKey: testutil.Raw(nodes("n1")...)}})
	if len(res.Deletes) != 0 || res.RequeueAfterSeconds != 3 {
		t.Fatalf("deletes %v requeue %vs, want none and 3s", res.Deletes, res.RequeueAfterSeconds)
	}
}

func TestRollingUpdateWithinMaxUnavailable(t *testing.T) {
	four := nodes("n1", "n2", "n3", "n4")
	for _, c := range []struct {
		name     string
		strategy string
		pods     []pod
		want     []string
	}{
		{name: "one at a time", strategy: rolling,
			pods: []pod{running("a", "n1", "old"), running("b", "n2", "old"), running("c", "n3", "old"), running("d", "n4", "old")},
			want: []string{"a"}},
		{name: "percent rounds up", strategy: `{"type":"RollingUpdate","rollingUpdate":{"maxUnavailable":"30%"}}`,
			pods: []pod{running("a", "n1", "old"), running("b", "n2", "old"), running("c", "n3", "old"), running("d", "n4", "old")},
			want: []string{"a", "b"}},
		{name: "new pod not yet available uses the budget", strategy: rolling,
			pods: []pod{{name: "a", node: "n1", hash: newHash, readyAgo: notReady}, running("b", "n2", "old"), running("c", "n3", "old"), running("d", "n4", "old")},
			want: nil},
		{name: "unavailable old pods go regardless", strategy: rolling,
			pods: []pod{running("a", "n1", newHash), {name: "b", node: "n2", hash: "old", readyAgo: notReady}, {name: "c", node: "n3", hash: "old", readyAgo: notReady}, running("d", "n4", "old")},
			want: []string{"b", "c"}},
		{name: "default strategy is rolling", strategy: `{}`,
			pods: []pod{running("a", "n1", newHash), running("b", "n2", "old"), running("c", "n3", "old"), running("d", "n4", "old")},
			want: []string{"b"}},
		{name: "OnDelete leaves old pods", strategy: `{"type":"OnDelete"}`,
			pods: []pod{running("a", "n1", "old"), running("b", "n2", "old"), running("c", "n3", "old"), running("d", "n4", "old")},
			want: nil},
		{name: "done", strategy: rolling,
			pods: []pod{running("a", "n1", newHash), running("b", "n2", newHash), running("c", "n3", newHash), running("d", "n4", newHash)},
			want: nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			res, _ := reconcile(t, ds(template, c.strategy, ""), four, c.pods...)
			if got := testutil.Deleted(res); !slices.Equal(got, c.want) {
				t.Fatalf("deleted %v, want %v", got, c.want)
			}
			if len(res.Creates) != 0 {
				t.Fatalf("created %d pods: replacements come once the old ones are gone", len(res.Creates))
			}
		})
	}
}

func TestRollingUpdateWaitsForPlacement(t *testing.T) {
	// n3 lacks a pod: placement creates it and the update waits for the next reconcile.
	res, _ := reconcile(t, ds(template, rolling, ""), nodes("n1", "n2", "n3"), running("a", "n1", "old"), running("b", "n2", "old"))
	if len(res.Deletes) != 0 || !slices.Equal(pinnedTo(t, res), []string{"n3"}) {
		t.Fatalf("deleted %v created on %v, want only a create on n3", testutil.Deleted(res), pinnedTo(t, res))
	}
}

func TestRollingUpdateWithSurge(t *testing.T) {
	surge := `{"type":"RollingUpdate","rollingUpdate":{"maxUnavailable":0,"maxSurge":1}}`
	three := nodes("n1", "n2", "n3")
	for _, c := range []struct {
		name        string
		pods        []pod
		wantCreate  []string
		wantDeleted []string
	}{
		{name: "surges one node",
			pods:       []pod{running("a", "n1", "old"), running("b", "n2", "old"), running("c", "n3", "old")},
			wantCreate: []string{"n1"}},
		{name: "waits for the surged pod",
			pods: []pod{running("a", "n1", "old"), {name: "a2", node: "n1", hash: newHash, age: time.Minute, readyAgo: notReady},
				running("b", "n2", "old"), running("c", "n3", "old")}},
		{name: "surged pod available: the old one goes",
			pods: []pod{running("a", "n1", "old"), {name: "a2", node: "n1", hash: newHash, age: time.Minute, readyAgo: time.Second},
				running("b", "n2", "old"), running("c", "n3", "old")},
			wantDeleted: []string{"a"}},
		{name: "then the next node surges",
			pods:       []pod{{name: "a2", node: "n1", hash: newHash, age: time.Minute, readyAgo: time.Second}, running("b", "n2", "old"), running("c", "n3", "old")},
			wantCreate: []string{"n2"}},
		{name: "unavailable old pod is replaced beyond the surge",
			pods: []pod{running("a", "n1", "old"), {name: "a2", node: "n1", hash: newHash, age: time.Minute, readyAgo: notReady},
				{name: "b", node: "n2", hash: "old", readyAgo: notReady}, running("c", "n3", "old")},
			wantCreate: []string{"n2"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			res, _ := reconcile(t, ds(template, surge, ""), three, c.pods...)
			if got := testutil.Deleted(res); !slices.Equal(got, c.wantDeleted) {
				t.Fatalf("deleted %v, want %v", got, c.wantDeleted)
			}
			if got := pinnedTo(t, res); !slices.Equal(got, c.wantCreate) {
				t.Fatalf("created on %v, want %v", got, c.wantCreate)
			}
		})
	}
}

func TestStatusDuringRollout(t *testing.T) {
	parent := ds(template, rolling, `,"minReadySeconds":30`)
	res, st := reconcile(t, parent, nodes("n1", "n2", "n3", "n4"),
		running("a", "n1", newHash),
		pod{name: "b", node: "n2", hash: newHash, age: time.Minute, readyAgo: 10 * time.Second},
		pod{name: "c", node: "n3", hash: "old", age: time.Hour, readyAgo: notReady},
		running("d", "n4", "old"))
	want := daemonset.Status{DesiredNumberScheduled: 4, CurrentNumberScheduled: 4, NumberReady: 3, NumberAvailable: 2,
		NumberUnavailable: 2, UpdatedNumberScheduled: 2, ObservedGeneration: 4}
	if st.DesiredNumberScheduled != want.DesiredNumberScheduled || st.CurrentNumberScheduled != want.CurrentNumberScheduled ||
		st.NumberReady != want.NumberReady || st.NumberAvailable != want.NumberAvailable || st.NumberUnavailable != want.NumberUnavailable ||
		st.UpdatedNumberScheduled != want.UpdatedNumberScheduled || st.ObservedGeneration != want.ObservedGeneration || st.NumberMisscheduled != 0 {
		t.Fatalf("status %+v, want %+v", st, want)
	}
	if res.RequeueAfterSeconds != 20 {
		t.Fatalf("requeue after %vs, want 20 (when b becomes available)", res.RequeueAfterSeconds)
	}
	// b is new but not yet available and c is unavailable: two count against
	// maxUnavailable 1 already, and c (old, not available) is replaced anyway.
	if got := testutil.Deleted(res); !slices.Equal(got, []string{"c"}) {
		t.Fatalf("deleted %v, want c", got)
	}
}

func TestStatusWhenRolledOut(t *testing.T) {
	// What kubectl rollout status reads: updated and available equal desired, at the
	// observed generation; the zero counts are still written.
	res, st := reconcile(t, ds(template, rolling, ""), nodes("n1", "n2"), running("a", "n1", newHash), running("b", "n2", newHash))
	if st.UpdatedNumberScheduled != 2 || st.NumberAvailable != 2 || st.DesiredNumberScheduled != 2 || st.ObservedGeneration != 4 || st.NumberUnavailable != 0 {
		t.Fatalf("status %+v", st)
	}
	if !strings.Contains(string(res.Status), `"numberMisscheduled":0`) {
		t.Fatalf("status %s lacks numberMisscheduled", res.Status)
	}
	if len(res.Creates)+len(res.Deletes) != 0 || res.RequeueAfterSeconds != 0 {
		t.Fatalf("a rolled-out set changed something: %+v", res)
	}
}

func TestDeletingSetMakesNoPods(t *testing.T) {
	parent := strings.Replace(ds(template, rolling, ""), `"generation":4`, fmt.Sprintf(`"generation":4,"deletionTimestamp":%q`, now.Format(time.RFC3339)), 1)
	res, _ := reconcile(t, parent, nodes("n1"))
	if len(res.Creates) != 0 {
		t.Fatalf("a set being deleted created %d pods", len(res.Creates))
	}
}

func TestRequestWithoutNodesIsRefused(t *testing.T) {
	// Natively only: the error is the point, and testutil fails on errors.
	_, err := daemonset.Reconcile(&tug.ReconcileRequest{Parent: json.RawMessage(ds(template, rolling, "")), Now: now.Format(time.RFC3339Nano),
		Children: map[string][]json.RawMessage{daemonset.PodKey: testutil.Raw(running("a", "n1", newHash).json())}})
	if !errors.Is(err, daemonset.ErrNoNodes) {
		t.Fatalf("error %v, want ErrNoNodes", err)
	}
}
