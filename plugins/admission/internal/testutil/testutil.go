package testutil

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/tugboat-io/tug/hostabi"
	"github.com/tugboat-io/tug/plugins/admission/defaults"
	"github.com/tugboat-io/tug/plugins/internal/wasmhost"
	tug "github.com/tugboat-io/tug/sdk/go"
	"github.com/tugboat-io/tug/sdk/go/sdktest"
)

func init() { defaults.Register() }

// Module is the admission module's package, relative to the plugins module.
const Module = "./admission/cmd/defaults"

// Admit runs req both ways and returns the response.
func Admit(t *testing.T, req *tug.AdmissionRequest) *tug.AdmissionResponse {
	t.Helper()
	native := sdktest.Admit(t, req)
	if testing.Short() {
		return native
	}
	h, err := wasmhost.Load(Module)
	if err != nil {
		t.Fatalf("load the admission module: %v", err)
	}
	in, _ := json.Marshal(req)
	st, out, err := h.Call(t, hostabi.ExportAdmit, in)
	if err != nil || st != hostabi.StatusOK {
		t.Fatalf("%s in wasm: status %d %s %v", req.Policy, st, out, err)
	}
	var wasm tug.AdmissionResponse
	if err := json.Unmarshal(out, &wasm); err != nil {
		t.Fatalf("%s in wasm: malformed response %s: %v", req.Policy, out, err)
	}
	if a, b := normalize(t, native), normalize(t, &wasm); !reflect.DeepEqual(a, b) {
		t.Fatalf("%s answers differently natively and in wasm:\nnative: %s\nwasm:   %s", req.Policy, mustJSON(native), out)
	}
	return native
}

// normalize re-decodes a response from JSON so that raw values compare by value.
func normalize(t *testing.T, r *tug.AdmissionResponse) any {
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

// Request is a request for operation on object (JSON; for DELETE the old object) under
// policy, with config (JSON, "" for none) and the related objects by key.
func Request(t testing.TB, policy, operation, object, config string, related map[string][]string) *tug.AdmissionRequest {
	t.Helper()
	req := sdktest.NewAdmissionRequest(t, operation, json.RawMessage(object))
	req.Policy = policy
	if config != "" {
		req.Config = json.RawMessage(config)
	}
	if related != nil {
		req.Related = map[string][]json.RawMessage{}
		for k, objs := range related {
			list := make([]json.RawMessage, 0, len(objs))
			for _, o := range objs {
				list = append(list, json.RawMessage(o))
			}
			req.Related[k] = list
		}
	}
	return req
}

// Update is an UPDATE request from old to obj.
func Update(t testing.TB, policy, old, obj, config string, related map[string][]string) *tug.AdmissionRequest {
	t.Helper()
	req := Request(t, policy, "UPDATE", obj, config, related)
	req.OldObject = json.RawMessage(old)
	return req
}

// Patch is the response's patch as JSON, "" for none.
func Patch(r *tug.AdmissionResponse) string {
	if len(r.Patch) == 0 {
		return ""
	}
	return string(mustJSON(r.Patch))
}

// Verdict sums a response up for a table test: "allowed", or "denied <code>: <message>".
func Verdict(r *tug.AdmissionResponse) string {
	if r.Allowed {
		return "allowed"
	}
	if r.Result == nil {
		return "denied"
	}
	return fmt.Sprintf("denied %d: %s", r.Result.Code, r.Result.Message)
}

// Pod is a pod's JSON in namespace ns with the given spec members (without braces) and
// metadata extras (",\"labels\":{…}").
func Pod(ns, name, spec, meta string) string {
	return fmt.Sprintf(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":%q,"namespace":%q%s},"spec":{%s}}`, name, ns, meta, spec)
}

// Containers is a containers list member, one container cN per resources JSON.
func Containers(field string, resources ...string) string {
	var cs []string
	for i, r := range resources {
		cs = append(cs, fmt.Sprintf(`{"name":"c%d","image":"x","resources":%s}`, i, r))
	}
	return fmt.Sprintf(`%q:[%s]`, field, strings.Join(cs, ","))
}
