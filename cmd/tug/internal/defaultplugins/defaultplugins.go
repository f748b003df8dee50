// Package defaultplugins carries the default scheduling plugins — plugins/scheduler/cmd/defaults,
// one wasm module hosting them all — into the tug binary. `make build` builds the module into
// wasm/ before it builds tug; a plain `go build ./cmd/tug` embeds none, and the scheduler then
// needs --scheduler-module.
package defaultplugins

import "embed"

//go:embed wasm
var files embed.FS

// Module returns the embedded module, if this build has one.
func Module() ([]byte, bool) {
	b, err := files.ReadFile("wasm/defaults.wasm")
	return b, err == nil && len(b) > 0
}
