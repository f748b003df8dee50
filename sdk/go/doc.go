// Package tug is the Go SDK for tug plugins: scheduler filters and scores, admission
// policies and controllers written in plain Go and built to WebAssembly with the standard
// toolchain:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o plugin.wasm .
//
// A plugin is a main package that registers its implementation in init (a c-shared module
// never runs main) and imports the package of each kind it implements, which adds that
// kind's exports to the module:
//
//	package main
//
//	import (
//		tug "github.com/tugboat-io/tug/sdk/go"
//		_ "github.com/tugboat-io/tug/sdk/go/kinds/filter"
//	)
//
//	type gpuFilter struct{}
//
//	func (gpuFilter) Filter(_ *tug.CycleState, pod *tug.Pod, node *tug.NodeInfo) *tug.Status {
//		if node.Node.Labels["gpu"] != "true" {
//			return tug.UnschedulableAndUnresolvable("node(s) have no GPU")
//		}
//		return tug.Success
//	}
//
//	func init() { tug.RegisterFilter(gpuFilter{}) }
//
//	func main() {}
//
// The SDK implements the host ABI (hostabi/ABI.md) underneath: it keeps the cluster's nodes
// resident in the instance, decodes the cycle's pod once, turns one batched call into a
// call per node, and encodes the results. The same code runs natively, so a plugin is unit
// tested with plain go test; package sdktest drives it through the same encodings the host
// uses.
//
// Exactly one implementation of each kind can be registered, and the SDK calls it one call
// at a time: plugin code needs no locks.
package tug
