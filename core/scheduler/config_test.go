package scheduler

import (
	"strings"
	"testing"

	"github.com/tugboat-io/tug/hostabi"
)

func TestParseConfig(t *testing.T) {
	c, err := ParseConfig([]byte(`
profiles:
- schedulerName: default-scheduler
- schedulerName: bin-packing
  percentageOfNodesToScore: 50
  plugins:
  - name: NodeResourcesFit
    weight: 5
  - name: TaintToleration
    score: false
  pluginConfig:
    NodeResourcesFit:
      scoringStrategy: {type: MostAllocated}
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Profiles) != 2 || c.Profiles[1].PercentageOfNodesToScore != 50 {
		t.Fatalf("parsed %+v", c)
	}
	if got := string(c.Profiles[1].ModuleConfig()); got != `{"enabled":["NodeResourcesFit","TaintToleration"],"config":{"NodeResourcesFit":{"scoringStrategy":{"type":"MostAllocated"}}}}` {
		t.Errorf("module config %s", got)
	}
	if got := string(c.Profiles[0].ModuleConfig()); got != `{}` {
		t.Errorf("a profile of every plugin: module config %s", got)
	}
	for _, bad := range []struct{ yaml, want string }{
		{`profiles: []`, "at least one"},
		{`profiles: [{percentageOfNodesToScore: 5}]`, "schedulerName: required"},
		{`profiles: [{schedulerName: a}, {schedulerName: a}]`, "appears twice"},
		{`profiles: [{schedulerName: a, percentageOfNodesToScore: 101}]`, "not in 0..100"},
		{`profiles: [{schedulerName: a, plugins: [{name: X}, {name: X}]}]`, "appears twice"},
		{`profiles: [{schedulerName: a, plugins: [{name: X, weight: 500}]}]`, "not in 1..100"},
		{`profiles: [{schedulerName: a, pluggins: []}]`, "unknown field"},
	} {
		if _, err := ParseConfig([]byte(bad.yaml)); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%s: %v, want an error containing %q", bad.yaml, err, bad.want)
		}
	}
}

func TestProfileBuild(t *testing.T) {
	hosted := []hostabi.HostedPlugin{{Name: "NodeName", Filter: true}, {Name: "TaintToleration", Filter: true, Score: true, Weight: 3},
		{Name: "ImageLocality", Score: true}}
	m := &Module{Name: "defaults"}
	prof, err := ProfileConfig{SchedulerName: "all"}.Build(m, hosted)
	if err != nil {
		t.Fatal(err)
	}
	if len(prof.Plugins) != 3 || prof.Plugins[1].Weight != 3 || !prof.Plugins[1].Filter || !prof.Plugins[1].Score || prof.Plugins[2].Filter {
		t.Fatalf("every plugin, defaults: %+v %+v %+v", *prof.Plugins[0], *prof.Plugins[1], *prof.Plugins[2])
	}
	no := false
	prof, err = ProfileConfig{SchedulerName: "some", Plugins: []PluginConfig{{Name: "TaintToleration", Score: &no, Weight: 7}}}.Build(m, hosted)
	if err != nil || len(prof.Plugins) != 1 || prof.Plugins[0].Score || prof.Plugins[0].Weight != 7 {
		t.Fatalf("chosen plugin: %+v, %v", prof.Plugins, err)
	}
	yes := true
	for _, pc := range []ProfileConfig{
		{SchedulerName: "x", Plugins: []PluginConfig{{Name: "Nope"}}},
		{SchedulerName: "x", Plugins: []PluginConfig{{Name: "NodeName", Score: &yes}}},
		{SchedulerName: "x", Plugins: []PluginConfig{{Name: "ImageLocality", Filter: &yes}}},
	} {
		if _, err := pc.Build(m, hosted); err == nil {
			t.Errorf("built %+v", pc.Plugins)
		}
	}
}
