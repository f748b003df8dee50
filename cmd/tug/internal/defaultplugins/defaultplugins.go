// Package defaultplugins carries tug's default plugins into the binary: the scheduling
// plugins (plugins/scheduler/cmd/defaults, one wasm module hosting them all), the
// controllers (plugins/controllers/cmd/defaults, likewise) and the admission policies
// (plugins/admission/cmd/defaults, likewise). `make build` builds the modules into wasm/
// before it builds tug; a plain `go build ./cmd/tug` embeds none, and the scheduler and
// controllers then need --scheduler-module and --controllers-module.
package defaultplugins

import "embed"

//go:embed wasm
var files embed.FS

// Module returns the embedded scheduling module, if this build has one.
func Module() ([]byte, bool) { return file("wasm/defaults.wasm") }

// Controllers returns the embedded controllers module, if this build has one.
func Controllers() ([]byte, bool) { return file("wasm/controllers.wasm") }

// Admission returns the embedded admission policies module, if this build has one.
func Admission() ([]byte, bool) { return file("wasm/admission.wasm") }

func file(name string) ([]byte, bool) {
	b, err := files.ReadFile(name)
	return b, err == nil && len(b) > 0
}
