package tug

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/tugboat-io/tug/hostabi"
	"github.com/tugboat-io/tug/sdk/go/internal/dispatch"
	"github.com/tugboat-io/tug/sdk/go/internal/host"
)

func TestConstantsMatchTheABI(t *testing.T) {
	pairs := []struct {
		name      string
		sdk, host int64
	}{
		{"CodeSuccess", int64(CodeSuccess), int64(hostabi.CodeSuccess)},
		{"CodeError", int64(CodeError), int64(hostabi.CodeError)},
		{"CodeUnschedulable", int64(CodeUnschedulable), int64(hostabi.CodeUnschedulable)},
		{"CodeUnschedulableAndUnresolvable", int64(CodeUnschedulableAndUnresolvable), int64(hostabi.CodeUnschedulableAndUnresolvable)},
		{"MaxNodeScore", MaxNodeScore, hostabi.MaxNodeScore},
		{"LevelDebug", int64(LevelDebug), int64(hostabi.LogDebug)},
		{"LevelError", int64(LevelError), int64(hostabi.LogError)},
	}
	for _, p := range pairs {
		if p.sdk != p.host {
			t.Errorf("%s = %d, hostabi says %d", p.name, p.sdk, p.host)
		}
	}
}

func TestStatus(t *testing.T) {
	tests := []struct {
		name    string
		s       *Status
		code    Code
		message string
		success bool
		str     string
	}{
		{"nil is success", Success, CodeSuccess, "", true, "Success"},
		{"code 0 is success", NewStatus(CodeSuccess, "fine"), CodeSuccess, "fine", true, "Success"},
		{"unschedulable", Unschedulable("Insufficient cpu"), CodeUnschedulable, "Insufficient cpu", false, "Unschedulable: Insufficient cpu"},
		{"reasons joined", UnschedulableAndUnresolvable("a", "b"), CodeUnschedulableAndUnresolvable, "a, b", false, "UnschedulableAndUnresolvable: a, b"},
		{"error", Errorf("bad %d", 1), CodeError, "bad 1", false, "Error: bad 1"},
		{"unknown code is an error", NewStatus(Code(9), "x"), CodeError, "invalid status code 9, x", false, "Error: invalid status code 9, x"},
		{"no reasons", Unschedulable(), CodeUnschedulable, "", false, "Unschedulable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.s.Code() != tt.code || tt.s.Message() != tt.message || tt.s.IsSuccess() != tt.success || tt.s.String() != tt.str {
				t.Errorf("code %v message %q success %v string %q; want %v %q %v %q",
					tt.s.Code(), tt.s.Message(), tt.s.IsSuccess(), tt.s.String(), tt.code, tt.message, tt.success, tt.str)
			}
			if (tt.s.AsError() == nil) != tt.success {
				t.Errorf("AsError = %v", tt.s.AsError())
			}
		})
	}
	if AsStatus(nil) != nil {
		t.Error("AsStatus(nil) is not success")
	}
	if !Unschedulable("a").Equal(Unschedulable("a")) || Unschedulable("a").Equal(UnschedulableAndUnresolvable("a")) ||
		Unschedulable("a").Equal(nil) || !Success.Equal(NewStatus(CodeSuccess)) {
		t.Error("Equal")
	}
	if !Unschedulable("a").IsRejected() || Errorf("x").IsRejected() || Success.IsRejected() {
		t.Error("IsRejected")
	}
}

func TestQuantity(t *testing.T) {
	tests := []struct {
		q           Quantity
		milli, val  int64
		wantErrPart string
	}{
		{q: "500m", milli: 500, val: 1},
		{q: "2", milli: 2000, val: 2},
		{q: "1.5", milli: 1500, val: 2},
		{q: "0.1", milli: 100, val: 1},
		{q: "1Ki", milli: 1024000, val: 1024},
		{q: "1.5Gi", milli: 1610612736000, val: 1610612736},
		{q: "128Mi", milli: 134217728000, val: 134217728},
		{q: "1k", milli: 1000000, val: 1000},
		{q: "1M", milli: 1000000000, val: 1000000},
		{q: "1E", val: 1000000000000000000, wantErrPart: "out of range"}, // milli overflows
		{q: "1e3", milli: 1000000, val: 1000},
		{q: "1E3", milli: 1000000, val: 1000},
		{q: "5e-1", milli: 500, val: 1},
		{q: "100n", milli: 1, val: 1}, // rounded up
		{q: "1u", milli: 1, val: 1},
		{q: "+3", milli: 3000, val: 3},
		{q: "-1", milli: -1000, val: -1},
		{q: ".5", milli: 500, val: 1},
		{q: "0", milli: 0, val: 0},
		{q: "", wantErrPart: "no number"},
		{q: "m", wantErrPart: "no number"},
		{q: "1.2.3", wantErrPart: "unknown suffix"},
		{q: "1Xi", wantErrPart: "unknown suffix"},
		{q: "1 Gi", wantErrPart: "unknown suffix"},
		{q: "1e", wantErrPart: "bad exponent"},
		{q: "1e999", wantErrPart: "bad exponent"},
		{q: "10Ei", wantErrPart: "out of range"},
	}
	for _, tt := range tests {
		t.Run(string(tt.q), func(t *testing.T) {
			milli, err := tt.q.MilliValue()
			if tt.wantErrPart != "" && tt.val == 0 {
				if err == nil || !strings.Contains(err.Error(), tt.wantErrPart) {
					t.Fatalf("MilliValue = %d, %v; want an error containing %q", milli, err, tt.wantErrPart)
				}
				return
			}
			if tt.wantErrPart != "" { // only the milli value overflows
				if err == nil || !strings.Contains(err.Error(), tt.wantErrPart) {
					t.Errorf("MilliValue = %d, %v; want an error containing %q", milli, err, tt.wantErrPart)
				}
			} else if err != nil || milli != tt.milli {
				t.Errorf("MilliValue = %d, %v; want %d", milli, err, tt.milli)
			}
			if val, err := tt.q.Value(); err != nil || val != tt.val {
				t.Errorf("Value = %d, %v; want %d", val, err, tt.val)
			}
		})
	}
}

func TestQuantityJSON(t *testing.T) {
	var l ResourceList
	if err := json.Unmarshal([]byte(`{"cpu": "500m", "memory": 1024, "pods": 1.5}`), &l); err != nil {
		t.Fatal(err)
	}
	if want := (ResourceList{"cpu": "500m", "memory": "1024", "pods": "1.5"}); !reflect.DeepEqual(l, want) {
		t.Errorf("decoded %v, want %v", l, want)
	}
	if err := json.Unmarshal([]byte(`{"cpu": true}`), &l); err == nil {
		t.Error("a boolean quantity decoded")
	}
}

func TestJSONPointer(t *testing.T) {
	if got, want := JSONPointer("metadata", "labels", "app.kubernetes.io/name", "a~b"), "/metadata/labels/app.kubernetes.io~1name/a~0b"; got != want {
		t.Errorf("JSONPointer = %q, want %q", got, want)
	}
	if got, want := JSONPointer("~1/", "", "/~"), "/~01~1//~1~0"; got != want {
		t.Errorf("JSONPointer = %q, want %q", got, want)
	}
	if got := JSONPointer(); got != "" {
		t.Errorf("JSONPointer() = %q, want the whole document's pointer, \"\"", got)
	}
}

func TestPatchValueThatCannotBeEncoded(t *testing.T) {
	r := Allow().Add("/a", func() {}).Add("/b", 1)
	if r.err == nil || !strings.Contains(r.err.Error(), "patch add /a") {
		t.Errorf("err = %v, want one naming the operation", r.err)
	}
}

func TestUpdateStatus(t *testing.T) {
	q := map[string]any{"apiVersion": "v1", "kind": "ResourceQuota", "status": map[string]any{"used": map[string]string{"pods": "1"}}}
	r := Allow().UpdateStatus(q).UpdateStatus(json.RawMessage(`{"kind":"ResourceQuota"}`))
	if r.err != nil || len(r.StatusUpdates) != 2 {
		t.Fatalf("UpdateStatus: err %v, %d updates, want none and 2", r.err, len(r.StatusUpdates))
	}
	b, _ := json.Marshal(r)
	want := `{"allowed":true,"statusUpdates":[{"apiVersion":"v1","kind":"ResourceQuota","status":{"used":{"pods":"1"}}},{"kind":"ResourceQuota"}]}`
	if string(b) != want {
		t.Errorf("response %s, want %s", b, want)
	}
	r = Allow().UpdateStatus(func() {}).UpdateStatus(q)
	if r.err == nil || !strings.Contains(r.err.Error(), "status update") || len(r.StatusUpdates) != 1 {
		t.Errorf("err = %v with %d updates, want one naming the status update, and the good update kept", r.err, len(r.StatusUpdates))
	}
}

// The response encoder writes what encoding/json writes for the same response.
func TestAdmissionResponseJSONMatchesEncodingJSON(t *testing.T) {
	for _, r := range []*AdmissionResponse{
		Allow(),
		{UID: "u<1>", Allowed: true},
		Deny(`pods "web" is forbidden: <no> & "never"`),
		DenyStatus(404, "NotFound", ""),
		{Result: &AdmissionStatus{}},
		{Result: &AdmissionStatus{Reason: "r"}},
		Allow().Add("/a", "x").Replace("/b", map[string]any{"n": 1, "l": []any{true, nil}}).Remove("/c").
			Add("/d", json.RawMessage(`{"raw":[1,"\u00e9"]}`)).Warn("w1").Warn("w\u2028").Audit("k2", "v").Audit("k1", "é"),
		{Allowed: true, Patch: []PatchOperation{{Op: "move", From: "/x", Path: "/y"}, {Op: "add", Path: "/z", Value: json.RawMessage(`null`)}}},
		Allow().UpdateStatus(json.RawMessage(`{"kind":"ResourceQuota"}`)).UpdateStatus(map[string]string{"a": "b"}),
		{Allowed: true, AuditAnnotations: map[string]string{}, Warnings: []string{}, Patch: []PatchOperation{}, StatusUpdates: []json.RawMessage{}},
	} {
		want, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		got, err := r.appendJSON([]byte("reused"))
		if err != nil || string(got) != "reused"+string(want) {
			t.Errorf("appendJSON(%+v) = %s, %v; encoding/json writes %s", r, got, err, want)
		}
	}
	bad := &AdmissionResponse{Allowed: true, Patch: []PatchOperation{{Op: "add", Path: "/a", Value: json.RawMessage(`{"a":`)}}}
	if _, err := bad.appendJSON(nil); err == nil || !strings.Contains(err.Error(), "patch add /a") {
		t.Errorf("a malformed patch value: %v, want an error naming the operation", err)
	}
	bad = &AdmissionResponse{Allowed: true, StatusUpdates: []json.RawMessage{json.RawMessage(`[`)}}
	if _, err := bad.appendJSON(nil); err == nil {
		t.Errorf("a malformed status update: no error")
	}
}

func TestRelatedObjects(t *testing.T) {
	req := &AdmissionRequest{}
	req.Related = map[string][]json.RawMessage{
		"v1/Namespace":  {},
		"v1/LimitRange": {json.RawMessage(`{"metadata":{"name":"a"}}`), json.RawMessage(`{"metadata":{"name":"b"}}`)},
	}
	if !req.HasRelated("v1/Namespace") || len(req.RelatedObjects("v1/Namespace")) != 0 {
		t.Errorf("an empty list handed must read as handed and empty")
	}
	if req.HasRelated("v1/Secret") || req.RelatedObjects("v1/Secret") != nil {
		t.Errorf("a kind not handed must read as not handed")
	}
	type meta struct {
		Metadata ObjectMeta `json:"metadata"`
	}
	got, err := DecodeRelated[meta](req, ObjectKey("v1", "LimitRange"))
	if err != nil || len(got) != 2 || got[0].Metadata.Name != "a" || got[1].Metadata.Name != "b" {
		t.Errorf("DecodeRelated = %+v, %v, want a and b", got, err)
	}
	req.Related["v1/LimitRange"] = append(req.Related["v1/LimitRange"], json.RawMessage(`null`))
	if _, err := DecodeRelated[meta](req, "v1/LimitRange"); err == nil || !strings.Contains(err.Error(), "v1/LimitRange[2]") {
		t.Errorf("DecodeRelated of a null = %v, want an error naming it", err)
	}
}

func TestAdmitDeliversPolicyConfigAndRelated(t *testing.T) {
	var seen *AdmissionRequest
	withRegistry(t, func() {
		RegisterAdmit(AdmitFunc(func(req *AdmissionRequest) *AdmissionResponse {
			seen = req
			return DenyStatus(404, "NotFound", "nope").UpdateStatus(json.RawMessage(`{"kind":"X"}`))
		}))
	})
	st, out := admit([]byte(`{"uid":"u","operation":"CREATE","policy":"p","config":{"k":1},"related":{"v1/Namespace":[{"metadata":{"name":"ns"}}]}}`))
	if st != hostabi.StatusOK {
		t.Fatalf("admit: status %d %s", st, out)
	}
	if seen.Policy != "p" || string(seen.Config) != `{"k":1}` || len(seen.RelatedObjects("v1/Namespace")) != 1 {
		t.Errorf("request %+v, want the policy, config and one namespace", seen.AdmissionRequest)
	}
	if want := `{"uid":"u","allowed":false,"status":{"code":404,"message":"nope","reason":"NotFound"},"statusUpdates":[{"kind":"X"}]}`; string(out) != want {
		t.Errorf("response %s, want %s", out, want)
	}
}

// withRegistry runs f with the plugin registry replaced, as if the plugin had registered
// only what set fills in, and restores it.
func withRegistry(t *testing.T, set func()) {
	saved := reg
	reg.configure, reg.filter, reg.score, reg.admit, reg.reconcile, reg.hosted = nil, nil, nil, nil, nil, nil
	reg.nodes, reg.pod, reg.state = nodeTable{gen: reg.nodes.gen}, nil, nil
	t.Cleanup(func() { reg = saved })
	if set != nil {
		set()
	}
}

func TestUnregisteredKindsAreUnsupported(t *testing.T) {
	withRegistry(t, nil)
	for _, export := range []string{
		hostabi.ExportSchedNodes, hostabi.ExportSchedPreFilter, hostabi.ExportSchedFilter,
		hostabi.ExportSchedScore, hostabi.ExportSchedNormalize, hostabi.ExportAdmit, hostabi.ExportReconcile,
	} {
		st, out := dispatch.Call(export, []byte(`{}`))
		if st != hostabi.StatusUnsupported || !strings.Contains(string(out), "did not call tug.Register") {
			t.Errorf("%s = %s %q, want UNSUPPORTED naming the Register function", export, st, out)
		}
	}
}

func TestConfigureWithoutRegisteredConfigure(t *testing.T) {
	withRegistry(t, nil)
	tests := []struct {
		config string
		want   hostabi.Status
	}{
		{`{}`, hostabi.StatusOK},
		{` { } `, hostabi.StatusOK},
		{`null`, hostabi.StatusOK},
		{``, hostabi.StatusOK},
		{`{"a": 1}`, hostabi.StatusInvalidConfig},
		{`[]`, hostabi.StatusInvalidConfig},
		{`nonsense`, hostabi.StatusInvalidConfig},
	}
	for _, tt := range tests {
		if st, out := dispatch.Call(hostabi.ExportConfigure, []byte(tt.config)); st != tt.want {
			t.Errorf("configure %q = %s %q, want %s", tt.config, st, out, tt.want)
		}
	}
}

// In a module, configure refuses a plugin whose registered kinds and exported kinds differ.
func TestConfigureChecksKindsAgainstExports(t *testing.T) {
	withRegistry(t, func() { reg.admit = AdmitFunc(func(*AdmissionRequest) *AdmissionResponse { return Allow() }) })
	dispatch.SetInModule(true)
	t.Cleanup(func() {
		dispatch.SetInModule(false)
		dispatch.Link(hostabi.KindAdmission, false)
		dispatch.Link(hostabi.KindSchedulerFilter, false)
	})
	st, out := dispatch.Call(hostabi.ExportConfigure, []byte(`{}`))
	if st != hostabi.StatusError || !strings.Contains(string(out), `does not import _ "github.com/tugboat-io/tug/sdk/go/kinds/admission"`) {
		t.Errorf("admission registered, not exported: %s %q", st, out)
	}
	dispatch.Link(hostabi.KindAdmission, true)
	if st, out := dispatch.Call(hostabi.ExportConfigure, []byte(`{}`)); st != hostabi.StatusOK {
		t.Errorf("admission registered and exported: %s %q, want OK", st, out)
	}
	dispatch.Link(hostabi.KindSchedulerFilter, true)
	st, out = dispatch.Call(hostabi.ExportConfigure, []byte(`{}`))
	if st != hostabi.StatusError || !strings.Contains(string(out), "does not call tug.RegisterFilter") {
		t.Errorf("filter exported, not registered: %s %q", st, out)
	}
}

func TestScoreOutOfRangeWithoutNormalizer(t *testing.T) {
	withRegistry(t, func() {
		reg.score = ScoreFunc(func(*CycleState, *Pod, *NodeInfo) (int64, *Status) { return 101, nil })
	})
	dispatch.Call(hostabi.ExportSchedNodes, []byte(`{"set": [{"id": 1, "node": {"metadata": {"name": "n"}}}]}`))
	dispatch.Call(hostabi.ExportSchedPreFilter, []byte(`{}`))
	st, out := dispatch.Call(hostabi.ExportSchedScore, hostabi.AppendNodeIDs(nil, []uint32{1}))
	if st != hostabi.StatusError || string(out) != "Score returned 101 for node n, want 0..100" {
		t.Errorf("score = %s %q", st, out)
	}
	// Normalize without a Normalizer passes scores through, checking their range.
	st, out = dispatch.Call(hostabi.ExportSchedNormalize, hostabi.AppendNormalizeInput(nil, []hostabi.NodeScore{{NodeID: 1, Score: 7}}))
	if s, err := hostabi.DecodeScores(out); st != hostabi.StatusOK || err != nil || !reflect.DeepEqual(s, []int64{7}) {
		t.Errorf("normalize = %s %q, want OK [7]", st, out)
	}
	st, _ = dispatch.Call(hostabi.ExportSchedNormalize, hostabi.AppendNormalizeInput(nil, []hostabi.NodeScore{{NodeID: 1, Score: -1}}))
	if st != hostabi.StatusError {
		t.Errorf("normalize of -1 = %s, want ERROR", st)
	}
}

type reorderingScore struct{}

func (reorderingScore) Score(*CycleState, *Pod, *NodeInfo) (int64, *Status) { return 1, nil }
func (reorderingScore) NormalizeScore(_ *CycleState, _ *Pod, s []NodeScore) *Status {
	s[0], s[1] = s[1], s[0]
	return nil
}

func TestNormalizeMustNotReorder(t *testing.T) {
	withRegistry(t, func() { reg.score = reorderingScore{} })
	dispatch.Call(hostabi.ExportSchedNodes, []byte(`{"set": [{"id": 1, "node": {"metadata": {"name": "a"}}}, {"id": 2, "node": {"metadata": {"name": "b"}}}]}`))
	dispatch.Call(hostabi.ExportSchedPreFilter, []byte(`{}`))
	st, out := dispatch.Call(hostabi.ExportSchedNormalize, hostabi.AppendNormalizeInput(nil, []hostabi.NodeScore{{NodeID: 1, Score: 1}, {NodeID: 2, Score: 2}}))
	if st != hostabi.StatusError || !strings.Contains(string(out), "reordered") {
		t.Errorf("normalize = %s %q, want ERROR", st, out)
	}
}

func TestAdmitAndReconcileWithoutAnswer(t *testing.T) {
	withRegistry(t, func() {
		reg.admit = AdmitFunc(func(*AdmissionRequest) *AdmissionResponse { return nil })
		reg.reconcile = ReconcileFunc(func(*ReconcileRequest) (*ReconcileResult, error) { return nil, nil })
	})
	if st, _ := dispatch.Call(hostabi.ExportAdmit, []byte(`{"uid": "u"}`)); st != hostabi.StatusError {
		t.Errorf("admit returning nil = %s, want ERROR", st)
	}
	if st, _ := dispatch.Call(hostabi.ExportReconcile, []byte(`{"parent": {}}`)); st != hostabi.StatusError {
		t.Errorf("reconcile returning nil, nil = %s, want ERROR", st)
	}
}

func TestLogGoesToTheSink(t *testing.T) {
	var got []string
	restore := host.SetLogSink(func(level int32, msg string) { got = append(got, host.LevelName(level)+" "+msg) })
	Logf(LevelWarn, "disk %d%% full", 91)
	restore()
	if want := []string{"warn disk 91% full"}; !reflect.DeepEqual(got, want) {
		t.Errorf("logged %q, want %q", got, want)
	}
}

// The SDK's own types read and write the host's golden documents exactly as hostabi's do.
func TestGoldenDocsMatchHostABI(t *testing.T) {
	tests := []struct {
		glob     string
		sdk, abi func() any
	}{
		{"admission_request_*.json", func() any { return &AdmissionRequest{} }, func() any { return &hostabi.AdmissionRequest{} }},
		{"admission_response_*.json", func() any { return &AdmissionResponse{} }, func() any { return &hostabi.AdmissionResponse{} }},
		{"reconcile_request_*.json", func() any { return &ReconcileRequest{} }, func() any { return &hostabi.ReconcileRequest{} }},
		{"reconcile_result_*.json", func() any { return &ReconcileResult{} }, func() any { return &hostabi.ReconcileResult{} }},
	}
	for _, tt := range tests {
		paths, _ := filepath.Glob(filepath.Join("..", "..", "hostabi", "testdata", "docs", tt.glob))
		if len(paths) == 0 {
			t.Fatalf("no hostabi golden documents %s", tt.glob)
		}
		for _, p := range paths {
			raw, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			encode := func(v any) string {
				dec := json.NewDecoder(bytes.NewReader(raw))
				dec.DisallowUnknownFields()
				if err := dec.Decode(v); err != nil {
					t.Fatalf("%s into %T: %v", p, v, err)
				}
				b, err := json.Marshal(v)
				if err != nil {
					t.Fatal(err)
				}
				return string(b)
			}
			if s, a := encode(tt.sdk()), encode(tt.abi()); s != a {
				t.Errorf("%s: the SDK encodes\n%s\nhostabi encodes\n%s", filepath.Base(p), s, a)
			}
		}
	}
}

func TestDecodeNodeKeepsRaw(t *testing.T) {
	raw := []byte(`{"metadata": {"name": "n", "labels": {"a": "b"}}, "spec": {"taints": [{"key": "k", "effect": "NoSchedule"}], "podCIDR": "10.0.0.0/24"}, "status": {"capacity": {"cpu": "4"}, "conditions": [{"type": "Ready", "status": "True"}]}}`)
	n, err := DecodeNode(raw)
	if err != nil {
		t.Fatal(err)
	}
	if n.Name != "n" || n.Labels["a"] != "b" || len(n.Spec.Taints) != 1 || n.Spec.Taints[0].Effect != "NoSchedule" ||
		n.Status.Capacity["cpu"] != "4" || n.Status.Conditions[0].Type != "Ready" || !bytes.Equal(n.Raw, raw) {
		t.Errorf("decoded %+v", n)
	}
	for _, bad := range []string{``, `null`, `[]`, `"node"`, `{"metadata": 1}`} {
		if _, err := DecodeNode([]byte(bad)); err == nil {
			t.Errorf("DecodeNode(%q) succeeded", bad)
		}
	}
}

func TestPodRoundTrip(t *testing.T) {
	prio := int32(10)
	p := &Pod{
		TypeMeta:   TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: ObjectMeta{Name: "p", Namespace: "ns", Labels: map[string]string{"a": "b"}},
		Spec: PodSpec{
			NodeSelector: map[string]string{"zone": "a"},
			Tolerations:  []Toleration{{Key: "gpu", Operator: "Exists", Effect: "NoSchedule"}},
			Affinity:     json.RawMessage(`{"nodeAffinity":{}}`),
			Containers: []Container{{Name: "c", Image: "nginx",
				Resources: ResourceRequirements{Requests: ResourceList{"cpu": "1"}, Limits: ResourceList{"cpu": "2"}},
				Ports:     []ContainerPort{{ContainerPort: 80, HostPort: 8080, Protocol: "TCP"}}}},
			InitContainers: []Container{{Name: "init"}},
			Priority:       &prio,
		},
	}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodePod(b)
	if err != nil {
		t.Fatal(err)
	}
	got.Raw = nil
	if !reflect.DeepEqual(got, p) {
		t.Errorf("round trip through %s:\n%+v\nwant %+v", b, got, p)
	}
	if strings.Contains(string(b), `"status"`) {
		t.Errorf("an empty status was encoded: %s", b)
	}
}

func TestNodesIteratesResidentState(t *testing.T) {
	withRegistry(t, func() { reg.filter = FilterFunc(func(*CycleState, *Pod, *NodeInfo) *Status { return nil }) })
	names := func() []string {
		var ns []string
		for ni := range Nodes() {
			ns = append(ns, fmt.Sprintf("%d:%s", ni.ID, ni.Name()))
		}
		return ns
	}
	gen := NodesGeneration()
	if st, out := schedNodes([]byte(`{"set":[{"id":70001,"node":{"metadata":{"name":"far"}}},{"id":2,"node":{"metadata":{"name":"b"}}},
		{"id":0,"node":{"metadata":{"name":"a"}}},{"id":70000,"node":{"metadata":{"name":"far0"}}}]}`)); st != hostabi.StatusOK {
		t.Fatalf("%v %s", st, out)
	}
	if got := fmt.Sprint(names()); got != "[0:a 2:b 70000:far0 70001:far]" {
		t.Fatalf("Nodes() = %s", got)
	}
	if NodesGeneration() == gen {
		t.Fatal("NodesGeneration did not move")
	}
	gen = NodesGeneration()
	if st, out := schedNodes([]byte(`{"remove":[2,70000]}`)); st != hostabi.StatusOK {
		t.Fatalf("%v %s", st, out)
	}
	if got := fmt.Sprint(names()); got != "[0:a 70001:far]" || NodesGeneration() == gen {
		t.Fatalf("after removals Nodes() = %s, generation moved %v", got, NodesGeneration() != gen)
	}
	for range Nodes() {
		break // stopping early is allowed
	}
}

// zoneFilter rejects nodes outside its zone; its pre-filter refuses pods labelled "reject".
type zoneFilter struct{ zone string }

func (z *zoneFilter) Configure(raw []byte) error {
	var c struct{ Zone string }
	if err := json.Unmarshal(raw, &c); err != nil {
		return err
	}
	if c.Zone == "" {
		return errors.New("zone is required")
	}
	z.zone = c.Zone
	return nil
}

func (z *zoneFilter) PreFilter(_ *CycleState, p *Pod) *Status {
	if p.Labels["reject"] != "" {
		return UnschedulableAndUnresolvable("refused by zone")
	}
	return nil
}

func (z *zoneFilter) Filter(_ *CycleState, _ *Pod, n *NodeInfo) *Status {
	if n.Node.Labels["zone"] != z.zone {
		return UnschedulableAndUnresolvable("wrong zone")
	}
	return nil
}

// idScore scores a node by its id, normalized by the highest.
type idScore struct{}

func (idScore) Score(_ *CycleState, _ *Pod, n *NodeInfo) (int64, *Status) { return int64(n.ID), nil }

func (idScore) DefaultWeight() int64 { return 4 }

func (idScore) NormalizeScore(_ *CycleState, _ *Pod, s []NodeScore) *Status {
	var top int64 = 1
	for _, x := range s {
		top = max(top, x.Score)
	}
	for i := range s {
		s[i].Score = s[i].Score * 100 / top
	}
	return nil
}

func TestHostedPlugins(t *testing.T) {
	withRegistry(t, func() {
		reg.hosted = nil
		RegisterPlugin("Zone", &zoneFilter{})
		RegisterPlugin("ByID", idScore{})
	})
	call := func(export string, in []byte) (hostabi.Status, string) {
		st, out := dispatch.Call(export, in)
		return st, string(out)
	}
	if st, out := call(hostabi.ExportConfigure, []byte(`{"config":{"Zone":{}}}`)); st != hostabi.StatusInvalidConfig || !strings.Contains(out, "Zone: zone is required") {
		t.Fatalf("a refused plugin config: %v %s", st, out)
	}
	if st, out := call(hostabi.ExportConfigure, []byte(`{"enabled":["Nope"]}`)); st != hostabi.StatusInvalidConfig || !strings.Contains(out, `no plugin "Nope"`) {
		t.Fatalf("an unknown plugin: %v %s", st, out)
	}
	if st, out := call(hostabi.ExportConfigure, []byte(`{"config":{"Zone":{"zone":"a"},"ByID":{"x":1}}}`)); st != hostabi.StatusInvalidConfig || !strings.Contains(out, "ByID takes no configuration") {
		t.Fatalf("config for a plugin without Configure: %v %s", st, out)
	}
	if st, out := call(hostabi.ExportConfigure, []byte(`{"config":{"Zone":{"zone":"a"}}}`)); st != hostabi.StatusOK {
		t.Fatalf("configure: %v %s", st, out)
	}
	if st, out := call(hostabi.ExportSchedPlugins, nil); st != hostabi.StatusOK ||
		out != `{"plugins":[{"name":"Zone","filter":true},{"name":"ByID","score":true,"normalize":true,"weight":4}]}` {
		t.Fatalf("plugins: %v %s", st, out)
	}
	if st, out := call(hostabi.ExportSchedNodes, []byte(`{"set":[{"id":1,"node":{"metadata":{"name":"n1","labels":{"zone":"a"}}}},
		{"id":2,"node":{"metadata":{"name":"n2","labels":{"zone":"b"}}}},{"id":3,"node":{"metadata":{"name":"n3","labels":{"zone":"a"}}}}]}`)); st != hostabi.StatusOK {
		t.Fatalf("nodes: %v %s", st, out)
	}
	if st, out := call(hostabi.ExportSchedPreFilter, []byte(`{"metadata":{"name":"p","labels":{"reject":"yes"}}}`)); st != hostabi.StatusOK ||
		out != `{"code":3,"reason":"refused by zone","plugin":"Zone"}` {
		t.Fatalf("a hosted pre-filter's verdict: %v %s", st, out)
	}
	if st, out := call(hostabi.ExportSchedPreFilter, []byte(`{"metadata":{"name":"p"}}`)); st != hostabi.StatusOK || out != "" {
		t.Fatalf("prefilter: %v %s", st, out)
	}
	ids := hostabi.AppendNodeIDs(nil, []uint32{1, 2, 3})
	st, out := dispatch.Call(hostabi.ExportSchedFilterAt, append(hostabi.AppendPluginIndex(nil, 0), ids...))
	rejs, err := hostabi.DecodeFilterOutput(out)
	if st != hostabi.StatusOK || err != nil || len(rejs) != 1 || rejs[0].NodeID != 2 {
		t.Fatalf("filter_at Zone: %v %v %+v", st, err, rejs)
	}
	st, out = dispatch.Call(hostabi.ExportSchedScoreAt, append(hostabi.AppendPluginIndex(nil, 1), hostabi.AppendNodeIDs(nil, []uint32{1, 3})...))
	if scores, err := hostabi.DecodeScores(out); st != hostabi.StatusOK || err != nil || fmt.Sprint(scores) != "[1 3]" {
		t.Fatalf("score_at ByID: %v %v %v", st, err, scores)
	}
	st, out = dispatch.Call(hostabi.ExportSchedNormalizeAt, append(hostabi.AppendPluginIndex(nil, 1),
		hostabi.AppendNormalizeInput(nil, []hostabi.NodeScore{{NodeID: 1, Score: 1}, {NodeID: 3, Score: 3}})...))
	if scores, err := hostabi.DecodeScores(out); st != hostabi.StatusOK || err != nil || fmt.Sprint(scores) != "[33 100]" {
		t.Fatalf("normalize_at ByID: %v %v %v", st, err, scores)
	}
	for _, c := range []struct {
		export string
		index  uint32
		want   string
	}{
		{hostabi.ExportSchedFilterAt, 1, "does not filter"},
		{hostabi.ExportSchedScoreAt, 0, "does not score"},
		{hostabi.ExportSchedFilterAt, 7, "no plugin 7"},
	} {
		if st, out := call(c.export, append(hostabi.AppendPluginIndex(nil, c.index), ids...)); st != hostabi.StatusInvalidInput || !strings.Contains(out, c.want) {
			t.Errorf("%s at %d: %v %s", c.export, c.index, st, out)
		}
	}
	// Disabled: its pre-filter does not run and its operations are refused.
	if st, out := call(hostabi.ExportConfigure, []byte(`{"enabled":["ByID"]}`)); st != hostabi.StatusOK {
		t.Fatalf("configure: %v %s", st, out)
	}
	if st, out := call(hostabi.ExportSchedPreFilter, []byte(`{"metadata":{"name":"p","labels":{"reject":"yes"}}}`)); st != hostabi.StatusOK || out != "" {
		t.Fatalf("a disabled plugin's pre-filter ran: %v %s", st, out)
	}
	if st, out := call(hostabi.ExportSchedFilterAt, append(hostabi.AppendPluginIndex(nil, 0), ids...)); st != hostabi.StatusInvalidInput || !strings.Contains(out, "not enabled") {
		t.Fatalf("a disabled plugin served: %v %s", st, out)
	}
}

// FuzzQuantityFastPath: whatever the int64 fast path answers, the exact math/big path answers
// the same, for milli-units and units.
func FuzzQuantityFastPath(f *testing.F) {
	for _, s := range []string{"500m", "16", "64Gi", "1.5G", "-1.5", "0.0001m", "123456789012345", "7Ti", "1e3", "2.5Ki", "-0.5m", ".5", "5."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, unit := range []int64{1, 1000} {
			fast, ok := fastScaled(s, unit)
			if !ok {
				continue
			}
			slow, err := slowScaled(s, unit)
			if err != nil || slow != fast {
				t.Fatalf("%q × %d: fast path %d, exact path %d, %v", s, unit, fast, slow, err)
			}
		}
	})
}

// TestNodeCache: a value is derived once per node state, again when the node's NodeInfo is
// replaced, and dropped when the node goes.
func TestNodeCache(t *testing.T) {
	withRegistry(t, nil)
	derived := 0
	derive := func(ni *NodeInfo) string { derived++; return ni.Name() }
	a := &NodeInfo{ID: 0, Node: &Node{ObjectMeta: ObjectMeta{Name: "a"}}}
	b := &NodeInfo{ID: 1, Node: &Node{ObjectMeta: ObjectMeta{Name: "b"}}}
	reg.nodes.set(a)
	reg.nodes.set(b)
	reg.nodes.gen++
	var c NodeCache[string]
	for range 2 {
		if c.Get(a, derive) != "a" || c.Get(b, derive) != "b" {
			t.Fatal("wrong values")
		}
	}
	if derived != 2 {
		t.Fatalf("derived %d times for two node states, want 2", derived)
	}
	a2 := &NodeInfo{ID: 0, Node: &Node{ObjectMeta: ObjectMeta{Name: "a2"}}}
	reg.nodes.set(a2)
	reg.nodes.remove(1)
	reg.nodes.gen++
	if c.Get(a2, derive) != "a2" || derived != 3 {
		t.Fatalf("a replaced NodeInfo: derived %d times, want 3", derived)
	}
	if c.Len() != 1 {
		t.Fatalf("%d nodes cached after one was removed and one replaced, want 1", c.Len())
	}
}

// changeLog is a hosted plugin that records the node changes it is told of.
type changeLog struct{ seen []string }

func (c *changeLog) Filter(*CycleState, *Pod, *NodeInfo) *Status { return nil }

func (c *changeLog) NodeChanged(old, new *NodeInfo) {
	name := func(ni *NodeInfo) string {
		if ni == nil {
			return "-"
		}
		return ni.Name()
	}
	c.seen = append(c.seen, name(old)+">"+name(new))
}

func TestNodeWatchers(t *testing.T) {
	on, off := &changeLog{}, &changeLog{}
	withRegistry(t, func() {
		reg.hosted = nil
		RegisterPlugin("On", on)
		RegisterPlugin("Off", off)
	})
	if st, out := dispatch.Call(hostabi.ExportConfigure, []byte(`{"enabled":["On"]}`)); st != hostabi.StatusOK {
		t.Fatalf("configure: %v %s", st, out)
	}
	for _, in := range []string{
		`{"set":[{"id":1,"node":{"metadata":{"name":"a"}}},{"id":2,"node":{"metadata":{"name":"b"}}}]}`,
		`{"set":[{"id":1,"node":{"metadata":{"name":"a2"}}}],"remove":[2,7]}`,
	} {
		if st, out := dispatch.Call(hostabi.ExportSchedNodes, []byte(in)); st != hostabi.StatusOK {
			t.Fatalf("nodes: %v %s", st, out)
		}
	}
	// Removals come before sets within one message; an unknown id is no change.
	if got := strings.Join(on.seen, " "); got != "->a ->b b>- a>a2" {
		t.Errorf("the enabled watcher saw %q", got)
	}
	if len(off.seen) != 0 {
		t.Errorf("a disabled plugin was told of changes: %v", off.seen)
	}
}

// lazy rejects every node and scores 7, but its PreFilter and PreScore skip both for pods
// labelled skip=yes.
type lazy struct{}

func (lazy) PreFilter(_ *CycleState, p *Pod) *Status {
	if p.Labels["skip"] == "yes" {
		return Skip
	}
	return nil
}

func (lazy) PreScore(_ *CycleState, p *Pod) *Status {
	if p.Labels["skip"] == "yes" {
		return Skip
	}
	return nil
}

func (lazy) Filter(*CycleState, *Pod, *NodeInfo) *Status { return Unschedulable("no") }

func (lazy) Score(*CycleState, *Pod, *NodeInfo) (int64, *Status) { return 7, nil }

func TestSkips(t *testing.T) {
	withRegistry(t, func() {
		reg.hosted = nil
		RegisterPlugin("Lazy", lazy{})
		RegisterPlugin("ByID", idScore{})
	})
	call := func(export string, in []byte) string {
		t.Helper()
		st, out := dispatch.Call(export, in)
		if st != hostabi.StatusOK {
			t.Fatalf("%s: %v %s", export, st, out)
		}
		return string(out)
	}
	call(hostabi.ExportSchedNodes, []byte(`{"set":[{"id":1,"node":{"metadata":{"name":"n1"}}},{"id":2,"node":{"metadata":{"name":"n2"}}}]}`))
	ids := hostabi.AppendNodeIDs(nil, []uint32{1, 2})
	at := func(i uint32) []byte { return append(hostabi.AppendPluginIndex(nil, i), ids...) }
	for _, tc := range []struct {
		pod, verdict string
		rejected     int
		scores       []int64
	}{
		{`{"metadata":{"name":"p","labels":{"skip":"yes"}}}`, `{"code":0,"skip":[{"plugin":"Lazy","filter":true,"score":true}]}`, 0, []int64{0, 0}},
		{`{"metadata":{"name":"q"}}`, ``, 2, []int64{7, 7}},
	} {
		if got := call(hostabi.ExportSchedPreFilter, []byte(tc.pod)); got != tc.verdict {
			t.Errorf("%s: verdict %s, want %s", tc.pod, got, tc.verdict)
		}
		// A host that calls a skipped plugin anyway gets what skipping means.
		rejs, err := hostabi.DecodeFilterOutput([]byte(call(hostabi.ExportSchedFilterAt, at(0))))
		if err != nil || len(rejs) != tc.rejected {
			t.Errorf("%s: %d rejections (%v), want %d", tc.pod, len(rejs), err, tc.rejected)
		}
		scores, err := hostabi.DecodeScores([]byte(call(hostabi.ExportSchedScoreAt, at(0))))
		if err != nil || !slices.Equal(scores, tc.scores) {
			t.Errorf("%s: scores %v (%v), want %v", tc.pod, scores, err, tc.scores)
		}
	}
}

// A node resent with one pod more keeps the Node and the pod it had, decoded once.
func TestNodeChangesReuseUnchangedObjects(t *testing.T) {
	withRegistry(t, func() { reg.filter = FilterFunc(func(*CycleState, *Pod, *NodeInfo) *Status { return nil }) })
	const node, a, b = `{"metadata":{"name":"n"}}`, `{"metadata":{"name":"a"}}`, `{"metadata":{"name":"b"}}`
	send := func(msg string) *NodeInfo {
		t.Helper()
		if st, out := dispatch.Call(hostabi.ExportSchedNodes, []byte(msg)); st != hostabi.StatusOK {
			t.Fatalf("nodes: %v %s", st, out)
		}
		return reg.nodes.get(1)
	}
	first := send(`{"set":[{"id":1,"node":` + node + `,"pods":[` + a + `]}]}`)
	second := send(`{"set":[{"id":1,"node":` + node + `,"pods":[` + b + `,` + a + `]}]}`)
	if second == first || second.Node != first.Node || second.Pods[1] != first.Pods[0] || second.Pods[0].Name != "b" {
		t.Fatalf("the node and pod a were decoded again, or b is wrong: %+v", second)
	}
	third := send(`{"set":[{"id":1,"node":{"metadata":{"name":"n","labels":{"x":"y"}}},"pods":[` + a + `]}]}`)
	if third.Node == first.Node || third.Node.Labels["x"] != "y" || third.Pods[0] != first.Pods[0] {
		t.Fatalf("a changed node kept its old state, or its unchanged pod was decoded again: %+v", third)
	}
}
