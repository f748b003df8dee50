package tug

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"runtime/debug"
	"strings"

	"github.com/tugboat-io/tug/hostabi"
	"github.com/tugboat-io/tug/sdk/go/internal/dispatch"
)

// The operations, from input bytes to status and result bytes. The wasm exports and the
// native fake host (sdktest) both reach them through internal/dispatch.

func init() {
	for export, h := range map[string]func([]byte) (hostabi.Status, []byte){
		hostabi.ExportConfigure:      configure,
		hostabi.ExportSchedNodes:     schedNodes,
		hostabi.ExportSchedPreFilter: schedPreFilter,
		hostabi.ExportSchedFilter:    schedFilter,
		hostabi.ExportSchedScore:     schedScore,
		hostabi.ExportSchedNormalize: schedNormalize,
		hostabi.ExportAdmit:          admit,
		hostabi.ExportReconcile:      reconcile,
		// Hosted plugins (ABI.md §4.7), hosted.go.
		hostabi.ExportSchedPlugins:      schedPlugins,
		hostabi.ExportSchedFilterAt:     schedFilterAt,
		hostabi.ExportSchedScoreAt:      schedScoreAt,
		hostabi.ExportSchedNormalizeAt:  schedNormalizeAt,
		hostabi.ExportSchedPostFilterAt: schedPostFilterAt,
	} {
		dispatch.Handle(export, guard(export, h))
	}
	for export, h := range bindingOps() { // after the choice of a node (ABI.md §4.10)
		dispatch.Handle(export, guard(export, h))
	}
}

// guard turns a panic in plugin code into an ERROR result naming the operation; the stack
// goes to the host's log.
func guard(export string, h func([]byte) (hostabi.Status, []byte)) dispatch.Handler {
	return func(in []byte) (st hostabi.Status, out []byte) {
		defer func() {
			if r := recover(); r != nil {
				msg := fmt.Sprintf("plugin panicked in %s: %v", export, r)
				Log(LevelError, msg+"\n"+string(debug.Stack()))
				st, out = hostabi.StatusError, []byte(msg)
			}
		}()
		return h(in)
	}
}

func fail(st hostabi.Status, format string, args ...any) (hostabi.Status, []byte) {
	return st, fmt.Appendf(nil, format, args...)
}

func ok(out []byte) (hostabi.Status, []byte) { return hostabi.StatusOK, out }

// kinds pairs each kind with whether the plugin registered it and the package that exports
// its operations.
func kinds() []struct {
	kind       hostabi.Kind
	registered bool
	register   string
} {
	return []struct {
		kind       hostabi.Kind
		registered bool
		register   string
	}{
		{hostabi.KindSchedulerFilter, reg.filter != nil, "RegisterFilter"},
		{hostabi.KindSchedulerScore, reg.score != nil, "RegisterScore"},
		{hostabi.KindAdmission, reg.admit != nil, "RegisterAdmit"},
		{hostabi.KindController, reg.reconcile != nil, "RegisterReconcile"},
		{dispatch.KindHosted, len(reg.hosted) > 0, "RegisterPlugin"},
		{dispatch.KindReserve, reg.reserve != nil, "RegisterReserve"},
		{dispatch.KindPermit, reg.permit != nil, "RegisterPermit"},
		{dispatch.KindPreBind, reg.preBind != nil, "RegisterPreBind"},
		{dispatch.KindPostBind, reg.postBind != nil, "RegisterPostBind"},
	}
}

var kindPackage = map[hostabi.Kind]string{
	hostabi.KindSchedulerFilter: "filter",
	hostabi.KindSchedulerScore:  "score",
	hostabi.KindAdmission:       "admission",
	hostabi.KindController:      "controller",
	dispatch.KindHosted:         "plugins",
	dispatch.KindReserve:        "reserve",
	dispatch.KindPermit:         "permit",
	dispatch.KindPreBind:        "prebind",
	dispatch.KindPostBind:       "postbind",
}

// configure is tug_configure (ABI.md §4.0). In a module it first checks that the kinds the
// plugin registered and the kinds it exports are the same, since configure is the first
// call a fresh instance gets: a mismatch is a build mistake best reported at load time.
func configure(in []byte) (hostabi.Status, []byte) {
	if dispatch.InModule() {
		var problems []string
		for _, k := range kinds() {
			pkg := "github.com/tugboat-io/tug/sdk/go/kinds/" + kindPackage[k.kind]
			switch linked := dispatch.Linked(k.kind); {
			case k.registered && !linked:
				problems = append(problems, fmt.Sprintf("plugin calls tug.%s but does not import _ %q, so the module does not export the %s operations", k.register, pkg, k.kind))
			case linked && !k.registered:
				problems = append(problems, fmt.Sprintf("plugin imports %q but does not call tug.%s (from init: a module never runs main)", pkg, k.register))
			}
		}
		if len(problems) > 0 {
			return fail(hostabi.StatusError, "%s", strings.Join(problems, "; "))
		}
	}
	if (reg.reserve != nil || reg.permit != nil || reg.preBind != nil || reg.postBind != nil) && reg.filter == nil && reg.score == nil {
		return fail(hostabi.StatusError, "a module registering Reserve, Permit, PreBind or PostBind also registers a Filter or a Score (ABI.md §4.10); a hosted plugin (tug.RegisterPlugin) need not")
	}
	if len(reg.hosted) > 0 {
		if reg.filter != nil || reg.score != nil || reg.configure != nil {
			return fail(hostabi.StatusError, "a module uses tug.RegisterPlugin or tug.RegisterFilter/RegisterScore/RegisterConfigure, not both")
		}
		return configureHosted(in)
	}
	if reg.configure != nil {
		if err := reg.configure(in); err != nil {
			return fail(hostabi.StatusInvalidConfig, "%s", err.Error())
		}
		return ok(nil)
	}
	if t := bytes.TrimSpace(in); len(t) == 0 || string(t) == "null" {
		return ok(nil)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(in, &m); err != nil || len(m) != 0 {
		return fail(hostabi.StatusInvalidConfig, "this plugin takes no configuration")
	}
	return ok(nil)
}

// unsupported answers an operation of a kind the plugin did not register.
func unsupported(export, register string) (hostabi.Status, []byte) {
	return fail(hostabi.StatusUnsupported, "%s: the plugin did not call tug.%s", export, register)
}

func isScheduler() bool { return reg.filter != nil || reg.score != nil || len(reg.hosted) > 0 }

// schedNodes is tug_sched_nodes (ABI.md §4.1): it applies node changes to the resident
// state, all or nothing.
func schedNodes(in []byte) (hostabi.Status, []byte) {
	if !isScheduler() {
		return unsupported(hostabi.ExportSchedNodes, "RegisterFilter or tug.RegisterScore")
	}
	set, remove, err := decodeNodeChanges(in)
	if err != nil {
		return fail(hostabi.StatusInvalidInput, "%v", err)
	}
	watchers := nodeWatchers()
	for _, id := range remove {
		old := reg.nodes.get(id)
		reg.nodes.remove(id)
		if old != nil {
			for _, w := range watchers {
				w.NodeChanged(old, nil)
			}
		}
	}
	for _, ni := range set {
		old := reg.nodes.get(ni.ID)
		reg.nodes.set(ni)
		for _, w := range watchers {
			w.NodeChanged(old, ni)
		}
	}
	reg.nodes.gen++
	return ok(nil)
}

// nodeWatchers are the registered plugins that implement NodeWatcher: the filter and score
// (once if they are one), and the enabled hosted plugins. Configuration, which decides what
// is enabled, comes before the first nodes.
func nodeWatchers() []NodeWatcher {
	var ws []NodeWatcher
	if w, ok := reg.filter.(NodeWatcher); ok {
		ws = append(ws, w)
	}
	if w, ok := reg.score.(NodeWatcher); ok && !same(reg.filter, reg.score) {
		ws = append(ws, w)
	}
	for _, h := range reg.hosted {
		if h.watch != nil && h.enabled {
			ws = append(ws, h.watch)
		}
	}
	return ws
}

// schedPreFilter is tug_sched_prefilter (ABI.md §4.2): it starts a cycle with the pod, runs
// the PreFilter hooks of the registered filter and score and then their PreScore hooks, and
// answers the first rejection, or the skips (§4.8).
func schedPreFilter(in []byte) (hostabi.Status, []byte) {
	if !isScheduler() {
		return unsupported(hostabi.ExportSchedPreFilter, "RegisterFilter or tug.RegisterScore")
	}
	reg.pod, reg.state = nil, nil
	clear(reg.skipFilter)
	clear(reg.skipScore)
	pod, err := DecodePod(in)
	if err != nil {
		return fail(hostabi.StatusInvalidInput, "%v", err)
	}
	reg.pod, reg.state = pod, &CycleState{}
	type hook struct {
		plugin string // "" for a module that is one plugin
		pre    PreFilter
		filter bool // its Skip skips a Filter
		score  PreScore
	}
	var hooks []hook
	if len(reg.hosted) == 0 {
		p, _ := reg.filter.(PreFilter)
		ps, _ := reg.score.(PreScore)
		hooks = append(hooks, hook{"", p, reg.filter != nil, ps})
		if p, ok := reg.score.(PreFilter); ok && !same(reg.filter, reg.score) {
			hooks = append(hooks, hook{"", p, false, nil})
		}
	}
	for _, h := range reg.hosted {
		if h.enabled {
			ps, _ := h.score.(PreScore)
			hooks = append(hooks, hook{h.name, h.pre, h.filter != nil, ps})
		}
	}
	var skips []hostabi.Skip
	verdict := func(st *Status, plugin string) (hostabi.Status, []byte) {
		out, err := json.Marshal(hostabi.PreFilterVerdict{Code: st.Code(), Reason: st.Message(), Plugin: plugin})
		if err != nil {
			return fail(hostabi.StatusError, "encode pre-filter verdict: %v", err)
		}
		return ok(out)
	}
	for _, h := range hooks {
		if h.pre == nil {
			continue
		}
		switch st := h.pre.PreFilter(reg.state, pod); {
		case st.Code() == CodeSkip:
			if h.filter {
				skips = append(skips, hostabi.Skip{Plugin: h.plugin, Filter: true})
				setSkip(&reg.skipFilter, h.plugin)
			}
		case !st.IsSuccess():
			return verdict(st, h.plugin)
		}
	}
	for _, h := range hooks {
		if h.score == nil {
			continue
		}
		switch st := h.score.PreScore(reg.state, pod); {
		case st.Code() == CodeSkip:
			if i := len(skips) - 1; i >= 0 && skips[i].Plugin == h.plugin {
				skips[i].Score = true
			} else {
				skips = append(skips, hostabi.Skip{Plugin: h.plugin, Score: true})
			}
			setSkip(&reg.skipScore, h.plugin)
		case !st.IsSuccess():
			return verdict(NewStatus(CodeError, "PreScore: "+st.Message()), h.plugin)
		}
	}
	if len(skips) == 0 {
		return ok(nil)
	}
	out, err := json.Marshal(hostabi.PreFilterVerdict{Skip: skips})
	if err != nil {
		return fail(hostabi.StatusError, "encode pre-filter verdict: %v", err)
	}
	return ok(out)
}

func setSkip(m *map[string]bool, plugin string) {
	if *m == nil {
		*m = map[string]bool{}
	}
	(*m)[plugin] = true
}

// cycleNodes checks a node-list frame and the cycle's pod, and returns the frame's ids.
func cycleNodes(export string, in []byte) (hostabi.NodeIDList, hostabi.Status, []byte) {
	ids, err := hostabi.ParseNodeIDs(in)
	if err != nil {
		st, out := fail(hostabi.StatusInvalidInput, "%v", err)
		return ids, st, out
	}
	if reg.pod == nil {
		st, out := fail(hostabi.StatusInvalidInput, "%s before %s: no pod in this cycle", export, hostabi.ExportSchedPreFilter)
		return ids, st, out
	}
	return ids, hostabi.StatusOK, nil
}

func unknownNode(id uint32) (hostabi.Status, []byte) {
	return fail(hostabi.StatusInvalidInput, "unknown node id %d", id)
}

// same reports whether a and b are the same comparable value: one object registered as both
// filter and score has its PreFilter called once.
func same(a, b any) bool {
	ta := reflect.TypeOf(a)
	return ta != nil && ta == reflect.TypeOf(b) && ta.Comparable() && a == b
}

type rejection = hostabi.Rejection

// schedFilter is tug_sched_filter (ABI.md §4.3).
func schedFilter(in []byte) (hostabi.Status, []byte) {
	if reg.filter == nil {
		return unsupported(hostabi.ExportSchedFilter, "RegisterFilter")
	}
	return runFilter(hostabi.ExportSchedFilter, reg.filter, in, reg.skipFilter[""])
}

// runFilter runs filter over a node-list frame. This loop runs once per candidate node, so it
// reads ids in place, keeps the cycle's values in locals, and calls a FilterFunc directly
// rather than through its Filter method: in Go's wasm code each call costs tens of
// nanoseconds.
func runFilter(export string, filter Filter, in []byte, skipped bool) (hostabi.Status, []byte) {
	ids, st, out := cycleNodes(export, in)
	if st != hostabi.StatusOK {
		return st, out
	}
	if skipped { // the pre-filter said every node passes; a host may ask anyway (ABI.md §4.8)
		reg.out = hostabi.AppendFilterOutput(reg.out[:0], nil)
		return ok(reg.out)
	}
	state, pod, nodes := reg.state, reg.pod, &reg.nodes
	fn, isFunc := filter.(FilterFunc)
	rejs := reg.rejs[:0]
	for i, n := 0, ids.Len(); i < n; i++ {
		id := ids.At(i)
		node := nodes.get(id)
		if node == nil {
			return unknownNode(id)
		}
		var s *Status
		if isFunc {
			s = fn(state, pod, node)
		} else {
			s = filter.Filter(state, pod, node)
		}
		if s != nil && s.code != CodeSuccess {
			if s.code == CodeSkip || s.code == CodeWait {
				return fail(hostabi.StatusError, "Filter returned %s for node %s: only PreFilter and PreScore may skip, only Permit may wait", s.code, node.Name())
			}
			rejs = append(rejs, rejection{NodeID: id, Code: s.Code(), Reason: s.Message()})
		}
	}
	reg.rejs = rejs
	reg.out = hostabi.AppendFilterOutput(reg.out[:0], rejs)
	return ok(reg.out)
}

// schedScore is tug_sched_score (ABI.md §4.4).
func schedScore(in []byte) (hostabi.Status, []byte) {
	if reg.score == nil {
		return unsupported(hostabi.ExportSchedScore, "RegisterScore")
	}
	return runScore(hostabi.ExportSchedScore, reg.score, in, reg.skipScore[""])
}

func runScore(export string, score Score, in []byte, skipped bool) (hostabi.Status, []byte) {
	ids, st, out := cycleNodes(export, in)
	if st != hostabi.StatusOK {
		return st, out
	}
	scores := reg.scores[:0]
	if skipped { // every node alike (ABI.md §4.8): 0, as a skipped score adds nothing
		for range ids.Len() {
			scores = append(scores, 0)
		}
		reg.scores = scores
		reg.out = hostabi.AppendScores(reg.out[:0], scores)
		return ok(reg.out)
	}
	state, pod, nodes := reg.state, reg.pod, &reg.nodes
	fn, isFunc := score.(ScoreFunc)
	_, normalizes := score.(Normalizer)
	for i, n := 0, ids.Len(); i < n; i++ {
		id := ids.At(i)
		node := nodes.get(id)
		if node == nil {
			return unknownNode(id)
		}
		var s int64
		var st *Status
		if isFunc {
			s, st = fn(state, pod, node)
		} else {
			s, st = score.Score(state, pod, node)
		}
		if !st.IsSuccess() {
			return fail(hostabi.StatusError, "score node %s: %s", node.Name(), st)
		}
		if !normalizes && (s < 0 || s > MaxNodeScore) {
			return fail(hostabi.StatusError, "Score returned %d for node %s, want 0..%d", s, node.Name(), MaxNodeScore)
		}
		scores = append(scores, s)
	}
	reg.scores = scores
	reg.out = hostabi.AppendScores(reg.out[:0], scores)
	return ok(reg.out)
}

// schedNormalize is tug_sched_normalize (ABI.md §4.4): the Score's NormalizeScore, or the
// scores unchanged for a Score without one.
func schedNormalize(in []byte) (hostabi.Status, []byte) {
	if reg.score == nil {
		return unsupported(hostabi.ExportSchedNormalize, "RegisterScore")
	}
	return runNormalize(reg.score, in, reg.skipScore[""])
}

func runNormalize(score Score, in []byte, skipped bool) (hostabi.Status, []byte) {
	input, err := hostabi.DecodeNormalizeInput(in)
	if err != nil {
		return fail(hostabi.StatusInvalidInput, "%v", err)
	}
	if reg.pod == nil {
		return fail(hostabi.StatusInvalidInput, "%s before %s: no pod in this cycle", hostabi.ExportSchedNormalize, hostabi.ExportSchedPreFilter)
	}
	scores := make([]NodeScore, len(input))
	for i, s := range input {
		n := reg.nodes.get(s.NodeID)
		if n == nil {
			return fail(hostabi.StatusInvalidInput, "unknown node id %d", s.NodeID)
		}
		scores[i] = NodeScore{ID: s.NodeID, Name: n.Name(), Score: s.Score}
	}
	if nz, ok := score.(Normalizer); ok && !skipped {
		if st := nz.NormalizeScore(reg.state, reg.pod, scores); !st.IsSuccess() {
			return fail(hostabi.StatusError, "normalize scores: %s", st)
		}
	}
	out := make([]int64, len(scores))
	for i, s := range scores {
		if s.ID != input[i].NodeID {
			return fail(hostabi.StatusError, "NormalizeScore reordered the scores")
		}
		if s.Score < 0 || s.Score > MaxNodeScore {
			return fail(hostabi.StatusError, "normalized score %d for node %s, want 0..%d", s.Score, s.Name, MaxNodeScore)
		}
		out[i] = s.Score
	}
	reg.out = hostabi.AppendScores(reg.out[:0], out)
	return ok(reg.out)
}

// admit is tug_admit (ABI.md §4.5).
func admit(in []byte) (hostabi.Status, []byte) {
	if reg.admit == nil {
		return unsupported(hostabi.ExportAdmit, "RegisterAdmit")
	}
	req, err := decodeAdmissionRequest(in)
	if err != nil {
		return fail(hostabi.StatusInvalidInput, "decode admission request: %v", err)
	}
	resp := reg.admit.Admit(req)
	switch {
	case resp == nil:
		return fail(hostabi.StatusError, "Admit returned no response")
	case resp.err != nil:
		return fail(hostabi.StatusError, "%v", resp.err)
	}
	resp.UID = req.UID
	out, err := resp.appendJSON(reg.out[:0])
	if err != nil {
		return fail(hostabi.StatusError, "encode admission response: %v", err)
	}
	reg.out = out
	return ok(out)
}

// reconcile is tug_reconcile (ABI.md §4.6).
func reconcile(in []byte) (hostabi.Status, []byte) {
	if reg.reconcile == nil {
		return unsupported(hostabi.ExportReconcile, "RegisterReconcile")
	}
	req, err := decodeReconcileRequest(in)
	if err != nil {
		return fail(hostabi.StatusInvalidInput, "decode reconcile request: %v", err)
	}
	res, err := reg.reconcile.Reconcile(req)
	switch {
	case err != nil:
		return fail(hostabi.StatusError, "%v", err)
	case res == nil:
		// Nothing would mean "no children": refuse rather than have the host delete them.
		return fail(hostabi.StatusError, "Reconcile returned neither a result nor an error")
	}
	out, err := json.Marshal(res)
	if err != nil {
		return fail(hostabi.StatusError, "encode reconcile result: %v", err)
	}
	return ok(out)
}
