// Package filter makes a module a scheduler filter: importing it for its side effect,
//
//	import _ "github.com/tugboat-io/tug/sdk/go/kinds/filter"
//
// adds the exports tug_sched_nodes, tug_sched_prefilter and tug_sched_filter to the module,
// which run the Filter the plugin registers with tug.RegisterFilter. A module exports exactly
// the kinds whose packages it imports, so the host classifies it by what it implements.
// Natively (go test) the package is empty.
package filter
