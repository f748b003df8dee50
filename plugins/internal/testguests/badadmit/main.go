// Command badadmit is an admission plugin that misbehaves on purpose, for the tests that show
// the admission chain contains it. The AdmissionPolicy's config chooses how, per policy:
// {"mode": "trap"} exits the instance (a trap), "panic" panics (the SDK turns that into an
// error), "loop" never returns (the host's deadline ends it), "alloc" grows memory until the
// limit stops it, "badpatch" answers with a patch that cannot apply, and "allow" admits.
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o badadmit.wasm ./internal/testguests/badadmit
package main

import (
	"encoding/json"
	"os"

	tug "github.com/tugboat-io/tug/sdk/go"
	_ "github.com/tugboat-io/tug/sdk/go/kinds/admission"
)

func init() { tug.RegisterAdmit(tug.AdmitFunc(admit)) }

var (
	spins int
	hoard [][]byte
)

func admit(req *tug.AdmissionRequest) *tug.AdmissionResponse {
	var c struct {
		Mode string `json:"mode"`
	}
	_ = json.Unmarshal(req.Config, &c)
	switch c.Mode {
	case "trap":
		os.Exit(3)
	case "panic":
		panic("badadmit: panicking on purpose")
	case "loop":
		for {
			spins++
		}
	case "alloc":
		for {
			hoard = append(hoard, make([]byte, 1<<20))
		}
	case "badpatch":
		return tug.Allow().Replace("/no/such/path", "x")
	}
	return tug.Allow()
}

func main() {}
