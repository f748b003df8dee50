// Package wasmbuild builds Go plugins to wasm for tests and benchmarks, the way plugin
// authors build them: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared, in the plugin's
// own module.
package wasmbuild

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Build builds package pkg of the Go module in dir and returns the module's bytes. It skips
// in -short runs, which do not build wasm.
func Build(tb testing.TB, dir, pkg string) []byte {
	tb.Helper()
	if testing.Short() {
		tb.Skip("builds a wasm module with the Go toolchain; skipped in -short runs")
	}
	out := filepath.Join(tb.TempDir(), "plugin.wasm")
	build := exec.Command("go", "build", "-buildmode=c-shared", "-o", out, pkg)
	build.Dir = dir
	build.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if b, err := build.CombinedOutput(); err != nil {
		tb.Fatalf("building %s in %s to wasm: %v\n%s", pkg, dir, err, b)
	}
	wasm, err := os.ReadFile(out)
	if err != nil {
		tb.Fatal(err)
	}
	return wasm
}
