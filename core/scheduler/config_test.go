package scheduler

import (
	"errors"
	"strings"
	"testing"

	pluginsv1alpha1 "github.com/tugboat-io/tug/core/api/plugins/v1alpha1"
	"github.com/tugboat-io/tug/hostabi"
)

func TestParseConfig(t *testing.T) {
	c, err := ParseConfig([]byte(`
profiles:
- schedulerName: default-scheduler
- schedulerName: bin-packing
  percentageOfNodesToScore: 50
  plugins:
    score:
      disabled: [{name: "*"}]
      enabled: [{name: NodeResourcesFit, weight: 5}]
  pluginConfig:
  - name: NodeResourcesFit
    args: {scoringStrategy: {type: MostAllocated}}
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Profiles) != 2 || *c.Profiles[1].PercentageOfNodesToScore != 50 {
		t.Fatalf("parsed %+v", c)
	}
	for _, bad := range []struct{ yaml, want string }{
		{`profiles: []`, "at least one"},
		{`profiles: [{percentageOfNodesToScore: 5}]`, "profiles[0].schedulerName: Required"},
		{`profiles: [{schedulerName: a}, {schedulerName: a}]`, "profiles[1].schedulerName: Duplicate"},
		{`profiles: [{schedulerName: a, percentageOfNodesToScore: 101}]`, "must be between 0 and 100"},
		{`profiles: [{schedulerName: a, plugins: {filter: {enabled: [{name: X}, {name: X}]}}}]`, "filter.enabled[1].name: Duplicate"},
		{`profiles: [{schedulerName: a, plugins: {score: {enabled: [{name: X, weight: 500}]}}}]`, "must be between 0 and 100"},
		{`profiles: [{schedulerName: a, pluggins: {}}]`, "unknown field"},
		{`profiles: [{schedulerName: a, plugins: {permit: {enabled: [{name: X, weight: 2}]}}}]`, "plugins.permit.enabled[0].weight: Invalid value"},
		{`profiles: [{schedulerName: a, plugins: {reserve: {enabled: [{name: ""}]}}}]`, "plugins.reserve.enabled[0].name: Required"},
	} {
		if _, err := ParseConfig([]byte(bad.yaml)); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%s: %v, want an error containing %q", bad.yaml, err, bad.want)
		}
	}
}

var testDefaults = []hostabi.HostedPlugin{{Name: "NodeName", Filter: true}, {Name: "TaintToleration", Filter: true, Score: true, Weight: 3},
	{Name: "ImageLocality", Score: true}, {Name: "DefaultPreemption", PostFilter: true}}

func chainString(chain []ChainPlugin) string {
	var parts []string
	for _, c := range chain {
		s := c.Name + ":"
		if c.Filter {
			s += "F"
		}
		if c.Score {
			s += "S"
			if c.Weight != 0 {
				s += string(rune('0' + c.Weight))
			}
		}
		if c.PostFilter {
			s += "P"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " ")
}

// TestChain: kube-scheduler's merge of a profile's plugin sets with the defaults.
func TestChain(t *testing.T) {
	set := func(enabled, disabled []pluginsv1alpha1.Plugin) pluginsv1alpha1.PluginSet {
		return pluginsv1alpha1.PluginSet{Enabled: enabled, Disabled: disabled}
	}
	p := func(name string, weight int32) pluginsv1alpha1.Plugin {
		return pluginsv1alpha1.Plugin{Name: name, Weight: weight}
	}
	for _, c := range []struct {
		name    string
		plugins *pluginsv1alpha1.Plugins
		want    string
	}{
		{"defaults", nil, "NodeName:F TaintToleration:FS ImageLocality:S DefaultPreemption:P"},
		{"a default's weight overridden in place", &pluginsv1alpha1.Plugins{Score: set([]pluginsv1alpha1.Plugin{p("TaintToleration", 7)}, nil)},
			"NodeName:F TaintToleration:FS7 ImageLocality:S DefaultPreemption:P"},
		{"one disabled", &pluginsv1alpha1.Plugins{Filter: set(nil, []pluginsv1alpha1.Plugin{p("NodeName", 0)})},
			"TaintToleration:FS ImageLocality:S DefaultPreemption:P"},
		{"all scores replaced, a custom filter appended", &pluginsv1alpha1.Plugins{
			Filter: set([]pluginsv1alpha1.Plugin{p("zone-filter", 0)}, nil),
			Score:  set([]pluginsv1alpha1.Plugin{p("ImageLocality", 2)}, []pluginsv1alpha1.Plugin{p("*", 0)})},
			"NodeName:F TaintToleration:F zone-filter:F ImageLocality:S2 DefaultPreemption:P"},
		{"no preemption", &pluginsv1alpha1.Plugins{PostFilter: set(nil, []pluginsv1alpha1.Plugin{p("*", 0)})},
			"NodeName:F TaintToleration:FS ImageLocality:S"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := chainString(Chain(&pluginsv1alpha1.SchedulerProfileSpec{Plugins: c.plugins}, testDefaults)); got != c.want {
				t.Errorf("got  %s\nwant %s", got, c.want)
			}
		})
	}
}

func TestModuleConfig(t *testing.T) {
	spec := &pluginsv1alpha1.SchedulerProfileSpec{SchedulerName: "x", Plugins: &pluginsv1alpha1.Plugins{
		Filter: pluginsv1alpha1.PluginSet{Enabled: []pluginsv1alpha1.Plugin{{Name: "zone-filter"}}, Disabled: []pluginsv1alpha1.Plugin{{Name: "NodeName"}}}},
		PluginConfig: []pluginsv1alpha1.PluginConfig{{Name: "TaintToleration"}}}
	spec.PluginConfig[0].Args.Raw = []byte(`{"a":1}`)
	if got := string(ModuleConfig(spec, testDefaults)); got != `{"enabled":["TaintToleration","ImageLocality","DefaultPreemption"],"config":{"TaintToleration":{"a":1}}}` {
		t.Errorf("module config %s", got)
	}
}

func TestBuildProfile(t *testing.T) {
	m := &Module{Name: "defaults"}
	custom := &Module{Name: "zone-filter"}
	lookup := func(name string) (*CustomPlugin, bool) {
		if name == "zone-filter" {
			return &CustomPlugin{Module: custom, Filter: true, DefaultWeight: 1}, true
		}
		return nil, false
	}
	prof, err := BuildProfile(&pluginsv1alpha1.SchedulerProfileSpec{SchedulerName: "all"}, m, testDefaults, lookup)
	if err != nil {
		t.Fatal(err)
	}
	if len(prof.Plugins) != 4 || prof.Plugins[1].Weight != 3 || !prof.Plugins[1].Filter || !prof.Plugins[1].Score ||
		prof.Plugins[2].Filter || !prof.Plugins[3].PostFilter || !prof.Plugins[0].Hosted || prof.Plugins[0].Module != m {
		t.Fatalf("every plugin, defaults: %+v %+v %+v", *prof.Plugins[0], *prof.Plugins[1], *prof.Plugins[2])
	}
	pct := int32(30)
	prof, err = BuildProfile(&pluginsv1alpha1.SchedulerProfileSpec{SchedulerName: "zoned", PercentageOfNodesToScore: &pct,
		Plugins: &pluginsv1alpha1.Plugins{Filter: pluginsv1alpha1.PluginSet{Enabled: []pluginsv1alpha1.Plugin{{Name: "zone-filter"}}}}},
		m, testDefaults, lookup)
	if err != nil || prof.PercentageOfNodesToScore != 30 || len(prof.Plugins) != 5 || prof.Plugins[2].Module != custom || prof.Plugins[2].Hosted {
		t.Fatalf("a custom filter: %+v, %v", prof, err)
	}

	for _, c := range []struct {
		name    string
		plugins *pluginsv1alpha1.Plugins
		config  string
		reason  string
	}{
		{"unknown plugin", &pluginsv1alpha1.Plugins{Filter: pluginsv1alpha1.PluginSet{Enabled: []pluginsv1alpha1.Plugin{{Name: "Nope"}}}}, "",
			pluginsv1alpha1.ReasonPluginNotFound},
		{"a filter enabled to score", &pluginsv1alpha1.Plugins{Score: pluginsv1alpha1.PluginSet{Enabled: []pluginsv1alpha1.Plugin{{Name: "NodeName"}}}}, "",
			pluginsv1alpha1.ReasonInvalidConfig},
		{"a custom filter enabled to score", &pluginsv1alpha1.Plugins{Score: pluginsv1alpha1.PluginSet{Enabled: []pluginsv1alpha1.Plugin{{Name: "zone-filter"}}}}, "",
			pluginsv1alpha1.ReasonInvalidConfig},
		{"config for a plugin not in the chain", &pluginsv1alpha1.Plugins{Score: pluginsv1alpha1.PluginSet{Disabled: []pluginsv1alpha1.Plugin{{Name: "ImageLocality"}}}},
			"ImageLocality", pluginsv1alpha1.ReasonInvalidConfig},
		{"config for a WasmPlugin", &pluginsv1alpha1.Plugins{Filter: pluginsv1alpha1.PluginSet{Enabled: []pluginsv1alpha1.Plugin{{Name: "zone-filter"}}}},
			"zone-filter", pluginsv1alpha1.ReasonInvalidConfig},
	} {
		t.Run(c.name, func(t *testing.T) {
			spec := &pluginsv1alpha1.SchedulerProfileSpec{SchedulerName: "x", Plugins: c.plugins}
			if c.config != "" {
				spec.PluginConfig = []pluginsv1alpha1.PluginConfig{{Name: c.config}}
			}
			_, err := BuildProfile(spec, m, testDefaults, lookup)
			if pe, ok := errors.AsType[*ProfileError](err); !ok || pe.Reason != c.reason {
				t.Fatalf("got %v, want a %s ProfileError", err, c.reason)
			}
		})
	}
}

// The points after the choice of a node run in their own set's order, whatever order the
// plugins have in the filter chain; BuildProfile refuses a plugin at a point it lacks.
func TestChainPointsAfterTheNode(t *testing.T) {
	spec := &pluginsv1alpha1.SchedulerProfileSpec{SchedulerName: "gangs", Plugins: &pluginsv1alpha1.Plugins{
		Filter:   pluginsv1alpha1.PluginSet{Enabled: []pluginsv1alpha1.Plugin{{Name: "quota"}, {Name: "gang"}}},
		Reserve:  pluginsv1alpha1.PluginSet{Enabled: []pluginsv1alpha1.Plugin{{Name: "gang"}, {Name: "quota"}}},
		Permit:   pluginsv1alpha1.PluginSet{Enabled: []pluginsv1alpha1.Plugin{{Name: "gang"}}},
		PostBind: pluginsv1alpha1.PluginSet{Enabled: []pluginsv1alpha1.Plugin{{Name: "audit"}}},
	}}
	custom := map[string]*CustomPlugin{
		"quota": {Module: &Module{}, Filter: true, Reserve: true},
		"gang":  {Module: &Module{}, Filter: true, Reserve: true, Permit: true},
		"audit": {Module: &Module{}, Filter: true, PostBind: true},
	}
	lookup := func(n string) (*CustomPlugin, bool) { cp, ok := custom[n]; return cp, ok }
	prof, err := BuildProfile(spec, &Module{}, testDefaults, lookup)
	if err != nil {
		t.Fatal(err)
	}
	names := func(ps []*Plugin) string {
		var ns []string
		for _, p := range ps {
			ns = append(ns, p.Name)
		}
		return strings.Join(ns, ",")
	}
	if got := names(prof.Reserve) + " " + names(prof.Permit) + " " + names(prof.PreBind) + " " + names(prof.PostBind); got != "gang,quota gang  audit" {
		t.Errorf("reserve, permit, pre-bind, post-bind: %q", got)
	}
	if prof.Reserve[0] != prof.Permit[0] || !strings.Contains(names(prof.Plugins), "audit") {
		t.Errorf("the points' plugins are not the chain's: %s", names(prof.Plugins))
	}
	spec.Plugins.PreBind = pluginsv1alpha1.PluginSet{Enabled: []pluginsv1alpha1.Plugin{{Name: "quota"}}}
	var pe *ProfileError
	if _, err := BuildProfile(spec, &Module{}, testDefaults, lookup); !errors.As(err, &pe) ||
		pe.Reason != pluginsv1alpha1.ReasonInvalidConfig || pe.Message != "plugin quota is enabled at preBind, which it does not implement" {
		t.Errorf("quota at preBind: %v", err)
	}
}
