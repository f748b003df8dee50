// Command defaults is the module of tug's default scheduling plugins: every plugin of
// plugins/scheduler hosted in one wasm module (ABI.md §4.7), so a scheduling cycle decodes the
// pod once and an instance keeps the cluster once for all of them.
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o defaults.wasm ./cmd/defaults
//
// A profile enables the plugins it uses and configures them through the module's
// configuration: {"enabled": [...], "config": {"NodeResourcesFit": {...}}}.
package main

import (
	"github.com/tugboat-io/tug/plugins/scheduler/imagelocality"
	"github.com/tugboat-io/tug/plugins/scheduler/interpodaffinity"
	"github.com/tugboat-io/tug/plugins/scheduler/nodeaffinity"
	"github.com/tugboat-io/tug/plugins/scheduler/nodename"
	"github.com/tugboat-io/tug/plugins/scheduler/nodeports"
	"github.com/tugboat-io/tug/plugins/scheduler/noderesources"
	"github.com/tugboat-io/tug/plugins/scheduler/nodeunschedulable"
	"github.com/tugboat-io/tug/plugins/scheduler/podtopologyspread"
	"github.com/tugboat-io/tug/plugins/scheduler/tainttoleration"
	tug "github.com/tugboat-io/tug/sdk/go"
	_ "github.com/tugboat-io/tug/sdk/go/kinds/plugins"
)

func init() {
	// kube-scheduler's order: cheap, decisive filters first.
	tug.RegisterPlugin(nodename.Name, nodename.NodeName{})
	tug.RegisterPlugin(nodeunschedulable.Name, nodeunschedulable.NodeUnschedulable{})
	tug.RegisterPlugin(tainttoleration.Name, tainttoleration.TaintToleration{})
	tug.RegisterPlugin(nodeaffinity.Name, nodeaffinity.NodeAffinity{})
	tug.RegisterPlugin(nodeports.Name, nodeports.NodePorts{})
	tug.RegisterPlugin(noderesources.FitName, noderesources.NewFit())
	tug.RegisterPlugin(podtopologyspread.Name, podtopologyspread.New())
	tug.RegisterPlugin(interpodaffinity.Name, interpodaffinity.New())
	tug.RegisterPlugin(noderesources.BalancedName, noderesources.NewBalancedAllocation())
	tug.RegisterPlugin(imagelocality.Name, imagelocality.New())
}

func main() {}
