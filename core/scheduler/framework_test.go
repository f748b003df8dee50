package scheduler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/tugboat-io/tug/hostabi"
)

// fakePlugin speaks the ABI's scheduling frames natively, with its policy in Go funcs.
type fakePlugin struct {
	name      string
	gen       uint64
	nodes     map[uint32]*corev1.Node
	pod       *corev1.Pod
	prefilter func(p *corev1.Pod) (hostabi.Code, string)
	filter    func(p *corev1.Pod, n *corev1.Node) (hostabi.Code, string)
	score     func(p *corev1.Pod, n *corev1.Node) int64
	skip      func(p *corev1.Pod) (filter, score bool)
	normalize bool   // exports tug_sched_normalize
	failAt    string // an export that answers ERROR
	setCalls  int    // tug_sched_nodes calls
	setNodes  int    // node entries received
	filtered  int    // node ids filtered
	scored    int    // node ids scored
}

func (f *fakePlugin) Hosted() []hostabi.HostedPlugin { return nil }

func (f *fakePlugin) Has(export string) bool {
	return export != hostabi.ExportSchedNormalize || f.normalize
}
func (f *fakePlugin) Gen() uint64     { return f.gen }
func (f *fakePlugin) SetGen(g uint64) { f.gen = g }

func (f *fakePlugin) Call(_ context.Context, export string, in []byte) ([]byte, hostabi.Status, error) {
	if export == f.failAt {
		return []byte("boom"), hostabi.StatusError, nil
	}
	switch export {
	case hostabi.ExportSchedNodes:
		var ch hostabi.NodeChanges
		if err := json.Unmarshal(in, &ch); err != nil {
			return nil, hostabi.StatusInvalidInput, nil
		}
		f.setCalls++
		for _, id := range ch.Remove {
			delete(f.nodes, id)
		}
		for _, e := range ch.Set {
			n := &corev1.Node{}
			if err := json.Unmarshal(e.Node, n); err != nil {
				return nil, hostabi.StatusInvalidInput, nil
			}
			f.nodes[e.ID] = n
			f.setNodes++
		}
	case hostabi.ExportSchedPreFilter:
		f.pod = &corev1.Pod{}
		if err := json.Unmarshal(in, f.pod); err != nil {
			return nil, hostabi.StatusInvalidInput, nil
		}
		if f.prefilter != nil {
			if code, reason := f.prefilter(f.pod); code != hostabi.CodeSuccess {
				out, _ := json.Marshal(hostabi.PreFilterVerdict{Code: code, Reason: reason})
				return out, hostabi.StatusOK, nil
			}
		}
		if f.skip != nil {
			if filter, score := f.skip(f.pod); filter || score {
				out, _ := json.Marshal(hostabi.PreFilterVerdict{Skip: []hostabi.Skip{{Filter: filter, Score: score}}})
				return out, hostabi.StatusOK, nil
			}
		}
	case hostabi.ExportSchedFilter:
		ids, err := hostabi.DecodeNodeIDs(in)
		if err != nil {
			return nil, hostabi.StatusInvalidInput, nil
		}
		var rejs []hostabi.Rejection
		for _, id := range ids {
			n := f.nodes[id]
			if n == nil {
				return []byte(fmt.Sprintf("unknown node id %d", id)), hostabi.StatusInvalidInput, nil
			}
			f.filtered++
			if code, reason := f.filter(f.pod, n); code != hostabi.CodeSuccess {
				rejs = append(rejs, hostabi.Rejection{NodeID: id, Code: code, Reason: reason})
			}
		}
		return hostabi.AppendFilterOutput(nil, rejs), hostabi.StatusOK, nil
	case hostabi.ExportSchedScore:
		ids, err := hostabi.DecodeNodeIDs(in)
		if err != nil {
			return nil, hostabi.StatusInvalidInput, nil
		}
		scores := make([]int64, len(ids))
		for i, id := range ids {
			scores[i] = f.score(f.pod, f.nodes[id])
			f.scored++
		}
		return hostabi.AppendScores(nil, scores), hostabi.StatusOK, nil
	case hostabi.ExportSchedNormalize:
		in, err := hostabi.DecodeNormalizeInput(in)
		if err != nil {
			return nil, hostabi.StatusInvalidInput, nil
		}
		var top int64 = 1
		for _, s := range in {
			top = max(top, s.Score)
		}
		out := make([]int64, len(in))
		for i, s := range in {
			out[i] = s.Score * 100 / top
		}
		return hostabi.AppendScores(nil, out), hostabi.StatusOK, nil
	}
	return nil, hostabi.StatusOK, nil
}

func (f *fakePlugin) plugin() *Plugin {
	if f.nodes == nil {
		f.nodes = map[uint32]*corev1.Node{}
	}
	m := &Module{Name: f.name, Acquire: func(context.Context) (Instance, func(), error) { return f, func() {}, nil }}
	return &Plugin{Name: f.name, Module: m, Filter: f.filter != nil, Score: f.score != nil, Weight: 1}
}

func labelled(name string, labels map[string]string) *corev1.Node {
	n := node(name)
	n.Labels = labels
	return n
}

func podJSON(t testing.TB, p *corev1.Pod) []byte {
	t.Helper()
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// rejectLabel rejects nodes carrying label key with reason.
func rejectLabel(key, reason string, code hostabi.Code) func(*corev1.Pod, *corev1.Node) (hostabi.Code, string) {
	return func(_ *corev1.Pod, n *corev1.Node) (hostabi.Code, string) {
		if _, ok := n.Labels[key]; ok {
			return code, reason
		}
		return hostabi.CodeSuccess, ""
	}
}

func TestFrameworkFiltersScoresAndPicks(t *testing.T) {
	c := NewCache(nil)
	must(t, c.SetNode(labelled("tainted", map[string]string{"taint": ""})))
	must(t, c.SetNode(labelled("full", map[string]string{"full": ""})))
	must(t, c.SetNode(labelled("slow", nil)))
	must(t, c.SetNode(labelled("fast", map[string]string{"fast": ""})))
	taints := &fakePlugin{name: "TaintToleration", filter: rejectLabel("taint", "node(s) had untolerated taint {gpu: true}", hostabi.CodeUnschedulableAndUnresolvable)}
	fit := &fakePlugin{name: "NodeResourcesFit", filter: rejectLabel("full", "Insufficient cpu", hostabi.CodeUnschedulable)}
	speed := &fakePlugin{name: "Speed", score: func(_ *corev1.Pod, n *corev1.Node) int64 {
		if _, ok := n.Labels["fast"]; ok {
			return 90
		}
		return 10
	}}
	prof := &Profile{Plugins: []*Plugin{taints.plugin(), fit.plugin(), speed.plugin()}}
	fw := NewFramework(c, 1)
	res, err := fw.Schedule(context.Background(), prof, podJSON(t, pod("web", 0)))
	if err != nil {
		t.Fatal(err)
	}
	if res.Node != "fast" || res.Feasible != 2 || res.Evaluated != 4 {
		t.Fatalf("result %+v, want fast of 2 feasible, 4 evaluated", res)
	}
	if got := res.Scores["Speed"]; got["fast"] != 90 || got["slow"] != 10 {
		t.Errorf("scores %v", res.Scores)
	}
	if v := res.Diagnosis.Rejected["tainted"]; v.Plugin != "TaintToleration" {
		t.Errorf("tainted rejected by %+v", v)
	}
	// Filters see only what earlier filters passed: fit never saw the tainted node.
	if fit.filtered != 3 {
		t.Errorf("the second filter saw %d nodes, want 3", fit.filtered)
	}

	// Now nothing fits.
	must(t, c.SetNode(labelled("slow", map[string]string{"full": ""})))
	must(t, c.SetNode(labelled("fast", map[string]string{"taint": ""})))
	res, err = fw.Schedule(context.Background(), prof, podJSON(t, pod("web", 0)))
	if err != nil {
		t.Fatal(err)
	}
	want := "0/4 nodes are available: 2 Insufficient cpu, 2 node(s) had untolerated taint {gpu: true}."
	if res.Node != "" || res.Diagnosis.Message() != want {
		t.Fatalf("got node %q, message %q; want none and %q", res.Node, res.Diagnosis.Message(), want)
	}
	if res.Diagnosis.Unresolvable() {
		t.Error("two nodes lack cpu, which preemption may free: not unresolvable")
	}
}

func TestFrameworkPreFilterEndsTheCycle(t *testing.T) {
	c := NewCache(nil)
	for i := range 3 {
		must(t, c.SetNode(node(fmt.Sprint("n", i))))
	}
	gpu := &fakePlugin{name: "GPU", prefilter: func(*corev1.Pod) (hostabi.Code, string) {
		return hostabi.CodeUnschedulableAndUnresolvable, "the cluster has no GPU"
	}, filter: rejectLabel("never", "", hostabi.CodeUnschedulable)}
	res, err := NewFramework(c, 1).Schedule(context.Background(), &Profile{Plugins: []*Plugin{gpu.plugin()}}, podJSON(t, pod("p", 0)))
	if err != nil {
		t.Fatal(err)
	}
	if want := "0/3 nodes are available: 3 the cluster has no GPU."; res.Node != "" || res.Diagnosis.Message() != want || !res.Diagnosis.Unresolvable() {
		t.Fatalf("node %q, message %q (unresolvable %v); want %q", res.Node, res.Diagnosis.Message(), res.Diagnosis.Unresolvable(), want)
	}
	if gpu.filtered != 0 {
		t.Error("filter ran after the pre-filter ended the cycle")
	}
	if msg := (&Diagnosis{}).Message(); msg != "no nodes available to schedule pods" {
		t.Errorf("no nodes: %q", msg)
	}
}

func TestFrameworkWeightsAndNormalize(t *testing.T) {
	c := NewCache(nil)
	must(t, c.SetNode(labelled("a", map[string]string{"v": "1"})))
	must(t, c.SetNode(labelled("b", map[string]string{"v": "4"})))
	raw := func(_ *corev1.Pod, n *corev1.Node) int64 {
		return int64(len(n.Labels["v"])) * map[string]int64{"1": 1, "4": 4}[n.Labels["v"]]
	}
	// Normalized: a 25, b 100; weight 2 → a 50, b 200.
	norm := &fakePlugin{name: "Norm", score: raw, normalize: true}
	np := norm.plugin()
	np.Weight = 2
	// Prefers a by 100 to 0, weight 1: a 150, b 200 → b.
	pref := &fakePlugin{name: "PreferA", score: func(_ *corev1.Pod, n *corev1.Node) int64 {
		if n.Name == "a" {
			return 100
		}
		return 0
	}}
	res, err := NewFramework(c, 1).Schedule(context.Background(), &Profile{Plugins: []*Plugin{np, pref.plugin()}}, podJSON(t, pod("p", 0)))
	if err != nil {
		t.Fatal(err)
	}
	if res.Node != "b" || res.Scores["Norm"]["a"] != 50 || res.Scores["Norm"]["b"] != 200 {
		t.Fatalf("node %s, scores %v; want b with Norm a=50 b=200", res.Node, res.Scores)
	}
}

func TestFrameworkFailurePolicy(t *testing.T) {
	c := NewCache(nil)
	must(t, c.SetNode(node("n1")))
	must(t, c.SetNode(node("n2")))
	broken := &fakePlugin{name: "Broken", failAt: hostabi.ExportSchedFilter, filter: rejectLabel("x", "", hostabi.CodeUnschedulable)}
	prof := &Profile{Plugins: []*Plugin{broken.plugin()}}
	_, err := NewFramework(c, 1).Schedule(context.Background(), prof, podJSON(t, pod("p", 0)))
	var pe *PluginError
	if !errors.As(err, &pe) || pe.Plugin != "Broken" || pe.Point != "Filter" {
		t.Fatalf("a failing plugin under Fail: %v", err)
	}
	prof.Plugins[0].Module.Ignore = true
	res, err := NewFramework(c, 1).Schedule(context.Background(), prof, podJSON(t, pod("p", 0)))
	if err != nil || res.Node == "" {
		t.Fatalf("a failing plugin under Ignore: %+v, %v; want it skipped and a node chosen", res, err)
	}
}

// A plugin instance gets every node once, then only what changed.
func TestFrameworkSendsOnlyChanges(t *testing.T) {
	c := NewCache(nil)
	for i := range 50 {
		must(t, c.SetNode(node(fmt.Sprint("n", i))))
	}
	p := &fakePlugin{name: "P", filter: rejectLabel("x", "", hostabi.CodeUnschedulable)}
	prof := &Profile{Plugins: []*Plugin{p.plugin()}}
	fw := NewFramework(c, 1)
	for range 3 {
		if _, err := fw.Schedule(context.Background(), prof, podJSON(t, pod("p", 0))); err != nil {
			t.Fatal(err)
		}
	}
	if p.setCalls != 1 || p.setNodes != 50 {
		t.Fatalf("after three cycles: %d tug_sched_nodes calls with %d nodes; want 1 with 50", p.setCalls, p.setNodes)
	}
	must(t, c.AddPod(boundPod("x", "n7")))
	if _, err := fw.Schedule(context.Background(), prof, podJSON(t, pod("p", 0))); err != nil {
		t.Fatal(err)
	}
	if p.setCalls != 2 || p.setNodes != 51 {
		t.Fatalf("after a pod landed on one node: %d calls, %d nodes; want 2, 51", p.setCalls, p.setNodes)
	}
}

// In a large cluster the chain stops once enough feasible nodes are found, and the next
// cycle starts where this one stopped.
func TestFrameworkPercentageOfNodesToScore(t *testing.T) {
	for _, c := range []struct {
		all  int
		pct  int32
		want int
	}{
		{50, 0, 50}, {100, 10, 100}, {1000, 10, 100}, {1000, 0, 420}, {5000, 0, 500}, {10000, 0, 500}, {5000, 100, 5000}, {300, 20, 100},
	} {
		if got := numFeasibleNodesToFind(c.all, c.pct); got != c.want {
			t.Errorf("numFeasibleNodesToFind(%d, %d) = %d, want %d", c.all, c.pct, got, c.want)
		}
	}
	cache := NewCache(nil)
	for i := range 1000 {
		must(t, cache.SetNode(node(fmt.Sprintf("n%04d", i))))
	}
	p := &fakePlugin{name: "P", filter: rejectLabel("x", "", hostabi.CodeUnschedulable)}
	prof := &Profile{Plugins: []*Plugin{p.plugin()}, PercentageOfNodesToScore: 10}
	fw := NewFramework(cache, 1)
	first, err := fw.Schedule(context.Background(), prof, podJSON(t, pod("p", 0)))
	if err != nil {
		t.Fatal(err)
	}
	if first.Evaluated != 100 || first.Feasible != 100 {
		t.Fatalf("evaluated %d, feasible %d; want 100 and 100", first.Evaluated, first.Feasible)
	}
	if fw.start != 100 {
		t.Fatalf("the next cycle starts at %d, want 100", fw.start)
	}
	if !strings.HasPrefix(first.Node, "n00") {
		t.Fatalf("chose %s, outside the first 100 nodes", first.Node)
	}
}

func TestFrameworkSkips(t *testing.T) {
	c := NewCache(nil)
	must(t, c.SetNode(labelled("full", map[string]string{"full": ""})))
	must(t, c.SetNode(labelled("slow", nil)))
	must(t, c.SetNode(labelled("fast", map[string]string{"fast": ""})))
	skipFor := func(p *corev1.Pod) (bool, bool) { return p.Labels["skip"] == "yes", p.Labels["skip"] == "yes" }
	fit := &fakePlugin{name: "NodeResourcesFit", filter: rejectLabel("full", "Insufficient cpu", hostabi.CodeUnschedulable), skip: skipFor}
	speed := &fakePlugin{name: "Speed", skip: skipFor, score: func(_ *corev1.Pod, n *corev1.Node) int64 {
		if _, ok := n.Labels["fast"]; ok {
			return 90
		}
		return 10
	}}
	prof := &Profile{Plugins: []*Plugin{fit.plugin(), speed.plugin()}}
	fw := NewFramework(c, 1)
	p := pod("web", 0)
	p.Labels = map[string]string{"skip": "yes"}
	res, err := fw.Schedule(context.Background(), prof, podJSON(t, p))
	if err != nil {
		t.Fatal(err)
	}
	if fit.filtered != 0 || speed.scored != 0 || res.Feasible != 3 || res.Scores["Speed"] != nil {
		t.Fatalf("skipped plugins: filtered %d, scored %d nodes; %d feasible, scores %v; want none called, 3 feasible",
			fit.filtered, speed.scored, res.Feasible, res.Scores)
	}
	res, err = fw.Schedule(context.Background(), prof, podJSON(t, pod("web", 0)))
	if err != nil {
		t.Fatal(err)
	}
	if fit.filtered != 3 || speed.scored != 2 || res.Node != "fast" {
		t.Fatalf("nothing skipped: filtered %d, scored %d nodes, chose %q; want 3, 2, fast", fit.filtered, speed.scored, res.Node)
	}
}
