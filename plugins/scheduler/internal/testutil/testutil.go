// Package testutil builds SDK objects for the default plugins' table tests.
package testutil

import (
	"encoding/json"
	"strings"
	"testing"

	tug "github.com/tugboat-io/tug/sdk/go"
)

// Pod decodes a pod from its Kubernetes JSON, as the SDK does for the host's input.
func Pod(t *testing.T, js string) *tug.Pod {
	t.Helper()
	p, err := tug.DecodePod([]byte(js))
	if err != nil {
		t.Fatalf("pod %s: %v", js, err)
	}
	return p
}

// Node decodes a node from its Kubernetes JSON into a resident NodeInfo.
func Node(t *testing.T, js string) *tug.NodeInfo {
	t.Helper()
	n, err := tug.DecodeNode([]byte(js))
	if err != nil {
		t.Fatalf("node %s: %v", js, err)
	}
	return &tug.NodeInfo{Node: n}
}

// JSON renders v, for building objects in tests.
func JSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Verdict renders a filter's Status as a test expectation: "" for success, else the code and
// the message.
func Verdict(s *tug.Status) string {
	if s.IsSuccess() {
		return ""
	}
	return s.Code().String() + ": " + s.Message()
}

// Verdicts renders filter results by node, in the order of names, as "name=ok" or
// "name=Code:message", space-separated; names missing from got are left out.
func Verdicts(got map[string]*tug.Status, names ...string) string {
	var out []string
	for _, n := range names {
		st, ok := got[n]
		if !ok {
			continue
		}
		v := "ok"
		if !st.IsSuccess() {
			v = st.Code().String() + ":" + st.Message()
		}
		out = append(out, n+"="+v)
	}
	return strings.Join(out, " ")
}
