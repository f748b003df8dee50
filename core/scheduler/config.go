package scheduler

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"

	"github.com/tugboat-io/tug/core/api"
	pluginsv1alpha1 "github.com/tugboat-io/tug/core/api/plugins/v1alpha1"
	"github.com/tugboat-io/tug/hostabi"
)

// FileConfig is the scheduler's configuration file (tug up --scheduler-config): profiles in
// the shape of SchedulerProfile's spec, which is KubeSchedulerConfiguration's profiles[*].
//
//	profiles:
//	- schedulerName: default-scheduler
//	- schedulerName: bin-packing
//	  percentageOfNodesToScore: 50
//	  plugins:
//	    score:
//	      disabled: [{name: "*"}]
//	      enabled: [{name: NodeResourcesFit, weight: 5}]
//	  pluginConfig:
//	  - name: NodeResourcesFit
//	    args: {scoringStrategy: {type: MostAllocated}}
type FileConfig struct {
	Profiles []pluginsv1alpha1.SchedulerProfileSpec `json:"profiles"`
}

// ParseConfig reads a configuration file (YAML or JSON) and checks what it can without the
// plugins, as the API checks a SchedulerProfile.
func ParseConfig(data []byte) (*FileConfig, error) {
	var c FileConfig
	if err := yaml.UnmarshalStrict(data, &c); err != nil {
		return nil, fmt.Errorf("scheduler config: %w", err)
	}
	if len(c.Profiles) == 0 {
		return nil, fmt.Errorf("scheduler config: profiles: at least one is required")
	}
	seen := map[string]bool{}
	var errs field.ErrorList
	for i := range c.Profiles {
		at := field.NewPath("profiles").Index(i)
		errs = append(errs, api.ValidateSchedulerProfileSpec(&c.Profiles[i], at)...)
		if n := c.Profiles[i].SchedulerName; seen[n] {
			errs = append(errs, field.Duplicate(at.Child("schedulerName"), n))
		}
		seen[c.Profiles[i].SchedulerName] = true
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("scheduler config: %w", errs.ToAggregate())
	}
	return &c, nil
}

// DefaultConfig is one profile, default-scheduler, with every default plugin.
func DefaultConfig() *FileConfig {
	return &FileConfig{Profiles: []pluginsv1alpha1.SchedulerProfileSpec{{SchedulerName: "default-scheduler"}}}
}

// ProfileError says why a profile spec cannot be built; Reason is one of the
// SchedulerProfile condition reasons (PluginNotFound, InvalidConfig).
type ProfileError struct {
	Reason  string
	Message string
}

func (e *ProfileError) Error() string { return e.Message }

func profileErr(reason, format string, args ...any) error {
	return &ProfileError{Reason: reason, Message: fmt.Sprintf(format, args...)}
}

// ProfileErrorReason is err's condition reason: a ProfileError's, else InvalidConfig (a
// module refusing its configuration).
func ProfileErrorReason(err error) string {
	if pe, ok := errors.AsType[*ProfileError](err); ok {
		return pe.Reason
	}
	return pluginsv1alpha1.ReasonInvalidConfig
}

// ChainPlugin is one plugin of a resolved chain: where it runs, with which weight.
type ChainPlugin struct {
	Name               string
	Filter, PostFilter bool
	Score              bool
	Weight             int64 // 0: the plugin's default
	// After the choice of a node; each point's order is ChainPoints'.
	Reserve, Permit, PreBind, PostBind bool
}

// The extension points after the choice of a node, as ChainPoints names them.
const (
	PointReserve  = "reserve"
	PointPermit   = "permit"
	PointPreBind  = "preBind"
	PointPostBind = "postBind"
)

// resolvePoint resolves one extension point's set against the defaults that implement it, as
// kube-scheduler merges them: the defaults minus the disabled ones ("*": all), with enabled
// plugins that are defaults overriding them in place and the others appended.
func resolvePoint(set pluginsv1alpha1.PluginSet, defaults []hostabi.HostedPlugin, implements func(hostabi.HostedPlugin) bool) []pluginsv1alpha1.Plugin {
	var out []pluginsv1alpha1.Plugin
	all := slices.ContainsFunc(set.Disabled, func(p pluginsv1alpha1.Plugin) bool { return p.Name == "*" })
	used := map[string]bool{}
	for _, hp := range defaults {
		if !implements(hp) || all || slices.ContainsFunc(set.Disabled, func(p pluginsv1alpha1.Plugin) bool { return p.Name == hp.Name }) {
			continue
		}
		p := pluginsv1alpha1.Plugin{Name: hp.Name}
		if i := slices.IndexFunc(set.Enabled, func(e pluginsv1alpha1.Plugin) bool { return e.Name == hp.Name }); i >= 0 {
			p = set.Enabled[i]
			used[hp.Name] = true
		}
		out = append(out, p)
	}
	for _, e := range set.Enabled {
		if !used[e.Name] {
			out = append(out, e)
		}
	}
	return out
}

// ChainPoints resolves the extension points after the choice of a node (PointReserve,
// PointPermit, PointPreBind, PointPostBind) to plugin names in the order they run there.
func ChainPoints(spec *pluginsv1alpha1.SchedulerProfileSpec, defaults []hostabi.HostedPlugin) map[string][]string {
	var sets pluginsv1alpha1.Plugins
	if spec.Plugins != nil {
		sets = *spec.Plugins
	}
	out := map[string][]string{}
	for _, pt := range []struct {
		name       string
		set        pluginsv1alpha1.PluginSet
		implements func(hostabi.HostedPlugin) bool
	}{
		{PointReserve, sets.Reserve, func(hp hostabi.HostedPlugin) bool { return hp.Reserve }},
		{PointPermit, sets.Permit, func(hp hostabi.HostedPlugin) bool { return hp.Permit }},
		{PointPreBind, sets.PreBind, func(hp hostabi.HostedPlugin) bool { return hp.PreBind }},
		{PointPostBind, sets.PostBind, func(hp hostabi.HostedPlugin) bool { return hp.PostBind }},
	} {
		for _, p := range resolvePoint(pt.set, defaults, pt.implements) {
			out[pt.name] = append(out[pt.name], p.Name)
		}
	}
	return out
}

// Chain resolves a spec's plugin sets against the default plugins (the module's list, in its
// order) as kube-scheduler merges a profile's plugins with its defaults (resolvePoint). The
// result is in filter order — the order that decides which plugin a node's rejection is
// counted against — then the remaining score, post-filter, reserve, permit, pre-bind and
// post-bind plugins.
func Chain(spec *pluginsv1alpha1.SchedulerProfileSpec, defaults []hostabi.HostedPlugin) []ChainPlugin {
	var sets pluginsv1alpha1.Plugins
	if spec.Plugins != nil {
		sets = *spec.Plugins
	}
	var chain []ChainPlugin
	entry := func(name string) *ChainPlugin {
		if i := slices.IndexFunc(chain, func(c ChainPlugin) bool { return c.Name == name }); i >= 0 {
			return &chain[i]
		}
		chain = append(chain, ChainPlugin{Name: name})
		return &chain[len(chain)-1]
	}
	for _, p := range resolvePoint(sets.Filter, defaults, func(hp hostabi.HostedPlugin) bool { return hp.Filter }) {
		entry(p.Name).Filter = true
	}
	for _, p := range resolvePoint(sets.Score, defaults, func(hp hostabi.HostedPlugin) bool { return hp.Score }) {
		e := entry(p.Name)
		e.Score, e.Weight = true, int64(p.Weight)
	}
	for _, p := range resolvePoint(sets.PostFilter, defaults, func(hp hostabi.HostedPlugin) bool { return hp.PostFilter }) {
		entry(p.Name).PostFilter = true
	}
	points := ChainPoints(spec, defaults)
	for _, n := range points[PointReserve] {
		entry(n).Reserve = true
	}
	for _, n := range points[PointPermit] {
		entry(n).Permit = true
	}
	for _, n := range points[PointPreBind] {
		entry(n).PreBind = true
	}
	for _, n := range points[PointPostBind] {
		entry(n).PostBind = true
	}
	return chain
}

// ModuleConfig is the tug_configure input of the default plugins' module for a spec (ABI.md
// §4.7): the default plugins its chain uses and their configuration.
func ModuleConfig(spec *pluginsv1alpha1.SchedulerProfileSpec, defaults []hostabi.HostedPlugin) []byte {
	mc := hostabi.HostedConfig{Enabled: []string{}, Config: map[string]json.RawMessage{}}
	for _, c := range Chain(spec, defaults) {
		if isDefault(defaults, c.Name) {
			mc.Enabled = append(mc.Enabled, c.Name)
		}
	}
	for _, pc := range spec.PluginConfig {
		if isDefault(defaults, pc.Name) && len(pc.Args.Raw) > 0 {
			mc.Config[pc.Name] = pc.Args.Raw
		}
	}
	b, _ := json.Marshal(mc)
	return b
}

func isDefault(defaults []hostabi.HostedPlugin, name string) bool {
	return slices.ContainsFunc(defaults, func(hp hostabi.HostedPlugin) bool { return hp.Name == name })
}

// CustomPlugin is a plugin outside the default module — a WasmPlugin of the cluster — as a
// profile finds it: its module and what it implements.
type CustomPlugin struct {
	Module                             *Module
	Filter, Score, PostFilter          bool
	Reserve, Permit, PreBind, PostBind bool
	DefaultWeight                      int64
}

// BuildProfile makes the framework's Profile for spec: the default plugins come from module
// m (configured with ModuleConfig for this spec; defaults is its plugin list) and any other
// name from lookup. A plugin enabled at a point it does not implement, an unknown name, or
// configuration for a plugin that is not in the chain is a ProfileError.
func BuildProfile(spec *pluginsv1alpha1.SchedulerProfileSpec, m *Module, defaults []hostabi.HostedPlugin,
	lookup func(name string) (*CustomPlugin, bool)) (*Profile, error) {
	prof := &Profile{SchedulerName: spec.SchedulerName}
	if spec.PercentageOfNodesToScore != nil {
		prof.PercentageOfNodesToScore = *spec.PercentageOfNodesToScore
	}
	chain := Chain(spec, defaults)
	for _, pc := range spec.PluginConfig {
		if !slices.ContainsFunc(chain, func(c ChainPlugin) bool { return c.Name == pc.Name }) {
			return nil, profileErr(pluginsv1alpha1.ReasonInvalidConfig, "pluginConfig names %s, which the profile does not run", pc.Name)
		}
		if !isDefault(defaults, pc.Name) {
			return nil, profileErr(pluginsv1alpha1.ReasonInvalidConfig,
				"pluginConfig names %s, a WasmPlugin: its configuration is the WasmPlugin's spec.config", pc.Name)
		}
	}
	byName := map[string]*Plugin{}
	for _, c := range chain {
		var can hostabi.HostedPlugin // what the plugin implements
		p := &Plugin{Name: c.Name}
		if i := slices.IndexFunc(defaults, func(hp hostabi.HostedPlugin) bool { return hp.Name == c.Name }); i >= 0 {
			can = defaults[i]
			p.Module, p.Hosted = m, true
		} else {
			cp, ok := lookup(c.Name)
			if !ok {
				return nil, profileErr(pluginsv1alpha1.ReasonPluginNotFound,
					"plugin %s is neither a default plugin (%s) nor a loaded WasmPlugin", c.Name, names(defaults))
			}
			can = hostabi.HostedPlugin{Filter: cp.Filter, Score: cp.Score, PostFilter: cp.PostFilter, Reserve: cp.Reserve,
				Permit: cp.Permit, PreBind: cp.PreBind, PostBind: cp.PostBind, Weight: cp.DefaultWeight}
			p.Module = cp.Module
		}
		for _, need := range []struct {
			on, can bool
			point   string
		}{{c.Filter, can.Filter, "filter"}, {c.Score, can.Score, "score"}, {c.PostFilter, can.PostFilter, "postFilter"},
			{c.Reserve, can.Reserve, PointReserve}, {c.Permit, can.Permit, PointPermit},
			{c.PreBind, can.PreBind, PointPreBind}, {c.PostBind, can.PostBind, PointPostBind}} {
			if need.on && !need.can {
				return nil, profileErr(pluginsv1alpha1.ReasonInvalidConfig, "plugin %s is enabled at %s, which it does not implement", c.Name, need.point)
			}
		}
		p.Filter, p.Score, p.PostFilter = c.Filter, c.Score, c.PostFilter
		p.Weight = c.Weight
		if p.Weight == 0 {
			p.Weight = max(can.Weight, 1)
		}
		prof.Plugins = append(prof.Plugins, p)
		byName[p.Name] = p
	}
	points := ChainPoints(spec, defaults)
	for _, pt := range []struct {
		name string
		to   *[]*Plugin
	}{{PointReserve, &prof.Reserve}, {PointPermit, &prof.Permit}, {PointPreBind, &prof.PreBind}, {PointPostBind, &prof.PostBind}} {
		for _, n := range points[pt.name] {
			*pt.to = append(*pt.to, byName[n])
		}
	}
	return prof, nil
}

func names(hosted []hostabi.HostedPlugin) string {
	var ns []string
	for _, hp := range hosted {
		ns = append(ns, hp.Name)
	}
	return fmt.Sprint(ns)
}
