// Package sdktest is a fake tug host for unit-testing plugins natively with go test. It
// drives the plugin the test binary registered (tug.RegisterFilter, …, usually from the
// plugin's init) through the same operations, encodings and checks as the real host: node
// state, pod and requests are encoded as the host encodes them, the SDK's operation
// handlers decode them, and the results are decoded back. Plugin log messages go to the
// test's log.
//
// Objects (pods, nodes, admission objects) can be given as JSON ([]byte, string or
// json.RawMessage) or as any value encoding/json encodes: a *tug.Pod, a map, or a
// k8s.io/api type if the test wants one.
//
// The plugin is process-wide, as it is in a wasm instance: tests that use sdktest must not
// run in parallel with each other.
package sdktest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tugboat-io/tug/hostabi"
	tug "github.com/tugboat-io/tug/sdk/go"
	"github.com/tugboat-io/tug/sdk/go/internal/dispatch"
	"github.com/tugboat-io/tug/sdk/go/internal/host"
)

// fake is the host's side of the instance: the node ids it has set.
var fake struct {
	resident []uint32
	nextID   uint32
}

// Call runs one operation export of the plugin with raw input bytes, as the host does, and
// returns its status and a copy of its result (the output, or a reason).
func Call(t testing.TB, export string, input []byte) (hostabi.Status, []byte) {
	t.Helper()
	restore := host.SetLogSink(func(level int32, msg string) {
		t.Logf("plugin %s: %s", host.LevelName(level), msg)
	})
	defer restore()
	st, out := dispatch.Call(export, input)
	return st, bytes.Clone(out)
}

// CallError is a call that did not return OK.
type CallError struct {
	Export string
	Status hostabi.Status
	Reason string
}

func (e *CallError) Error() string {
	return fmt.Sprintf("%s: %s: %s", e.Export, e.Status, e.Reason)
}

// call runs an operation and turns a non-OK status into a *CallError.
func call(t testing.TB, export string, input []byte) ([]byte, error) {
	t.Helper()
	st, out := Call(t, export, input)
	if st != hostabi.StatusOK {
		return nil, &CallError{Export: export, Status: st, Reason: string(out)}
	}
	return out, nil
}

func mustCall(t testing.TB, export string, input []byte) []byte {
	t.Helper()
	out, err := call(t, export, input)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Configure sends the plugin its configuration (nil means "{}") and returns the plugin's
// refusal, if any, as a *CallError.
func Configure(t testing.TB, config any) error {
	t.Helper()
	if config == nil {
		config = "{}"
	}
	_, err := call(t, hostabi.ExportConfigure, toJSON(t, config))
	return err
}

// Node is a node with the pods bound to it, for SetNodes, Filter and Score.
type Node struct {
	Node any
	Pods []any
}

// WithPods returns a node with pods bound to it.
func WithPods(node any, pods ...any) Node { return Node{Node: node, Pods: pods} }

// SetNodes makes nodes (each a node object or a Node) the plugin's resident nodes, replacing
// those of earlier calls, and returns the node ids it gave them, by node name.
func SetNodes(t testing.TB, nodes ...any) map[string]uint32 {
	t.Helper()
	ch := hostabi.NodeChanges{Remove: fake.resident}
	ids := map[string]uint32{}
	var resident []uint32
	for _, n := range nodes {
		nn, ok := n.(Node)
		if !ok {
			nn = Node{Node: n}
		}
		raw := toJSON(t, nn.Node)
		name := objectName(t, raw)
		if _, dup := ids[name]; dup {
			t.Fatalf("sdktest: two nodes named %q", name)
		}
		// Fresh ids every time, so that plugins meet ids that are neither dense nor reused.
		fake.nextID += 3
		e := hostabi.NodeEntry{ID: fake.nextID, Node: raw}
		for _, p := range nn.Pods {
			e.Pods = append(e.Pods, toJSON(t, p))
		}
		ch.Set = append(ch.Set, e)
		ids[name] = e.ID
		resident = append(resident, e.ID)
	}
	in, err := json.Marshal(ch)
	if err != nil {
		t.Fatalf("sdktest: encode nodes: %v", err)
	}
	mustCall(t, hostabi.ExportSchedNodes, in)
	fake.resident = resident
	return ids
}

// PreFilter starts a scheduling cycle for pod and returns the plugin's verdict: nil to go
// on, or the status that ends the cycle.
func PreFilter(t testing.TB, pod any) *tug.Status {
	t.Helper()
	out := mustCall(t, hostabi.ExportSchedPreFilter, toJSON(t, pod))
	if len(out) == 0 {
		return nil
	}
	var v hostabi.PreFilterVerdict
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatalf("sdktest: malformed pre-filter verdict %q: %v", out, err)
	}
	if v.Code == hostabi.CodeSuccess {
		return nil
	}
	return verdict(t, v.Code, v.Reason)
}

// Filter runs a scheduling cycle's filter for pod over nodes (each a node object or a Node)
// and returns every node's status by name: nil for a node that passes. A pre-filter verdict
// that ends the cycle is every node's status.
func Filter(t testing.TB, pod any, nodes ...any) map[string]*tug.Status {
	t.Helper()
	ids := SetNodes(t, nodes...)
	names := map[uint32]string{}
	order := make([]uint32, 0, len(ids))
	for name, id := range ids {
		names[id] = name
		order = append(order, id)
	}
	result := map[string]*tug.Status{}
	if st := PreFilter(t, pod); st != nil {
		for name := range ids {
			result[name] = st
		}
		return result
	}
	out := mustCall(t, hostabi.ExportSchedFilter, hostabi.AppendNodeIDs(nil, order))
	rejs, err := hostabi.DecodeFilterOutput(out)
	if err != nil {
		t.Fatalf("sdktest: filter output: %v", err)
	}
	for name := range ids {
		result[name] = nil
	}
	for _, r := range rejs {
		name, ok := names[r.NodeID]
		switch {
		case !ok:
			t.Fatalf("sdktest: filter rejected node id %d, which was not a candidate", r.NodeID)
		case result[name] != nil:
			t.Fatalf("sdktest: filter rejected node %s twice", name)
		}
		result[name] = verdict(t, r.Code, r.Reason)
	}
	return result
}

// Score runs a scheduling cycle's score and normalize for pod over nodes and returns each
// node's final score by name.
func Score(t testing.TB, pod any, nodes ...any) map[string]int64 {
	t.Helper()
	ids := SetNodes(t, nodes...)
	order := make([]hostabi.NodeScore, 0, len(ids))
	nodeIDs := make([]uint32, 0, len(ids))
	names := map[uint32]string{}
	for name, id := range ids {
		names[id] = name
		nodeIDs = append(nodeIDs, id)
	}
	if st := PreFilter(t, pod); st != nil {
		t.Fatalf("sdktest: pre-filter ended the cycle: %v", st)
	}
	raw := scores(t, hostabi.ExportSchedScore, mustCall(t, hostabi.ExportSchedScore, hostabi.AppendNodeIDs(nil, nodeIDs)), len(nodeIDs))
	for i, id := range nodeIDs {
		order = append(order, hostabi.NodeScore{NodeID: id, Score: raw[i]})
	}
	final := scores(t, hostabi.ExportSchedNormalize, mustCall(t, hostabi.ExportSchedNormalize, hostabi.AppendNormalizeInput(nil, order)), len(nodeIDs))
	result := map[string]int64{}
	for i, id := range nodeIDs {
		if s := final[i]; s < 0 || s > tug.MaxNodeScore {
			t.Fatalf("sdktest: node %s scored %d, outside 0..%d", names[id], s, tug.MaxNodeScore)
		}
		result[names[id]] = final[i]
	}
	return result
}

func scores(t testing.TB, export string, out []byte, n int) []int64 {
	t.Helper()
	s, err := hostabi.DecodeScores(out)
	if err != nil {
		t.Fatalf("sdktest: %s output: %v", export, err)
	}
	if len(s) != n {
		t.Fatalf("sdktest: %s returned %d scores for %d nodes", export, len(s), n)
	}
	return s
}

// Admit sends req to the plugin's admission policy and returns its response.
func Admit(t testing.TB, req *tug.AdmissionRequest) *tug.AdmissionResponse {
	t.Helper()
	in, err := json.Marshal(req)
	if err != nil {
		t.Fatalf("sdktest: encode admission request: %v", err)
	}
	out := mustCall(t, hostabi.ExportAdmit, in)
	var resp tug.AdmissionResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatalf("sdktest: malformed admission response %q: %v", out, err)
	}
	if resp.UID != req.UID {
		t.Fatalf("sdktest: admission response uid %q, want the request's %q", resp.UID, req.UID)
	}
	return &resp
}

// NewAdmissionRequest returns a request for operation (CREATE, UPDATE, DELETE) on object,
// with kind, resource, name and namespace taken from the object: the request the API server
// would send for it. For UPDATE set OldObject as well; for DELETE, object is the old
// object.
func NewAdmissionRequest(t testing.TB, operation string, object any) *tug.AdmissionRequest {
	t.Helper()
	raw := toJSON(t, object)
	var o struct {
		tug.TypeMeta
		Metadata tug.ObjectMeta `json:"metadata"`
	}
	if err := json.Unmarshal(raw, &o); err != nil {
		t.Fatalf("sdktest: decode object: %v", err)
	}
	group, version, ok := strings.Cut(o.APIVersion, "/")
	if !ok {
		group, version = "", o.APIVersion
	}
	gvk := tug.GroupVersionKind{Group: group, Version: version, Kind: o.Kind}
	gvr := tug.GroupVersionResource{Group: group, Version: version, Resource: guessResource(o.Kind)}
	req := &tug.AdmissionRequest{AdmissionRequest: hostabi.AdmissionRequest{
		UID: "sdktest-" + strings.ToLower(operation), Kind: gvk, Resource: gvr,
		RequestKind: &gvk, RequestResource: &gvr,
		Name: o.Metadata.Name, Namespace: o.Metadata.Namespace, Operation: operation,
		UserInfo: tug.UserInfo{Username: "sdktest", Groups: []string{"system:authenticated"}},
	}}
	if operation == "DELETE" {
		req.OldObject = raw
	} else {
		req.Object = raw
	}
	return req
}

// guessResource guesses a kind's resource name as Kubernetes' UnsafeGuessKindToResource.
func guessResource(kind string) string {
	r := strings.ToLower(kind)
	switch {
	case r == "":
		return ""
	case strings.HasSuffix(r, "s"):
		return r + "es"
	case strings.HasSuffix(r, "y"):
		return r[:len(r)-1] + "ies"
	}
	return r + "s"
}

// Reconcile sends req to the plugin's controller and returns its result, or the error the
// plugin returned.
func Reconcile(t testing.TB, req *tug.ReconcileRequest) (*tug.ReconcileResult, error) {
	t.Helper()
	in, err := json.Marshal(req)
	if err != nil {
		t.Fatalf("sdktest: encode reconcile request: %v", err)
	}
	out, err := call(t, hostabi.ExportReconcile, in)
	if ce := (*CallError)(nil); errors.As(err, &ce) && ce.Status == hostabi.StatusError {
		return nil, errors.New(ce.Reason)
	} else if err != nil {
		t.Fatal(err)
	}
	var res tug.ReconcileResult
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("sdktest: malformed reconcile result %q: %v", out, err)
	}
	return &res, nil
}

func verdict(t testing.TB, code hostabi.Code, reason string) *tug.Status {
	t.Helper()
	if code < hostabi.CodeError || code > hostabi.CodeUnschedulableAndUnresolvable {
		t.Fatalf("sdktest: scheduling code %d is not one of the ABI's", code)
	}
	if reason == "" {
		return tug.NewStatus(code)
	}
	return tug.NewStatus(code, reason)
}

func toJSON(t testing.TB, v any) []byte {
	t.Helper()
	switch b := v.(type) {
	case []byte:
		return b
	case json.RawMessage:
		return b
	case string:
		return []byte(b)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("sdktest: encode %T: %v", v, err)
	}
	return b
}

func objectName(t testing.TB, raw []byte) string {
	t.Helper()
	var o struct {
		Metadata struct {
			Name string `json:"name"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal(raw, &o); err != nil || o.Metadata.Name == "" {
		t.Fatalf("sdktest: node without metadata.name: %s", raw)
	}
	return o.Metadata.Name
}

// PermitResult is a Permit's answer: its status (nil to approve, CodeWait to hold the pod for
// Timeout), and what it decided about the pods waiting at it.
type PermitResult struct {
	Status  *tug.Status
	Timeout time.Duration
	Allow   []string
	Reject  []hostabi.WaitingRejection
}

// bindingVerdict decodes the output of a Reserve, Permit or PreBind (ABI.md §4.10).
func bindingVerdict(t testing.TB, export string, out []byte) hostabi.BindingVerdict {
	t.Helper()
	var v hostabi.BindingVerdict
	if len(out) > 0 {
		if err := json.Unmarshal(out, &v); err != nil {
			t.Fatalf("sdktest: malformed %s verdict %q: %v", export, out, err)
		}
	}
	return v
}

func bindingStatus(t testing.TB, v hostabi.BindingVerdict) *tug.Status {
	t.Helper()
	switch v.Code {
	case hostabi.CodeSuccess:
		return nil
	case hostabi.CodeWait:
		return tug.NewStatus(hostabi.CodeWait, v.Reason)
	}
	return verdict(t, v.Code, v.Reason)
}

func bindingInput(t testing.TB, node string, pod any, waiting []string) []byte {
	t.Helper()
	in := hostabi.BindingInput{Node: node, Waiting: waiting}
	if pod != nil {
		in.Pod = toJSON(t, pod)
	}
	return toJSON(t, in)
}

// Reserve runs the plugin's Reserve for the cycle's pod (PreFilter's) on node.
func Reserve(t testing.TB, node string) *tug.Status {
	t.Helper()
	return bindingStatus(t, bindingVerdict(t, hostabi.ExportSchedReserve,
		mustCall(t, hostabi.ExportSchedReserve, bindingInput(t, node, nil, nil))))
}

// Unreserve runs the plugin's Unreserve for pod on node.
func Unreserve(t testing.TB, pod any, node string) {
	t.Helper()
	mustCall(t, hostabi.ExportSchedUnreserve, bindingInput(t, node, pod, nil))
}

// Permit runs the plugin's Permit for the cycle's pod on node, with the pods ("namespace/name")
// waiting at it.
func Permit(t testing.TB, node string, waiting ...string) PermitResult {
	t.Helper()
	v := bindingVerdict(t, hostabi.ExportSchedPermit, mustCall(t, hostabi.ExportSchedPermit, bindingInput(t, node, nil, waiting)))
	return PermitResult{Status: bindingStatus(t, v), Timeout: time.Duration(v.TimeoutMillis) * time.Millisecond,
		Allow: v.Allow, Reject: v.Reject}
}

// PreBind runs the plugin's PreBind for pod on node.
func PreBind(t testing.TB, pod any, node string) *tug.Status {
	t.Helper()
	return bindingStatus(t, bindingVerdict(t, hostabi.ExportSchedPreBind,
		mustCall(t, hostabi.ExportSchedPreBind, bindingInput(t, node, pod, nil))))
}

// PostBind runs the plugin's PostBind for pod on node.
func PostBind(t testing.TB, pod any, node string) {
	t.Helper()
	mustCall(t, hostabi.ExportSchedPostBind, bindingInput(t, node, pod, nil))
}
