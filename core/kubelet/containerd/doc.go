// Package containerd is the node agent's runtime for Linux containers, through the containerd
// client (containerd with runc, as Debian packages them).
//
// A pod's sandbox is its network: a network namespace attached through CNI (package podnet),
// recorded in a file under the agent's state directory so that an agent that restarts finds it
// again. There is no pause container; each container joins the namespace by path. Containers
// are containerd containers in one namespace ("tug" by default), labelled with the node, pod
// and attempt they belong to, so a restarted agent adopts them; their stdout and stderr go to
// the container's log file through containerd's binary log driver (the tug binary itself,
// started by the shim, so logging outlives the agent).
//
// A container that exits is recorded on its containerd container (exit code and time as
// labels) and its task deleted, so exited containers hold no shim, as the CRI plugin does.
package containerd
