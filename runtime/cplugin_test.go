package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tugboat-io/tug/hostabi"
)

// cPluginDir is the C example plugin, written from hostabi/ABI.md alone.
var cPluginDir = filepath.Join("..", "examples", "c", "admission-deny-latest")

const noClang = "clang with the wasm32-wasi target is not installed (see .ci/run)"

// clangWASI reports whether clang can build a WASI reactor: clang itself, wasm-ld (lld),
// wasi-libc and the wasm32 compiler-rt builtins all take part in linking this probe.
func clangWASI(t *testing.T) bool {
	t.Helper()
	if _, err := exec.LookPath("clang"); err != nil {
		return false
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "probe.c")
	if err := os.WriteFile(src, []byte("#include <stdlib.h>\nvoid *probe(unsigned n) { return malloc(n); }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	probe := exec.Command("clang", "--target=wasm32-wasi", "-mexec-model=reactor", "-o", filepath.Join(dir, "probe.wasm"), src)
	if out, err := probe.CombinedOutput(); err != nil {
		t.Logf("clang probe: %v\n%s", err, out)
		return false
	}
	return true
}

// buildCPlugin builds the C admission plugin with clang, as its README says. Without the
// toolchain the test is skipped, except in CI, which installs it.
func buildCPlugin(t *testing.T) []byte {
	t.Helper()
	if !clangWASI(t) {
		if os.Getenv("CI") == "true" { // .ci/run installs the toolchain: a skip there would hide a failure
			t.Fatal(noClang)
		}
		t.Skip(noClang)
	}
	out := filepath.Join(t.TempDir(), "deny_latest.wasm")
	build := exec.Command("make", "-s", "-C", cPluginDir, "OUT="+out)
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the C plugin: %v\n%s", err, b)
	}
	wasm, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return wasm
}

// TestCPluginPassesHost builds the C admission plugin with clang, as its README says, and drives
// it through the host: the ABI is language-neutral if a plugin written from ABI.md alone, in a
// language without tug's SDK, loads and answers correctly.
func TestCPluginPassesHost(t *testing.T) {
	wasm := buildCPlugin(t)

	ctx := context.Background()
	m, err := testRT.Load(ctx, "c-deny-latest", wasm, PluginOptions{PoolSize: 1, Deadline: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(ctx)
	if k := m.Kinds(); len(k) != 1 || k[0] != hostabi.KindAdmission {
		t.Fatalf("kinds %v, want exactly admission", k)
	}
	for _, op := range []string{hostabi.ExportSchedNodes, hostabi.ExportSchedFilter, hostabi.ExportSchedScore, hostabi.ExportConfigure} {
		if m.Exports(op) {
			t.Errorf("the plugin exports %s", op)
		}
	}

	// One instance for every call: the garbage inputs must leave it serving.
	inst, err := m.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Release()

	request := func(kind, object string) []byte {
		return []byte(`{"uid":"u1","kind":{"group":"","version":"v1","kind":"` + kind + `"},
		  "resource":{"group":"","version":"v1","resource":"x"},"subResource":"","name":"web","namespace":"default",
		  "operation":"CREATE","userInfo":{"username":"alice","groups":["dev"]},"object":` + object + `,"oldObject":null,"dryRun":false}`)
	}
	pod := func(containers string) string {
		return `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","labels":{"image":"x"}},"spec":{` + containers + `}}`
	}
	cases := []struct {
		name string
		in   []byte
		deny string // the expected message; "" means allowed
	}{
		{"pinned tag", request("Pod", pod(`"containers":[{"name":"c","image":"nginx:1.25"}]`)), ""},
		{"latest", request("Pod", pod(`"containers":[{"name":"c","image":"nginx:1.25"},{"name":"d","image":"nginx:latest"}]`)),
			"image nginx:latest uses the latest tag"},
		{"no tag", request("Pod", pod(`"containers":[{"name":"c","image":"nginx"}]`)), "image nginx uses the latest tag"},
		{"init container, registry port, no tag", request("Pod", pod(`"initContainers":[{"image":"registry:5000/tools/init"}],"containers":[{"image":"nginx:1.25"}]`)),
			"image registry:5000/tools/init uses the latest tag"},
		{"escaped latest", request("Pod", pod(`"containers":[{"image":"nginx\u003alatest"}]`)), "image nginx:latest uses the latest tag"},
		{"digest", request("Pod", pod(`"containers":[{"image":"nginx@sha256:0123456789abcdef"}]`)), ""},
		{"registry port with tag", request("Pod", pod(`"containers":[{"image":"registry:5000/nginx:1.25"}]`)), ""},
		{"deployment", request("Deployment", `{"apiVersion":"apps/v1","kind":"Deployment","spec":{"template":{"spec":{"containers":[{"image":"nginx:latest"}]}}}}`), ""},
		{"kind after object", []byte(`{"object":` + pod(`"containers":[{"image":"nginx"}]`) + `,"kind":{"kind":"Pod"}}`), "image nginx uses the latest tag"},
	}
	for _, c := range cases {
		res, st, err := inst.Call(ctx, hostabi.ExportAdmit, c.in)
		if err != nil || st != hostabi.StatusOK {
			t.Fatalf("%s: status %v, error %v, result %q", c.name, st, err, res)
		}
		var resp hostabi.AdmissionResponse
		if err := json.Unmarshal(res, &resp); err != nil {
			t.Fatalf("%s: response %q: %v", c.name, res, err)
		}
		switch {
		case c.deny == "" && (!resp.Allowed || resp.Result != nil):
			t.Errorf("%s: %s, want allowed", c.name, res)
		case c.deny != "" && (resp.Allowed || resp.Result == nil || resp.Result.Code != 403 || resp.Result.Message != c.deny):
			t.Errorf("%s: %s, want denied with 403 %q", c.name, res, c.deny)
		}
	}

	// Input that is not an admission request is INVALID_INPUT with a reason, never a trap.
	garbage := []struct{ name, in, reason string }{
		{"not JSON", "\x00\xffnot json at all", "invalid admission request at byte 0: the request is not a JSON object"},
		{"empty", "", "invalid admission request at byte 0: the request is not a JSON object"},
		{"truncated", `{"kind":{"kind":"Pod"},"object":{"spec":{"containers":[{"image":"ngi`, "unterminated string"},
		{"trailing data", `{"kind":{"kind":"Pod"}} {}`, "data after the request"},
		{"deep", strings.Repeat(`{"a":[`, 100000), "nested too deeply"},
	}
	for _, g := range garbage {
		res, st, err := inst.Call(ctx, hostabi.ExportAdmit, []byte(g.in))
		var pe *PluginError
		if st != hostabi.StatusInvalidInput || !errors.As(err, &pe) || pe.Cause != nil || !strings.Contains(pe.Reason, g.reason) {
			t.Errorf("%s: status %v, error %v, result %q; want INVALID_INPUT with %q", g.name, st, err, res, g.reason)
		}
	}
	res, st, err := inst.Call(ctx, hostabi.ExportAdmit, request("Pod", pod(`"containers":[{"image":"nginx:1.25"}]`)))
	if err != nil || st != hostabi.StatusOK || string(res) != `{"allowed":true}` {
		t.Fatalf("after the garbage: status %v, error %v, result %q", st, err, res)
	}
}
