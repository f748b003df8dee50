package controller

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	utiljson "k8s.io/apimachinery/pkg/util/json"

	"github.com/tugboat-io/tug/hostabi"
)

func decode(t *testing.T, s string) any {
	t.Helper()
	var v any
	if err := utiljson.Unmarshal([]byte(s), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestCovers(t *testing.T) {
	for _, c := range []struct {
		name       string
		have, want string
		covers     bool
	}{
		{"equal", `{"a":1,"b":"x"}`, `{"a":1,"b":"x"}`, true},
		{"defaults the server added", `{"a":1,"b":"x","c":{"d":true}}`, `{"a":1}`, true},
		{"zero value left out by the server", `{"a":1}`, `{"a":1,"minReadySeconds":0,"s":"","m":{}}`, true},
		{"a changed value", `{"replicas":3}`, `{"replicas":4}`, false},
		{"a new non-zero field", `{"a":1}`, `{"a":1,"b":2}`, false},
		{"lists element by element", `{"l":[{"n":"a","x":1},{"n":"b"}]}`, `{"l":[{"n":"a"},{"n":"b"}]}`, true},
		{"lists of other length", `{"l":[{"n":"a"}]}`, `{"l":[{"n":"a"},{"n":"b"}]}`, false},
		{"a float and an int of one value", `{"r":3}`, `{"r":3.0}`, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := covers(decode(t, c.have), decode(t, c.want)); got != c.covers {
				t.Fatalf("covers(%s, %s) = %v, want %v", c.have, c.want, got, c.covers)
			}
		})
	}
}

func child(name, uid string, deleting bool) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Pod",
		"metadata": map[string]any{"name": name, "uid": uid}}}
	if deleting {
		u.Object["metadata"].(map[string]any)["deletionTimestamp"] = "2026-11-22T10:00:00Z"
	}
	return u
}

func names(us []*unstructured.Unstructured) []string {
	var out []string
	for _, u := range us {
		out = append(out, u.GetName())
	}
	return out
}

// TestPendingWritesStandInForASlowWatch: what a reconcile created shows up in the next one
// before the watch has it, what it deleted is gone, and both stop once the watch catches up
// or the writes expire.
func TestPendingWritesStandInForASlowWatch(t *testing.T) {
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	parent := types.UID("p")
	p := newPending()
	p.created(parent, "v1/Pod", child("new", "n1", false), now)
	p.deleted(parent, "v1/Pod", "old", "o1", now)
	observed := []*unstructured.Unstructured{child("old", "o1", false), child("keep", "k1", false)}

	got := names(p.merge(parent, "v1/Pod", observed, now))
	if want := "keep,new"; strings.Join(got, ",") != want {
		t.Fatalf("merged %v, want %s", got, want)
	}
	if got := names(p.merge(parent, "apps/v1/ReplicaSet", nil, now)); len(got) != 0 {
		t.Fatalf("another kind's merge saw %v", got)
	}
	// The watch shows the new pod, and the old one being deleted.
	p.observe(parent, "v1/Pod", child("new", "n1", false), false)
	p.observe(parent, "v1/Pod", child("old", "o1", true), false)
	observed = []*unstructured.Unstructured{child("old", "o1", true), child("keep", "k1", false), child("new", "n1", false)}
	if got := names(p.merge(parent, "v1/Pod", observed, now)); strings.Join(got, ",") != "old,keep,new" {
		t.Fatalf("after the watch caught up: %v", got)
	}
	if len(p.parents) != 0 {
		t.Fatalf("pending writes left: %v", p.parents)
	}
	// A create the watch never shows expires.
	p.created(parent, "v1/Pod", child("lost", "l1", false), now)
	if got := names(p.merge(parent, "v1/Pod", nil, now.Add(pendingTTL))); len(got) != 0 {
		t.Fatalf("an expired create still stands in: %v", got)
	}
	// A name re-used by another object: the delete is done.
	p.deleted(parent, "v1/Pod", "web", "w1", now)
	if got := names(p.merge(parent, "v1/Pod", []*unstructured.Unstructured{child("web", "w2", false)}, now)); strings.Join(got, ",") != "web" {
		t.Fatalf("a new object of a deleted name was hidden: %v", got)
	}
}

// The hand-written request is what encoding/json writes.
func TestEncodeRequestMatchesEncodingJSON(t *testing.T) {
	for _, req := range []*hostabi.ReconcileRequest{
		{Parent: json.RawMessage(`{"kind":"ReplicaSet"}`)},
		{Parent: json.RawMessage(`{"a":1}`), Now: "2026-11-22T10:00:00Z",
			Children: map[string][]json.RawMessage{"v1/Pod": {json.RawMessage(`{"b":"\u003c"}`), json.RawMessage(`{}`)}, "apps/v1/X": {}},
			Related:  map[string][]json.RawMessage{"v1/Node": {json.RawMessage(`{"c":[1,2]}`)}}},
	} {
		want, err := json.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		var a, b any
		if err := json.Unmarshal(encodeRequest(req), &a); err != nil {
			t.Fatalf("encodeRequest wrote invalid JSON %s: %v", encodeRequest(req), err)
		}
		_ = json.Unmarshal(want, &b)
		if !reflect.DeepEqual(a, b) {
			t.Errorf("encodeRequest:\n got %s\nwant %s", encodeRequest(req), want)
		}
	}
}
