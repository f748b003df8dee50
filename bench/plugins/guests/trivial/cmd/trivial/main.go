// Command trivial is the trivial filter as a wasm module:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o trivial.wasm .
package main

import (
	"github.com/tugboat-io/tug/bench/plugins/guests/trivial"
	_ "github.com/tugboat-io/tug/sdk/go/kinds/filter"
)

func init() {
	trivial.Register()
}

func main() {}
