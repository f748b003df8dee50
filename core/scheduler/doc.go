// Package scheduler is tug's scheduler core: the mechanics of placing pods, with every
// predicate and priority left to wasm plugins.
//
// It is built as pure cores around one loop, in the manner of kube-scheduler:
//
//   - Queue holds the pods waiting for a node: an active heap ordered by priority (the
//     framework's PrioritySort), a backoff heap for pods that failed recently (1 s doubling to
//     10 s per attempt), and a set of unschedulable pods that wait for a cluster event that
//     could make them fit (or for a minute-scale timeout). It has no I/O and takes its clock
//     from the caller, so its decisions are tested directly.
//
//   - Cache is the scheduler's view of nodes and of the pods on them, including pods assumed
//     onto a node before their binding is written, so that the next cycle already counts the
//     resources they take. Every node change bumps a generation; a plugin instance that has
//     seen generation g is sent only the nodes changed since (hostabi's tug_sched_nodes), by
//     the dense node ids the cache hands out.
//
//   - Framework runs one cycle of a Profile's plugins at the level of the ABI's frames, in
//     kube-scheduler's order: PreFilter, Filter (a chain: each plugin sees only the nodes
//     the earlier ones passed, over chunks of nodes from a rotating start until
//     percentageOfNodesToScore's share is feasible), Score and NormalizeScore with weights,
//     and the choice of node (ties broken at random). A rejected node's verdict is the first
//     plugin that rejected it, which is what FailedScheduling's message counts. Plugins are
//     Instances — wasm in practice, anything speaking the frames in tests and benchmarks —
//     brought up to the cache's generation before the cycle. Plugins of one Module share its
//     instance: a module hosting several plugins (hostabi ABI.md §4.7, the default plugins)
//     decodes the pod once per cycle and keeps the cluster once.
//
//   - Scheduler is the loop: client-go informers on pods and nodes feed the queue and the
//     cache; each popped pod runs a cycle, is assumed onto the chosen node, passes the
//     profile's Reserve and Permit plugins, and is bound in a binding cycle in the
//     background (binding.go: waiting while Permit holds it, PreBind, pods/binding,
//     PostBind; Unreserve in reverse when anything after Reserve fails); failures write
//     FailedScheduling events and the pod's PodScheduled condition as kube-scheduler does.
//
//   - Profiles come from the configuration and from the cluster's SchedulerProfiles
//     (ProfileWatch), resolved against the default plugins as kube-scheduler merges a
//     profile with its defaults (Chain) and built beside the running chain before they
//     replace it (ProfileBuilder), so a swap never stops scheduling.
//
//   - Explain keeps each pod's last attempt — every node's verdict, the feasible nodes'
//     scores — for `tug explain pod`, served by Handler at the URL the leader records on
//     its Lease.
//
//   - Preemption (preempt.go) runs when no node fits: what-ifs through the chain find, per
//     node, the fewest lower-priority victims; the profile's PostFilter plugin picks the node;
//     the scheduler deletes the victims and nominates the node, keeping room for the pod.
//
//   - Pre-filters may skip plugins with nothing to do for a pod (ABI.md §4.8), so a plain pod
//     costs the filters and scores that matter to it, not the whole chain.
package scheduler
