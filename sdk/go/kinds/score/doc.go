// Package score makes a module a scheduler score: importing it for its side effect,
//
//	import _ "github.com/tugboat-io/tug/sdk/go/kinds/score"
//
// adds the exports tug_sched_nodes, tug_sched_prefilter, tug_sched_score and
// tug_sched_normalize to the module, which run the Score the plugin registers with
// tug.RegisterScore. tug_sched_normalize runs the Score's NormalizeScore if it has one and
// otherwise returns the scores unchanged. Natively (go test) the package is empty.
package score
