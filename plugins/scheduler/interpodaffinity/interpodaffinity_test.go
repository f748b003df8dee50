package interpodaffinity

import (
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

func node(name, zone string, pods ...any) any {
	return sdktest.WithPods(`{"metadata":{"name":"`+name+`","labels":{"zone":"`+zone+`","kubernetes.io/hostname":"`+name+`"}}}`, pods...)
}

func existing(name, ns, app, affinity string) string {
	a := ""
	if affinity != "" {
		a = `,"spec":{"affinity":` + affinity + `}`
	}
	return `{"metadata":{"name":"` + name + `","namespace":"` + ns + `","labels":{"app":"` + app + `"}}` + a + `}`
}

func incoming(affinity string) string {
	return `{"metadata":{"name":"new","namespace":"default","labels":{"app":"web"}},"spec":{"affinity":` + affinity + `}}`
}

func term(app, key string, extra string) string {
	return `{"labelSelector":{"matchLabels":{"app":"` + app + `"}},"topologyKey":"` + key + `"` + extra + `}`
}

func verdicts(got map[string]*tug.Status) string { return testutil.Verdicts(got, "a1", "a2", "b1") }

func TestFilter(t *testing.T) {
	aff := "UnschedulableAndUnresolvable:" + ErrReasonAffinityRulesNotMatch
	anti := "Unschedulable:" + ErrReasonAntiAffinityRulesNotMatch
	exist := "Unschedulable:" + ErrReasonExistingAntiAffinityRulesNotMatch
	db := existing("db", "default", "db", "")
	for _, c := range []struct {
		name  string
		pod   string
		nodes []any
		want  string
	}{
		{"required affinity by zone", incoming(`{"podAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":[` + term("db", "zone", "") + `]}}`),
			[]any{node("a1", "a", db), node("a2", "a"), node("b1", "b")}, "a1=ok a2=ok b1=" + aff},
		{"the first pod of a group may go anywhere", incoming(`{"podAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":[` + term("web", "zone", "") + `]}}`),
			[]any{node("a1", "a"), node("a2", "a"), node("b1", "b")}, "a1=ok a2=ok b1=ok"},
		{"affinity to a pod in another namespace needs the namespace",
			incoming(`{"podAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":[` + term("db", "zone", "") + `]}}`),
			[]any{node("a1", "a", existing("db", "other", "db", "")), node("a2", "a"), node("b1", "b")}, "a1=" + aff + " a2=" + aff + " b1=" + aff},
		{"namespaces list", incoming(`{"podAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":[` + term("db", "zone", `,"namespaces":["other"]`) + `]}}`),
			[]any{node("a1", "a", existing("db", "other", "db", "")), node("a2", "a"), node("b1", "b")}, "a1=ok a2=ok b1=" + aff},
		{"an empty namespaceSelector is every namespace", incoming(`{"podAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":[` + term("db", "zone", `,"namespaceSelector":{}`) + `]}}`),
			[]any{node("a1", "a", existing("db", "other", "db", "")), node("a2", "a"), node("b1", "b")}, "a1=ok a2=ok b1=" + aff},
		{"required anti-affinity by hostname", incoming(`{"podAntiAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":[` + term("web", "kubernetes.io/hostname", "") + `]}}`),
			[]any{node("a1", "a", existing("w", "default", "web", "")), node("a2", "a"), node("b1", "b")}, "a1=" + anti + " a2=ok b1=ok"},
		{"required anti-affinity by zone", incoming(`{"podAntiAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":[` + term("web", "zone", "") + `]}}`),
			[]any{node("a1", "a", existing("w", "default", "web", "")), node("a2", "a"), node("b1", "b")}, "a1=" + anti + " a2=" + anti + " b1=ok"},
		{"an existing pod's anti-affinity keeps the pod out of its zone", incoming(`{}`),
			[]any{node("a1", "a"), node("a2", "a"), node("b1", "b", existing("loner", "default", "db",
				`{"podAntiAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":[`+term("web", "zone", "")+`]}}`))}, "a1=ok a2=ok b1=" + exist},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := verdicts(sdktest.Filter(t, c.pod, c.nodes...)); got != c.want {
				t.Errorf("got  %s\nwant %s", got, c.want)
			}
		})
	}
}

func TestScore(t *testing.T) {
	pod := incoming(`{"podAffinity":{"preferredDuringSchedulingIgnoredDuringExecution":[{"weight":50,"podAffinityTerm":` + term("db", "zone", "") + `}]},` +
		`"podAntiAffinity":{"preferredDuringSchedulingIgnoredDuringExecution":[{"weight":30,"podAffinityTerm":` + term("web", "kubernetes.io/hostname", "") + `}]}}`)
	got := sdktest.Score(t, pod, node("a1", "a", existing("db", "default", "db", "")), node("a2", "a", existing("w", "default", "web", "")), node("b1", "b"))
	// a1 +50 (zone a has db); a2 +50 −30 (a web pod on it); b1 0 → 100, 40, 0.
	for n, w := range map[string]int64{"a1": 100, "a2": 40, "b1": 0} {
		if got[n] != w {
			t.Errorf("%s scored %d, want %d (all %v)", n, got[n], w, got)
		}
	}
	// Symmetry: an existing pod that prefers pods like this one draws it to its zone.
	got = sdktest.Score(t, incoming(`{}`), node("a1", "a"), node("a2", "a"),
		node("b1", "b", existing("fan", "default", "db", `{"podAffinity":{"preferredDuringSchedulingIgnoredDuringExecution":[{"weight":10,"podAffinityTerm":`+term("web", "zone", "")+`}]}}`)))
	if got["b1"] != 100 || got["a1"] != 0 {
		t.Errorf("symmetric preference: %v", got)
	}
}
