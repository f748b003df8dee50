// Command defaults is the module of tug's default controllers: every controller of
// plugins/controllers in one wasm module, which the host loads once per controller with the
// configuration {"controller": "<name>"}.
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o controllers.wasm ./controllers/cmd/defaults
package main

import (
	"github.com/tugboat-io/tug/plugins/controllers/defaults"
	_ "github.com/tugboat-io/tug/sdk/go/kinds/controller"
)

func init() { defaults.Register() }

func main() {}
