package nodeunschedulable_test

import (
	"testing"

	"github.com/tugboat-io/tug/plugins/scheduler/internal/testutil"
	"github.com/tugboat-io/tug/plugins/scheduler/nodeunschedulable"
)

// Every case runs on an open node and a cordoned one.
func TestFilter(t *testing.T) {
	nodes := testutil.Nodes(`{"metadata":{"name":"open"}}`, `{"metadata":{"name":"cordoned"},"spec":{"unschedulable":true}}`)
	rejected := "open=ok cordoned=UnschedulableAndUnresolvable:" + nodeunschedulable.ErrReason
	for _, c := range []struct {
		name, pod, want string
	}{
		{"no tolerations", `{}`, rejected},
		{"tolerates the unschedulable taint",
			`{"spec":{"tolerations":[{"key":"node.kubernetes.io/unschedulable","operator":"Exists","effect":"NoSchedule"}]}}`, "open=ok cordoned=ok"},
		{"tolerates every effect of the key",
			`{"spec":{"tolerations":[{"key":"node.kubernetes.io/unschedulable","operator":"Exists"}]}}`, "open=ok cordoned=ok"},
		{"tolerates everything", `{"spec":{"tolerations":[{"operator":"Exists"}]}}`, "open=ok cordoned=ok"},
		{"tolerates another effect only",
			`{"spec":{"tolerations":[{"key":"node.kubernetes.io/unschedulable","operator":"Exists","effect":"NoExecute"}]}}`, rejected},
		{"tolerates another key", `{"spec":{"tolerations":[{"key":"gpu","operator":"Exists"}]}}`, rejected},
		// The taint has no value: Equal tolerates it only with an empty value.
		{"Equal with a value", `{"spec":{"tolerations":[{"key":"node.kubernetes.io/unschedulable","operator":"Equal","value":"true"}]}}`, rejected},
		{"Equal with no value", `{"spec":{"tolerations":[{"key":"node.kubernetes.io/unschedulable","operator":"Equal"}]}}`, "open=ok cordoned=ok"},
	} {
		t.Run(c.name, func(t *testing.T) {
			testutil.Filter(t, testutil.Cycle{Plugin: nodeunschedulable.Name, Nodes: nodes, Pod: c.pod}, c.want)
		})
	}
}
