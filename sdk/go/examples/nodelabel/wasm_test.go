package main

import (
	"testing"

	"github.com/tugboat-io/tug/hostabi"
	"github.com/tugboat-io/tug/sdk/go/internal/wasmtest"
)

// TestWasmModule builds the plugin as a host loads it and checks that the module is a
// scheduler filter and nothing else, as ABI.md asks.
func TestWasmModule(t *testing.T) {
	m, err := wasmtest.Parse(wasmtest.Build(t, "."))
	if err != nil {
		t.Fatal(err)
	}
	wasmtest.CheckABI(t, m, wasmtest.WantExports(hostabi.KindSchedulerFilter))
}
