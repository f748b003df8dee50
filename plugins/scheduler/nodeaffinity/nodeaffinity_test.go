package nodeaffinity_test

import (
	"testing"

	"github.com/tugboat-io/tug/plugins/scheduler/internal/testutil"
	"github.com/tugboat-io/tug/plugins/scheduler/nodeaffinity"
)

// node is a node named n1 with labels zone=a, disk=ssd, cores=16.
const node = `{"metadata":{"name":"n1","labels":{"zone":"a","disk":"ssd","cores":"16"}}}`

func required(terms string) string {
	return `{"spec":{"affinity":{"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":{"nodeSelectorTerms":` + terms + `}}}}}`
}

// expr is a required affinity of one term with one match expression.
func expr(key, op, values string) string {
	v := ""
	if values != "" {
		v = `,"values":` + values
	}
	return required(`[{"matchExpressions":[{"key":"` + key + `","operator":"` + op + `"` + v + `}]}]`)
}

func TestFilter(t *testing.T) {
	ok, no := "n1=ok", "n1=UnschedulableAndUnresolvable:"+nodeaffinity.ErrReasonPod
	for _, c := range []struct {
		name, pod, want string
	}{
		{"nothing asked", `{}`, ok},
		{"nodeSelector matches", `{"spec":{"nodeSelector":{"zone":"a","disk":"ssd"}}}`, ok},
		{"nodeSelector value differs", `{"spec":{"nodeSelector":{"zone":"b"}}}`, no},
		{"nodeSelector label missing", `{"spec":{"nodeSelector":{"gpu":"yes"}}}`, no},
		{"In", expr("zone", "In", `["a","b"]`), ok},
		{"In, not listed", expr("zone", "In", `["b"]`), no},
		{"In, label missing", expr("gpu", "In", `["a"]`), no},
		{"NotIn", expr("zone", "NotIn", `["b"]`), ok},
		{"NotIn, listed", expr("zone", "NotIn", `["a"]`), no},
		{"NotIn, label missing", expr("gpu", "NotIn", `["a"]`), ok},
		{"Exists", expr("disk", "Exists", ""), ok},
		{"Exists, missing", expr("gpu", "Exists", ""), no},
		{"DoesNotExist", expr("gpu", "DoesNotExist", ""), ok},
		{"DoesNotExist, present", expr("zone", "DoesNotExist", ""), no},
		{"Gt", expr("cores", "Gt", `["8"]`), ok},
		{"Gt, equal", expr("cores", "Gt", `["16"]`), no},
		{"Gt, label missing", expr("gpus", "Gt", `["0"]`), no},
		{"Gt, the value not a number", expr("cores", "Gt", `["eight"]`), no},
		{"Lt", expr("cores", "Lt", `["32"]`), ok},
		{"Lt, equal", expr("cores", "Lt", `["16"]`), no},
		{"Lt, not a number", expr("zone", "Lt", `["32"]`), no},
		{"an unknown operator matches nothing", expr("zone", "Like", `["a"]`), no},
		{"expressions in a term are ANDed", required(`[{"matchExpressions":[{"key":"zone","operator":"In","values":["a"]},{"key":"disk","operator":"In","values":["hdd"]}]}]`), no},
		{"terms are ORed", required(`[{"matchExpressions":[{"key":"zone","operator":"In","values":["b"]}]},{"matchExpressions":[{"key":"disk","operator":"In","values":["ssd"]}]}]`), ok},
		{"an empty term matches nothing", required(`[{}]`), no},
		{"an empty term among others is skipped", required(`[{},{"matchExpressions":[{"key":"zone","operator":"Exists"}]}]`), ok},
		{"no terms match nothing", required(`[]`), no},
		{"matchFields on the name", required(`[{"matchFields":[{"key":"metadata.name","operator":"In","values":["n1"]}]}]`), ok},
		{"matchFields, another name", required(`[{"matchFields":[{"key":"metadata.name","operator":"NotIn","values":["n1"]}]}]`), no},
		{"matchFields In, another name", required(`[{"matchFields":[{"key":"metadata.name","operator":"In","values":["n2"]}]}]`), no},
		{"matchFields NotIn another name", required(`[{"matchFields":[{"key":"metadata.name","operator":"NotIn","values":["n2"]}]}]`), ok},
		{"matchFields and matchExpressions in a term are ANDed",
			required(`[{"matchExpressions":[{"key":"zone","operator":"In","values":["a"]}],"matchFields":[{"key":"metadata.name","operator":"In","values":["n2"]}]}]`), no},
		{"nodeSelector and affinity both apply", `{"spec":{"nodeSelector":{"zone":"b"},"affinity":{"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":{"nodeSelectorTerms":[{"matchExpressions":[{"key":"zone","operator":"Exists"}]}]}}}}}`, no},
		{"preferred terms do not filter", `{"spec":{"affinity":{"nodeAffinity":{"preferredDuringSchedulingIgnoredDuringExecution":[{"weight":1,"preference":{"matchExpressions":[{"key":"zone","operator":"In","values":["b"]}]}}]}}}}`, ok},
		// The API server's validation refuses such a pod; should one get here anyway, the
		// pre-filter makes it unresolvable on every node.
		{"a malformed affinity is unresolvable", `{"spec":{"affinity":{"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":"nope"}}}}`,
			"n1=UnschedulableAndUnresolvable:pod has a malformed affinity: …"},
	} {
		t.Run(c.name, func(t *testing.T) {
			testutil.Filter(t, testutil.Cycle{Plugin: nodeaffinity.Name, Nodes: testutil.Nodes(node), Pod: c.pod}, c.want)
		})
	}
}

// Several nodes in one cycle: the filter judges each by its own labels and name.
func TestFilterNodes(t *testing.T) {
	nodes := testutil.Nodes(
		`{"metadata":{"name":"a1","labels":{"zone":"a","cores":"8"}}}`,
		`{"metadata":{"name":"a2","labels":{"zone":"a","cores":"32"}}}`,
		`{"metadata":{"name":"b1","labels":{"zone":"b","cores":"64"}}}`,
	)
	pod := required(`[{"matchExpressions":[{"key":"zone","operator":"In","values":["a"]},{"key":"cores","operator":"Gt","values":["16"]}]},` +
		`{"matchFields":[{"key":"metadata.name","operator":"In","values":["b1"]}]}]`)
	no := "UnschedulableAndUnresolvable:" + nodeaffinity.ErrReasonPod
	testutil.Filter(t, testutil.Cycle{Plugin: nodeaffinity.Name, Nodes: nodes, Pod: pod}, "a1="+no+" a2=ok b1=ok")
}

func TestScore(t *testing.T) {
	nodes := testutil.Nodes(
		`{"metadata":{"name":"both","labels":{"zone":"a","disk":"ssd"}}}`,
		`{"metadata":{"name":"zone","labels":{"zone":"a"}}}`,
		`{"metadata":{"name":"disk","labels":{"disk":"ssd"}}}`,
		`{"metadata":{"name":"none"}}`,
	)
	preferred := func(terms string) string {
		return `{"spec":{"affinity":{"nodeAffinity":{"preferredDuringSchedulingIgnoredDuringExecution":` + terms + `}}}}`
	}
	for _, c := range []struct {
		name, pod, raw, want string
	}{
		// An empty preference matches nothing, as an empty required term does.
		{"weights of the matched terms add up", preferred(`[
			{"weight":60,"preference":{"matchExpressions":[{"key":"zone","operator":"In","values":["a"]}]}},
			{"weight":20,"preference":{"matchExpressions":[{"key":"disk","operator":"In","values":["ssd"]}]}},
			{"weight":5,"preference":{}}]`),
			"both=80 zone=60 disk=20 none=0", "both=100 zone=75 disk=25 none=0"},
		{"a preference on the name", preferred(`[{"weight":10,"preference":{"matchFields":[{"key":"metadata.name","operator":"In","values":["disk"]}]}}]`),
			"both=0 zone=0 disk=10 none=0", "both=0 zone=0 disk=100 none=0"},
		{"a preference by an absent label", preferred(`[{"weight":7,"preference":{"matchExpressions":[{"key":"disk","operator":"DoesNotExist"}]}}]`),
			"both=0 zone=7 disk=0 none=7", "both=0 zone=100 disk=0 none=100"},
		{"no preferences: all 0", `{}`, "both=0 zone=0 disk=0 none=0", "both=0 zone=0 disk=0 none=0"},
		{"required terms do not score", required(`[{"matchExpressions":[{"key":"zone","operator":"In","values":["a"]}]}]`),
			"both=0 zone=0 disk=0 none=0", "both=0 zone=0 disk=0 none=0"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cycle := testutil.Cycle{Plugin: nodeaffinity.Name, Nodes: nodes, Pod: c.pod}
			t.Run("raw", func(t *testing.T) { testutil.RawScore(t, cycle, c.raw) })
			t.Run("normalized", func(t *testing.T) { testutil.Score(t, cycle, c.want) })
		})
	}
}
