package runtime

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/tugboat-io/tug/hostabi"
	"github.com/tugboat-io/tug/internal/wasmbuild"
)

// The Go admission examples under examples/admission, built as their READMEs say (their own
// module, GOOS=wasip1, -buildmode=c-shared) and driven through the host: tug_configure with
// the WasmPlugin's config, then tug_admit with requests carrying an AdmissionPolicy's config
// (ABI 1.5) or none. Their decisions are tested natively in their packages; this checks that
// the modules load as admission plugins and answer the same through wasm.

// loadAdmissionExample builds the example, loads it with the plugin configuration and returns
// an instance of it, and the module.
func loadAdmissionExample(t *testing.T, name, config string) (*Instance, []byte) {
	t.Helper()
	wasm := wasmbuild.Build(t, filepath.Join("..", "examples", "admission"), "./"+name)
	ctx := context.Background()
	m, err := testRT.Load(ctx, name, wasm, PluginOptions{PoolSize: 1, Deadline: 10 * time.Second, Config: []byte(config)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(ctx) })
	if k := m.Kinds(); len(k) != 1 || k[0] != hostabi.KindAdmission {
		t.Fatalf("kinds %v, want exactly admission", k)
	}
	inst, err := m.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(inst.Release)
	return inst, wasm
}

type admissionCase struct {
	name    string
	in      string // the request
	allowed bool
	code    int32
	message string
}

func runAdmissionCases(t *testing.T, inst *Instance, cases []admissionCase) {
	t.Helper()
	for _, c := range cases {
		res, st, err := inst.Call(context.Background(), hostabi.ExportAdmit, []byte(c.in))
		if err != nil || st != hostabi.StatusOK {
			t.Errorf("%s: status %v, error %v, result %q", c.name, st, err, res)
			continue
		}
		var resp hostabi.AdmissionResponse
		if err := json.Unmarshal(res, &resp); err != nil {
			t.Errorf("%s: response %q: %v", c.name, res, err)
			continue
		}
		switch {
		case resp.UID != "u1":
			t.Errorf("%s: uid %q, want the request's", c.name, resp.UID)
		case c.allowed && (!resp.Allowed || resp.Result != nil):
			t.Errorf("%s: %s, want allowed", c.name, res)
		case !c.allowed && (resp.Allowed || resp.Result == nil || resp.Result.Code != c.code || resp.Result.Message != c.message):
			t.Errorf("%s: %s,\nwant denied with %d %q", c.name, res, c.code, c.message)
		}
	}
	// A request that is not JSON is INVALID_INPUT, and the instance goes on serving.
	if res, st, err := inst.Call(context.Background(), hostabi.ExportAdmit, []byte("not json")); st != hostabi.StatusInvalidInput {
		t.Errorf("garbage: status %v, error %v, result %q; want INVALID_INPUT", st, err, res)
	}
	if len(cases) > 0 {
		if res, st, err := inst.Call(context.Background(), hostabi.ExportAdmit, []byte(cases[0].in)); err != nil || st != hostabi.StatusOK {
			t.Errorf("after the garbage: status %v, error %v, result %q", st, err, res)
		}
	}
}

func admissionRequest(kind, op, object, config string) string {
	group, version := "", "v1"
	switch kind {
	case "Deployment", "ReplicaSet", "StatefulSet", "DaemonSet":
		group = "apps"
	case "Job", "CronJob":
		group = "batch"
	}
	req := `{"uid":"u1","kind":{"group":"` + group + `","version":"` + version + `","kind":"` + kind + `"},` +
		`"resource":{"group":"` + group + `","version":"v1","resource":"x"},"name":"web","namespace":"default",` +
		`"operation":"` + op + `","userInfo":{"username":"alice"},"object":` + object
	if config != "" {
		req += `,"policy":"p","config":` + config
	}
	return req + "}"
}

func TestAllowedRegistriesExample(t *testing.T) {
	inst, wasm := loadAdmissionExample(t, "allowed-registries", `{"registries":["registry.corp.example"]}`)
	pod := func(image string) string {
		return `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web"},"spec":{"containers":[{"name":"web","image":"` + image + `"}]}}`
	}
	cronJob := `{"apiVersion":"batch/v1","kind":"CronJob","metadata":{"name":"web"},"spec":{"jobTemplate":{"spec":{"template":{"spec":` +
		`{"initContainers":[{"name":"setup","image":"ghcr.io/myorganisation/setup"}],"containers":[{"name":"web","image":"ghcr.io/myorg/web"}]}}}}}}`
	policy := `{"registries":["registry.corp.example","ghcr.io/myorg"]}`
	runAdmissionCases(t, inst, []admissionCase{
		{name: "plugin configuration allows", in: admissionRequest("Pod", "CREATE", pod("registry.corp.example/web:1"), ""), allowed: true},
		{name: "plugin configuration denies", in: admissionRequest("Pod", "CREATE", pod("nginx:1.27"), ""), code: 403,
			message: `container "web" uses image "docker.io/library/nginx:1.27", which is not from an allowed registry (allowed: registry.corp.example)`},
		{name: "policy configuration allows", in: admissionRequest("Pod", "CREATE", pod("ghcr.io/myorg/app:1"), policy), allowed: true},
		{name: "policy configuration denies", in: admissionRequest("Pod", "CREATE", pod("nginx:1.27"), policy), code: 403,
			message: `container "web" uses image "docker.io/library/nginx:1.27", which is not from an allowed registry (allowed: registry.corp.example, ghcr.io/myorg)`},
		{name: "cronjob init container", in: admissionRequest("CronJob", "CREATE", cronJob, policy), code: 403,
			message: `init container "setup" uses image "ghcr.io/myorganisation/setup", which is not from an allowed registry (allowed: registry.corp.example, ghcr.io/myorg)`},
		{name: "malformed policy configuration", in: admissionRequest("Pod", "CREATE", pod("nginx"), `{"registries":[]}`), code: 500,
			message: `policy configuration: registries: at least one registry is required`},
		{name: "no object", in: admissionRequest("Pod", "CREATE", "null", policy), code: 400, message: "admission request: no object"},
	})
	if m, err := testRT.Load(context.Background(), "allowed-registries-bad", wasm,
		PluginOptions{Config: []byte(`{"registries":["https://ghcr.io"]}`)}); err == nil {
		m.Close(context.Background())
		t.Error("a plugin configuration the module refuses was accepted")
	}
}

func TestTeamLabelExample(t *testing.T) {
	inst, _ := loadAdmissionExample(t, "team-label", `{}`)
	deployment := func(labels string) string {
		return `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","labels":` + labels + `},"spec":{}}`
	}
	runAdmissionCases(t, inst, []admissionCase{
		{name: "labelled", in: admissionRequest("Deployment", "CREATE", deployment(`{"team":"payments"}`), ""), allowed: true},
		{name: "unlabelled", in: admissionRequest("Deployment", "CREATE", deployment(`{"app":"web"}`), ""), code: 403,
			message: `Deployment "web" has no "team" label: every Deployment must carry a non-empty "team" label`},
		{name: "policy's label", in: admissionRequest("Deployment", "CREATE", deployment(`{"team":"payments"}`), `{"label":"owner"}`), code: 403,
			message: `Deployment "web" has no "owner" label: every Deployment must carry a non-empty "owner" label`},
		{name: "malformed policy configuration", in: admissionRequest("Deployment", "CREATE", deployment(`{}`), `{"label":5}`), code: 500,
			message: `policy configuration: json: cannot unmarshal number into Go struct field .label of type string`},
		{name: "not a deployment", in: admissionRequest("StatefulSet", "CREATE", deployment(`{}`), ""), allowed: true},
	})
}
