// Package trivial is the cheapest possible scheduler filter: every node passes. It measures
// what the SDK and the host cost around a filter that does no work.
package trivial

import tug "github.com/tugboat-io/tug/sdk/go"

// Filter passes every node.
func Filter(*tug.CycleState, *tug.Pod, *tug.NodeInfo) *tug.Status { return tug.Success }

// Register makes Filter the plugin's filter; call it once, from init.
func Register() { tug.RegisterFilter(tug.FilterFunc(Filter)) }
