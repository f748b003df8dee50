// Package reserve adds a scheduler plugin's Reserve and Unreserve (ABI.md §4.10) to a module:
// importing it for its side effect,
//
//	import _ "github.com/tugboat-io/tug/sdk/go/kinds/reserve"
//
// adds the exports tug_sched_reserve and tug_sched_unreserve, which run what the plugin
// registers with tug.RegisterReserve. The module is also a filter or a score (kinds/filter,
// kinds/score); the host calls only the extension points a module exports. Natively (go test)
// the package is empty.
package reserve
