// Command fit is the NodeResourcesFit-style filter as a wasm module:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o fit.wasm .
package main

import (
	"github.com/tugboat-io/tug/bench/plugins/guests/fit"
	_ "github.com/tugboat-io/tug/sdk/go/kinds/filter"
)

func init() {
	fit.Register()
}

func main() {}
