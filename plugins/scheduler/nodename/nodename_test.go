package nodename_test

import (
	"testing"

	"github.com/tugboat-io/tug/plugins/scheduler/internal/testutil"
	"github.com/tugboat-io/tug/plugins/scheduler/nodename"
)

func TestFilter(t *testing.T) {
	nodes := testutil.Nodes(`{"metadata":{"name":"n1"}}`, `{"metadata":{"name":"n2"}}`)
	other := "UnschedulableAndUnresolvable:" + nodename.ErrReason
	for _, c := range []struct {
		name, pod, want string
	}{
		{"no node named", `{"spec":{}}`, "n1=ok n2=ok"},
		{"this node", `{"spec":{"nodeName":"n1"}}`, "n1=ok n2=" + other},
		{"another node", `{"spec":{"nodeName":"n3"}}`, "n1=" + other + " n2=" + other},
	} {
		t.Run(c.name, func(t *testing.T) {
			testutil.Filter(t, testutil.Cycle{Plugin: nodename.Name, Nodes: nodes, Pod: c.pod}, c.want)
		})
	}
}
