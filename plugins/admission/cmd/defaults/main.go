// Command defaults is the module of tug's default admission policies: every policy of
// plugins/admission in one wasm module, which the host calls for each AdmissionPolicy
// naming one of them (the request's policy field chooses).
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o admission.wasm ./admission/cmd/defaults
package main

import (
	"github.com/tugboat-io/tug/plugins/admission/defaults"
	_ "github.com/tugboat-io/tug/sdk/go/kinds/admission"
)

func init() { defaults.Register() }

func main() {}
