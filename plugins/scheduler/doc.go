// Package scheduler holds tug's default scheduling plugins, written with the Go SDK and run as
// wasm: each subpackage is one plugin with kube-scheduler's semantics, reasons and default
// weight. cmd/defaults hosts them all in one module (ABI.md §4.7), the one the scheduler
// embeds. Their table tests run every case twice through the same ABI frames: natively, and
// in that module built to wasm (internal/testutil).
//
//	nodename           NodeName: a pod naming a node goes only there
//	nodeunschedulable  NodeUnschedulable: cordoned nodes, unless the pod tolerates it
//	tainttoleration    TaintToleration: NoSchedule/NoExecute taints filter, PreferNoSchedule scores (weight 3)
//	nodeaffinity       NodeAffinity: nodeSelector, required and preferred node affinity (weight 2)
//	nodeports          NodePorts: host ports free on the node
//	noderesources      NodeResourcesFit (LeastAllocated, MostAllocated, RequestedToCapacityRatio;
//	                   cpu, memory, pods, extended resources) and NodeResourcesBalancedAllocation
//	imagelocality      ImageLocality: nodes holding the pod's images, weighed by how widespread they are
//	podtopologyspread  PodTopologySpread: maxSkew, minDomains, node affinity/taint policies,
//	                   matchLabelKeys; DoNotSchedule filters, ScheduleAnyway scores (weight 2)
//	interpodaffinity   InterPodAffinity: required and preferred pod affinity and anti-affinity,
//	                   existing pods' anti-affinity and preferences towards the pod (weight 2)
//
// DefaultPreemption chooses where to preempt among candidates the scheduler finds.
package scheduler
