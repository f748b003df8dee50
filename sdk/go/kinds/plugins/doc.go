// Package plugins makes a module host several scheduling plugins (ABI.md §4.7): importing it
// for its side effect,
//
//	import _ "github.com/tugboat-io/tug/sdk/go/kinds/plugins"
//
// adds the exports tug_sched_nodes, tug_sched_prefilter, tug_sched_plugins and
// tug_sched_filter_at, tug_sched_score_at, tug_sched_normalize_at, tug_sched_postfilter_at,
// tug_sched_reserve_at, tug_sched_unreserve_at, tug_sched_permit_at, tug_sched_prebind_at and
// tug_sched_postbind_at, which run the plugins the module registers with tug.RegisterPlugin
// (the host calls a plugin only at the extension points tug_sched_plugins lists for it). They share the resident nodes and the cycle's
// pod. Natively (go test) the package is empty.
package plugins
