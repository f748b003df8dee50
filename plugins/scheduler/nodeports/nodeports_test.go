package nodeports_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/tugboat-io/tug/plugins/scheduler/internal/testutil"
	"github.com/tugboat-io/tug/plugins/scheduler/nodeports"
)

// podWithPorts is a pod named name with one container holding ports.
func podWithPorts(name string, ports ...string) string {
	return fmt.Sprintf(`{"metadata":{"name":%q,"namespace":"default"},"spec":{"containers":[{"name":"c","ports":[%s]}]}}`, name, strings.Join(ports, ","))
}

// nodeWith is node n with one resident pod per port.
func nodeWith(n string, ports ...string) testutil.Node {
	var pods []string
	for i, p := range ports {
		pods = append(pods, podWithPorts(fmt.Sprintf("%s-%d", n, i), p))
	}
	return testutil.WithPods(`{"metadata":{"name":"`+n+`"}}`, pods...)
}

// initPod holds host port 9000 in an init container.
const initPod = `{"metadata":{"name":"init","namespace":"default"},"spec":{"initContainers":[{"name":"i","ports":[{"hostPort":9000,"containerPort":9000}]}],"containers":[{"name":"c"}]}}`

func TestFilter(t *testing.T) {
	taken := "n=Unschedulable:" + nodeports.ErrReason
	for _, c := range []struct {
		name string
		node testutil.Node
		pod  string
		want string
	}{
		{"no host ports asked", nodeWith("n", `{"hostPort":80,"containerPort":80}`), podWithPorts("p", `{"containerPort":80}`), "n=ok"},
		{"free", nodeWith("n", `{"hostPort":80,"containerPort":80}`), podWithPorts("p", `{"hostPort":81,"containerPort":80}`), "n=ok"},
		{"taken", nodeWith("n", `{"hostPort":80,"containerPort":80}`), podWithPorts("p", `{"hostPort":80,"containerPort":8080}`), taken},
		{"TCP is the default protocol", nodeWith("n", `{"hostPort":80,"containerPort":80,"protocol":"TCP"}`), podWithPorts("p", `{"hostPort":80,"containerPort":80}`), taken},
		{"another protocol", nodeWith("n", `{"hostPort":53,"containerPort":53,"protocol":"UDP"}`), podWithPorts("p", `{"hostPort":53,"containerPort":53}`), "n=ok"},
		{"the same protocol", nodeWith("n", `{"hostPort":53,"containerPort":53,"protocol":"UDP"}`), podWithPorts("p", `{"hostPort":53,"containerPort":5353,"protocol":"UDP"}`), taken},
		{"SCTP is a protocol of its own", nodeWith("n", `{"hostPort":9,"containerPort":9}`, `{"hostPort":9,"containerPort":9,"protocol":"UDP"}`),
			podWithPorts("p", `{"hostPort":9,"containerPort":9,"protocol":"SCTP"}`), "n=ok"},
		{"different addresses", nodeWith("n", `{"hostPort":80,"containerPort":80,"hostIP":"10.0.0.1"}`), podWithPorts("p", `{"hostPort":80,"containerPort":80,"hostIP":"10.0.0.2"}`), "n=ok"},
		{"the same address", nodeWith("n", `{"hostPort":80,"containerPort":80,"hostIP":"10.0.0.1"}`), podWithPorts("p", `{"hostPort":80,"containerPort":80,"hostIP":"10.0.0.1"}`), taken},
		{"all addresses overlap one", nodeWith("n", `{"hostPort":80,"containerPort":80,"hostIP":"10.0.0.1"}`), podWithPorts("p", `{"hostPort":80,"containerPort":80,"hostIP":"0.0.0.0"}`), taken},
		{"one address overlaps all", nodeWith("n", `{"hostPort":80,"containerPort":80}`), podWithPorts("p", `{"hostPort":80,"containerPort":80,"hostIP":"10.0.0.2"}`), taken},
		{"one port of several taken", nodeWith("n", `{"hostPort":443,"containerPort":443}`),
			podWithPorts("p", `{"hostPort":80,"containerPort":80}`, `{"hostPort":443,"containerPort":443}`), taken},
		// Init containers' host ports count too, the resident pod's and the pod's own.
		{"a resident init container's port", testutil.WithPods(`{"metadata":{"name":"n"}}`, initPod), podWithPorts("p", `{"hostPort":9000,"containerPort":9000}`), taken},
		{"the pod's init container's port", nodeWith("n", `{"hostPort":9000,"containerPort":9000}`),
			strings.Replace(initPod, `"init"`, `"p"`, 1), taken},
	} {
		t.Run(c.name, func(t *testing.T) {
			testutil.Filter(t, testutil.Cycle{Plugin: nodeports.Name, Nodes: []testutil.Node{c.node}, Pod: c.pod}, c.want)
		})
	}
}

// Ports are held per node: the pod fits where its port is free.
func TestFilterNodes(t *testing.T) {
	nodes := []testutil.Node{nodeWith("a", `{"hostPort":80,"containerPort":80}`), nodeWith("b", `{"hostPort":8080,"containerPort":80}`), nodeWith("c")}
	testutil.Filter(t, testutil.Cycle{Plugin: nodeports.Name, Nodes: nodes, Pod: podWithPorts("p", `{"hostPort":80,"containerPort":80}`)},
		"a=Unschedulable:"+nodeports.ErrReason+" b=ok c=ok")
}
