// Command defaults is the module of tug's default scheduling plugins: every plugin of
// plugins/scheduler hosted in one wasm module (ABI.md §4.7), so a scheduling cycle decodes the
// pod once and an instance keeps the cluster once for all of them.
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o defaults.wasm ./cmd/defaults
//
// A profile enables the plugins it uses and configures them through the module's
// configuration: {"enabled": [...], "config": {"NodeResourcesFit": {...}}}.
package main

import (
	"github.com/tugboat-io/tug/plugins/scheduler/defaults"
	_ "github.com/tugboat-io/tug/sdk/go/kinds/plugins"
)

func init() { defaults.Register() }

func main() {}
