package main

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/tugboat-io/tug/hostabi"
	"github.com/tugboat-io/tug/plugins/internal/wasmhost"
	"github.com/tugboat-io/tug/sdk/go/sdktest"
)

// call is one operation and the answer it must get: the status, and the output as text.
type call struct {
	export string
	in     string
	st     hostabi.Status
	out    string
}

func gangPod(name, permit string) string {
	return fmt.Sprintf(`{"metadata":{"name":%q,"namespace":"ml","labels":{"gate.tug.dev/gang":"g"},"annotations":{"gate.tug.dev/permit":%q}}}`, name, permit)
}

func binding(node, pod string, waiting ...string) string {
	b, _ := json.Marshal(hostabi.BindingInput{Node: node, Pod: json.RawMessage(pod), Waiting: waiting})
	return string(b)
}

func verdict(v hostabi.BindingVerdict) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestGate drives every extension point after the choice of a node (ABI.md §4.10) through
// the SDK natively and through the wasm module, with the same bytes, and checks both answer
// alike and as the plugin should.
func TestGate(t *testing.T) {
	plain := `{"metadata":{"name":"web","namespace":"default"}}`
	picky := `{"metadata":{"name":"picky","namespace":"default","annotations":{"gate.tug.dev/reserve":"reject","gate.tug.dev/prebind":"reject"}}}`
	nodes := `{"set":[{"id":0,"node":{"metadata":{"name":"n1"}}},{"id":1,"node":{"metadata":{"name":"n2","labels":{"gate.tug.dev/closed":""}}}}]}`
	calls := []call{
		{hostabi.ExportConfigure, `{}`, hostabi.StatusOK, ""},
		{hostabi.ExportSchedNodes, nodes, hostabi.StatusOK, ""},
		// A plain pod: the filter closes n2; every later point lets it through.
		{hostabi.ExportSchedPreFilter, plain, hostabi.StatusOK, ""},
		{hostabi.ExportSchedFilter, string(hostabi.AppendNodeIDs(nil, []uint32{0, 1})), hostabi.StatusOK,
			string(hostabi.AppendFilterOutput(nil, []hostabi.Rejection{{NodeID: 1, Code: hostabi.CodeUnschedulable, Reason: "node(s) were closed"}}))},
		{hostabi.ExportSchedReserve, binding("n1", ""), hostabi.StatusOK, ""},
		{hostabi.ExportSchedPermit, binding("n1", ""), hostabi.StatusOK, ""},
		{hostabi.ExportSchedPreBind, binding("n1", plain), hostabi.StatusOK, ""},
		{hostabi.ExportSchedPostBind, binding("n1", plain), hostabi.StatusOK, ""},
		// A pod Reserve and PreBind reject.
		{hostabi.ExportSchedPreFilter, picky, hostabi.StatusOK, ""},
		{hostabi.ExportSchedReserve, binding("n1", ""), hostabi.StatusOK,
			verdict(hostabi.BindingVerdict{Code: hostabi.CodeUnschedulable, Reason: "reserve refused on n1"})},
		{hostabi.ExportSchedUnreserve, binding("n1", picky), hostabi.StatusOK, ""},
		{hostabi.ExportSchedPreBind, binding("n1", picky), hostabi.StatusOK,
			verdict(hostabi.BindingVerdict{Code: hostabi.CodeUnschedulable, Reason: "volume not ready on n1"})},
		// A gang of three: two wait, the third allows them; a denied member rejects the waiting.
		{hostabi.ExportSchedPreFilter, gangPod("g-0", "3"), hostabi.StatusOK, ""},
		{hostabi.ExportSchedPermit, binding("n1", ""), hostabi.StatusOK,
			verdict(hostabi.BindingVerdict{Code: hostabi.CodeWait, TimeoutMillis: Wait.Milliseconds()})},
		{hostabi.ExportSchedPreFilter, gangPod("g-1", "3"), hostabi.StatusOK, ""},
		{hostabi.ExportSchedPermit, binding("n1", "", "ml/g-0", "ml/other-0"), hostabi.StatusOK,
			verdict(hostabi.BindingVerdict{Code: hostabi.CodeWait, TimeoutMillis: Wait.Milliseconds()})},
		{hostabi.ExportSchedPreFilter, gangPod("g-2", "3"), hostabi.StatusOK, ""},
		{hostabi.ExportSchedPermit, binding("n1", "", "ml/g-0", "ml/g-1", "ml/other-0"), hostabi.StatusOK,
			verdict(hostabi.BindingVerdict{Allow: []string{"ml/g-0", "ml/g-1"}})},
		{hostabi.ExportSchedPreFilter, gangPod("g-3", "deny"), hostabi.StatusOK, ""},
		{hostabi.ExportSchedPermit, binding("n1", "", "ml/g-0"), hostabi.StatusOK,
			verdict(hostabi.BindingVerdict{Code: hostabi.CodeUnschedulable, Reason: "permit denied",
				Reject: []hostabi.WaitingRejection{{Pod: "ml/g-0", Reason: "a member of gang g was denied"}}})},
		// Malformed input is refused, not guessed at.
		{hostabi.ExportSchedReserve, `{}`, hostabi.StatusInvalidInput, ""},
		{hostabi.ExportSchedPreBind, binding("n1", ""), hostabi.StatusInvalidInput, ""},
	}
	run := func(t *testing.T, do func(export string, in []byte) (hostabi.Status, []byte)) []string {
		var got []string
		for i, c := range calls {
			st, out := do(c.export, []byte(c.in))
			if st != c.st || (st == hostabi.StatusOK && string(out) != c.out) {
				t.Errorf("call %d, %s: %v %q; want %v %q", i, c.export, st, out, c.st, c.out)
			}
			got = append(got, fmt.Sprintf("%v %s", st, out))
		}
		return got
	}
	native := run(t, func(export string, in []byte) (hostabi.Status, []byte) { return sdktest.Call(t, export, in) })
	if testing.Short() {
		t.Skip("builds the wasm module with the Go toolchain; skipped in -short runs")
	}
	h, err := wasmhost.Load("./internal/testguests/gate")
	if err != nil {
		t.Fatal(err)
	}
	wasm := run(t, func(export string, in []byte) (hostabi.Status, []byte) {
		st, out, err := h.Call(t, export, in)
		if err != nil {
			t.Fatalf("%s: %v", export, err)
		}
		return st, out
	})
	for i := range native {
		if native[i] != wasm[i] {
			t.Errorf("call %d: native %q, wasm %q", i, native[i], wasm[i])
		}
	}
}
