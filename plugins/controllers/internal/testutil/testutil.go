// Package testutil runs a controller's reconcile twice, natively (the SDK's sdktest, in the
// test binary) and through the wasm module of cmd/defaults (on wazero), and checks that both
// answer the same; tests then assert on the one answer, which the rest of the package helps
// read.
package testutil

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/tugboat-io/tug/hostabi"
	"github.com/tugboat-io/tug/plugins/controllers/defaults"
	"github.com/tugboat-io/tug/plugins/internal/wasmhost"
	tug "github.com/tugboat-io/tug/sdk/go"
	"github.com/tugboat-io/tug/sdk/go/sdktest"
)

func init() { defaults.Register() }

// Reconcile runs controller on req both ways and returns the result.
func Reconcile(t *testing.T, controller string, req *tug.ReconcileRequest) *tug.ReconcileResult {
	t.Helper()
	cfg := defaults.Config{Controller: controller}
	if err := sdktest.Configure(t, cfg); err != nil {
		t.Fatalf("configure %s natively: %v", controller, err)
	}
	native, err := sdktest.Reconcile(t, req)
	if err != nil {
		t.Fatalf("%s natively: %v", controller, err)
	}
	if testing.Short() {
		return native
	}
	h, err := wasmhost.Load("./controllers/cmd/defaults")
	if err != nil {
		t.Fatalf("load the controllers module: %v", err)
	}
	in, _ := json.Marshal(cfg)
	if st, out, err := h.Call(t, hostabi.ExportConfigure, in); err != nil || st != hostabi.StatusOK {
		t.Fatalf("configure %s in wasm: status %d %s %v", controller, st, out, err)
	}
	in, _ = json.Marshal(req)
	st, out, err := h.Call(t, hostabi.ExportReconcile, in)
	if err != nil || st != hostabi.StatusOK {
		t.Fatalf("%s in wasm: status %d %s %v", controller, st, out, err)
	}
	var wasm tug.ReconcileResult
	if err := json.Unmarshal(out, &wasm); err != nil {
		t.Fatalf("%s in wasm: malformed result %s: %v", controller, out, err)
	}
	if !reflect.DeepEqual(normalize(t, native), normalize(t, &wasm)) {
		t.Fatalf("%s answers differently natively and in wasm:\nnative: %s\nwasm:   %s", controller, mustJSON(native), out)
	}
	return native
}

// normalize re-decodes a result from JSON so that raw objects compare by value.
func normalize(t *testing.T, r *tug.ReconcileResult) any {
	var v any
	if err := json.Unmarshal(mustJSON(r), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// Raw is a request's list of objects from their JSON.
func Raw(objs ...string) []json.RawMessage {
	out := make([]json.RawMessage, len(objs))
	for i, o := range objs {
		out[i] = json.RawMessage(o)
	}
	return out
}

// Decode decodes JSON of a result (its status, a child it creates or declares), failing the
// test when it is malformed or missing.
func Decode[T any](t testing.TB, raw json.RawMessage) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("decode %T from %s: %v", v, raw, err)
	}
	return v
}

// DecodeAll decodes each of raws as Decode does; nil for none.
func DecodeAll[T any](t testing.TB, raws []json.RawMessage) []T {
	t.Helper()
	var out []T
	for _, raw := range raws {
		out = append(out, Decode[T](t, raw))
	}
	return out
}

// Deleted are the names of the objects the result deletes, in its order.
func Deleted(res *tug.ReconcileResult) []string {
	var out []string
	for _, d := range res.Deletes {
		out = append(out, d.Name)
	}
	return out
}

// Reasons are the reasons of the result's events, in order and comma-separated.
func Reasons(res *tug.ReconcileResult) string {
	var out []string
	for _, e := range res.Events {
		out = append(out, e.Reason)
	}
	return strings.Join(out, ",")
}
