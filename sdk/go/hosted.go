package tug

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/tugboat-io/tug/hostabi"
)

// Several scheduling plugins in one module (ABI.md §4.7): they share the resident nodes and
// the cycle's pod, so a module hosting a whole chain keeps the cluster once and decodes each
// pod once.

// Configurer is implemented by a hosted plugin that takes configuration: Configure gets its
// entry of the module's configuration ("{}" when it has none) and refuses it with an error.
type Configurer interface {
	Configure(raw []byte) error
}

// Weighted is implemented by a hosted scoring plugin with a default score weight other than 1
// (kube-scheduler's TaintToleration has 3, for instance); a profile may override it.
type Weighted interface {
	DefaultWeight() int64
}

// hostedPlugin is one plugin of RegisterPlugin.
type hostedPlugin struct {
	name    string
	filter  Filter
	score   Score
	pre     PreFilter
	norm    Normalizer
	conf    Configurer
	watch   NodeWatcher
	post    PostFilter
	reserve Reserve
	permit  Permit
	preBind PreBind
	postBnd PostBind
	weight  int64
	enabled bool
}

// RegisterPlugin adds a named scheduling plugin to a module that hosts several: p implements
// one or more of Filter, Score, PostFilter, Reserve, Permit, PreBind and PostBind, and may
// implement PreFilter, PreScore, Normalizer, NodeWatcher and Configurer. Plugins keep
// the order they are registered in. Call it from init; the module must also import
// github.com/tugboat-io/tug/sdk/go/kinds/plugins. A module uses either RegisterPlugin or
// RegisterFilter/RegisterScore, not both.
func RegisterPlugin(name string, p any) {
	hp := hostedPlugin{name: name, enabled: true}
	hp.filter, _ = p.(Filter)
	hp.score, _ = p.(Score)
	hp.pre, _ = p.(PreFilter)
	hp.norm, _ = p.(Normalizer)
	hp.conf, _ = p.(Configurer)
	hp.watch, _ = p.(NodeWatcher)
	hp.post, _ = p.(PostFilter)
	hp.reserve, _ = p.(Reserve)
	hp.permit, _ = p.(Permit)
	hp.preBind, _ = p.(PreBind)
	hp.postBnd, _ = p.(PostBind)
	if w, ok := p.(Weighted); ok {
		hp.weight = w.DefaultWeight()
	}
	switch {
	case name == "":
		panic("tug.RegisterPlugin: a plugin needs a name")
	case hp.filter == nil && hp.score == nil && hp.post == nil && hp.reserve == nil && hp.permit == nil && hp.preBind == nil && hp.postBnd == nil:
		panic(fmt.Sprintf("tug.RegisterPlugin(%q): %T implements none of tug.Filter, tug.Score, tug.PostFilter, tug.Reserve, tug.Permit, tug.PreBind and tug.PostBind", name, p))
	case hp.weight < 0 || hp.weight > 100:
		panic(fmt.Sprintf("tug.RegisterPlugin(%q): DefaultWeight %d is not in 1..100", name, hp.weight))
	case slices.ContainsFunc(reg.hosted, func(o hostedPlugin) bool { return o.name == name }):
		panic(fmt.Sprintf("tug.RegisterPlugin(%q): registered twice", name))
	}
	reg.hosted = append(reg.hosted, hp)
}

// configureHosted is tug_configure for a module of hosted plugins.
func configureHosted(in []byte) (hostabi.Status, []byte) {
	var c hostabi.HostedConfig
	if t := strings.TrimSpace(string(in)); t != "" && t != "null" {
		if err := json.Unmarshal(in, &c); err != nil {
			return fail(hostabi.StatusInvalidConfig, "configuration of hosted plugins: %v", err)
		}
	}
	known := func(n string) bool {
		return slices.ContainsFunc(reg.hosted, func(h hostedPlugin) bool { return h.name == n })
	}
	for _, n := range c.Enabled {
		if !known(n) {
			return fail(hostabi.StatusInvalidConfig, "enabled: the module hosts no plugin %q", n)
		}
	}
	for n := range c.Config {
		if !known(n) {
			return fail(hostabi.StatusInvalidConfig, "config: the module hosts no plugin %q", n)
		}
	}
	for i := range reg.hosted {
		h := &reg.hosted[i]
		h.enabled = c.Enabled == nil || slices.Contains(c.Enabled, h.name)
		if !h.enabled {
			continue // a disabled plugin is not configured (nor called)
		}
		raw, ok := c.Config[h.name]
		switch {
		case h.conf != nil:
			if !ok {
				raw = []byte("{}")
			}
			if err := h.conf.Configure(raw); err != nil {
				return fail(hostabi.StatusInvalidConfig, "%s: %v", h.name, err)
			}
		case ok && strings.TrimSpace(string(raw)) != "{}" && strings.TrimSpace(string(raw)) != "null":
			return fail(hostabi.StatusInvalidConfig, "%s takes no configuration", h.name)
		}
	}
	return ok(nil)
}

// schedPlugins is tug_sched_plugins: the hosted plugins, in index order.
func schedPlugins([]byte) (hostabi.Status, []byte) {
	if len(reg.hosted) == 0 {
		return unsupported(hostabi.ExportSchedPlugins, "RegisterPlugin")
	}
	var hp hostabi.HostedPlugins
	for _, h := range reg.hosted {
		hp.Plugins = append(hp.Plugins, hostabi.HostedPlugin{Name: h.name, Filter: h.filter != nil,
			Score: h.score != nil, Normalize: h.norm != nil && h.score != nil, PostFilter: h.post != nil,
			Reserve: h.reserve != nil, Permit: h.permit != nil, PreBind: h.preBind != nil, PostBind: h.postBnd != nil, Weight: h.weight})
	}
	out, err := json.Marshal(hp)
	if err != nil {
		return fail(hostabi.StatusError, "encode plugin list: %v", err)
	}
	return ok(out)
}

// hostedAt resolves an _at operation's plugin index.
func hostedAt(export string, in []byte) (*hostedPlugin, []byte, hostabi.Status, []byte) {
	idx, rest, err := hostabi.CutPluginIndex(in)
	if err != nil {
		st, out := fail(hostabi.StatusInvalidInput, "%v", err)
		return nil, nil, st, out
	}
	if idx >= uint32(len(reg.hosted)) {
		st, out := fail(hostabi.StatusInvalidInput, "%s: no plugin %d (the module hosts %d)", export, idx, len(reg.hosted))
		return nil, nil, st, out
	}
	h := &reg.hosted[idx]
	if !h.enabled {
		st, out := fail(hostabi.StatusInvalidInput, "%s: plugin %s is not enabled", export, h.name)
		return nil, nil, st, out
	}
	return h, rest, hostabi.StatusOK, nil
}

func schedFilterAt(in []byte) (hostabi.Status, []byte) {
	h, rest, st, out := hostedAt(hostabi.ExportSchedFilterAt, in)
	if st != hostabi.StatusOK {
		return st, out
	}
	if h.filter == nil {
		return fail(hostabi.StatusInvalidInput, "%s: plugin %s does not filter", hostabi.ExportSchedFilterAt, h.name)
	}
	return runFilter(hostabi.ExportSchedFilterAt, h.filter, rest, reg.skipFilter[h.name])
}

func schedScoreAt(in []byte) (hostabi.Status, []byte) {
	h, rest, st, out := hostedAt(hostabi.ExportSchedScoreAt, in)
	if st != hostabi.StatusOK {
		return st, out
	}
	if h.score == nil {
		return fail(hostabi.StatusInvalidInput, "%s: plugin %s does not score", hostabi.ExportSchedScoreAt, h.name)
	}
	return runScore(hostabi.ExportSchedScoreAt, h.score, rest, reg.skipScore[h.name])
}

// schedPostFilterAt is tug_sched_postfilter_at (ABI.md §4.9).
func schedPostFilterAt(in []byte) (hostabi.Status, []byte) {
	h, rest, st, out := hostedAt(hostabi.ExportSchedPostFilterAt, in)
	if st != hostabi.StatusOK {
		return st, out
	}
	if h.post == nil {
		return fail(hostabi.StatusInvalidInput, "%s: plugin %s does not choose preemption candidates", hostabi.ExportSchedPostFilterAt, h.name)
	}
	if reg.pod == nil {
		return fail(hostabi.StatusInvalidInput, "%s before %s: no pod in this cycle", hostabi.ExportSchedPostFilterAt, hostabi.ExportSchedPreFilter)
	}
	var input hostabi.PostFilterInput
	if err := json.Unmarshal(rest, &input); err != nil {
		return fail(hostabi.StatusInvalidInput, "%s: %v", hostabi.ExportSchedPostFilterAt, err)
	}
	cands := make([]Candidate, len(input.Candidates))
	for i, c := range input.Candidates {
		node := reg.nodes.get(c.Node)
		if node == nil {
			return unknownNode(c.Node)
		}
		cands[i].Node = node
		for _, key := range c.Victims {
			j := slices.IndexFunc(node.Pods, func(p *Pod) bool { return p.Namespace+"/"+p.Name == key })
			if j < 0 {
				return fail(hostabi.StatusInvalidInput, "candidate %d: pod %s is not on node %s", i, key, node.Name())
			}
			cands[i].Victims = append(cands[i].Victims, node.Pods[j])
		}
	}
	chosen, st2 := h.post.PostFilter(reg.state, reg.pod, cands)
	res := hostabi.PostFilterOutput{Candidate: chosen, Reason: st2.Message()}
	if chosen < 0 || chosen >= len(cands) {
		res.Candidate = -1
	}
	b, err := json.Marshal(res)
	if err != nil {
		return fail(hostabi.StatusError, "encode post-filter answer: %v", err)
	}
	return ok(b)
}

func schedNormalizeAt(in []byte) (hostabi.Status, []byte) {
	h, rest, st, out := hostedAt(hostabi.ExportSchedNormalizeAt, in)
	if st != hostabi.StatusOK {
		return st, out
	}
	if h.score == nil {
		return fail(hostabi.StatusInvalidInput, "%s: plugin %s does not score", hostabi.ExportSchedNormalizeAt, h.name)
	}
	return runNormalize(h.score, rest, reg.skipScore[h.name])
}
