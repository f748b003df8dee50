// Command nodelabel is a scheduler filter plugin: only nodes whose label (configured) has
// one of the configured values pass. With the configuration
//
//	{"label": "zone", "values": ["a", "b"]}
//
// pods go to nodes labelled zone=a or zone=b; every other node is rejected with "node(s)
// didn't match zone", as unresolvable (preempting pods cannot change a node's labels).
//
// Build it with:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o nodelabel.wasm .
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	tug "github.com/tugboat-io/tug/sdk/go"
	_ "github.com/tugboat-io/tug/sdk/go/kinds/filter"
)

// Config is the plugin's configuration.
type Config struct {
	// Label is the node label to look at.
	Label string `json:"label"`
	// Values are the label values that pass.
	Values []string `json:"values"`
}

// NodeLabel is the filter.
type NodeLabel struct {
	cfg    Config
	reason string
}

// Configure validates and adopts the configuration.
func (p *NodeLabel) Configure(raw []byte) error {
	var c Config
	if err := json.Unmarshal(raw, &c); err != nil {
		return fmt.Errorf("decode config: %w", err)
	}
	switch {
	case c.Label == "":
		return errors.New("label: required")
	case len(c.Values) == 0:
		return errors.New("values: at least one value is required")
	}
	p.cfg = c
	p.reason = "node(s) didn't match " + c.Label
	tug.Logf(tug.LevelInfo, "nodes pass when label %s is one of %v", c.Label, c.Values)
	return nil
}

// Filter passes a node whose label has one of the configured values.
func (p *NodeLabel) Filter(_ *tug.CycleState, _ *tug.Pod, node *tug.NodeInfo) *tug.Status {
	if v, ok := node.Node.Labels[p.cfg.Label]; ok && slices.Contains(p.cfg.Values, v) {
		return tug.Success
	}
	return tug.UnschedulableAndUnresolvable(p.reason)
}

func init() {
	p := &NodeLabel{}
	tug.RegisterConfigure(p.Configure)
	tug.RegisterFilter(p)
}

// main is not run in a c-shared module; the plugin registers itself in init.
func main() {}
