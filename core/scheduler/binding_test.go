package scheduler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	pluginsv1alpha1 "github.com/tugboat-io/tug/core/api/plugins/v1alpha1"
	"github.com/tugboat-io/tug/hostabi"
	"github.com/tugboat-io/tug/internal/wasmbuild"
	tugruntime "github.com/tugboat-io/tug/runtime"
)

// stagePlugin is a fakePlugin that also runs at Reserve, Permit, PreBind and PostBind, and
// writes every such call to a journal shared by the plugins of a test ("A reserve p n1").
// Calls are serialised: the binding cycle's instance is the same fake as the cycle's.
type stagePlugin struct {
	*fakePlugin
	mu      *sync.Mutex
	journal *[]string
	reserve func(node string) hostabi.BindingVerdict
	permit  func(node string, waiting []string) hostabi.BindingVerdict
	preBind func(node string) hostabi.BindingVerdict
}

var stageNames = map[string]string{
	hostabi.ExportSchedReserve: "reserve", hostabi.ExportSchedUnreserve: "unreserve", hostabi.ExportSchedPermit: "permit",
	hostabi.ExportSchedPreBind: "prebind", hostabi.ExportSchedPostBind: "postbind",
}

func (s *stagePlugin) Call(ctx context.Context, export string, in []byte) ([]byte, hostabi.Status, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	stage, ok := stageNames[export]
	if !ok {
		return s.fakePlugin.Call(ctx, export, in)
	}
	var bi hostabi.BindingInput
	if err := json.Unmarshal(in, &bi); err != nil || bi.Node == "" {
		return []byte("bad input"), hostabi.StatusInvalidInput, nil
	}
	name := s.fakePlugin.pod.Name // Reserve and Permit: the cycle's pod
	if len(bi.Pod) > 0 {
		var p corev1.Pod
		if err := json.Unmarshal(bi.Pod, &p); err != nil {
			return []byte("bad pod"), hostabi.StatusInvalidInput, nil
		}
		name = p.Name
	}
	entry := fmt.Sprintf("%s %s %s %s", s.name, stage, name, bi.Node)
	if len(bi.Waiting) > 0 {
		entry += " waiting " + strings.Join(bi.Waiting, ",")
	}
	*s.journal = append(*s.journal, entry)
	var v hostabi.BindingVerdict
	switch {
	case stage == "reserve" && s.reserve != nil:
		v = s.reserve(bi.Node)
	case stage == "permit" && s.permit != nil:
		v = s.permit(bi.Node, bi.Waiting)
	case stage == "prebind" && s.preBind != nil:
		v = s.preBind(bi.Node)
	}
	if v.Code == hostabi.CodeSuccess && len(v.Allow) == 0 && len(v.Reject) == 0 {
		return nil, hostabi.StatusOK, nil
	}
	out, _ := json.Marshal(v)
	return out, hostabi.StatusOK, nil
}

func (s *stagePlugin) Gen() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fakePlugin.Gen()
}

func (s *stagePlugin) SetGen(g uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fakePlugin.SetGen(g)
}

// stages makes stage plugins named names that pass every node and score them alike, sharing
// one journal.
type stages struct {
	mu      sync.Mutex
	journal []string
	plugins map[string]*stagePlugin
}

func newStages(names ...string) *stages {
	st := &stages{plugins: map[string]*stagePlugin{}}
	for _, n := range names {
		fp := &fakePlugin{name: n, nodes: map[uint32]*corev1.Node{},
			filter: func(*corev1.Pod, *corev1.Node) (hostabi.Code, string) { return hostabi.CodeSuccess, "" }}
		st.plugins[n] = &stagePlugin{fakePlugin: fp, mu: &st.mu, journal: &st.journal}
	}
	return st
}

func (st *stages) plugin(name string) *Plugin {
	sp := st.plugins[name]
	m := &Module{Name: name, Acquire: func(context.Context) (Instance, func(), error) { return sp, func() {}, nil }}
	return &Plugin{Name: name, Module: m, Filter: true, Weight: 1}
}

// Journal returns the calls so far, and forgets them.
func (st *stages) Journal() []string {
	st.mu.Lock()
	defer st.mu.Unlock()
	j := st.journal
	st.journal = nil
	return j
}

// profile is a profile of the stage plugins named in each list, every one filtering.
func (st *stages) profile(all []string, reserve, permit, preBind, postBind []string) *Profile {
	byName := map[string]*Plugin{}
	prof := &Profile{SchedulerName: corev1.DefaultSchedulerName}
	for _, n := range all {
		byName[n] = st.plugin(n)
		prof.Plugins = append(prof.Plugins, byName[n])
	}
	for _, pt := range []struct {
		names []string
		to    *[]*Plugin
	}{{reserve, &prof.Reserve}, {permit, &prof.Permit}, {preBind, &prof.PreBind}, {postBind, &prof.PostBind}} {
		for _, n := range pt.names {
			*pt.to = append(*pt.to, byName[n])
		}
	}
	return prof
}

func rejecting(reason string) func(string) hostabi.BindingVerdict {
	return func(string) hostabi.BindingVerdict {
		return hostabi.BindingVerdict{Code: hostabi.CodeUnschedulable, Reason: reason}
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func equalJournal(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s:\ngot  %q\nwant %q", what, got, want)
	}
}

// testScheduler is a Scheduler over a fake API with one node, n1, whose bindings are recorded
// rather than written.
type testScheduler struct {
	*Scheduler
	client *fake.Clientset
	mu     sync.Mutex
	binds  []string
}

func newTestScheduler(t *testing.T, prof *Profile) *testScheduler {
	t.Helper()
	ts := &testScheduler{client: fake.NewSimpleClientset()}
	ts.client.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "binding" {
			return false, nil, nil
		}
		b := a.(k8stesting.CreateAction).GetObject().(*corev1.Binding)
		ts.mu.Lock()
		ts.binds = append(ts.binds, b.Name+" "+b.Target.Name)
		ts.mu.Unlock()
		return true, b, nil
	})
	ts.Scheduler = New(Config{Client: ts.client, Profiles: []*Profile{prof}, Logger: slog.New(slog.DiscardHandler)})
	ts.fw.Log = slog.New(slog.DiscardHandler)
	must(t, ts.cache.SetNode(node("n1")))
	return ts
}

// schedule queues p and runs one scheduling cycle for it; its binding cycle goes on in the
// background.
func (ts *testScheduler) schedule(t *testing.T, p *corev1.Pod) {
	t.Helper()
	ts.queue.Add(p)
	qp, err := ts.queue.Pop(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if qp.Pod.Name != p.Name {
		t.Fatalf("popped %s, want %s", qp.Pod.Name, p.Name)
	}
	ts.scheduleOne(context.Background(), qp)
}

func (ts *testScheduler) bound() []string {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return append([]string(nil), ts.binds...)
}

// failedScheduling returns the messages of the FailedScheduling events of pod name.
func (ts *testScheduler) failedScheduling(t *testing.T, name string) []string {
	t.Helper()
	evs, err := ts.client.CoreV1().Events("default").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var msgs []string
	for _, e := range evs.Items {
		if e.InvolvedObject.Name == name && e.Reason == "FailedScheduling" {
			msgs = append(msgs, e.Message)
		}
	}
	return msgs
}

// A Reserve that rejects the pod makes every Reserve plugin unreserve it, in reverse order —
// the one that rejected, and the one after it that never reserved, too, as kube-scheduler
// does — and the pod goes back to the queue as unschedulable, unassumed, with a
// FailedScheduling event naming the plugin. Plugins not at Reserve are not called.
func TestReserveRejectionUnreservesInReverseAndRequeues(t *testing.T) {
	st := newStages("A", "B", "C", "Other")
	st.plugins["B"].reserve = rejecting("no GPU left")
	ts := newTestScheduler(t, st.profile([]string{"A", "B", "C", "Other"}, []string{"A", "B", "C"}, nil, nil, nil))
	p := pod("web", 0)
	ts.schedule(t, p)
	equalJournal(t, "calls", st.Journal(),
		"A reserve web n1", "B reserve web n1", "C unreserve web n1", "B unreserve web n1", "A unreserve web n1")
	if _, _, unsched := ts.queue.Len(); unsched != 1 {
		t.Errorf("the pod is not waiting as unschedulable: queue %v", fmt.Sprint(ts.queue.Len()))
	}
	if ts.cache.IsAssumed(p) {
		t.Error("the pod stayed assumed")
	}
	want := "Reserve plugin B rejected the pod on node n1: no GPU left"
	if got := ts.failedScheduling(t, "web"); len(got) != 1 || got[0] != want {
		t.Errorf("FailedScheduling %q, want %q", got, want)
	}
	if len(ts.bound()) != 0 {
		t.Errorf("bound %v", ts.bound())
	}
}

// A Reserve plugin failing (ERROR) is a PluginError, unreserved and backed off.
func TestReserveFailure(t *testing.T) {
	st := newStages("A", "B")
	st.plugins["B"].reserve = func(string) hostabi.BindingVerdict {
		return hostabi.BindingVerdict{Code: hostabi.CodeError, Reason: "quota service down"}
	}
	prof := st.profile([]string{"A", "B"}, []string{"A", "B"}, nil, nil, nil)
	fw := NewFramework(NewCache(nil), 1)
	must(t, fw.cache.SetNode(node("n1")))
	res, cyc, err := fw.Begin(context.Background(), prof, podJSON(t, pod("web", 0)))
	if err != nil || res.Node != "n1" {
		t.Fatalf("cycle: %+v, %v", res, err)
	}
	err = cyc.Reserve(context.Background(), "n1")
	cyc.Release()
	var pe *PluginError
	if !errors.As(err, &pe) || pe.Plugin != "B" || pe.Point != "Reserve" || !strings.Contains(err.Error(), "quota service down") {
		t.Fatalf("error %v, want B failing at Reserve", err)
	}
	equalJournal(t, "calls", st.Journal(), "A reserve web n1", "B reserve web n1", "B unreserve web n1", "A unreserve web n1")
}

// A Permit that denies the pod stops Permit there, unreserves, and requeues the pod as
// unschedulable.
func TestPermitDeny(t *testing.T) {
	st := newStages("R", "Deny", "Later")
	st.plugins["Deny"].permit = func(string, []string) hostabi.BindingVerdict {
		return hostabi.BindingVerdict{Code: hostabi.CodeUnschedulableAndUnresolvable, Reason: "quota exceeded"}
	}
	ts := newTestScheduler(t, st.profile([]string{"R", "Deny", "Later"}, []string{"R"}, []string{"Deny", "Later"}, nil, nil))
	p := pod("web", 0)
	ts.schedule(t, p)
	equalJournal(t, "calls", st.Journal(), "R reserve web n1", "Deny permit web n1", "R unreserve web n1")
	if _, _, unsched := ts.queue.Len(); unsched != 1 || ts.cache.IsAssumed(p) {
		t.Errorf("queue %v, assumed %v; want the pod unschedulable, not assumed", fmt.Sprint(ts.queue.Len()), ts.cache.IsAssumed(p))
	}
	if got := ts.failedScheduling(t, "web"); len(got) != 1 || got[0] != "Permit plugin Deny rejected the pod on node n1: quota exceeded" {
		t.Errorf("FailedScheduling %q", got)
	}
}

// gang is a Permit that holds pods until want of them wait, then allows them all.
func gang(want int) func(string, []string) hostabi.BindingVerdict {
	return func(_ string, waiting []string) hostabi.BindingVerdict {
		if len(waiting)+1 < want {
			return hostabi.BindingVerdict{Code: hostabi.CodeWait, TimeoutMillis: 30_000}
		}
		return hostabi.BindingVerdict{Allow: waiting}
	}
}

// A pod a Permit holds does not hold up others: its binding cycle waits in the background
// while the next pod is scheduled, and when that pod's Permit allows it (a gang of two
// complete), both are bound, each with one PostBind.
func TestPermitWaitThenAllow(t *testing.T) {
	st := newStages("Gang")
	st.plugins["Gang"].permit = gang(2)
	ts := newTestScheduler(t, st.profile([]string{"Gang"}, nil, []string{"Gang"}, nil, []string{"Gang"}))
	ts.schedule(t, pod("a", 0))
	if got := ts.fw.Waiting(); len(got) != 1 || got[0] != "default/a" {
		t.Fatalf("waiting %v, want default/a", got)
	}
	if !ts.cache.IsAssumed(pod("a", 0)) {
		t.Fatal("a waiting pod keeps its room: it stays assumed")
	}
	ts.schedule(t, pod("b", 0))
	waitFor(t, "both bindings", func() bool { return len(ts.bound()) == 2 })
	waitFor(t, "the PostBinds", func() bool {
		st.mu.Lock()
		defer st.mu.Unlock()
		return len(st.journal) == 4
	})
	j := st.Journal()
	if j[0] != "Gang permit a n1" || j[1] != "Gang permit b n1 waiting default/a" {
		t.Errorf("permits %q", j[:2])
	}
	posts := map[string]int{}
	for _, e := range j[2:] {
		posts[e]++
	}
	if posts["Gang postbind a n1"] != 1 || posts["Gang postbind b n1"] != 1 {
		t.Errorf("post-binds %q, want one for each pod", j[2:])
	}
	if len(ts.fw.Waiting()) != 0 {
		t.Errorf("still waiting: %v", ts.fw.Waiting())
	}
}

// timerClock runs timeouts when the test says.
type timerClock struct {
	mu     sync.Mutex
	timers []pendingTimer
}

type pendingTimer struct {
	d       time.Duration
	fn      func()
	stopped *bool
}

func (c *timerClock) after(d time.Duration, fn func()) func() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	stopped := new(bool)
	c.timers = append(c.timers, pendingTimer{d, fn, stopped})
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		was := !*stopped
		*stopped = true
		return was
	}
}

// fire runs the timers not stopped.
func (c *timerClock) fire() (durations []time.Duration) {
	c.mu.Lock()
	var due []pendingTimer
	for _, tm := range c.timers {
		if !*tm.stopped {
			*tm.stopped = true
			due = append(due, tm)
		}
	}
	c.mu.Unlock()
	for _, tm := range due {
		durations = append(durations, tm.d)
		tm.fn()
	}
	return durations
}

// A pod held past its Permit's timeout is rejected in its binding cycle: unreserved, not
// bound, unschedulable again, with kube-scheduler's message.
func TestPermitWaitThenTimeout(t *testing.T) {
	st := newStages("Gang")
	st.plugins["Gang"].permit = gang(3)
	ts := newTestScheduler(t, st.profile([]string{"Gang"}, []string{"Gang"}, []string{"Gang"}, nil, nil))
	clock := &timerClock{}
	ts.fw.after = clock.after
	p := pod("a", 0)
	ts.schedule(t, p)
	equalJournal(t, "scheduling cycle", st.Journal(), "Gang reserve a n1", "Gang permit a n1")
	if d := clock.fire(); len(d) != 1 || d[0] != 30*time.Second {
		t.Fatalf("timeouts %v, want one of 30s", d)
	}
	waitFor(t, "the pod to be requeued", func() bool { _, _, u := ts.queue.Len(); return u == 1 })
	equalJournal(t, "binding cycle", st.Journal(), "Gang unreserve a n1")
	want := "Permit plugin Gang rejected the pod on node n1: rejected due to timeout after waiting 30s at plugin Gang"
	if got := ts.failedScheduling(t, "a"); len(got) != 1 || got[0] != want {
		t.Errorf("FailedScheduling %q, want %q", got, want)
	}
	if len(ts.bound()) != 0 || ts.cache.IsAssumed(p) {
		t.Errorf("bound %v, assumed %v", ts.bound(), ts.cache.IsAssumed(p))
	}
}

// The host may reject a waiting pod (one deleted while it waits, say), and allow one at a
// plugin; a pod waiting at two plugins goes on only once both allow it.
func TestWaitingPodsAllowAndReject(t *testing.T) {
	st := newStages("G1", "G2")
	for _, n := range []string{"G1", "G2"} {
		st.plugins[n].permit = gang(99)
	}
	prof := st.profile([]string{"G1", "G2"}, nil, []string{"G1", "G2"}, nil, nil)
	fw := NewFramework(NewCache(nil), 1)
	fw.after = (&timerClock{}).after
	must(t, fw.cache.SetNode(node("n1")))
	permit := func(name string) {
		t.Helper()
		_, cyc, err := fw.Begin(context.Background(), prof, podJSON(t, pod(name, 0)))
		if err == nil {
			err = cyc.Permit(context.Background(), "default/"+name, "n1")
		}
		cyc.Release()
		if err != nil {
			t.Fatal(err)
		}
	}
	permit("a")
	permit("b")
	done := make(chan error, 2)
	go func() { done <- fw.WaitOnPermit(context.Background(), "default/a") }()
	go func() { done <- fw.WaitOnPermit(context.Background(), "default/b") }()
	if !fw.Allow("default/a", "G1") {
		t.Fatal("a was not waiting")
	}
	select {
	case err := <-done:
		t.Fatalf("a pod went on with one of its two plugins allowing it: %v", err)
	case <-time.After(20 * time.Millisecond):
	}
	fw.Allow("default/a", "G2")
	if err := <-done; err != nil {
		t.Fatalf("a, allowed by both: %v", err)
	}
	fw.Reject("default/b", "", "the pod was deleted")
	var rej *Rejected
	if err := <-done; !errors.As(err, &rej) || rej.Reason != "the pod was deleted" {
		t.Fatalf("b, rejected: %v", err)
	}
	if fw.Allow("default/b", "G1") || len(fw.Waiting()) != 0 {
		t.Errorf("waiting after both settled: %v", fw.Waiting())
	}
}

// A PreBind that rejects the pod stops the binding cycle before the binding: Unreserve runs
// and the pod backs off (a failure after Permit is not unschedulable).
func TestPreBindFailureUnreservesWithoutBinding(t *testing.T) {
	st := newStages("Vol")
	st.plugins["Vol"].preBind = rejecting("volume not ready")
	ts := newTestScheduler(t, st.profile([]string{"Vol"}, []string{"Vol"}, nil, []string{"Vol"}, []string{"Vol"}))
	p := pod("db", 0)
	ts.schedule(t, p)
	waitFor(t, "the pod to back off", func() bool { _, b, _ := ts.queue.Len(); return b == 1 })
	equalJournal(t, "calls", st.Journal(), "Vol reserve db n1", "Vol prebind db n1", "Vol unreserve db n1")
	if len(ts.bound()) != 0 || ts.cache.IsAssumed(p) {
		t.Errorf("bound %v, assumed %v", ts.bound(), ts.cache.IsAssumed(p))
	}
	if got := ts.failedScheduling(t, "db"); len(got) != 1 || got[0] != "PreBind plugin Vol rejected the pod on node n1: volume not ready" {
		t.Errorf("FailedScheduling %q", got)
	}
}

// A pod that binds has each stage once, in kube-scheduler's order, PostBind last.
func TestBindingStagesInOrder(t *testing.T) {
	st := newStages("All")
	ts := newTestScheduler(t, st.profile([]string{"All"}, []string{"All"}, []string{"All"}, []string{"All"}, []string{"All"}))
	ts.schedule(t, pod("web", 0))
	waitFor(t, "the PostBind", func() bool {
		st.mu.Lock()
		defer st.mu.Unlock()
		return len(st.journal) == 4
	})
	equalJournal(t, "calls", st.Journal(), "All reserve web n1", "All permit web n1", "All prebind web n1", "All postbind web n1")
	if got := ts.bound(); len(got) != 1 || got[0] != "web n1" {
		t.Errorf("bound %v", got)
	}
}

// logLines is a slog handler keeping the messages it is given.
type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *logLines) Enabled(context.Context, slog.Level) bool { return true }
func (l *logLines) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, r.Message)
	return nil
}
func (l *logLines) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logLines) WithGroup(string) slog.Handler      { return l }

func (l *logLines) count(msg string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, m := range l.lines {
		if m == msg {
			n++
		}
	}
	return n
}

// slots is a Slots of loaded WasmPlugins.
type slots map[string]*tugruntime.Slot

func (s slots) Slot(name string) (*tugruntime.Slot, bool) { sl, ok := s[name]; return sl, ok }

// TestBindingStagesInWasm runs Reserve, Permit, PreBind and PostBind through real wasm: the
// gate test guest (plugins/internal/testguests/gate), a WasmPlugin a profile names at every
// point, beside the nodelabel example, which exports none of them and is never called there
// (it could not answer: the runtime would fail the call). A gang of two waits at Permit
// until its second member comes; a pod Reserve rejects is unreserved and requeued; a pod
// PreBind rejects is unreserved and not bound; PostBind runs once per bound pod.
func TestBindingStagesInWasm(t *testing.T) {
	ctx := context.Background()
	logs := &logLines{}
	rt, err := tugruntime.New(ctx, tugruntime.Config{Logger: slog.New(logs)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rt.Close(ctx) })
	gate := rt.NewSlot("gate")
	wasm := wasmbuild.Build(t, filepath.Join("..", "..", "plugins"), "./internal/testguests/gate")
	if err := gate.Swap(ctx, wasm, tugruntime.PluginOptions{PoolSize: 2, Deadline: time.Minute}); err != nil {
		t.Fatal(err)
	}
	_, label := nodeLabelSlot(t, "a")
	lookup := func(name string) (*CustomPlugin, bool) {
		return (&ProfileBuilder{slots: slots{"gate": gate, "NodeLabel": label}}).lookup(name)
	}
	set := func(names ...string) pluginsv1alpha1.PluginSet {
		var ps pluginsv1alpha1.PluginSet
		for _, n := range names {
			ps.Enabled = append(ps.Enabled, pluginsv1alpha1.Plugin{Name: n})
		}
		return ps
	}
	spec := &pluginsv1alpha1.SchedulerProfileSpec{SchedulerName: corev1.DefaultSchedulerName, Plugins: &pluginsv1alpha1.Plugins{
		Filter: set("NodeLabel", "gate"), Reserve: set("gate"), Permit: set("gate"), PreBind: set("gate"), PostBind: set("gate")}}
	prof, err := BuildProfile(spec, &Module{}, nil, lookup)
	if err != nil {
		t.Fatal(err)
	}
	bad := spec.DeepCopy()
	bad.Plugins.Reserve = set("NodeLabel")
	if _, err := BuildProfile(bad, &Module{}, nil, lookup); err == nil || !strings.Contains(err.Error(), "NodeLabel is enabled at reserve, which it does not implement") {
		t.Errorf("NodeLabel at reserve: %v", err)
	}

	ts := newTestScheduler(t, prof)
	must(t, ts.cache.SetNode(labelled("n1", map[string]string{"zone": "a"})))
	annotated := func(name string, kv ...string) *corev1.Pod {
		p := pod(name, 0)
		p.Annotations = map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			p.Annotations["gate.tug.dev/"+kv[i]] = kv[i+1]
		}
		return p
	}
	g0, g1 := annotated("g-0", "permit", "2"), annotated("g-1", "permit", "2")
	for _, p := range []*corev1.Pod{g0, g1} {
		p.Labels = map[string]string{"gate.tug.dev/gang": "g"}
	}
	ts.schedule(t, g0)
	if got := ts.fw.Waiting(); len(got) != 1 || got[0] != "default/g-0" {
		t.Fatalf("waiting %v, want default/g-0", got)
	}
	ts.schedule(t, annotated("picky", "reserve", "reject"))
	if got := ts.failedScheduling(t, "picky"); len(got) != 1 || got[0] != "Reserve plugin gate rejected the pod on node n1: reserve refused on n1" {
		t.Errorf("picky: FailedScheduling %q", got)
	}
	ts.schedule(t, g1)
	waitFor(t, "the gang to be bound", func() bool { return len(ts.bound()) == 2 })
	ts.schedule(t, annotated("db", "prebind", "reject"))
	waitFor(t, "db's binding cycle to fail", func() bool { return len(ts.failedScheduling(t, "db")) > 0 })
	if got := ts.failedScheduling(t, "db"); len(got) != 1 || got[0] != "PreBind plugin gate rejected the pod on node n1: volume not ready on n1" {
		t.Errorf("db: FailedScheduling %q", got)
	}
	waitFor(t, "the post-binds", func() bool {
		return logs.count("postbind default/g-1 n1") == 1 && logs.count("postbind default/g-0 n1") == 1
	})
	for msg, want := range map[string]int{"unreserve default/picky n1": 1, "unreserve default/db n1": 1,
		"postbind default/db n1": 0, "postbind default/picky n1": 0, "postbind default/g-0 n1": 1} {
		if n := logs.count(msg); n != want {
			t.Errorf("%q logged %d times, want %d", msg, n, want)
		}
	}
	if got := ts.bound(); fmt.Sprint(got) != "[g-0 n1 g-1 n1]" && fmt.Sprint(got) != "[g-1 n1 g-0 n1]" {
		t.Errorf("bound %v", got)
	}
}
