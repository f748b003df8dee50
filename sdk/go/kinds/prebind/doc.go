// Package prebind adds a scheduler plugin's PreBind (ABI.md §4.10) to a module: importing it
// for its side effect,
//
//	import _ "github.com/tugboat-io/tug/sdk/go/kinds/prebind"
//
// adds the export tug_sched_prebind, which runs what the plugin registers with
// tug.RegisterPreBind. The module is also a filter or a score (kinds/filter, kinds/score); the
// host calls only the extension points a module exports. Natively (go test) the package is
// empty.
package prebind
