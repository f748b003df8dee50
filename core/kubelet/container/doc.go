// Package container holds what the node agent and its runtimes share: the Runtime interface a
// runtime implements (containerd for Linux containers, wasm for WASI modules run in-process),
// and the descriptions of sandboxes and containers that cross it.
//
// The interface is deliberately smaller than the CRI: the agent prepares volumes, environment
// and log paths itself and hands a runtime a fully resolved ContainerConfig, so a runtime only
// creates, starts, stops and lists. Every container a runtime runs carries the pod UID,
// container name and attempt it was made for, so that an agent that restarts can adopt what
// is still running instead of starting duplicates.
package container
