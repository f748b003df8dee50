package hostabi

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// frameVector is the JSON half of a testdata/frames/<name>.bin + <name>.json pair.
type frameVector struct {
	Frame string          `json:"frame"`
	Valid bool            `json:"valid"`
	Value json.RawMessage `json:"value"`
	Why   string          `json:"why"`
}

type jsonRejection struct {
	NodeID uint32 `json:"node_id"`
	Code   uint32 `json:"code"`
	Reason string `json:"reason"`
}

type jsonNodeScore struct {
	NodeID uint32 `json:"node_id"`
	Score  int64  `json:"score"`
}

// frameCodecs decode a frame and re-encode the value its vector describes, per frame name.
var frameCodecs = map[string]struct {
	decode func([]byte) (any, error)
	want   func(t *testing.T, value json.RawMessage) any
	encode func(v any) []byte
}{
	"node_ids": {
		decode: func(b []byte) (any, error) { return DecodeNodeIDs(b) },
		want: func(t *testing.T, v json.RawMessage) any {
			ids := []uint32{}
			mustUnmarshal(t, v, &ids)
			return ids
		},
		encode: func(v any) []byte { return AppendNodeIDs(nil, v.([]uint32)) },
	},
	"filter_output": {
		decode: func(b []byte) (any, error) { return DecodeFilterOutput(b) },
		want: func(t *testing.T, v json.RawMessage) any {
			var js []jsonRejection
			mustUnmarshal(t, v, &js)
			rs := []Rejection{}
			for _, r := range js {
				rs = append(rs, Rejection{NodeID: r.NodeID, Code: Code(r.Code), Reason: r.Reason})
			}
			return rs
		},
		encode: func(v any) []byte { return AppendFilterOutput(nil, v.([]Rejection)) },
	},
	"scores": {
		decode: func(b []byte) (any, error) { return DecodeScores(b) },
		want: func(t *testing.T, v json.RawMessage) any {
			s := []int64{}
			mustUnmarshal(t, v, &s)
			return s
		},
		encode: func(v any) []byte { return AppendScores(nil, v.([]int64)) },
	},
	"normalize_input": {
		decode: func(b []byte) (any, error) { return DecodeNormalizeInput(b) },
		want: func(t *testing.T, v json.RawMessage) any {
			var js []jsonNodeScore
			mustUnmarshal(t, v, &js)
			ns := []NodeScore{}
			for _, s := range js {
				ns = append(ns, NodeScore(s))
			}
			return ns
		},
		encode: func(v any) []byte { return AppendNormalizeInput(nil, v.([]NodeScore)) },
	},
}

func TestGoldenFrames(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join("testdata", "frames", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{} // "frame/valid" -> vectors
	for _, p := range paths {
		name := strings.TrimSuffix(filepath.Base(p), ".json")
		t.Run(name, func(t *testing.T) {
			var vec frameVector
			raw, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			mustUnmarshal(t, raw, &vec)
			bin, err := os.ReadFile(strings.TrimSuffix(p, ".json") + ".bin")
			if err != nil {
				t.Fatalf("vector without its frame: %v", err)
			}
			c, ok := frameCodecs[vec.Frame]
			if !ok {
				t.Fatalf("unknown frame %q", vec.Frame)
			}
			seen[vec.Frame+"/"+map[bool]string{true: "valid", false: "invalid"}[vec.Valid]]++
			got, err := c.decode(bin)
			if !vec.Valid {
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("decode of an invalid frame (%s) = %v, %v; want an ErrMalformed error", vec.Why, got, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			want := c.want(t, vec.Value)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("decoded %#v, want %#v", got, want)
			}
			if enc := c.encode(want); !bytes.Equal(enc, bin) {
				t.Errorf("encoded %x, want %x", enc, bin)
			}
		})
	}
	for frame := range frameCodecs {
		for _, v := range []string{"valid", "invalid"} {
			if seen[frame+"/"+v] == 0 {
				t.Errorf("no %s vector for frame %s in testdata/frames", v, frame)
			}
		}
	}
}

func TestGoldenDocs(t *testing.T) {
	dryRun := false
	tests := []struct {
		file  string
		into  func() any
		want  any
		check func(t *testing.T, got any)
	}{
		{
			file: "node_changes_1.json",
			into: func() any { return &NodeChanges{} },
			check: func(t *testing.T, got any) {
				c := got.(*NodeChanges)
				if len(c.Set) != 2 || c.Set[0].ID != 3 || c.Set[1].ID != 4 {
					t.Fatalf("set ids = %+v, want 3 and 4", c.Set)
				}
				wantRaw(t, "set[0].node", c.Set[0].Node, `{"apiVersion":"v1","kind":"Node","metadata":{"name":"n3","labels":{"zone":"a"}},"spec":{"taints":[{"key":"gpu","value":"true","effect":"NoSchedule"}]},"status":{"allocatable":{"cpu":"4","memory":"8Gi","pods":"110"}}}`)
				if len(c.Set[0].Pods) != 1 || len(c.Set[1].Pods) != 0 {
					t.Fatalf("pods per node = %d, %d; want 1, 0", len(c.Set[0].Pods), len(c.Set[1].Pods))
				}
				wantRaw(t, "set[0].pods[0]", c.Set[0].Pods[0], `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web-1","namespace":"default"},"spec":{"nodeName":"n3","containers":[{"name":"web","image":"nginx","resources":{"requests":{"cpu":"500m","memory":"128Mi"}}}]}}`)
				if !reflect.DeepEqual(c.Remove, []uint32{5, 9}) {
					t.Errorf("remove = %v, want [5 9]", c.Remove)
				}
			},
		},
		{
			file: "node_changes_remove_only.json",
			into: func() any { return &NodeChanges{} },
			want: &NodeChanges{Remove: []uint32{1}},
		},
		{
			file: "prefilter_verdict_1.json",
			into: func() any { return &PreFilterVerdict{} },
			want: &PreFilterVerdict{Code: CodeUnschedulableAndUnresolvable, Reason: "pod requests a GPU but the cluster has none"},
		},
		{
			file: "admission_request_1.json",
			into: func() any { return &AdmissionRequest{} },
			check: func(t *testing.T, got any) {
				r := got.(*AdmissionRequest)
				wantRaw(t, "object", r.Object, `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"default"},"spec":{"replicas":2}}`)
				wantRaw(t, "oldObject", r.OldObject, `null`)
				wantRaw(t, "options", r.Options, `{"apiVersion":"meta.k8s.io/v1","kind":"CreateOptions"}`)
				r.Object, r.OldObject, r.Options = nil, nil, nil
				gvk := GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}
				gvr := GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
				want := &AdmissionRequest{
					UID: "705ab4f5-6393-11e8-b7cc-42010a800002", Kind: gvk, Resource: gvr,
					RequestKind: &gvk, RequestResource: &gvr,
					Name: "web", Namespace: "default", Operation: "CREATE",
					UserInfo: UserInfo{Username: "alice", UID: "1001", Groups: []string{"dev", "system:authenticated"},
						Extra: map[string][]string{"scopes": {"a", "b"}}},
					DryRun: &dryRun,
				}
				if !reflect.DeepEqual(r, want) {
					t.Errorf("decoded %+v\nwant    %+v", r, want)
				}
			},
		},
		{
			file: "admission_response_1.json",
			into: func() any { return &AdmissionResponse{} },
			want: &AdmissionResponse{
				UID: "705ab4f5-6393-11e8-b7cc-42010a800002", Allowed: false,
				Result:   &AdmissionStatus{Code: 403, Message: "images must come from registry.corp", Reason: "Forbidden"},
				Warnings: []string{"image nginx has no tag"},
			},
		},
		{
			file: "admission_response_2.json",
			into: func() any { return &AdmissionResponse{} },
			want: &AdmissionResponse{
				Allowed: true,
				Patch: []PatchOperation{
					{Op: "add", Path: "/metadata/labels/team", Value: json.RawMessage(`"web"`)},
					{Op: "replace", Path: "/spec/replicas", Value: json.RawMessage(`3`)},
					{Op: "remove", Path: "/metadata/annotations/app.kubernetes.io~1legacy"},
					{Op: "move", From: "/metadata/labels/old", Path: "/metadata/labels/new"},
					{Op: "add", Path: "/metadata/annotations/empty", Value: json.RawMessage(`null`)},
				},
				AuditAnnotations: map[string]string{"policy": "add-team"},
			},
		},
		{
			file: "reconcile_request_1.json",
			into: func() any { return &ReconcileRequest{} },
			check: func(t *testing.T, got any) {
				r := got.(*ReconcileRequest)
				wantRaw(t, "parent", r.Parent, `{"apiVersion":"apps/v1","kind":"ReplicaSet","metadata":{"name":"web-5d4f","namespace":"default","uid":"u1"},"spec":{"replicas":2}}`)
				if len(r.Children) != 1 || len(r.Children["v1/Pod"]) != 1 {
					t.Fatalf("children = %v, want one v1/Pod", r.Children)
				}
				wantRaw(t, "children", r.Children["v1/Pod"][0], `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web-5d4f-a","namespace":"default"}}`)
				if len(r.Related) != 1 || len(r.Related["v1/Node"]) != 1 {
					t.Fatalf("related = %v, want one v1/Node", r.Related)
				}
			},
		},
		{
			file: "reconcile_result_1.json",
			into: func() any { return &ReconcileResult{} },
			check: func(t *testing.T, got any) {
				r := got.(*ReconcileResult)
				if len(r.Children) != 1 || len(r.Children["v1/Pod"]) != 2 {
					t.Fatalf("children = %v, want two v1/Pod", r.Children)
				}
				wantRaw(t, "children[1]", r.Children["v1/Pod"][1], `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web-5d4f-b","namespace":"default"}}`)
				wantRaw(t, "status", r.Status, `{"replicas":1,"readyReplicas":1}`)
				want := []Event{{Type: "Normal", Reason: "SuccessfulCreate", Message: "Created pod: web-5d4f-b"}}
				if !reflect.DeepEqual(r.Events, want) {
					t.Errorf("events = %+v, want %+v", r.Events, want)
				}
			},
		},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		seen[tt.file] = true
		t.Run(tt.file, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("testdata", "docs", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			// Every field of a vector must be one the Go types know: this is what checks the
			// JSON names against ABI.md.
			got := tt.into()
			dec := json.NewDecoder(bytes.NewReader(raw))
			dec.DisallowUnknownFields()
			if err := dec.Decode(got); err != nil {
				t.Fatalf("decode: %v", err)
			}
			// Encoding is stable: what we write decodes to what we wrote.
			enc, err := json.Marshal(got)
			if err != nil {
				t.Fatal(err)
			}
			again := tt.into()
			mustUnmarshal(t, enc, again)
			if enc2, _ := json.Marshal(again); !bytes.Equal(enc, enc2) {
				t.Errorf("re-encoding changed the document:\n%s\n%s", enc, enc2)
			}
			if tt.check != nil {
				tt.check(t, got)
			}
			if tt.want != nil && !reflect.DeepEqual(got, tt.want) {
				t.Errorf("decoded %+v\nwant    %+v", got, tt.want)
			}
		})
	}
	all, _ := filepath.Glob(filepath.Join("testdata", "docs", "*.json"))
	for _, p := range all {
		if !seen[filepath.Base(p)] {
			t.Errorf("%s has no test case", p)
		}
	}
}

func mustUnmarshal(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("unmarshal %s: %v", b, err)
	}
}

// wantRaw checks that raw JSON is the given document, whitespace aside.
func wantRaw(t *testing.T, what string, got json.RawMessage, want string) {
	t.Helper()
	var g bytes.Buffer
	if err := json.Compact(&g, got); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if g.String() != want {
		t.Errorf("%s = %s\nwant %s", what, g.String(), want)
	}
}
