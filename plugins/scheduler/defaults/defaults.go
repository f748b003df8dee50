// Package defaults registers every default scheduling plugin with the SDK, in kube-scheduler's
// order, for a module hosting them all (cmd/defaults) and for running them natively.
package defaults

import (
	"github.com/tugboat-io/tug/plugins/scheduler/defaultpreemption"
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
)

// Register registers the default plugins with tug.RegisterPlugin; call it once, from init.
// Cheap, decisive filters come first.
func Register() {
	tug.RegisterPlugin(nodename.Name, nodename.NodeName{})
	tug.RegisterPlugin(nodeunschedulable.Name, nodeunschedulable.New())
	tug.RegisterPlugin(tainttoleration.Name, tainttoleration.New())
	tug.RegisterPlugin(nodeaffinity.Name, nodeaffinity.NodeAffinity{})
	tug.RegisterPlugin(nodeports.Name, nodeports.NodePorts{})
	tug.RegisterPlugin(noderesources.FitName, noderesources.NewFit())
	tug.RegisterPlugin(podtopologyspread.Name, podtopologyspread.New())
	tug.RegisterPlugin(interpodaffinity.Name, interpodaffinity.New())
	tug.RegisterPlugin(noderesources.BalancedName, noderesources.NewBalancedAllocation())
	tug.RegisterPlugin(imagelocality.Name, imagelocality.New())
	tug.RegisterPlugin(defaultpreemption.Name, defaultpreemption.New())
}
