package nodename

import (
	"testing"

	"github.com/tugboat-io/tug/plugins/scheduler/internal/testutil"
	tug "github.com/tugboat-io/tug/sdk/go"
)

func TestNodeName(t *testing.T) {
	node := testutil.Node(t, `{"metadata":{"name":"n1"}}`)
	for _, c := range []struct {
		name, pod, want string
	}{
		{"no node named", `{"spec":{}}`, ""},
		{"this node", `{"spec":{"nodeName":"n1"}}`, ""},
		{"another node", `{"spec":{"nodeName":"n2"}}`, "UnschedulableAndUnresolvable: " + ErrReason},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := testutil.Verdict(NodeName{}.Filter(&tug.CycleState{}, testutil.Pod(t, c.pod), node))
			if got != c.want {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
}
