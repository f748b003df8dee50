// Package leader runs a component only while it holds a coordination.k8s.io Lease, so that
// several schedulers or controller managers can run and exactly one acts: client-go's
// leader election, with timings chosen for failover within 15 seconds.
package leader
