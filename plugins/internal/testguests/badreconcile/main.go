// Command badreconcile is a reconcile plugin that misbehaves on purpose, for the tests that
// show a controller contained: configured {"mode": "trap"} every reconcile exits the
// instance (a trap), {"mode": "panic"} it panics (the SDK turns that into an error),
// {"mode": "loop"} it never returns (the host's deadline ends it), {"mode": "error"} it
// fails with an error.
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o bad.wasm ./internal/testguests/badreconcile
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"

	tug "github.com/tugboat-io/tug/sdk/go"
	_ "github.com/tugboat-io/tug/sdk/go/kinds/controller"
)

var mode string

func init() {
	tug.RegisterConfigure(func(raw []byte) error {
		var c struct {
			Mode string `json:"mode"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return err
		}
		switch c.Mode {
		case "trap", "panic", "loop", "error":
			mode = c.Mode
			return nil
		}
		return fmt.Errorf("mode: %q is not trap, panic, loop or error", c.Mode)
	})
	tug.RegisterReconcile(tug.ReconcileFunc(reconcile))
}

var spins int

func reconcile(*tug.ReconcileRequest) (*tug.ReconcileResult, error) {
	switch mode {
	case "trap":
		os.Exit(3)
	case "panic":
		panic("badreconcile: panicking on purpose")
	case "loop":
		for {
			spins++
		}
	}
	return nil, errors.New("badreconcile: failing on purpose")
}

func main() {}
