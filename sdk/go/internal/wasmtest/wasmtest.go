// Package wasmtest builds plugins to wasm in tests and checks what a module imports and
// exports against the ABI. It is for the SDK's own tests.
package wasmtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/tugboat-io/tug/hostabi/wasmbin"
)

// Build compiles the main package in dir as the ABI asks (GOOS=wasip1 GOARCH=wasm,
// -buildmode=c-shared) and returns the module's bytes. It skips the test in -short mode and
// when no go command is on PATH.
func Build(t *testing.T, dir string) []byte {
	t.Helper()
	if testing.Short() {
		t.Skip("building a wasm module takes seconds; skipped in -short mode")
	}
	gocmd, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go command on PATH to build the wasm module: %v", err)
	}
	out := filepath.Join(t.TempDir(), "plugin.wasm")
	cmd := exec.Command(gocmd, "build", "-buildmode=c-shared", "-o", out, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared %s: %v\n%s", dir, err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Parse reads a module's imports and exports with the ABI module's wasm reader, the same one
// the host uses to check modules before loading them.
func Parse(b []byte) (*wasmbin.Module, error) { return wasmbin.Parse(b) }
