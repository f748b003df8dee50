package interpodaffinity_test

import (
	"testing"

	"github.com/tugboat-io/tug/plugins/scheduler/internal/testutil"
	"github.com/tugboat-io/tug/plugins/scheduler/interpodaffinity"
)

// node is a node in zone (none if "") with its hostname label, and pods.
func node(name, zone string, pods ...string) testutil.Node {
	labels := `"kubernetes.io/hostname":"` + name + `"`
	if zone != "" {
		labels += `,"zone":"` + zone + `"`
	}
	return testutil.WithPods(`{"metadata":{"name":"`+name+`","labels":{`+labels+`}}}`, pods...)
}

func nodes(ns ...testutil.Node) []testutil.Node { return ns }

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

func required(kind string, terms ...string) string {
	all := ""
	for i, t := range terms {
		if i > 0 {
			all += ","
		}
		all += t
	}
	return `{"` + kind + `":{"requiredDuringSchedulingIgnoredDuringExecution":[` + all + `]}}`
}

func TestFilter(t *testing.T) {
	aff := "UnschedulableAndUnresolvable:" + interpodaffinity.ErrReasonAffinityRulesNotMatch
	anti := "Unschedulable:" + interpodaffinity.ErrReasonAntiAffinityRulesNotMatch
	exist := "Unschedulable:" + interpodaffinity.ErrReasonExistingAntiAffinityRulesNotMatch
	db := existing("db", "default", "db", "")
	web := existing("w", "default", "web", "")
	const host = "kubernetes.io/hostname"
	for _, c := range []struct {
		name  string
		pod   string
		nodes []testutil.Node
		want  string
	}{
		{"no terms", incoming(`{}`), nodes(node("a1", "a", db), node("a2", "a"), node("b1", "b")), "a1=ok a2=ok b1=ok"},
		{"required affinity by zone", incoming(required("podAffinity", term("db", "zone", ""))),
			nodes(node("a1", "a", db), node("a2", "a"), node("b1", "b")), "a1=ok a2=ok b1=" + aff},
		{"required affinity by hostname", incoming(required("podAffinity", term("db", host, ""))),
			nodes(node("a1", "a", db), node("a2", "a"), node("b1", "b")), "a1=ok a2=" + aff + " b1=" + aff},
		{"the first pod of a group may go anywhere", incoming(required("podAffinity", term("web", "zone", ""))),
			nodes(node("a1", "a"), node("a2", "a"), node("b1", "b")), "a1=ok a2=ok b1=ok"},
		{"the first pod of a group needs the topology key", incoming(required("podAffinity", term("web", "zone", ""))),
			nodes(node("a1", "a"), node("x", "")), "a1=ok x=" + aff},
		// A pod of the group on a node without the key is in no domain: it does not count.
		{"the first pod of a group in a domain", incoming(required("podAffinity", term("web", "zone", ""))),
			nodes(node("a1", "a"), node("x", "", web)), "a1=ok x=" + aff},
		{"the first pod of another group may not", incoming(required("podAffinity", term("db", "zone", ""))),
			nodes(node("a1", "a"), node("b1", "b")), "a1=" + aff + " b1=" + aff},
		{"affinity needs the topology key on the node", incoming(required("podAffinity", term("db", "zone", ""))),
			nodes(node("a1", "a", db), node("x", "", db)), "a1=ok x=" + aff},
		// kube-scheduler counts a pod for the terms only if it matches all of them.
		{"several affinity terms must be met by one pod", incoming(required("podAffinity", term("db", "zone", ""), term("cache", "zone", ""))),
			nodes(node("a1", "a", db, existing("c", "default", "cache", "")), node("b1", "b")), "a1=" + aff + " b1=" + aff},
		{"several affinity terms met by one pod", incoming(required("podAffinity",
			`{"labelSelector":{"matchExpressions":[{"key":"app","operator":"In","values":["db","cache"]}]},"topologyKey":"zone"}`,
			`{"labelSelector":{"matchExpressions":[{"key":"app","operator":"Exists"}]},"topologyKey":"`+host+`"}`)),
			nodes(node("a1", "a", db), node("a2", "a"), node("b1", "b")), "a1=ok a2=" + aff + " b1=" + aff},
		{"affinity to a pod in another namespace needs the namespace", incoming(required("podAffinity", term("db", "zone", ""))),
			nodes(node("a1", "a", existing("db", "other", "db", "")), node("a2", "a"), node("b1", "b")), "a1=" + aff + " a2=" + aff + " b1=" + aff},
		{"namespaces list", incoming(required("podAffinity", term("db", "zone", `,"namespaces":["other"]`))),
			nodes(node("a1", "a", existing("db", "other", "db", "")), node("a2", "a"), node("b1", "b")), "a1=ok a2=ok b1=" + aff},
		{"an empty namespaceSelector is every namespace", incoming(required("podAffinity", term("db", "zone", `,"namespaceSelector":{}`))),
			nodes(node("a1", "a", existing("db", "other", "db", "")), node("a2", "a"), node("b1", "b")), "a1=ok a2=ok b1=" + aff},
		{"finished pods do not count", incoming(required("podAffinity", term("db", "zone", ""))),
			nodes(node("a1", "a", `{"metadata":{"name":"db","namespace":"default","labels":{"app":"db"}},"status":{"phase":"Succeeded"}}`), node("b1", "b", db)),
			"a1=" + aff + " b1=ok"},
		{"required anti-affinity by hostname", incoming(required("podAntiAffinity", term("web", host, ""))),
			nodes(node("a1", "a", web), node("a2", "a"), node("b1", "b")), "a1=" + anti + " a2=ok b1=ok"},
		{"required anti-affinity by zone", incoming(required("podAntiAffinity", term("web", "zone", ""))),
			nodes(node("a1", "a", web), node("a2", "a"), node("b1", "b")), "a1=" + anti + " a2=" + anti + " b1=ok"},
		{"anti-affinity passes a node without the topology key", incoming(required("podAntiAffinity", term("web", "zone", ""))),
			nodes(node("a1", "a", web), node("x", "", web)), "a1=" + anti + " x=ok"},
		{"anti-affinity to pods of another namespace", incoming(required("podAntiAffinity", term("web", host, ""))),
			nodes(node("a1", "a", existing("w", "other", "web", "")), node("b1", "b")), "a1=ok b1=ok"},
		{"anti-affinity against itself: one per zone", incoming(required("podAntiAffinity", term("web", "zone", ""))),
			nodes(node("a1", "a"), node("b1", "b", web), node("c1", "c")), "a1=ok b1=" + anti + " c1=ok"},
		{"affinity and anti-affinity together", incoming(`{"podAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":[` + term("db", "zone", "") + `]},` +
			`"podAntiAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":[` + term("web", host, "") + `]}}`),
			nodes(node("a1", "a", db, web), node("a2", "a"), node("b1", "b")), "a1=" + anti + " a2=ok b1=" + aff},
		{"an existing pod's anti-affinity keeps the pod out of its zone", incoming(`{}`),
			nodes(node("a1", "a"), node("a2", "a"), node("b1", "b", existing("loner", "default", "db", required("podAntiAffinity", term("web", "zone", ""))))),
			"a1=ok a2=ok b1=" + exist},
		{"an existing pod's anti-affinity by hostname keeps the pod off its node", incoming(`{}`),
			nodes(node("a1", "a", existing("loner", "default", "db", required("podAntiAffinity", term("web", host, "")))), node("a2", "a")),
			"a1=" + exist + " a2=ok"},
		{"an existing pod's anti-affinity towards others", incoming(`{}`),
			nodes(node("a1", "a", existing("loner", "default", "db", required("podAntiAffinity", term("cache", "zone", "")))), node("a2", "a")),
			"a1=ok a2=ok"},
		{"an existing pod's anti-affinity in another namespace", incoming(`{}`),
			nodes(node("a1", "a", existing("loner", "other", "db", required("podAntiAffinity", term("web", "zone", "")))), node("a2", "a")),
			"a1=ok a2=ok"},
	} {
		t.Run(c.name, func(t *testing.T) {
			testutil.Filter(t, testutil.Cycle{Plugin: interpodaffinity.Name, Nodes: c.nodes, Pod: c.pod}, c.want)
		})
	}
}

func TestScore(t *testing.T) {
	preferred := func(weight, term string) string {
		return `{"weight":` + weight + `,"podAffinityTerm":` + term + `}`
	}
	for _, c := range []struct {
		name  string
		pod   string
		nodes []testutil.Node
		want  string
	}{
		// a1 +50 (zone a has db); a2 +50 −30 (a web pod on it); b1 0 → 100, 40, 0.
		{"preferred affinity and anti-affinity", incoming(`{"podAffinity":{"preferredDuringSchedulingIgnoredDuringExecution":[` + preferred("50", term("db", "zone", "")) + `]},` +
			`"podAntiAffinity":{"preferredDuringSchedulingIgnoredDuringExecution":[` + preferred("30", term("web", "kubernetes.io/hostname", "")) + `]}}`),
			nodes(node("a1", "a", existing("db", "default", "db", "")), node("a2", "a", existing("w", "default", "web", "")), node("b1", "b")),
			"a1=100 a2=40 b1=0"},
		// Symmetry: an existing pod that prefers pods like this one draws it to its zone.
		{"an existing pod's preference", incoming(`{}`),
			nodes(node("a1", "a"), node("a2", "a"), node("b1", "b", existing("fan", "default", "db",
				`{"podAffinity":{"preferredDuringSchedulingIgnoredDuringExecution":[`+preferred("10", term("web", "zone", ""))+`]}}`))),
			"a1=0 a2=0 b1=100"},
		// An existing pod's required affinity to pods like this one counts with weight 1.
		{"an existing pod's required affinity", incoming(`{}`),
			nodes(node("a1", "a"), node("b1", "b", existing("fan", "default", "db", required("podAffinity", term("web", "zone", ""))))),
			"a1=0 b1=100"},
		{"an existing pod's preferred anti-affinity", incoming(`{}`),
			nodes(node("a1", "a"), node("b1", "b", existing("shy", "default", "db",
				`{"podAntiAffinity":{"preferredDuringSchedulingIgnoredDuringExecution":[`+preferred("10", term("web", "zone", ""))+`]}}`))),
			"a1=100 b1=0"},
		// Anti-affinity by zone: a zone scores −20 per web pod; b1 with none scores highest.
		{"preferred anti-affinity by zone", incoming(`{"podAntiAffinity":{"preferredDuringSchedulingIgnoredDuringExecution":[` + preferred("20", term("web", "zone", "")) + `]}}`),
			nodes(node("a1", "a", existing("w1", "default", "web", ""), existing("w2", "default", "web", "")), node("a2", "a"),
				node("b1", "b"), node("c1", "c", existing("w3", "default", "web", ""))),
			"a1=0 a2=0 b1=100 c1=50"},
		{"no terms anywhere: all 0", incoming(`{}`), nodes(node("a1", "a"), node("b1", "b")), "a1=0 b1=0"},
	} {
		t.Run(c.name, func(t *testing.T) {
			testutil.Score(t, testutil.Cycle{Plugin: interpodaffinity.Name, Nodes: c.nodes, Pod: c.pod}, c.want)
		})
	}
}
