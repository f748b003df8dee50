package main

import (
	"testing"

	tug "github.com/tugboat-io/tug/sdk/go"
	"github.com/tugboat-io/tug/sdk/go/sdktest"
)

const pod = `{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "default"}}`

func node(name string, labels map[string]string) *tug.Node {
	return &tug.Node{ObjectMeta: tug.ObjectMeta{Name: name, Labels: labels}}
}

func TestFilter(t *testing.T) {
	if err := sdktest.Configure(t, Config{Label: "zone", Values: []string{"a", "b"}}); err != nil {
		t.Fatal(err)
	}
	mismatch := tug.UnschedulableAndUnresolvable("node(s) didn't match zone")
	got := sdktest.Filter(t, pod,
		node("in-a", map[string]string{"zone": "a"}),
		node("in-b", map[string]string{"zone": "b", "gpu": "true"}),
		node("in-c", map[string]string{"zone": "c"}),
		node("unlabelled", nil),
		node("other-label", map[string]string{"region": "a"}),
	)
	want := map[string]*tug.Status{
		"in-a":        nil,
		"in-b":        nil,
		"in-c":        mismatch,
		"unlabelled":  mismatch,
		"other-label": mismatch,
	}
	if len(got) != len(want) {
		t.Fatalf("got %d statuses, want %d: %v", len(got), len(want), got)
	}
	for name, w := range want {
		if !got[name].Equal(w) {
			t.Errorf("node %s: %v, want %v", name, got[name], w)
		}
	}
}

// An empty value is a value like any other: it matches a label set to "", not a missing
// label.
func TestFilterEmptyValue(t *testing.T) {
	if err := sdktest.Configure(t, Config{Label: "zone", Values: []string{""}}); err != nil {
		t.Fatal(err)
	}
	got := sdktest.Filter(t, pod, node("empty", map[string]string{"zone": ""}), node("missing", nil))
	if !got["empty"].IsSuccess() || got["missing"].IsSuccess() {
		t.Errorf("empty: %v, missing: %v; want the first to pass and the second not", got["empty"], got["missing"])
	}
}

func TestConfigure(t *testing.T) {
	tests := []struct {
		name    string
		config  any
		wantErr bool
	}{
		{"label and values", `{"label": "zone", "values": ["a"]}`, false},
		{"unknown fields ignored", `{"label": "zone", "values": ["a"], "extra": 1}`, false},
		{"no label", `{"values": ["a"]}`, true},
		{"no values", `{"label": "zone"}`, true},
		{"empty", `{}`, true},
		{"not JSON", `label=zone`, true},
		{"values not a list", `{"label": "zone", "values": "a"}`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := sdktest.Configure(t, tt.config)
			if (err != nil) != tt.wantErr {
				t.Errorf("Configure(%s) = %v, want error: %v", tt.config, err, tt.wantErr)
			}
		})
	}
}
