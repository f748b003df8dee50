package podtopologyspread_test

import (
	"fmt"
	"testing"

	"github.com/tugboat-io/tug/plugins/scheduler/internal/testutil"
	"github.com/tugboat-io/tug/plugins/scheduler/podtopologyspread"
)

// webPods are n pods labelled app=web in namespace ns, named after node.
func webPods(node, ns string, n int) []string {
	var ps []string
	for i := range n {
		ps = append(ps, fmt.Sprintf(`{"metadata":{"name":"%s-w%d","namespace":%q,"labels":{"app":"web","version":"v1"}}}`, node, i, ns))
	}
	return ps
}

// zoneNode is a node in zone (none if "") with its hostname label and n web pods of the
// default namespace; extra adds to its object.
func zoneNode(name, zone string, n int, extra string) testutil.Node {
	labels := `"kubernetes.io/hostname":"` + name + `"`
	if zone != "" {
		labels += `,"zone":"` + zone + `"`
	}
	return testutil.WithPods(`{"metadata":{"name":"`+name+`","labels":{`+labels+`}}`+extra+`}`, webPods(name, "default", n)...)
}

func nodes(ns ...testutil.Node) []testutil.Node { return ns }

func spreadPod(constraints string, extra string) string {
	return `{"metadata":{"name":"new","namespace":"default","labels":{"app":"web","version":"v2"}},"spec":{"topologySpreadConstraints":` +
		constraints + extra + `}}`
}

// constraint is one topology spread constraint over app=web pods; extra adds to it.
func constraint(key, when string, maxSkew int, extra string) string {
	return fmt.Sprintf(`{"maxSkew":%d,"topologyKey":%q,"whenUnsatisfiable":%q,"labelSelector":{"matchLabels":{"app":"web"}}%s}`, maxSkew, key, when, extra)
}

const (
	host      = "kubernetes.io/hostname"
	zoneSkew1 = `[{"maxSkew":1,"topologyKey":"zone","whenUnsatisfiable":"DoNotSchedule","labelSelector":{"matchLabels":{"app":"web"}}}]`
)

func TestFilter(t *testing.T) {
	skew := "Unschedulable:" + podtopologyspread.ErrReasonConstraintsNotMatch
	for _, c := range []struct {
		name  string
		pod   string
		nodes []testutil.Node
		want  string
	}{
		{"the emptier zone only", spreadPod(zoneSkew1, ""),
			nodes(zoneNode("a1", "a", 2, ""), zoneNode("a2", "a", 0, ""), zoneNode("b1", "b", 0, "")),
			"a1=" + skew + " a2=" + skew + " b1=ok"},
		{"within maxSkew", spreadPod(zoneSkew1, ""),
			nodes(zoneNode("a1", "a", 1, ""), zoneNode("b1", "b", 0, "")),
			"a1=" + skew + " b1=ok"},
		{"a larger maxSkew allows more", spreadPod("["+constraint("zone", "DoNotSchedule", 2, "")+"]", ""),
			nodes(zoneNode("a1", "a", 1, ""), zoneNode("b1", "b", 0, "")),
			"a1=ok b1=ok"},
		{"a larger maxSkew has its limit", spreadPod("["+constraint("zone", "DoNotSchedule", 2, "")+"]", ""),
			nodes(zoneNode("a1", "a", 2, ""), zoneNode("b1", "b", 0, "")),
			"a1=" + skew + " b1=ok"},
		{"balanced: both", spreadPod(zoneSkew1, ""),
			nodes(zoneNode("a1", "a", 1, ""), zoneNode("b1", "b", 1, "")),
			"a1=ok b1=ok"},
		{"a node without the key is unresolvable", spreadPod(zoneSkew1, ""),
			nodes(zoneNode("a1", "a", 0, ""), zoneNode("x", "", 0, "")),
			"a1=ok x=UnschedulableAndUnresolvable:" + podtopologyspread.ErrReasonNodeLabelNotMatch},
		{"pods on a node without the key are in no domain", spreadPod(zoneSkew1, ""),
			nodes(zoneNode("a1", "a", 0, ""), zoneNode("b1", "b", 0, ""), zoneNode("x", "", 3, "")),
			"a1=ok b1=ok x=UnschedulableAndUnresolvable:" + podtopologyspread.ErrReasonNodeLabelNotMatch},
		{"other namespaces do not count", spreadPod(zoneSkew1, ""),
			nodes(testutil.WithPods(`{"metadata":{"name":"a1","labels":{"zone":"a"}}}`, webPods("a1", "other", 3)...), zoneNode("b1", "b", 0, "")),
			"a1=ok b1=ok"},
		{"spread over hostnames", spreadPod("["+constraint(host, "DoNotSchedule", 1, "")+"]", ""),
			nodes(zoneNode("a1", "a", 1, ""), zoneNode("a2", "a", 0, ""), zoneNode("b1", "b", 0, "")),
			"a1=" + skew + " a2=ok b1=ok"},
		// Zone counts a 1, b 1; hostname counts a1 1, a2 0, b1 1: only a2 meets both.
		{"every constraint must hold", spreadPod("["+constraint("zone", "DoNotSchedule", 1, "")+","+constraint(host, "DoNotSchedule", 1, "")+"]", ""),
			nodes(zoneNode("a1", "a", 1, ""), zoneNode("a2", "a", 0, ""), zoneNode("b1", "b", 1, "")),
			"a1=" + skew + " a2=ok b1=" + skew},
		{"minDomains above the domains makes the minimum 0",
			spreadPod("["+constraint("zone", "DoNotSchedule", 1, `,"minDomains":3`)+"]", ""),
			nodes(zoneNode("a1", "a", 1, ""), zoneNode("b1", "b", 1, "")),
			"a1=" + skew + " b1=" + skew},
		// With 2 domains of minDomains 2 the minimum is b's 1: a (2) + 1 − 1 > 1, b 1 + 1 − 1 ≤ 1.
		{"minDomains met: the minimum is the emptiest domain's",
			spreadPod("["+constraint("zone", "DoNotSchedule", 1, `,"minDomains":2`)+"]", ""),
			nodes(zoneNode("a1", "a", 2, ""), zoneNode("b1", "b", 1, "")),
			"a1=" + skew + " b1=ok"},
		{"minDomains not met: the minimum is 0",
			spreadPod("["+constraint("zone", "DoNotSchedule", 1, `,"minDomains":3`)+"]", ""),
			nodes(zoneNode("a1", "a", 2, ""), zoneNode("b1", "b", 1, "")),
			"a1=" + skew + " b1=" + skew},
		// Had the pod counted itself, a would be at 2 against b's 0.
		{"a pod its selector does not match adds nothing",
			spreadPod(`[{"maxSkew":1,"topologyKey":"zone","whenUnsatisfiable":"DoNotSchedule","labelSelector":{"matchLabels":{"app":"db"}}}]`, ""),
			nodes(testutil.WithPods(`{"metadata":{"name":"a1","labels":{"zone":"a"}}}`, `{"metadata":{"name":"d","namespace":"default","labels":{"app":"db"}}}`), zoneNode("b1", "b", 0, "")),
			"a1=ok b1=ok"},
		{"finished pods do not count", spreadPod(zoneSkew1, ""),
			nodes(testutil.WithPods(`{"metadata":{"name":"a1","labels":{"zone":"a"}}}`,
				`{"metadata":{"name":"done","namespace":"default","labels":{"app":"web"}},"status":{"phase":"Succeeded"}}`), zoneNode("b1", "b", 0, "")),
			"a1=ok b1=ok"},
		{"nodeAffinityPolicy Honor: only zones the pod may use count", spreadPod(zoneSkew1, `,"nodeSelector":{"zone":"a"}`),
			nodes(zoneNode("a1", "a", 1, ""), zoneNode("b1", "b", 0, "")),
			"a1=ok b1=ok"},
		{"nodeAffinityPolicy Ignore: every zone counts",
			spreadPod(`[{"maxSkew":1,"topologyKey":"zone","whenUnsatisfiable":"DoNotSchedule","nodeAffinityPolicy":"Ignore","labelSelector":{"matchLabels":{"app":"web"}}}]`, `,"nodeSelector":{"zone":"a"}`),
			nodes(zoneNode("a1", "a", 1, ""), zoneNode("b1", "b", 0, "")),
			"a1=" + skew + " b1=ok"},
		// The zone constraint honors the nodeSelector, the hostname one does not: b1 counts for
		// the hostnames only, where its 0 is the minimum a1's 1 + 1 exceeds.
		{"policies are per constraint",
			spreadPod("["+constraint("zone", "DoNotSchedule", 1, "")+","+constraint(host, "DoNotSchedule", 1, `,"nodeAffinityPolicy":"Ignore"`)+"]", `,"nodeSelector":{"zone":"a"}`),
			nodes(zoneNode("a1", "a", 1, ""), zoneNode("b1", "b", 0, "")),
			"a1=" + skew + " b1=ok"},
		{"nodeTaintsPolicy Ignore (the default): a tainted node's zone counts", spreadPod(zoneSkew1, ""),
			nodes(zoneNode("a1", "a", 1, ""), zoneNode("b1", "b", 0, `,"spec":{"taints":[{"key":"gpu","effect":"NoSchedule"}]}`)),
			"a1=" + skew + " b1=ok"},
		{"nodeTaintsPolicy Honor: an untolerated node's zone does not",
			spreadPod("["+constraint("zone", "DoNotSchedule", 1, `,"nodeTaintsPolicy":"Honor"`)+"]", ""),
			nodes(zoneNode("a1", "a", 1, ""), zoneNode("b1", "b", 0, `,"spec":{"taints":[{"key":"gpu","effect":"NoSchedule"}]}`)),
			"a1=ok b1=ok"},
		{"nodeTaintsPolicy Honor: a tolerated node's zone does",
			spreadPod("["+constraint("zone", "DoNotSchedule", 1, `,"nodeTaintsPolicy":"Honor"`)+"]", `,"tolerations":[{"key":"gpu","operator":"Exists"}]`),
			nodes(zoneNode("a1", "a", 1, ""), zoneNode("b1", "b", 0, `,"spec":{"taints":[{"key":"gpu","effect":"NoSchedule"}]}`)),
			"a1=" + skew + " b1=ok"},
		{"matchLabelKeys narrow the selector to the pod's version",
			spreadPod(`[{"maxSkew":1,"topologyKey":"zone","whenUnsatisfiable":"DoNotSchedule","matchLabelKeys":["version"],"labelSelector":{"matchLabels":{"app":"web"}}}]`, ""),
			nodes(zoneNode("a1", "a", 2, ""), zoneNode("b1", "b", 0, "")),
			"a1=ok b1=ok"},
		{"ScheduleAnyway does not filter",
			spreadPod("["+constraint("zone", "ScheduleAnyway", 1, "")+"]", ""),
			nodes(zoneNode("a1", "a", 5, ""), zoneNode("b1", "b", 0, "")),
			"a1=ok b1=ok"},
		{"ScheduleAnyway beside DoNotSchedule: only the latter filters",
			spreadPod("["+constraint(host, "ScheduleAnyway", 1, "")+","+constraint("zone", "DoNotSchedule", 1, "")+"]", ""),
			nodes(zoneNode("a1", "a", 0, ""), zoneNode("a2", "a", 0, ""), zoneNode("b1", "b", 3, "")),
			"a1=ok a2=ok b1=" + skew},
	} {
		t.Run(c.name, func(t *testing.T) {
			testutil.Filter(t, testutil.Cycle{Plugin: podtopologyspread.Name, Nodes: c.nodes, Pod: c.pod}, c.want)
		})
	}
}

func TestScore(t *testing.T) {
	for _, c := range []struct {
		name  string
		pod   string
		nodes []testutil.Node
		want  string
	}{
		// Three domains: weight log(5) ≈ 1.609. Raw: a 2×1.609 → 3, b 0, c 1.609 → 2; reversed
		// over min 0 and max 3: a 0, b 100, c 33. x lacks the key: 0.
		{"emptier zones score higher", spreadPod("["+constraint("zone", "ScheduleAnyway", 1, "")+"]", ""),
			nodes(zoneNode("a1", "a", 2, ""), zoneNode("b1", "b", 0, ""), zoneNode("c1", "c", 1, ""), zoneNode("x", "", 0, "")),
			"a1=0 b1=100 c1=33 x=0"},
		// maxSkew − 1 is added to every node's raw score: a 3 + 1 = 4, b 1, c 2 + 1 = 3;
		// over min 1 and max 4: a 100 × 1/4, b 100, c 100 × 2/4.
		{"maxSkew raises every score", spreadPod("["+constraint("zone", "ScheduleAnyway", 2, "")+"]", ""),
			nodes(zoneNode("a1", "a", 2, ""), zoneNode("b1", "b", 0, ""), zoneNode("c1", "c", 1, "")),
			"a1=25 b1=100 c1=50"},
		// Per hostname, three nodes: weight log(5). a1 2×1.609 → 3, a2 0, b1 1.609 → 2.
		{"spread over hostnames", spreadPod("["+constraint(host, "ScheduleAnyway", 1, "")+"]", ""),
			nodes(zoneNode("a1", "a", 2, ""), zoneNode("a2", "a", 0, ""), zoneNode("b1", "b", 1, "")),
			"a1=0 a2=100 b1=33"},
		{"all domains even: all 100", spreadPod("["+constraint("zone", "ScheduleAnyway", 1, "")+"]", ""),
			nodes(zoneNode("a1", "a", 1, ""), zoneNode("b1", "b", 1, "")),
			"a1=100 b1=100"},
		{"no ScheduleAnyway constraints: every node scores 0", spreadPod(zoneSkew1, ""),
			nodes(zoneNode("a1", "a", 0, ""), zoneNode("b1", "b", 0, "")),
			"a1=0 b1=0"},
	} {
		t.Run(c.name, func(t *testing.T) {
			testutil.Score(t, testutil.Cycle{Plugin: podtopologyspread.Name, Nodes: c.nodes, Pod: c.pod}, c.want)
		})
	}
}
