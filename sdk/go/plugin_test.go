package tug_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/tugboat-io/tug/hostabi"
	tug "github.com/tugboat-io/tug/sdk/go"
	"github.com/tugboat-io/tug/sdk/go/sdktest"
)

// fitPlugin is a small but complete plugin of every kind, driven through sdktest: a cpu fit
// filter and a free-cpu score (whose raw scores NormalizeScore maps to 0..100) with a
// PreFilter, an admission policy requiring a team label, and a controller keeping
// spec.replicas pods.
type fitPlugin struct {
	preFilters int
}

const cpuKey = "cpu"

func (p *fitPlugin) PreFilter(state *tug.CycleState, pod *tug.Pod) *tug.Status {
	p.preFilters++
	if pod.Labels["reject"] == "now" {
		return tug.UnschedulableAndUnresolvable("pod asked to be rejected")
	}
	cpu, err := podCPU(pod)
	if err != nil {
		return tug.AsStatus(err)
	}
	state.Write(cpuKey, cpu)
	return nil
}

func podCPU(pod *tug.Pod) (int64, error) {
	var sum int64
	for _, c := range pod.Spec.Containers {
		if q, ok := c.Resources.Requests["cpu"]; ok {
			m, err := q.MilliValue()
			if err != nil {
				return 0, fmt.Errorf("container %s: %w", c.Name, err)
			}
			sum += m
		}
	}
	return sum, nil
}

// free returns the node's allocatable cpu minus what its pods request, in millicores.
func free(node *tug.NodeInfo) int64 {
	alloc, _ := node.Node.Status.Allocatable["cpu"].MilliValue()
	for _, p := range node.Pods {
		used, _ := podCPU(p)
		alloc -= used
	}
	return alloc
}

func (p *fitPlugin) Filter(state *tug.CycleState, pod *tug.Pod, node *tug.NodeInfo) *tug.Status {
	if node.Node.Labels["panic"] == "true" {
		panic("boom")
	}
	if node.Node.Spec.Unschedulable {
		return tug.UnschedulableAndUnresolvable("node(s) were unschedulable")
	}
	want, _ := state.Read(cpuKey)
	if free(node) < want.(int64) {
		return tug.Unschedulable("Insufficient cpu")
	}
	return tug.Success
}

func (p *fitPlugin) Score(_ *tug.CycleState, _ *tug.Pod, node *tug.NodeInfo) (int64, *tug.Status) {
	return free(node), nil
}

func (p *fitPlugin) NormalizeScore(_ *tug.CycleState, _ *tug.Pod, scores []tug.NodeScore) *tug.Status {
	var highest int64
	for _, s := range scores {
		highest = max(highest, s.Score)
	}
	for i := range scores {
		if highest > 0 {
			scores[i].Score = max(scores[i].Score, 0) * tug.MaxNodeScore / highest
		}
	}
	return nil
}

func (p *fitPlugin) Admit(req *tug.AdmissionRequest) *tug.AdmissionResponse {
	var pod tug.Pod
	if err := req.Decode(&pod); err != nil {
		return tug.Deny(err.Error())
	}
	team := pod.Labels["team"]
	if team == "" {
		return tug.Denyf("pod %s has no team label", pod.Name)
	}
	tug.Logf(tug.LevelInfo, "admitting %s for team %s", pod.Name, team)
	return tug.Allow().
		Add(tug.JSONPointer("metadata", "annotations", "tug.io/team"), team).
		Warn("checked by fitPlugin")
}

func (p *fitPlugin) Reconcile(req *tug.ReconcileRequest) (*tug.ReconcileResult, error) {
	var parent struct {
		tug.TypeMeta
		tug.ObjectMeta `json:"metadata"`
		Spec           struct {
			Replicas int `json:"replicas"`
		} `json:"spec"`
	}
	if err := req.DecodeParent(&parent); err != nil {
		return nil, err
	}
	if parent.Spec.Replicas < 0 {
		return nil, errors.New("spec.replicas: must not be negative")
	}
	res := &tug.ReconcileResult{}
	for i := range parent.Spec.Replicas {
		pod := &tug.Pod{
			TypeMeta:   tug.TypeMeta{APIVersion: "v1", Kind: "Pod"},
			ObjectMeta: tug.ObjectMeta{Name: fmt.Sprintf("%s-%d", parent.Name, i), Namespace: parent.Namespace},
		}
		if err := res.AddChild(pod); err != nil {
			return nil, err
		}
	}
	observed := len(req.Children[tug.ObjectKey("v1", "Pod")])
	if err := res.SetStatus(map[string]int{"replicas": observed}); err != nil {
		return nil, err
	}
	if observed < parent.Spec.Replicas {
		res.AddEvent("Normal", "Scaling", fmt.Sprintf("want %d pods, have %d", parent.Spec.Replicas, observed))
	}
	return res, nil
}

var plugin = &fitPlugin{}

func init() {
	tug.RegisterFilter(plugin)
	tug.RegisterScore(plugin)
	tug.RegisterAdmit(plugin)
	tug.RegisterReconcile(plugin)
	tug.RegisterConfigure(func(raw []byte) error {
		var c struct {
			Strict bool `json:"strict"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return fmt.Errorf("decode config: %w", err)
		}
		return nil
	})
}

func pod(cpu string, labels map[string]string) *tug.Pod {
	p := &tug.Pod{ObjectMeta: tug.ObjectMeta{Name: "p", Namespace: "default", Labels: labels}}
	if cpu != "" {
		p.Spec.Containers = []tug.Container{{Name: "c", Resources: tug.ResourceRequirements{Requests: tug.ResourceList{"cpu": tug.Quantity(cpu)}}}}
	}
	return p
}

func node(name, cpu string) *tug.Node {
	return &tug.Node{ObjectMeta: tug.ObjectMeta{Name: name}, Status: tug.NodeStatus{Allocatable: tug.ResourceList{"cpu": tug.Quantity(cpu)}}}
}

func TestFilter(t *testing.T) {
	cordoned := node("cordoned", "8")
	cordoned.Spec.Unschedulable = true
	// Raw JSON with a number for a quantity, as a client may write it.
	numeric := `{"metadata": {"name": "numeric"}, "status": {"allocatable": {"cpu": 2}}}`
	got := sdktest.Filter(t, pod("1500m", nil),
		node("big", "4"),
		node("small", "1"),
		node("exact", "1500m"),
		sdktest.WithPods(node("busy", "2"), pod("1", nil)),
		cordoned,
		numeric,
	)
	want := map[string]*tug.Status{
		"big":      nil,
		"small":    tug.Unschedulable("Insufficient cpu"),
		"exact":    nil,
		"busy":     tug.Unschedulable("Insufficient cpu"),
		"cordoned": tug.UnschedulableAndUnresolvable("node(s) were unschedulable"),
		"numeric":  nil,
	}
	if len(got) != len(want) {
		t.Fatalf("statuses for %d nodes, want %d: %v", len(got), len(want), got)
	}
	for name, w := range want {
		if !got[name].Equal(w) {
			t.Errorf("node %s: %v, want %v", name, got[name], w)
		}
	}
}

func TestFilterPreFilterVerdictRejectsEveryNode(t *testing.T) {
	got := sdktest.Filter(t, pod("1", map[string]string{"reject": "now"}), node("a", "4"), node("b", "4"))
	want := tug.UnschedulableAndUnresolvable("pod asked to be rejected")
	for _, name := range []string{"a", "b"} {
		if !got[name].Equal(want) {
			t.Errorf("node %s: %v, want %v", name, got[name], want)
		}
	}
}

func TestPreFilterError(t *testing.T) {
	st := sdktest.PreFilter(t, pod("lots", nil))
	if st.Code() != tug.CodeError || !strings.Contains(st.Message(), `quantity "lots"`) {
		t.Errorf("PreFilter = %v, want an Error naming the bad quantity", st)
	}
}

// One object registered as filter and score has its PreFilter called once per cycle.
func TestPreFilterOncePerCycle(t *testing.T) {
	before := plugin.preFilters
	sdktest.Filter(t, pod("1", nil), node("a", "4"))
	if n := plugin.preFilters - before; n != 1 {
		t.Errorf("PreFilter ran %d times in one cycle, want 1", n)
	}
}

func TestScoreNormalizes(t *testing.T) {
	got := sdktest.Score(t, pod("1", nil),
		node("idle", "8"),
		sdktest.WithPods(node("half", "8"), pod("4", nil)),
		sdktest.WithPods(node("full", "8"), pod("8", nil)),
	)
	want := map[string]int64{"idle": 100, "half": 50, "full": 0}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("node %s scored %d, want %d", name, got[name], w)
		}
	}
}

func TestAdmit(t *testing.T) {
	t.Run("denied without a team", func(t *testing.T) {
		resp := sdktest.Admit(t, sdktest.NewAdmissionRequest(t, "CREATE", pod("", nil)))
		if resp.Allowed || resp.Result == nil || resp.Result.Code != 403 || resp.Result.Message != "pod p has no team label" {
			t.Errorf("response %+v (status %+v), want 403 naming the pod", resp, resp.Result)
		}
	})
	t.Run("allowed and patched with a team", func(t *testing.T) {
		req := sdktest.NewAdmissionRequest(t, "CREATE", pod("", map[string]string{"team": "web"}))
		resp := sdktest.Admit(t, req)
		if !resp.Allowed {
			t.Fatalf("denied: %+v", resp.Result)
		}
		patch, _ := json.Marshal(resp.Patch)
		if want := `[{"op":"add","path":"/metadata/annotations/tug.io~1team","value":"web"}]`; string(patch) != want {
			t.Errorf("patch %s, want %s", patch, want)
		}
		if len(resp.Warnings) != 1 {
			t.Errorf("warnings %v, want one", resp.Warnings)
		}
	})
}

func TestNewAdmissionRequest(t *testing.T) {
	req := sdktest.NewAdmissionRequest(t, "CREATE", `{"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "i", "namespace": "ns"}}`)
	want := tug.GroupVersionResource{Group: "networking.k8s.io", Version: "v1", Resource: "ingresses"}
	if req.Resource != want || req.Kind.Kind != "Ingress" || req.Name != "i" || req.Namespace != "ns" {
		t.Errorf("request %+v, want resource %+v named ns/i", req, want)
	}
}

func TestReconcile(t *testing.T) {
	parent := json.RawMessage(`{"apiVersion": "example.com/v1", "kind": "Pods", "metadata": {"name": "web", "namespace": "default"}, "spec": {"replicas": 2}}`)
	res, err := sdktest.Reconcile(t, &tug.ReconcileRequest{
		Parent:   parent,
		Children: map[string][]json.RawMessage{"v1/Pod": {json.RawMessage(`{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web-0"}}`)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	pods := res.Children["v1/Pod"]
	if len(res.Children) != 1 || len(pods) != 2 {
		t.Fatalf("children %v, want two v1/Pod", res.Children)
	}
	if p, err := tug.DecodePod(pods[1]); err != nil || p.Name != "web-1" || p.Namespace != "default" {
		t.Errorf("second child %s (%v), want default/web-1", pods[1], err)
	}
	if string(res.Status) != `{"replicas":1}` {
		t.Errorf("status %s, want {\"replicas\":1}", res.Status)
	}
	if len(res.Events) != 1 || res.Events[0].Reason != "Scaling" {
		t.Errorf("events %+v, want one Scaling", res.Events)
	}

	_, err = sdktest.Reconcile(t, &tug.ReconcileRequest{Parent: json.RawMessage(`{"spec": {"replicas": -1}}`)})
	if err == nil || !strings.Contains(err.Error(), "must not be negative") {
		t.Errorf("Reconcile of a negative parent = %v, want the plugin's error", err)
	}
}

func TestConfigure(t *testing.T) {
	if err := sdktest.Configure(t, map[string]bool{"strict": true}); err != nil {
		t.Errorf("valid config refused: %v", err)
	}
	err := sdktest.Configure(t, `{"strict": "yes"}`)
	var ce *sdktest.CallError
	if !errors.As(err, &ce) || ce.Status != hostabi.StatusInvalidConfig || !strings.HasPrefix(ce.Reason, "decode config:") {
		t.Errorf("bad config: %v, want INVALID_CONFIG with the plugin's reason", err)
	}
}

// The host's view of the protocol's failure cases: each is a status and a reason, never a
// crash of the plugin.
func TestOperationFailures(t *testing.T) {
	a := sdktest.SetNodes(t, node("a", "4"))["a"]
	tests := []struct {
		name   string
		setup  func(t *testing.T)
		export string
		input  []byte
		want   hostabi.Status
		reason string
	}{
		{
			name:   "filter before any pre-filter",
			setup:  func(t *testing.T) { sdktest.Call(t, hostabi.ExportSchedPreFilter, []byte(`not json`)) },
			export: hostabi.ExportSchedFilter, input: hostabi.AppendNodeIDs(nil, []uint32{a}),
			want: hostabi.StatusInvalidInput, reason: "before tug_sched_prefilter",
		},
		{
			name: "pre-filter of something that is not a pod", export: hostabi.ExportSchedPreFilter,
			input: []byte(`null`), want: hostabi.StatusInvalidInput, reason: "not a JSON object",
		},
		{
			name:   "filter of an unknown node",
			setup:  func(t *testing.T) { sdktest.PreFilter(t, pod("1", nil)) },
			export: hostabi.ExportSchedFilter, input: hostabi.AppendNodeIDs(nil, []uint32{a, 999999}),
			want: hostabi.StatusInvalidInput, reason: "unknown node id 999999",
		},
		{
			name:   "truncated filter input",
			setup:  func(t *testing.T) { sdktest.PreFilter(t, pod("1", nil)) },
			export: hostabi.ExportSchedFilter, input: []byte{2, 0, 0, 0, 1, 0},
			want: hostabi.StatusInvalidInput, reason: "malformed frame",
		},
		{
			name:   "normalize with trailing bytes",
			setup:  func(t *testing.T) { sdktest.PreFilter(t, pod("1", nil)) },
			export: hostabi.ExportSchedNormalize, input: append(hostabi.AppendNormalizeInput(nil, []hostabi.NodeScore{{NodeID: a, Score: 1}}), 0),
			want: hostabi.StatusInvalidInput, reason: "trailing",
		},
		{
			name: "admission request that is not JSON", export: hostabi.ExportAdmit,
			input: []byte(`{`), want: hostabi.StatusInvalidInput, reason: "decode admission request",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.setup != nil {
				tt.setup(t)
			}
			st, out := sdktest.Call(t, tt.export, tt.input)
			if st != tt.want || !strings.Contains(string(out), tt.reason) {
				t.Errorf("%s = %s %q, want %s containing %q", tt.export, st, out, tt.want, tt.reason)
			}
		})
	}
}

// A panic in plugin code is an ERROR naming the operation, and the plugin keeps serving.
func TestPanicBecomesError(t *testing.T) {
	boom := &tug.Node{ObjectMeta: tug.ObjectMeta{Name: "boom", Labels: map[string]string{"panic": "true"}}}
	ids := sdktest.SetNodes(t, boom, node("a", "4"))
	sdktest.PreFilter(t, pod("1", nil))
	st, out := sdktest.Call(t, hostabi.ExportSchedFilter, hostabi.AppendNodeIDs(nil, []uint32{ids["a"], ids["boom"]}))
	if want := "plugin panicked in tug_sched_filter: boom"; st != hostabi.StatusError || string(out) != want {
		t.Errorf("filter = %s %q, want ERROR %q", st, out, want)
	}
	if got := sdktest.Filter(t, pod("1", nil), node("a", "4")); !got["a"].IsSuccess() {
		t.Errorf("after the panic node a: %v, want success", got["a"])
	}
}

// Node changes apply all or nothing: a bad entry leaves the resident nodes as they were.
func TestNodeChangesAreAtomic(t *testing.T) {
	ids := sdktest.SetNodes(t, node("a", "4"))
	bad := fmt.Sprintf(`{"set": [{"id": 77, "node": {"metadata": {"name": "new"}}}, {"id": 78, "node": "nope"}], "remove": [%d]}`, ids["a"])
	if st, out := sdktest.Call(t, hostabi.ExportSchedNodes, []byte(bad)); st != hostabi.StatusInvalidInput || !strings.Contains(string(out), "node id 78") {
		t.Fatalf("bad node changes = %s %q, want INVALID_INPUT naming node id 78", st, out)
	}
	sdktest.PreFilter(t, pod("1", nil))
	if st, out := sdktest.Call(t, hostabi.ExportSchedFilter, hostabi.AppendNodeIDs(nil, []uint32{ids["a"]})); st != hostabi.StatusOK {
		t.Errorf("node a after a refused change: %s %q, want it still resident", st, out)
	}
	if st, _ := sdktest.Call(t, hostabi.ExportSchedFilter, hostabi.AppendNodeIDs(nil, []uint32{77})); st != hostabi.StatusInvalidInput {
		t.Errorf("node 77 of a refused change: %s, want it unknown", st)
	}
}
