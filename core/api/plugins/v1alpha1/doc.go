// Package v1alpha1 holds tug's own plugin kinds, group plugins.tug.dev, version v1alpha1, served
// by the API server like every Kubernetes kind: a WasmPlugin names a WebAssembly module by
// digest, declares what it implements and how it is sandboxed. Scheduler profiles and
// admission policies that chain plugins join this group as their issues land.
package v1alpha1
