// Package plugins keeps the wasm runtime in step with the cluster's WasmPlugin objects: for
// each plugin it fetches the module the spec names (from the cluster, or from its URL pinned by
// digest), hot-swaps it into the plugin's runtime slot with the spec's configuration and
// sandbox, and reports the outcome in the plugin's status conditions (Loaded, Active, Failed).
// A version that fails to load leaves the previous one serving.
//
// The scheduler, admission and controllers find plugins here by name. The manager talks to
// the API server like any other client, so it runs the same beside one server or many.
package plugins
