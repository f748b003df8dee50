package nodeports

import (
	"testing"

	"github.com/tugboat-io/tug/plugins/scheduler/internal/testutil"
	tug "github.com/tugboat-io/tug/sdk/go"
)

func podWithPort(port string) string {
	return `{"spec":{"containers":[{"name":"c","ports":[` + port + `]}]}}`
}

func TestNodePorts(t *testing.T) {
	taken := "Unschedulable: " + ErrReason
	for _, c := range []struct {
		name     string
		resident []string // ports of pods on the node
		pod      string
		want     string
	}{
		{"no host ports asked", []string{`{"hostPort":80,"containerPort":80}`}, podWithPort(`{"containerPort":80}`), ""},
		{"free", []string{`{"hostPort":80,"containerPort":80}`}, podWithPort(`{"hostPort":81,"containerPort":80}`), ""},
		{"taken", []string{`{"hostPort":80,"containerPort":80}`}, podWithPort(`{"hostPort":80,"containerPort":8080}`), taken},
		{"TCP is the default protocol", []string{`{"hostPort":80,"containerPort":80,"protocol":"TCP"}`}, podWithPort(`{"hostPort":80,"containerPort":80}`), taken},
		{"another protocol", []string{`{"hostPort":53,"containerPort":53,"protocol":"UDP"}`}, podWithPort(`{"hostPort":53,"containerPort":53}`), ""},
		{"different addresses", []string{`{"hostPort":80,"containerPort":80,"hostIP":"10.0.0.1"}`}, podWithPort(`{"hostPort":80,"containerPort":80,"hostIP":"10.0.0.2"}`), ""},
		{"all addresses overlap one", []string{`{"hostPort":80,"containerPort":80,"hostIP":"10.0.0.1"}`}, podWithPort(`{"hostPort":80,"containerPort":80,"hostIP":"0.0.0.0"}`), taken},
		{"one address overlaps all", []string{`{"hostPort":80,"containerPort":80}`}, podWithPort(`{"hostPort":80,"containerPort":80,"hostIP":"10.0.0.2"}`), taken},
	} {
		t.Run(c.name, func(t *testing.T) {
			node := testutil.Node(t, `{"metadata":{"name":"n"}}`)
			for _, port := range c.resident {
				node.Pods = append(node.Pods, testutil.Pod(t, podWithPort(port)))
			}
			pod := testutil.Pod(t, c.pod)
			state := &tug.CycleState{}
			if st := (NodePorts{}).PreFilter(state, pod); !st.IsSuccess() {
				t.Fatal(st)
			}
			if got := testutil.Verdict(NodePorts{}.Filter(state, pod, node)); got != c.want {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
	// Init containers' host ports count too.
	node := testutil.Node(t, `{"metadata":{"name":"n"}}`)
	node.Pods = append(node.Pods, testutil.Pod(t, `{"spec":{"initContainers":[{"name":"i","ports":[{"hostPort":9000,"containerPort":9000}]}]}}`))
	pod := testutil.Pod(t, podWithPort(`{"hostPort":9000,"containerPort":9000}`))
	state := &tug.CycleState{}
	NodePorts{}.PreFilter(state, pod)
	if got := testutil.Verdict(NodePorts{}.Filter(state, pod, node)); got != taken {
		t.Errorf("init container's port: got %q", got)
	}
}
