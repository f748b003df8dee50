package testutil

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/tugboat-io/tug/hostabi"
	"github.com/tugboat-io/tug/plugins/internal/wasmhost"
	"github.com/tugboat-io/tug/plugins/scheduler/defaults"
	tug "github.com/tugboat-io/tug/sdk/go"
	"github.com/tugboat-io/tug/sdk/go/sdktest"
)

// Node is a node of a cycle, as Kubernetes JSON, with the pods bound to it.
type Node struct {
	Object string
	Pods   []string
}

// WithPods is node with pods bound to it.
func WithPods(node string, pods ...string) Node { return Node{Object: node, Pods: pods} }

// Nodes are nodes without pods.
func Nodes(nodes ...string) []Node {
	ns := make([]Node, len(nodes))
	for i, n := range nodes {
		ns[i] = Node{Object: n}
	}
	return ns
}

// Cycle is one scheduling cycle of one default plugin: the plugin, by its name in profiles,
// and its configuration (JSON, "" for none); the cluster's nodes; the pod to place.
type Cycle struct {
	Plugin string
	Config string
	Nodes  []Node
	Pod    string
}

// Filter runs c's pre-filter and filter over all its nodes, natively and in wasm (subtests
// "native" and "wasm"), and checks each against want: every node's verdict, in the order of
// c.Nodes, as "name=ok" or "name=Code:reason", space-separated. A pre-filter verdict that
// ends the cycle is every node's verdict. A want ending in "…" is a prefix: for a reason
// that ends in a library's error message.
func Filter(t *testing.T, c Cycle, want string) {
	t.Helper()
	both(t, want, func(t *testing.T, b backend) string { return cycle(t, b, c).filter(t) })
}

// Score runs c's pre-filter, score and normalize over all its nodes, natively and in wasm,
// and checks each against want: every node's final score, in the order of c.Nodes, as
// "name=score", space-separated.
func Score(t *testing.T, c Cycle, want string) {
	t.Helper()
	both(t, want, func(t *testing.T, b backend) string { return cycle(t, b, c).score(t, true) })
}

// RawScore is Score without normalize: the scores the plugin's score answers.
func RawScore(t *testing.T, c Cycle, want string) {
	t.Helper()
	both(t, want, func(t *testing.T, b backend) string { return cycle(t, b, c).score(t, false) })
}

// ConfigRefused configures plugin with config, natively and in wasm, and checks that the
// module refuses it with INVALID_CONFIG and a reason that names the plugin.
func ConfigRefused(t *testing.T, plugin, config string) {
	t.Helper()
	both(t, "refused", func(t *testing.T, b backend) string {
		st, out := b.call(t, hostabi.ExportConfigure, hostedConfig(plugin, config))
		switch {
		case st == hostabi.StatusOK:
			return "accepted"
		case st != hostabi.StatusInvalidConfig:
			t.Errorf("status %v, want %v: %s", st, hostabi.StatusInvalidConfig, out)
		case !strings.HasPrefix(string(out), plugin+": "):
			t.Errorf("reason %q does not name the plugin", out)
		}
		return "refused"
	})
}

// both runs f on each backend in a subtest named after it, checks its answer against want,
// and the backends' answers against each other.
func both(t *testing.T, want string, f func(*testing.T, backend) string) {
	t.Helper()
	got := map[string]string{}
	for _, name := range []string{"native", "wasm"} {
		t.Run(name, func(t *testing.T) {
			b := open(t, name)
			g := f(t, b)
			if t.Failed() {
				return
			}
			got[name] = g
			if !matches(g, want) {
				t.Errorf("got  %s\nwant %s", g, want)
			}
		})
	}
	if n, w := got["native"], got["wasm"]; len(got) == 2 && n != w {
		t.Errorf("native and wasm disagree:\nnative %s\nwasm   %s", n, w)
	}
}

func matches(got, want string) bool {
	if prefix, ok := strings.CutSuffix(want, "…"); ok {
		return strings.HasPrefix(got, prefix)
	}
	return got == want
}

// backend is one way of making calls: natively through the SDK's dispatch (sdktest.Call, the
// code the wasm exports call), or into the wasm module. Either way its state is process-wide
// and long-lived, as an instance's is: every cycle reconfigures it and replaces its nodes.
type backend interface {
	call(t *testing.T, export string, in []byte) (hostabi.Status, []byte)
	state() *resident
}

// resident is what a backend's host side remembers: how many node ids (0..n-1) are set, and
// the plugin list.
type resident struct {
	nodes   int
	plugins []hostabi.HostedPlugin
}

type nativeBackend struct{ r resident }

func (n *nativeBackend) call(t *testing.T, export string, in []byte) (hostabi.Status, []byte) {
	t.Helper()
	return sdktest.Call(t, export, in)
}

func (n *nativeBackend) state() *resident { return &n.r }

type wasmBackend struct {
	h *wasmhost.Host
	r resident
}

func (w *wasmBackend) call(t *testing.T, export string, in []byte) (hostabi.Status, []byte) {
	t.Helper()
	st, out, err := w.h.Call(t, export, in)
	if err != nil {
		w.r.nodes = 0 // a fresh instance has no nodes
		t.Fatalf("%s: %v", export, err)
	}
	return st, out
}

func (w *wasmBackend) state() *resident { return &w.r }

var backends struct {
	sync.Mutex
	native  *nativeBackend
	wasm    *wasmBackend
	wasmErr error
}

// open returns the named backend, setting it up on first use: the default plugins
// registered in this test binary, or the wasm module built and instantiated. In -short runs
// the wasm subtests are skipped.
func open(t *testing.T, name string) backend {
	t.Helper()
	backends.Lock()
	defer backends.Unlock()
	if backends.native == nil {
		defaults.Register()
		backends.native = &nativeBackend{}
		backends.native.r.plugins = plugins(t, backends.native)
	}
	if name == "native" {
		return backends.native
	}
	if testing.Short() {
		t.Skip("builds the wasm module with the Go toolchain; skipped in -short runs")
	}
	if backends.wasm == nil && backends.wasmErr == nil {
		h, err := wasmhost.Load("./scheduler/cmd/defaults")
		if err != nil {
			backends.wasmErr = err
		} else {
			w := &wasmBackend{h: h}
			w.r.plugins = plugins(t, w)
			if !reflect.DeepEqual(w.r.plugins, backends.native.r.plugins) {
				backends.wasmErr = fmt.Errorf("the module hosts %+v, the test binary registers %+v", w.r.plugins, backends.native.r.plugins)
			} else {
				backends.wasm = w
			}
		}
	}
	if backends.wasmErr != nil {
		t.Fatal(backends.wasmErr)
	}
	return backends.wasm
}

// plugins is the backend's plugin list (ABI.md §4.7): configured with all plugins enabled,
// as a host does before asking.
func plugins(t *testing.T, b backend) []hostabi.HostedPlugin {
	t.Helper()
	if st, out := b.call(t, hostabi.ExportConfigure, []byte(`{}`)); st != hostabi.StatusOK {
		t.Fatalf("configure: %v: %s", st, out)
	}
	st, out := b.call(t, hostabi.ExportSchedPlugins, nil)
	var hp hostabi.HostedPlugins
	if st != hostabi.StatusOK {
		t.Fatalf("%s: %v: %s", hostabi.ExportSchedPlugins, st, out)
	}
	if err := json.Unmarshal(out, &hp); err != nil {
		t.Fatalf("%s: %v: %s", hostabi.ExportSchedPlugins, err, out)
	}
	return hp.Plugins
}

// hostedConfig is the module's configuration enabling only plugin, with config as its own.
// It is assembled as bytes, so that a malformed config reaches the module as it is.
func hostedConfig(plugin, config string) []byte {
	name, _ := json.Marshal(plugin)
	c := `{"enabled":[` + string(name) + `]`
	if config != "" {
		c += `,"config":{` + string(name) + `:` + config + `}`
	}
	return []byte(c + "}")
}

// started is a cycle on one backend after its pre-filter: the plugin and its index, the
// nodes' names and ids (an id is the node's position in the cycle), and the pre-filter's
// verdict if it ended the cycle.
type started struct {
	b       backend
	plugin  hostabi.HostedPlugin
	index   uint32
	names   []string
	ids     []uint32
	verdict string
}

// cycle configures the backend for c.Plugin alone, replaces its nodes with c's (ids 0..n-1,
// the dense numbering a host uses; ids past them are removed), and runs the pre-filter.
func cycle(t *testing.T, b backend, c Cycle) *started {
	t.Helper()
	r := b.state()
	i := slices.IndexFunc(r.plugins, func(p hostabi.HostedPlugin) bool { return p.Name == c.Plugin })
	if i < 0 {
		t.Fatalf("the module hosts no plugin %q", c.Plugin)
	}
	s := &started{b: b, plugin: r.plugins[i], index: uint32(i)}
	if st, out := b.call(t, hostabi.ExportConfigure, hostedConfig(c.Plugin, c.Config)); st != hostabi.StatusOK {
		t.Fatalf("configure %s with %s: %v: %s", c.Plugin, c.Config, st, out)
	}

	var ch hostabi.NodeChanges
	for i, n := range c.Nodes {
		name := objectName(t, n.Object)
		if slices.Contains(s.names, name) {
			t.Fatalf("two nodes named %q", name)
		}
		e := hostabi.NodeEntry{ID: uint32(i), Node: json.RawMessage(n.Object)}
		for _, p := range n.Pods {
			e.Pods = append(e.Pods, json.RawMessage(p))
		}
		ch.Set = append(ch.Set, e)
		s.names, s.ids = append(s.names, name), append(s.ids, uint32(i))
	}
	for id := len(c.Nodes); id < r.nodes; id++ {
		ch.Remove = append(ch.Remove, uint32(id))
	}
	in, err := json.Marshal(ch)
	if err != nil {
		t.Fatalf("node changes: %v", err)
	}
	if st, out := b.call(t, hostabi.ExportSchedNodes, in); st != hostabi.StatusOK {
		t.Fatalf("%s: %v: %s", hostabi.ExportSchedNodes, st, out)
	}
	r.nodes = len(c.Nodes)

	st, out := b.call(t, hostabi.ExportSchedPreFilter, []byte(c.Pod))
	if st != hostabi.StatusOK {
		t.Fatalf("%s: %v: %s", hostabi.ExportSchedPreFilter, st, out)
	}
	if len(out) > 0 {
		var v hostabi.PreFilterVerdict
		if err := json.Unmarshal(out, &v); err != nil {
			t.Fatalf("pre-filter verdict %q: %v", out, err)
		}
		if v.Code != hostabi.CodeSuccess {
			if v.Plugin != c.Plugin {
				t.Errorf("pre-filter verdict %s names plugin %q, want %q", out, v.Plugin, c.Plugin)
			}
			s.verdict = verdict(t, v.Code, v.Reason)
		}
	}
	return s
}

// filter runs the plugin's filter over every node and renders the verdicts.
func (s *started) filter(t *testing.T) string {
	t.Helper()
	if !s.plugin.Filter {
		t.Fatalf("%s does not filter", s.plugin.Name)
	}
	got := make([]string, len(s.names))
	for i := range got {
		got[i] = "ok"
		if s.verdict != "" {
			got[i] = s.verdict
		}
	}
	if s.verdict == "" {
		out := s.at(t, hostabi.ExportSchedFilterAt, hostabi.AppendNodeIDs(nil, s.ids))
		rejs, err := hostabi.DecodeFilterOutput(out)
		if err != nil {
			t.Fatalf("filter output: %v", err)
		}
		seen := map[uint32]bool{}
		for _, r := range rejs {
			if int(r.NodeID) >= len(s.ids) || seen[r.NodeID] {
				t.Fatalf("filter rejected node %d, which is not a candidate or was rejected already", r.NodeID)
			}
			seen[r.NodeID] = true
			got[r.NodeID] = verdict(t, r.Code, r.Reason)
		}
	}
	return render(s.names, got)
}

// score runs the plugin's score, and normalize if asked and it has one, over every node and
// renders the scores.
func (s *started) score(t *testing.T, normalize bool) string {
	t.Helper()
	switch {
	case !s.plugin.Score:
		t.Fatalf("%s does not score", s.plugin.Name)
	case s.verdict != "":
		t.Fatalf("the pre-filter ended the cycle: %s", s.verdict)
	}
	scores := s.scores(t, hostabi.ExportSchedScoreAt, hostabi.AppendNodeIDs(nil, s.ids))
	if normalize && s.plugin.Normalize {
		in := make([]hostabi.NodeScore, len(s.ids))
		for i, id := range s.ids {
			in[i] = hostabi.NodeScore{NodeID: id, Score: scores[i]}
		}
		scores = s.scores(t, hostabi.ExportSchedNormalizeAt, hostabi.AppendNormalizeInput(nil, in))
	}
	got := make([]string, len(scores))
	for i, sc := range scores {
		if (normalize || !s.plugin.Normalize) && (sc < 0 || sc > tug.MaxNodeScore) {
			t.Errorf("%s scored %d, outside 0..%d", s.names[i], sc, tug.MaxNodeScore)
		}
		got[i] = fmt.Sprint(sc)
	}
	return render(s.names, got)
}

func (s *started) scores(t *testing.T, export string, in []byte) []int64 {
	t.Helper()
	scores, err := hostabi.DecodeScores(s.at(t, export, in))
	if err != nil {
		t.Fatalf("%s output: %v", export, err)
	}
	if len(scores) != len(s.ids) {
		t.Fatalf("%s answered %d scores for %d nodes", export, len(scores), len(s.ids))
	}
	return scores
}

// at calls an _at export for the cycle's plugin and fails t unless it answers OK.
func (s *started) at(t *testing.T, export string, in []byte) []byte {
	t.Helper()
	st, out := s.b.call(t, export, append(hostabi.AppendPluginIndex(nil, s.index), in...))
	if st != hostabi.StatusOK {
		t.Fatalf("%s of %s: %v: %s", export, s.plugin.Name, st, out)
	}
	return out
}

func verdict(t *testing.T, code hostabi.Code, reason string) string {
	t.Helper()
	if code < hostabi.CodeError || code > hostabi.CodeUnschedulableAndUnresolvable {
		t.Fatalf("scheduling code %d is not one of the ABI's", code)
	}
	return code.String() + ":" + reason
}

func render(names, values []string) string {
	var b strings.Builder
	for i, n := range names {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(n + "=" + values[i])
	}
	return b.String()
}

func objectName(t *testing.T, raw string) string {
	t.Helper()
	var o struct {
		Metadata struct {
			Name string `json:"name"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal([]byte(raw), &o); err != nil || o.Metadata.Name == "" {
		t.Fatalf("node without metadata.name: %s", raw)
	}
	return o.Metadata.Name
}
