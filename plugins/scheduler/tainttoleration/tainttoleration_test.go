package tainttoleration_test

import (
	"testing"

	"github.com/tugboat-io/tug/plugins/scheduler/internal/testutil"
	"github.com/tugboat-io/tug/plugins/scheduler/tainttoleration"
)

func TestFilter(t *testing.T) {
	gpu := `{"metadata":{"name":"n"},"spec":{"taints":[{"key":"gpu","value":"true","effect":"NoSchedule"}]}}`
	evict := `{"metadata":{"name":"n"},"spec":{"taints":[{"key":"dedicated","value":"db","effect":"NoExecute"}]}}`
	prefer := `{"metadata":{"name":"n"},"spec":{"taints":[{"key":"spot","value":"yes","effect":"PreferNoSchedule"}]}}`
	both := `{"metadata":{"name":"n"},"spec":{"taints":[{"key":"gpu","value":"true","effect":"NoSchedule"},{"key":"dedicated","value":"db","effect":"NoExecute"}]}}`
	untoleratedGPU := "n=UnschedulableAndUnresolvable:node(s) had untolerated taint {gpu: true}"
	untoleratedDB := "n=UnschedulableAndUnresolvable:node(s) had untolerated taint {dedicated: db}"
	for _, c := range []struct {
		name, node, pod, want string
	}{
		{"no taints", `{"metadata":{"name":"n"}}`, `{}`, "n=ok"},
		{"untolerated NoSchedule", gpu, `{}`, untoleratedGPU},
		{"untolerated NoExecute", evict, `{}`, untoleratedDB},
		{"PreferNoSchedule does not filter", prefer, `{}`, "n=ok"},
		{"Equal with the value", gpu, `{"spec":{"tolerations":[{"key":"gpu","value":"true","effect":"NoSchedule"}]}}`, "n=ok"},
		{"Equal is the default operator", gpu, `{"spec":{"tolerations":[{"key":"gpu","operator":"Equal","value":"true"}]}}`, "n=ok"},
		{"Equal with another value", gpu, `{"spec":{"tolerations":[{"key":"gpu","value":"false","effect":"NoSchedule"}]}}`, untoleratedGPU},
		{"Exists on the key", gpu, `{"spec":{"tolerations":[{"key":"gpu","operator":"Exists"}]}}`, "n=ok"},
		{"Exists without a key tolerates all", evict, `{"spec":{"tolerations":[{"operator":"Exists"}]}}`, "n=ok"},
		{"another effect", gpu, `{"spec":{"tolerations":[{"key":"gpu","operator":"Exists","effect":"NoExecute"}]}}`, untoleratedGPU},
		{"an unknown operator tolerates nothing", gpu, `{"spec":{"tolerations":[{"key":"gpu","operator":"Near","value":"true"}]}}`, untoleratedGPU},
		{"NoExecute tolerated with its effect", evict, `{"spec":{"tolerations":[{"key":"dedicated","operator":"Equal","value":"db","effect":"NoExecute"}]}}`, "n=ok"},
		{"an empty effect tolerates NoExecute", evict, `{"spec":{"tolerations":[{"key":"dedicated","value":"db"}]}}`, "n=ok"},
		{"tolerationSeconds does not matter to scheduling", evict,
			`{"spec":{"tolerations":[{"key":"dedicated","value":"db","effect":"NoExecute","tolerationSeconds":30}]}}`, "n=ok"},
		{"a NoSchedule toleration does not tolerate NoExecute", evict, `{"spec":{"tolerations":[{"key":"dedicated","value":"db","effect":"NoSchedule"}]}}`, untoleratedDB},
		{"a PreferNoSchedule toleration does not tolerate NoSchedule", gpu, `{"spec":{"tolerations":[{"key":"gpu","operator":"Exists","effect":"PreferNoSchedule"}]}}`, untoleratedGPU},
		{"the first untolerated taint is named", both, `{}`, untoleratedGPU},
		{"every taint must be tolerated", both, `{"spec":{"tolerations":[{"key":"gpu","operator":"Exists"}]}}`, untoleratedDB},
		{"two tolerations for two taints", both, `{"spec":{"tolerations":[{"key":"gpu","operator":"Exists"},{"key":"dedicated","operator":"Exists","effect":"NoExecute"}]}}`, "n=ok"},
	} {
		t.Run(c.name, func(t *testing.T) {
			testutil.Filter(t, testutil.Cycle{Plugin: tainttoleration.Name, Nodes: testutil.Nodes(c.node), Pod: c.pod}, c.want)
		})
	}
}

// Scores are the count of intolerable PreferNoSchedule taints, normalized reversed: none
// scores 100, the most 0.
func TestScore(t *testing.T) {
	nodes := testutil.Nodes(
		`{"metadata":{"name":"clean"}}`,
		`{"metadata":{"name":"one"},"spec":{"taints":[{"key":"spot","value":"yes","effect":"PreferNoSchedule"},{"key":"gpu","effect":"NoSchedule"}]}}`,
		`{"metadata":{"name":"two"},"spec":{"taints":[{"key":"spot","value":"yes","effect":"PreferNoSchedule"},
			{"key":"slow","value":"disk","effect":"PreferNoSchedule"}]}}`,
	)
	for _, c := range []struct {
		name, pod string
		raw, want string
	}{
		{"no tolerations: fewer intolerable taints score higher", `{}`, "clean=0 one=1 two=2", "clean=100 one=50 two=0"},
		{"tolerating spot leaves only slow", `{"spec":{"tolerations":[{"key":"spot","operator":"Exists","effect":"PreferNoSchedule"}]}}`,
			"clean=0 one=0 two=1", "clean=100 one=100 two=0"},
		{"a NoSchedule toleration does not count", `{"spec":{"tolerations":[{"key":"spot","operator":"Exists","effect":"NoSchedule"}]}}`,
			"clean=0 one=1 two=2", "clean=100 one=50 two=0"},
		{"a toleration without an effect counts", `{"spec":{"tolerations":[{"key":"spot","operator":"Equal","value":"yes"}]}}`,
			"clean=0 one=0 two=1", "clean=100 one=100 two=0"},
		{"a toleration of another value does not", `{"spec":{"tolerations":[{"key":"spot","value":"no","effect":"PreferNoSchedule"}]}}`,
			"clean=0 one=1 two=2", "clean=100 one=50 two=0"},
		{"tolerating everything: all equal", `{"spec":{"tolerations":[{"operator":"Exists"}]}}`, "clean=0 one=0 two=0", "clean=100 one=100 two=100"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cycle := testutil.Cycle{Plugin: tainttoleration.Name, Nodes: nodes, Pod: c.pod}
			t.Run("raw", func(t *testing.T) { testutil.RawScore(t, cycle, c.raw) })
			t.Run("normalized", func(t *testing.T) { testutil.Score(t, cycle, c.want) })
		})
	}
}
