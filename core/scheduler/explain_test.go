package scheduler

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/types"

	"github.com/tugboat-io/tug/hostabi"
)

func TestExplanationsKeepTheMostRecent(t *testing.T) {
	e := newExplanations(2)
	for i := range 3 {
		e.record(&Explanation{Pod: fmt.Sprintf("default/p%d", i)})
	}
	if _, ok := e.get("default/p0"); ok {
		t.Error("the oldest of three is kept with room for two")
	}
	e.record(&Explanation{Pod: "default/p1", Node: "again"}) // p1 is now the most recent
	e.record(&Explanation{Pod: "default/p3"})
	if x, ok := e.get("default/p1"); !ok || x.Node != "again" {
		t.Errorf("p1 after another attempt: %+v, %v", x, ok)
	}
	if _, ok := e.get("default/p2"); ok {
		t.Error("p2 should have made room for p3")
	}
	e.forget("default/p1")
	if _, ok := e.get("default/p1"); ok || e.order.Len() != 1 {
		t.Errorf("forgotten pod kept (%d remembered)", e.order.Len())
	}
}

func TestFormatExplanation(t *testing.T) {
	pod := types.NamespacedName{Namespace: "default", Name: "web"}
	res := &Result{Node: "b", Evaluated: 3, Feasible: 2, Passed: []string{"a", "b"},
		Diagnosis: &Diagnosis{NumAllNodes: 4, Rejected: map[string]Verdict{"c": {Plugin: "NodeResourcesFit", Code: hostabi.CodeUnschedulable, Reason: "Insufficient cpu"}}},
		Scores:    map[string]map[string]int64{"ImageLocality": {"a": 0, "b": 10}, "TaintToleration": {"a": 300, "b": 300}}}
	got := FormatExplanation(explain(pod, "default-scheduler", res, nil))
	for _, want := range []string{
		"Pod default/web: last attempt ", " by profile default-scheduler\n",
		"Result: scheduled to b\n", "Nodes: 4 in the cluster, 3 evaluated, 2 feasible\n",
		"FILTERED OUT\tPLUGIN\tREASON\nc\tNodeResourcesFit\tInsufficient cpu (Unschedulable)\n",
		"FEASIBLE\tImageLocality\tTaintToleration\tTOTAL\na\t0\t300\t300\nb\t10\t300\t310\t<- chosen\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in\n%s", want, got)
		}
	}
	failed := FormatExplanation(explain(pod, "p", nil, errors.New("plugin X failed at Filter: boom")))
	if !strings.Contains(failed, "Result: not scheduled: plugin X failed at Filter: boom") {
		t.Errorf("a failed cycle:\n%s", failed)
	}
}
