// Package sim runs hollow nodes, as kwok does: Nodes that register with the cluster, report
// capacity and Ready, renew their Leases, and pretend to run the pods bound to them (Running
// and Ready at once, an IP each, gone at once when deleted). They let anyone try scheduling
// policies at the scale of thousands of nodes on one machine, and they are the scheduler
// benchmark's nodes. Nothing runs: a hollow node never starts a container.
package sim
