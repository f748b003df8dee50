// Package abitest is the ABI v1 conformance kit, for both sides of the ABI.
//
// RunGuest drives a loaded plugin module through every operation of every kind it implements,
// with well-formed and malformed inputs, and checks each answer against ABI.md. A host adapts
// its loaded module to Guest; an SDK in another language runs its plugins through the same
// kit, so "passes the kit" means the same thing for every language.
//
// RunHost drives a host implementation (adapted to Host) with probe modules the kit assembles
// itself: bytes in and out of every operation, statuses, set_result and log, refusals at load,
// and containment of guests that trap, loop or misbehave. tug's runtime passes it; so must any
// other host of ABI v1.
//
// The kit checks the contract, not the policy: it never asserts which node a filter rejects or
// whether a request is admitted, only that answers are well-formed and within the ABI's ranges,
// that malformed input is answered with a status rather than a trap, and that an instance keeps
// working after it.
package abitest

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/tugboat-io/tug/hostabi"
)

// Guest is one instance of a loaded module, as the host sees it. Call performs an operation
// export (ABI.md §2); its error means the host could not complete the call (a trap, a deadline)
// and is always a conformance failure here.
type Guest interface {
	Has(export string) bool
	Call(export string, input []byte) (result []byte, status hostabi.Status, err error)
}

// Node and pod fixtures: small, valid Kubernetes JSON.
var (
	nodeA = []byte(`{"apiVersion":"v1","kind":"Node","metadata":{"name":"node-a","labels":{"zone":"a","kubernetes.io/hostname":"node-a"}},` +
		`"status":{"allocatable":{"cpu":"4","memory":"8Gi","pods":"110"},"capacity":{"cpu":"4","memory":"8Gi","pods":"110"}}}`)
	nodeB = []byte(`{"apiVersion":"v1","kind":"Node","metadata":{"name":"node-b","labels":{"zone":"b"}},` +
		`"spec":{"taints":[{"key":"gpu","value":"true","effect":"NoSchedule"}]},` +
		`"status":{"allocatable":{"cpu":"2","memory":"4Gi","pods":"110"}}}`)
	pod = []byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web-1","namespace":"default","labels":{"app":"web"}},` +
		`"spec":{"containers":[{"name":"web","image":"registry.local/web:1.0","resources":{"requests":{"cpu":"500m","memory":"256Mi"}}}]}}`)
)

// garbage inputs every operation must answer with a status, not a trap.
var garbage = [][]byte{
	nil,
	[]byte("not json at all"),
	{0xff, 0xff, 0xff, 0xff, 0x01},
	[]byte(`{"truncated":`),
}

// RunGuest checks g against ABI v1 for every kind whose exports it has. It fails t if the
// module implements no kind.
func RunGuest(t *testing.T, g Guest) {
	t.Helper()
	for _, e := range []string{hostabi.ExportMemory, hostabi.ExportABIVersion, hostabi.ExportAlloc} {
		if !g.Has(e) {
			t.Errorf("the module does not export %s (ABI.md §2)", e)
		}
	}
	var kinds []hostabi.Kind
	for _, k := range []hostabi.Kind{hostabi.KindSchedulerFilter, hostabi.KindSchedulerScore, hostabi.KindAdmission, hostabi.KindController} {
		if hasAll(g, hostabi.RequiredExports[k]) {
			kinds = append(kinds, k)
		}
	}
	if g.Has(hostabi.ExportSchedPlugins) {
		t.Run("hosted", func(t *testing.T) { runHosted(t, g) })
		kinds = append(kinds, "hosted")
	}
	if len(kinds) == 0 {
		t.Fatal("the module implements no plugin kind: no kind's required exports are all present (ABI.md §4)")
	}
	for _, k := range kinds {
		switch k {
		case hostabi.KindSchedulerFilter, hostabi.KindSchedulerScore:
			t.Run(string(k), func(t *testing.T) { runScheduler(t, g, k) })
		case hostabi.KindAdmission:
			t.Run(string(k), func(t *testing.T) { runAdmission(t, g) })
		case hostabi.KindController:
			t.Run(string(k), func(t *testing.T) { runController(t, g) })
		}
	}
}

func hasAll(g Guest, exports []string) bool {
	for _, e := range exports {
		if !g.Has(e) {
			return false
		}
	}
	return true
}

// call performs an operation and fails t on a host-level error.
func call(t *testing.T, g Guest, export string, in []byte) ([]byte, hostabi.Status) {
	t.Helper()
	out, st, err := g.Call(export, in)
	if err != nil {
		t.Fatalf("%s: the call did not complete (a trap or a deadline is never conformant): %v", export, err)
	}
	if st > hostabi.StatusUnsupported || st < 0 {
		t.Fatalf("%s: status %d is not one ABI.md §3 defines", export, st)
	}
	return out, st
}

// expectOK fails t unless the call answered OK.
func expectOK(t *testing.T, g Guest, export string, in []byte) []byte {
	t.Helper()
	out, st := call(t, g, export, in)
	if st != hostabi.StatusOK {
		t.Fatalf("%s on well-formed input: status %v, reason %q", export, st, out)
	}
	return out
}

// expectRefused checks that malformed input is answered with a non-OK status and a reason.
func expectRefused(t *testing.T, g Guest, export string) {
	t.Helper()
	for _, in := range garbage {
		out, st := call(t, g, export, in)
		if st == hostabi.StatusOK {
			// Some inputs are valid frames by accident (an empty node list is "u32 0");
			// only a clearly malformed one must be refused.
			if len(in) > 0 && in[0] != 0 {
				t.Errorf("%s accepted malformed input %q", export, in)
			}
			continue
		}
		if len(out) == 0 {
			t.Errorf("%s refused %q with status %v but no reason (ABI.md §2: a non-zero status carries a reason)", export, in, st)
		}
	}
}

func runScheduler(t *testing.T, g Guest, k hostabi.Kind) {
	changes, _ := json.Marshal(hostabi.NodeChanges{Set: []hostabi.NodeEntry{
		{ID: 1, Node: nodeA}, {ID: 2, Node: nodeB, Pods: []json.RawMessage{pod}},
	}})
	expectOK(t, g, hostabi.ExportSchedNodes, changes)
	expectOK(t, g, hostabi.ExportSchedNodes, []byte(`{}`)) // no changes is a valid message

	t.Run("prefilter", func(t *testing.T) {
		out := expectOK(t, g, hostabi.ExportSchedPreFilter, pod)
		if len(out) > 0 {
			var v hostabi.PreFilterVerdict
			if err := json.Unmarshal(out, &v); err != nil {
				t.Fatalf("pre-filter verdict is not the JSON of ABI.md §4.2: %v: %q", err, out)
			}
			if v.Code > hostabi.CodeUnschedulableAndUnresolvable {
				t.Errorf("pre-filter code %d is not a scheduling code", v.Code)
			}
		}
	})
	ids := []uint32{1, 2}
	if k == hostabi.KindSchedulerFilter {
		t.Run("filter", func(t *testing.T) {
			out := expectOK(t, g, hostabi.ExportSchedFilter, hostabi.AppendNodeIDs(nil, ids))
			rs, err := hostabi.DecodeFilterOutput(out)
			if err != nil {
				t.Fatalf("filter output is not the frame of ABI.md §4.3: %v", err)
			}
			seen := map[uint32]bool{}
			for _, r := range rs {
				if r.NodeID != 1 && r.NodeID != 2 {
					t.Errorf("rejected node %d, which was not a candidate", r.NodeID)
				}
				if seen[r.NodeID] {
					t.Errorf("rejected node %d twice", r.NodeID)
				}
				seen[r.NodeID] = true
				if r.Code < hostabi.CodeError || r.Code > hostabi.CodeUnschedulableAndUnresolvable {
					t.Errorf("node %d rejected with code %d, not 1..3", r.NodeID, r.Code)
				}
				if r.Reason == "" {
					t.Errorf("node %d rejected without a reason", r.NodeID)
				}
			}
			empty := expectOK(t, g, hostabi.ExportSchedFilter, hostabi.AppendNodeIDs(nil, nil))
			if rs, err := hostabi.DecodeFilterOutput(empty); err != nil || len(rs) != 0 {
				t.Errorf("filter of no candidates: %v rejections, err %v", len(rs), err)
			}
			expectRefused(t, g, hostabi.ExportSchedFilter)
		})
	}
	if k == hostabi.KindSchedulerScore {
		t.Run("score", func(t *testing.T) {
			out := expectOK(t, g, hostabi.ExportSchedScore, hostabi.AppendNodeIDs(nil, ids))
			scores, err := hostabi.DecodeScores(out)
			if err != nil {
				t.Fatalf("score output is not the frame of ABI.md §4.4: %v", err)
			}
			if len(scores) != len(ids) {
				t.Fatalf("%d scores for %d nodes", len(scores), len(ids))
			}
			normalizes := g.Has(hostabi.ExportSchedNormalize)
			for i, s := range scores {
				if !normalizes && (s < 0 || s > hostabi.MaxNodeScore) {
					t.Errorf("node %d scored %d, outside 0..%d, and the module does not normalize", ids[i], s, hostabi.MaxNodeScore)
				}
			}
			if normalizes {
				in := make([]hostabi.NodeScore, len(ids))
				for i := range ids {
					in[i] = hostabi.NodeScore{NodeID: ids[i], Score: scores[i]}
				}
				out := expectOK(t, g, hostabi.ExportSchedNormalize, hostabi.AppendNormalizeInput(nil, in))
				norm, err := hostabi.DecodeScores(out)
				if err != nil || len(norm) != len(ids) {
					t.Fatalf("normalize output: %d scores, err %v", len(norm), err)
				}
				for i, s := range norm {
					if s < 0 || s > hostabi.MaxNodeScore {
						t.Errorf("node %d normalized to %d, outside 0..%d", ids[i], s, hostabi.MaxNodeScore)
					}
				}
			}
			expectRefused(t, g, hostabi.ExportSchedScore)
		})
	}
	t.Run("nodes malformed", func(t *testing.T) { expectRefused(t, g, hostabi.ExportSchedNodes) })
	// After every refusal above the instance still serves.
	expectOK(t, g, hostabi.ExportSchedNodes, changes)
}

// runHosted checks a module hosting several scheduling plugins (ABI.md §4.7): its plugin
// list, then every plugin through the scheduler checks, addressed by index.
func runHosted(t *testing.T, g Guest) {
	out := expectOK(t, g, hostabi.ExportSchedPlugins, nil)
	var hp hostabi.HostedPlugins
	if err := json.Unmarshal(out, &hp); err != nil {
		t.Fatalf("plugin list is not the JSON of ABI.md §4.7: %v: %q", err, out)
	}
	if len(hp.Plugins) == 0 {
		t.Fatal("the module lists no plugins")
	}
	seen := map[string]bool{}
	for i, p := range hp.Plugins {
		switch {
		case p.Name == "" || seen[p.Name]:
			t.Errorf("plugin %d: name %q is empty or repeated", i, p.Name)
		case !p.Filter && !p.Score && !p.PostFilter && !p.Reserve && !p.Permit && !p.PreBind && !p.PostBind:
			t.Errorf("plugin %s runs at no extension point", p.Name)
		case p.Weight < 0 || p.Weight > 100:
			t.Errorf("plugin %s has weight %d, not 1..100", p.Name, p.Weight)
		case p.Filter && !g.Has(hostabi.ExportSchedFilterAt), p.Score && !g.Has(hostabi.ExportSchedScoreAt),
			p.PostFilter && !g.Has(hostabi.ExportSchedPostFilterAt),
			p.Reserve && (!g.Has(hostabi.ExportSchedReserveAt) || !g.Has(hostabi.ExportSchedUnreserveAt)),
			p.Permit && !g.Has(hostabi.ExportSchedPermitAt), p.PreBind && !g.Has(hostabi.ExportSchedPreBindAt),
			p.PostBind && !g.Has(hostabi.ExportSchedPostBindAt):
			t.Errorf("plugin %s: the module lacks its _at export", p.Name)
		}
		seen[p.Name] = true
		at := atGuest{Guest: g, index: uint32(i), normalize: p.Normalize}
		t.Run(p.Name, func(t *testing.T) {
			if p.Filter {
				runScheduler(t, at, hostabi.KindSchedulerFilter)
			}
			if p.Score {
				runScheduler(t, at, hostabi.KindSchedulerScore)
			}
		})
	}
	// An index past the list is refused with a status.
	st := status(t, g, hostabi.ExportSchedFilterAt, hostabi.AppendNodeIDs(hostabi.AppendPluginIndex(nil, uint32(len(hp.Plugins))), []uint32{1}))
	if g.Has(hostabi.ExportSchedFilterAt) && st == hostabi.StatusOK {
		t.Errorf("%s of plugin %d, past the list, answered OK", hostabi.ExportSchedFilterAt, len(hp.Plugins))
	}
}

// atGuest presents one hosted plugin as a single-plugin module: its filter, score and
// normalize calls go to the _at exports with its index in front.
type atGuest struct {
	Guest
	index     uint32
	normalize bool
}

func (a atGuest) Has(export string) bool {
	if export == hostabi.ExportSchedNormalize {
		return a.normalize
	}
	return a.Guest.Has(export)
}

func (a atGuest) Call(export string, in []byte) ([]byte, hostabi.Status, error) {
	at := map[string]string{hostabi.ExportSchedFilter: hostabi.ExportSchedFilterAt,
		hostabi.ExportSchedScore: hostabi.ExportSchedScoreAt, hostabi.ExportSchedNormalize: hostabi.ExportSchedNormalizeAt}[export]
	if at == "" {
		return a.Guest.Call(export, in)
	}
	return a.Guest.Call(at, append(hostabi.AppendPluginIndex(nil, a.index), in...))
}

// status makes a call and returns its status, failing t on a host-level error.
func status(t *testing.T, g Guest, export string, in []byte) hostabi.Status {
	t.Helper()
	_, st := call(t, g, export, in)
	return st
}

func runAdmission(t *testing.T, g Guest) {
	req := hostabi.AdmissionRequest{
		UID:       "abitest-1",
		Kind:      hostabi.GroupVersionKind{Version: "v1", Kind: "Pod"},
		Resource:  hostabi.GroupVersionResource{Version: "v1", Resource: "pods"},
		Name:      "web-1",
		Namespace: "default",
		Operation: "CREATE",
		UserInfo:  hostabi.UserInfo{Username: "abitest", Groups: []string{"system:authenticated"}},
		Object:    pod,
	}
	for _, op := range []string{"CREATE", "UPDATE", "DELETE"} {
		r := req
		r.Operation = op
		switch op {
		case "UPDATE":
			r.OldObject = pod
		case "DELETE":
			r.Object, r.OldObject = nil, pod
		}
		in, _ := json.Marshal(r)
		t.Run(op, func(t *testing.T) {
			out := expectOK(t, g, hostabi.ExportAdmit, in)
			var resp hostabi.AdmissionResponse
			dec := json.NewDecoder(bytes.NewReader(out))
			if err := dec.Decode(&resp); err != nil {
				t.Fatalf("admission response is not the JSON of ABI.md §4.5: %v: %q", err, out)
			}
			var raw map[string]json.RawMessage
			if json.Unmarshal(out, &raw) != nil || raw["allowed"] == nil {
				t.Errorf("admission response has no \"allowed\": %q", out)
			}
			if !resp.Allowed && (resp.Result == nil || resp.Result.Message == "") {
				t.Errorf("a denial without status.message: %q", out)
			}
			for i, p := range resp.Patch {
				switch p.Op {
				case "add", "remove", "replace", "move", "copy", "test":
				default:
					t.Errorf("patch[%d] has op %q, not an RFC 6902 operation", i, p.Op)
				}
				if len(p.Path) == 0 || p.Path[0] != '/' {
					t.Errorf("patch[%d] path %q is not a JSON pointer", i, p.Path)
				}
			}
		})
	}
	t.Run("malformed", func(t *testing.T) { expectRefused(t, g, hostabi.ExportAdmit) })
	in, _ := json.Marshal(req)
	expectOK(t, g, hostabi.ExportAdmit, in)
}

func runController(t *testing.T, g Guest) {
	in, _ := json.Marshal(hostabi.ReconcileRequest{
		Parent:   []byte(`{"apiVersion":"example.tug.dev/v1","kind":"Widget","metadata":{"name":"w","namespace":"default","uid":"u-1"},"spec":{"replicas":1}}`),
		Children: map[string][]json.RawMessage{"v1/Pod": {pod}},
	})
	out, st := call(t, g, hostabi.ExportReconcile, in)
	switch st {
	case hostabi.StatusOK:
		var res hostabi.ReconcileResult
		if err := json.Unmarshal(out, &res); err != nil {
			t.Fatalf("reconcile result is not the JSON of ABI.md §4.6: %v: %q", err, out)
		}
		for key := range res.Children {
			if !bytes.Contains([]byte(key), []byte("/")) {
				t.Errorf("children key %q is not apiVersion/kind", key)
			}
		}
		for i, e := range res.Events {
			if e.Type != "Normal" && e.Type != "Warning" {
				t.Errorf("event %d has type %q, not Normal or Warning", i, e.Type)
			}
		}
	case hostabi.StatusError, hostabi.StatusUnsupported:
		if len(out) == 0 {
			t.Errorf("reconcile answered %v without a reason", st)
		}
	default:
		t.Errorf("reconcile of a well-formed request answered %v: %q", st, out)
	}
	t.Run("malformed", func(t *testing.T) { expectRefused(t, g, hostabi.ExportReconcile) })
}
