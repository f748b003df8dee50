package scheduler

import (
	"encoding/json"
	"fmt"
	"slices"

	"sigs.k8s.io/yaml"

	"github.com/tugboat-io/tug/hostabi"
)

// FileConfig is the scheduler's configuration file (tug up --scheduler-config): profiles of the
// default plugins, in the spirit of kube-scheduler's KubeSchedulerConfiguration.
//
//	profiles:
//	- schedulerName: default-scheduler
//	- schedulerName: bin-packing
//	  percentageOfNodesToScore: 50
//	  plugins:                      # the plugins to run, in this order (all, when absent)
//	  - name: NodeResourcesFit
//	    weight: 5                   # score weight (default: kube-scheduler's)
//	  - name: TaintToleration
//	    score: false                # filter only
//	  pluginConfig:
//	    NodeResourcesFit:
//	      scoringStrategy: {type: MostAllocated}
type FileConfig struct {
	Profiles []ProfileConfig `json:"profiles"`
}

// ProfileConfig is one profile of FileConfig.
type ProfileConfig struct {
	SchedulerName            string                     `json:"schedulerName"`
	PercentageOfNodesToScore int32                      `json:"percentageOfNodesToScore,omitempty"`
	Plugins                  []PluginConfig             `json:"plugins,omitempty"`
	PluginConfig             map[string]json.RawMessage `json:"pluginConfig,omitempty"`
}

// PluginConfig enables one plugin of a profile; Filter and Score default to what the plugin
// does, Weight to the default the module declares for it (kube-scheduler's, for the default
// plugins).
type PluginConfig struct {
	Name   string `json:"name"`
	Weight int64  `json:"weight,omitempty"`
	Filter *bool  `json:"filter,omitempty"`
	Score  *bool  `json:"score,omitempty"`
}

// ParseConfig reads a configuration file (YAML or JSON) and checks what it can without the
// plugins: names present and unique, percentages and weights in range.
func ParseConfig(data []byte) (*FileConfig, error) {
	var c FileConfig
	if err := yaml.UnmarshalStrict(data, &c); err != nil {
		return nil, fmt.Errorf("scheduler config: %w", err)
	}
	if len(c.Profiles) == 0 {
		return nil, fmt.Errorf("scheduler config: profiles: at least one is required")
	}
	seen := map[string]bool{}
	for i, p := range c.Profiles {
		at := fmt.Sprintf("scheduler config: profiles[%d]", i)
		switch {
		case p.SchedulerName == "":
			return nil, fmt.Errorf("%s.schedulerName: required", at)
		case seen[p.SchedulerName]:
			return nil, fmt.Errorf("%s.schedulerName: %q appears twice", at, p.SchedulerName)
		case p.PercentageOfNodesToScore < 0 || p.PercentageOfNodesToScore > 100:
			return nil, fmt.Errorf("%s.percentageOfNodesToScore: %d is not in 0..100", at, p.PercentageOfNodesToScore)
		}
		seen[p.SchedulerName] = true
		names := map[string]bool{}
		for j, pl := range p.Plugins {
			switch {
			case pl.Name == "":
				return nil, fmt.Errorf("%s.plugins[%d].name: required", at, j)
			case names[pl.Name]:
				return nil, fmt.Errorf("%s.plugins[%d].name: %q appears twice", at, j, pl.Name)
			case pl.Weight < 0 || pl.Weight > 100:
				return nil, fmt.Errorf("%s.plugins[%d].weight: %d is not in 1..100", at, j, pl.Weight)
			}
			names[pl.Name] = true
		}
	}
	return &c, nil
}

// DefaultConfig is one profile, default-scheduler, with every default plugin.
func DefaultConfig() *FileConfig {
	return &FileConfig{Profiles: []ProfileConfig{{SchedulerName: "default-scheduler"}}}
}

// ModuleConfig is the tug_configure input of the default plugins' module for this profile
// (ABI.md §4.7): the plugins it enables and their configuration.
func (p ProfileConfig) ModuleConfig() []byte {
	mc := hostabi.HostedConfig{Config: p.PluginConfig}
	for _, pl := range p.Plugins {
		mc.Enabled = append(mc.Enabled, pl.Name)
	}
	b, _ := json.Marshal(mc)
	return b
}

// Build makes the framework's Profile from this one, over module m hosting plugins hosted (the
// module's list, in its order, once configured with ModuleConfig).
func (p ProfileConfig) Build(m *Module, hosted []hostabi.HostedPlugin) (*Profile, error) {
	prof := &Profile{SchedulerName: p.SchedulerName, PercentageOfNodesToScore: p.PercentageOfNodesToScore}
	pick := p.Plugins
	if len(pick) == 0 {
		for _, hp := range hosted {
			pick = append(pick, PluginConfig{Name: hp.Name})
		}
	}
	for _, pl := range pick {
		i := slices.IndexFunc(hosted, func(hp hostabi.HostedPlugin) bool { return hp.Name == pl.Name })
		if i < 0 {
			return nil, fmt.Errorf("profile %s: no plugin %q (the module has %s)", p.SchedulerName, pl.Name, names(hosted))
		}
		hp := hosted[i]
		filter, score := hp.Filter, hp.Score
		if pl.Filter != nil {
			if *pl.Filter && !hp.Filter {
				return nil, fmt.Errorf("profile %s: plugin %s does not filter", p.SchedulerName, pl.Name)
			}
			filter = *pl.Filter
		}
		if pl.Score != nil {
			if *pl.Score && !hp.Score {
				return nil, fmt.Errorf("profile %s: plugin %s does not score", p.SchedulerName, pl.Name)
			}
			score = *pl.Score
		}
		weight := pl.Weight
		if weight == 0 {
			weight = max(hp.Weight, 1) // the module's default for the plugin
		}
		prof.Plugins = append(prof.Plugins, &Plugin{Name: pl.Name, Module: m, Hosted: true, Filter: filter, Score: score, Weight: weight})
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
