// Package sched holds the exports every scheduler plugin has, tug_sched_nodes and
// tug_sched_prefilter (ABI.md §4.1, §4.2), shared by kinds/filter and kinds/score so that a
// module that is both exports them once. Natively the package is empty.
package sched
