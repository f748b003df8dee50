package nodeunschedulable

import (
	"testing"

	"github.com/tugboat-io/tug/plugins/scheduler/internal/testutil"
	tug "github.com/tugboat-io/tug/sdk/go"
)

func TestNodeUnschedulable(t *testing.T) {
	cordoned := testutil.Node(t, `{"metadata":{"name":"n"},"spec":{"unschedulable":true}}`)
	open := testutil.Node(t, `{"metadata":{"name":"n"}}`)
	rejected := "UnschedulableAndUnresolvable: " + ErrReason
	for _, c := range []struct {
		name string
		node *tug.NodeInfo
		pod  string
		want string
	}{
		{"schedulable node", open, `{}`, ""},
		{"cordoned node", cordoned, `{}`, rejected},
		{"tolerates the unschedulable taint", cordoned,
			`{"spec":{"tolerations":[{"key":"node.kubernetes.io/unschedulable","operator":"Exists","effect":"NoSchedule"}]}}`, ""},
		{"tolerates everything", cordoned, `{"spec":{"tolerations":[{"operator":"Exists"}]}}`, ""},
		{"tolerates another effect only", cordoned,
			`{"spec":{"tolerations":[{"key":"node.kubernetes.io/unschedulable","operator":"Exists","effect":"NoExecute"}]}}`, rejected},
		{"tolerates another key", cordoned, `{"spec":{"tolerations":[{"key":"gpu","operator":"Exists"}]}}`, rejected},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := testutil.Verdict(NodeUnschedulable{}.Filter(&tug.CycleState{}, testutil.Pod(t, c.pod), c.node))
			if got != c.want {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
}
