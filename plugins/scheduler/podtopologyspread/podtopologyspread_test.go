package podtopologyspread

import (
	"fmt"
	"testing"

	"github.com/tugboat-io/tug/plugins/scheduler/internal/testutil"
	tug "github.com/tugboat-io/tug/sdk/go"
	"github.com/tugboat-io/tug/sdk/go/sdktest"
)

func init() {
	p := New()
	tug.RegisterFilter(p)
	tug.RegisterScore(p)
}

// webPods are n pods labelled app=web in namespace ns.
func webPods(ns string, n int) []any {
	var ps []any
	for i := range n {
		ps = append(ps, fmt.Sprintf(`{"metadata":{"name":"w%d","namespace":%q,"labels":{"app":"web","version":"v1"}}}`, i, ns))
	}
	return ps
}

func zoneNode(name, zone string, pods ...any) any {
	labels := `"kubernetes.io/hostname":"` + name + `"`
	if zone != "" {
		labels += `,"zone":"` + zone + `"`
	}
	return sdktest.WithPods(`{"metadata":{"name":"`+name+`","labels":{`+labels+`}}}`, pods...)
}

func spreadPod(constraints string, extra string) string {
	return `{"metadata":{"name":"new","namespace":"default","labels":{"app":"web","version":"v2"}},"spec":{"topologySpreadConstraints":` +
		constraints + extra + `}}`
}

const zoneSkew1 = `[{"maxSkew":1,"topologyKey":"zone","whenUnsatisfiable":"DoNotSchedule","labelSelector":{"matchLabels":{"app":"web"}}}]`

func verdicts(got map[string]*tug.Status) string {
	return testutil.Verdicts(got, "a1", "a2", "b1", "c1", "x")
}

func TestFilter(t *testing.T) {
	skew := "Unschedulable:" + ErrReasonConstraintsNotMatch
	for _, c := range []struct {
		name  string
		pod   string
		nodes []any
		want  string
	}{
		{"the emptier zone only", spreadPod(zoneSkew1, ""),
			[]any{zoneNode("a1", "a", webPods("default", 2)...), zoneNode("a2", "a"), zoneNode("b1", "b")},
			"a1=" + skew + " a2=" + skew + " b1=ok"},
		{"within maxSkew", spreadPod(zoneSkew1, ""),
			[]any{zoneNode("a1", "a", webPods("default", 1)...), zoneNode("b1", "b")},
			"a1=" + skew + " b1=ok"},
		{"balanced: both", spreadPod(zoneSkew1, ""),
			[]any{zoneNode("a1", "a", webPods("default", 1)...), zoneNode("b1", "b", webPods("default", 1)...)},
			"a1=ok b1=ok"},
		{"a node without the key is unresolvable", spreadPod(zoneSkew1, ""),
			[]any{zoneNode("a1", "a"), zoneNode("x", "")},
			"a1=ok x=UnschedulableAndUnresolvable:" + ErrReasonNodeLabelNotMatch},
		{"other namespaces do not count", spreadPod(zoneSkew1, ""),
			[]any{zoneNode("a1", "a", webPods("other", 3)...), zoneNode("b1", "b")},
			"a1=ok b1=ok"},
		{"minDomains above the domains makes the minimum 0",
			spreadPod(`[{"maxSkew":1,"topologyKey":"zone","whenUnsatisfiable":"DoNotSchedule","minDomains":3,"labelSelector":{"matchLabels":{"app":"web"}}}]`, ""),
			[]any{zoneNode("a1", "a", webPods("default", 1)...), zoneNode("b1", "b", webPods("default", 1)...)},
			"a1=" + skew + " b1=" + skew},
		// Had the pod counted itself, a would be at 2 against b's 0.
		{"a pod its selector does not match adds nothing",
			spreadPod(`[{"maxSkew":1,"topologyKey":"zone","whenUnsatisfiable":"DoNotSchedule","labelSelector":{"matchLabels":{"app":"db"}}}]`, ""),
			[]any{zoneNode("a1", "a", `{"metadata":{"name":"d","namespace":"default","labels":{"app":"db"}}}`), zoneNode("b1", "b")},
			"a1=ok b1=ok"},
		{"nodeAffinityPolicy Honor: only zones the pod may use count", spreadPod(zoneSkew1, `,"nodeSelector":{"zone":"a"}`),
			[]any{zoneNode("a1", "a", webPods("default", 1)...), zoneNode("b1", "b")},
			"a1=ok b1=ok"},
		{"nodeAffinityPolicy Ignore: every zone counts",
			spreadPod(`[{"maxSkew":1,"topologyKey":"zone","whenUnsatisfiable":"DoNotSchedule","nodeAffinityPolicy":"Ignore","labelSelector":{"matchLabels":{"app":"web"}}}]`, `,"nodeSelector":{"zone":"a"}`),
			[]any{zoneNode("a1", "a", webPods("default", 1)...), zoneNode("b1", "b")},
			"a1=" + skew + " b1=ok"},
		{"matchLabelKeys narrow the selector to the pod's version",
			spreadPod(`[{"maxSkew":1,"topologyKey":"zone","whenUnsatisfiable":"DoNotSchedule","matchLabelKeys":["version"],"labelSelector":{"matchLabels":{"app":"web"}}}]`, ""),
			[]any{zoneNode("a1", "a", webPods("default", 2)...), zoneNode("b1", "b")},
			"a1=ok b1=ok"},
		{"ScheduleAnyway does not filter",
			spreadPod(`[{"maxSkew":1,"topologyKey":"zone","whenUnsatisfiable":"ScheduleAnyway","labelSelector":{"matchLabels":{"app":"web"}}}]`, ""),
			[]any{zoneNode("a1", "a", webPods("default", 5)...), zoneNode("b1", "b")},
			"a1=ok b1=ok"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := verdicts(sdktest.Filter(t, c.pod, c.nodes...)); got != c.want {
				t.Errorf("got  %s\nwant %s", got, c.want)
			}
		})
	}
}

func TestScore(t *testing.T) {
	pod := spreadPod(`[{"maxSkew":1,"topologyKey":"zone","whenUnsatisfiable":"ScheduleAnyway","labelSelector":{"matchLabels":{"app":"web"}}}]`, "")
	got := sdktest.Score(t, pod,
		zoneNode("a1", "a", webPods("default", 2)...), zoneNode("b1", "b"), zoneNode("c1", "c", webPods("default", 1)...), zoneNode("x", ""))
	// Three domains: weight log(5) ≈ 1.609. Raw: a 2×1.609 → 3, b 0, c 1.609 → 2; reversed
	// over min 0 and max 3: a 0, b 100, c 33. x lacks the key: 0.
	want := map[string]int64{"a1": 0, "b1": 100, "c1": 33, "x": 0}
	for n, w := range want {
		if got[n] != w {
			t.Errorf("%s scored %d, want %d (all: %v)", n, got[n], w, got)
		}
	}
	// No ScheduleAnyway constraints: every node scores 0.
	got = sdktest.Score(t, spreadPod(zoneSkew1, ""), zoneNode("a1", "a"), zoneNode("b1", "b"))
	if got["a1"] != 0 || got["b1"] != 0 {
		t.Errorf("without scoring constraints: %v", got)
	}
}
