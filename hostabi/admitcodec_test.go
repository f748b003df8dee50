package hostabi

import (
	"encoding/json"
	"reflect"
	"testing"
)

// AppendAdmissionRequest writes what encoding/json writes, for requests with every member
// and none, and strings that need escaping.
func TestAppendAdmissionRequest(t *testing.T) {
	dry := true
	full := &AdmissionRequest{
		UID: "u-1", Kind: GroupVersionKind{Version: "v1", Kind: "Pod"}, Resource: GroupVersionResource{Version: "v1", Resource: "pods"},
		SubResource: "status", RequestKind: &GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"},
		RequestResource: &GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}, RequestSubResource: "scale",
		Name: "we\"b\\\n\t\x01", Namespace: "dev", Operation: "CREATE",
		UserInfo:  UserInfo{Username: "alice <a@b>", UID: "1", Groups: []string{"dev", "ops"}, Extra: map[string][]string{"k": {"v"}}},
		Object:    json.RawMessage(`{"metadata":{"name":"x"}}`),
		OldObject: json.RawMessage(`{"metadata":{"name":"y"}}`),
		DryRun:    &dry, Options: json.RawMessage(`{"fieldManager":"kubectl"}`),
		Policy: "p\u2028\u00e9\xff", Config: json.RawMessage(`{"a":1}`),
		Related: map[string][]json.RawMessage{"v1/Namespace": {json.RawMessage(`{"n":1}`)}, "v1/LimitRange": {}, "v1/Secret": nil,
			"apps/v1/ReplicaSet": {json.RawMessage(`{"r":1}`), json.RawMessage(`{"r":2}`)}},
	}
	for name, r := range map[string]*AdmissionRequest{"full": full, "empty": {}, "delete": {UID: "u", Operation: "DELETE", OldObject: json.RawMessage(`{}`)}} {
		t.Run(name, func(t *testing.T) {
			got := AppendAdmissionRequest(nil, r)
			want, err := json.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			var g, w any
			if err := json.Unmarshal(got, &g); err != nil {
				t.Fatalf("not JSON: %v\n%s", err, got)
			}
			if err := json.Unmarshal(want, &w); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(g, w) {
				t.Fatalf("got  %s\nwant %s", got, want)
			}
		})
	}
}

func BenchmarkAppendAdmissionRequest(b *testing.B) {
	obj := make([]byte, 0, 4096)
	obj = append(obj, `{"metadata":{"name":"x","labels":{`...)
	for i := range 100 {
		if i > 0 {
			obj = append(obj, ',')
		}
		obj = append(obj, `"label-key-`...)
		obj = append(obj, byte('a'+i%26), byte('a'+i/26))
		obj = append(obj, `":"value"`...)
	}
	obj = append(obj, "}}}"...)
	r := &AdmissionRequest{UID: "u", Operation: "CREATE", Object: obj, Policy: "p"}
	b.Run("append", func(b *testing.B) {
		var buf []byte
		for b.Loop() {
			buf = AppendAdmissionRequest(buf[:0], r)
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		for b.Loop() {
			_, _ = json.Marshal(r)
		}
	})
}
