package main

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	tug "github.com/tugboat-io/tug/sdk/go"
	"github.com/tugboat-io/tug/sdk/go/sdktest"
)

func TestNormalizeImage(t *testing.T) {
	tests := []struct{ image, name, ref string }{
		{"nginx", "docker.io/library/nginx", "docker.io/library/nginx"},
		{"nginx:1.27", "docker.io/library/nginx", "docker.io/library/nginx:1.27"},
		{"library/nginx", "docker.io/library/nginx", "docker.io/library/nginx"},
		{"bitnami/redis:7", "docker.io/bitnami/redis", "docker.io/bitnami/redis:7"},
		{"docker.io/nginx", "docker.io/library/nginx", "docker.io/library/nginx"},
		{"index.docker.io/library/nginx", "docker.io/library/nginx", "docker.io/library/nginx"},
		{"ghcr.io/myorg/app:1", "ghcr.io/myorg/app", "ghcr.io/myorg/app:1"},
		{"GHCR.io/myorg/app", "ghcr.io/myorg/app", "ghcr.io/myorg/app"},
		{"registry:5000/web", "registry:5000/web", "registry:5000/web"},
		{"registry:5000/web:1.2", "registry:5000/web", "registry:5000/web:1.2"},
		{"localhost/web", "localhost/web", "localhost/web"},
		{"Myregistry/web", "myregistry/web", "myregistry/web"},
		{"myregistry/web", "docker.io/myregistry/web", "docker.io/myregistry/web"},
		{"nginx@sha256:abc", "docker.io/library/nginx", "docker.io/library/nginx@sha256:abc"},
		{"ghcr.io/myorg/app:1@sha256:abc", "ghcr.io/myorg/app", "ghcr.io/myorg/app:1@sha256:abc"},
	}
	for _, tt := range tests {
		name, ref := normalizeImage(tt.image)
		if name != tt.name || ref != tt.ref {
			t.Errorf("normalizeImage(%q) = %q, %q; want %q, %q", tt.image, name, ref, tt.name, tt.ref)
		}
	}
}

func TestAllows(t *testing.T) {
	l, err := parseConfig([]byte(`{"registries": ["registry.corp.example", "ghcr.io/myorg/", "Registry:5000", "docker.io/library"]}`))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		image string
		want  bool
	}{
		{"registry.corp.example/team/app:1", true},
		{"registry.corp.example/app", true},
		{"registry.corp.example.evil.com/app", false},
		{"ghcr.io/myorg/app:1", true},
		{"ghcr.io/myorg/team/app", true},
		{"ghcr.io/myorganisation/app", false},
		{"ghcr.io/other/app", false},
		{"registry:5000/web", true},
		{"registry:5001/web", false},
		{"registry/web", false}, // docker.io/registry/web
		{"nginx", true},         // docker.io/library/nginx
		{"library/nginx:1.27", true},
		{"bitnami/redis", false},
		{"docker.io/librarything/x", false},
	}
	for _, tt := range tests {
		name, _ := normalizeImage(tt.image)
		if got := l.allows(name); got != tt.want {
			t.Errorf("allows(%q, read as %q) = %v, want %v", tt.image, name, got, tt.want)
		}
	}
}

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name    string
		config  string
		want    []string // normalised; nil for no list
		wantErr string   // a part of the error; "" for none
	}{
		{"absent", ``, nil, ""},
		{"null", `null`, nil, ""},
		{"empty object", `{}`, nil, ""},
		{"registries null", `{"registries": null}`, nil, ""},
		{"hosts and paths", `{"registries": ["registry.corp.example", "ghcr.io/myorg"]}`, []string{"registry.corp.example", "ghcr.io/myorg"}, ""},
		{"normalised", `{"registries": ["Index.Docker.IO/Library/", "Registry:5000"]}`, []string{"docker.io/Library", "registry:5000"}, ""},
		{"unknown fields ignored", `{"registries": ["ghcr.io"], "extra": 1}`, []string{"ghcr.io"}, ""},
		{"not JSON", `registries=ghcr.io`, nil, "policy configuration: invalid character"},
		{"not an object", `["ghcr.io"]`, nil, "policy configuration: json: cannot unmarshal array"},
		{"registries not a list", `{"registries": "ghcr.io"}`, nil, "registries: want a list of strings"},
		{"registries of numbers", `{"registries": [1]}`, nil, "registries: want a list of strings"},
		{"empty list", `{"registries": []}`, nil, "registries: at least one registry is required"},
		{"empty entry", `{"registries": ["ghcr.io", ""]}`, nil, `registries[1]: "": empty`},
		{"scheme", `{"registries": ["https://ghcr.io"]}`, nil, "without a scheme"},
		{"tag", `{"registries": ["ghcr.io/myorg/app:1"]}`, nil, "without a tag"},
		{"digest", `{"registries": ["ghcr.io/app@sha256:abc"]}`, nil, "without a digest"},
		{"white space", `{"registries": ["ghcr.io /x"]}`, nil, "white space"},
		{"only slashes", `{"registries": ["/"]}`, nil, "no registry host"},
		{"no host", `{"registries": ["/myorg"]}`, nil, "no registry host"},
		{"empty component", `{"registries": ["ghcr.io//myorg"]}`, nil, "empty path component"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := parseConfig([]byte(tt.config))
			switch {
			case tt.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, errConfig) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			case err != nil:
				t.Fatal(err)
			case tt.want == nil:
				if l != nil {
					t.Fatalf("list %v, want none", l.prefix)
				}
				return
			case l == nil:
				t.Fatalf("no list, want %v", tt.want)
			}
			if strings.Join(l.prefix, ",") != strings.Join(tt.want, ",") {
				t.Errorf("list %v, want %v", l.prefix, tt.want)
			}
		})
	}
}

// Objects of every kind the policy inspects, each running image.
func pod(images ...string) map[string]any {
	return map[string]any{"apiVersion": "v1", "kind": "Pod",
		"metadata": map[string]any{"name": "web", "namespace": "default"}, "spec": spec(images...)}
}

func spec(images ...string) map[string]any {
	var cs []map[string]any
	for i, im := range images {
		cs = append(cs, map[string]any{"name": []string{"web", "sidecar", "third"}[i], "image": im})
	}
	return map[string]any{"containers": cs}
}

func withTemplate(apiVersion, kind string, images ...string) map[string]any {
	return map[string]any{"apiVersion": apiVersion, "kind": kind,
		"metadata": map[string]any{"name": "web", "namespace": "default"},
		"spec":     map[string]any{"template": map[string]any{"spec": spec(images...)}}}
}

func cronJob(images ...string) map[string]any {
	return map[string]any{"apiVersion": "batch/v1", "kind": "CronJob",
		"metadata": map[string]any{"name": "web", "namespace": "default"},
		"spec": map[string]any{"schedule": "* * * * *", "jobTemplate": map[string]any{
			"spec": map[string]any{"template": map[string]any{"spec": spec(images...)}}}}}
}

const (
	corpConfig = `{"registries": ["registry.corp.example", "ghcr.io/myorg"]}`
	corpList   = "(allowed: registry.corp.example, ghcr.io/myorg)"
)

func TestDecide(t *testing.T) {
	fallback, err := parseConfig([]byte(`{"registries": ["fallback.example"]}`))
	if err != nil {
		t.Fatal(err)
	}
	nginxDenied := `container "web" uses image "docker.io/library/nginx:1.27", which is not from an allowed registry ` + corpList
	tests := []struct {
		name     string
		op       string
		object   any
		old      any                           // for UPDATE
		edit     func(r *tug.AdmissionRequest) // after the request is built
		config   string                        // the request's; "" for none
		fallback *allowList
		deny     string // the denial's message; "" for allowed
		err      string // decide's error, in part; then deny is unused
	}{
		{name: "pod from an allowed registry", op: "CREATE", object: pod("registry.corp.example/web:1"), config: corpConfig},
		{name: "pod under an allowed path", op: "CREATE", object: pod("ghcr.io/myorg/web:1"), config: corpConfig},
		{name: "pod from docker hub", op: "CREATE", object: pod("nginx:1.27"), config: corpConfig, deny: nginxDenied},
		{name: "path boundary", op: "CREATE", object: pod("ghcr.io/myorganisation/app"), config: corpConfig,
			deny: `container "web" uses image "ghcr.io/myorganisation/app", which is not from an allowed registry ` + corpList},
		{name: "host boundary", op: "CREATE", object: pod("registry.corp.example.evil.com/app"), config: corpConfig,
			deny: `container "web" uses image "registry.corp.example.evil.com/app", which is not from an allowed registry ` + corpList},
		{name: "second container", op: "CREATE", object: pod("ghcr.io/myorg/web", "busybox"), config: corpConfig,
			deny: `container "sidecar" uses image "docker.io/library/busybox", which is not from an allowed registry ` + corpList},
		{name: "several denied", op: "CREATE", object: pod("nginx:1.27", "quay.io/x/y"), config: corpConfig,
			deny: `2 containers use images not from an allowed registry ` + corpList +
				`: container "web" uses image "docker.io/library/nginx:1.27"; container "sidecar" uses image "quay.io/x/y"`},
		{name: "init container", op: "CREATE", config: corpConfig,
			object: json.RawMessage(`{"kind":"Pod","spec":{"initContainers":[{"name":"setup","image":"alpine"}],"containers":[{"name":"web","image":"ghcr.io/myorg/web"}]}}`),
			deny:   `init container "setup" uses image "docker.io/library/alpine", which is not from an allowed registry ` + corpList},
		{name: "ephemeral container", op: "UPDATE", config: corpConfig,
			object: json.RawMessage(`{"kind":"Pod","spec":{"containers":[{"name":"web","image":"ghcr.io/myorg/web"}],"ephemeralContainers":[{"name":"debug","image":"busybox"}]}}`),
			old:    json.RawMessage(`{"kind":"Pod","spec":{"containers":[{"name":"web","image":"ghcr.io/myorg/web"}]}}`),
			edit:   func(r *tug.AdmissionRequest) { r.SubResource = "ephemeralcontainers" },
			deny:   `ephemeral container "debug" uses image "docker.io/library/busybox", which is not from an allowed registry ` + corpList},
		{name: "deployment", op: "CREATE", object: withTemplate("apps/v1", "Deployment", "nginx:1.27"), config: corpConfig, deny: nginxDenied},
		{name: "replicaset", op: "CREATE", object: withTemplate("apps/v1", "ReplicaSet", "nginx:1.27"), config: corpConfig, deny: nginxDenied},
		{name: "statefulset", op: "CREATE", object: withTemplate("apps/v1", "StatefulSet", "nginx:1.27"), config: corpConfig, deny: nginxDenied},
		{name: "daemonset", op: "CREATE", object: withTemplate("apps/v1", "DaemonSet", "nginx:1.27"), config: corpConfig, deny: nginxDenied},
		{name: "job", op: "CREATE", object: withTemplate("batch/v1", "Job", "nginx:1.27"), config: corpConfig, deny: nginxDenied},
		{name: "replicationcontroller", op: "CREATE", object: withTemplate("v1", "ReplicationController", "nginx:1.27"), config: corpConfig, deny: nginxDenied},
		{name: "cronjob", op: "CREATE", object: cronJob("nginx:1.27"), config: corpConfig, deny: nginxDenied},
		{name: "allowed deployment", op: "CREATE", object: withTemplate("apps/v1", "Deployment", "registry.corp.example/web"), config: corpConfig},
		{name: "deployment without a template", op: "CREATE", config: corpConfig,
			object: json.RawMessage(`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},"spec":{}}`)},
		{name: "other kind", op: "CREATE", object: json.RawMessage(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"data":{"image":"nginx"}}`), config: corpConfig},
		{name: "delete", op: "DELETE", object: pod("nginx"), config: corpConfig},
		{name: "status subresource", op: "UPDATE", object: pod("nginx"), old: pod("nginx"), config: corpConfig,
			edit: func(r *tug.AdmissionRequest) { r.SubResource = "status" }},
		{name: "update keeps an old image", op: "UPDATE", object: pod("nginx:1.27"), old: pod("nginx:1.27"), config: corpConfig},
		{name: "update brings a new image", op: "UPDATE", object: withTemplate("apps/v1", "Deployment", "nginx:1.27"),
			old: withTemplate("apps/v1", "Deployment", "nginx:1.26"), config: corpConfig, deny: nginxDenied},
		{name: "empty image left to validation", op: "CREATE", object: pod(""), config: corpConfig},
		{name: "plugin configuration as fallback", op: "CREATE", object: pod("fallback.example/web"), fallback: fallback},
		{name: "fallback denies", op: "CREATE", object: pod("nginx:1.27"), fallback: fallback,
			deny: `container "web" uses image "docker.io/library/nginx:1.27", which is not from an allowed registry (allowed: fallback.example)`},
		{name: "policy configuration wins", op: "CREATE", object: pod("fallback.example/web"), config: corpConfig, fallback: fallback,
			deny: `container "web" uses image "fallback.example/web", which is not from an allowed registry ` + corpList},
		{name: "policy configuration without registries", op: "CREATE", object: pod("fallback.example/web"), config: `{}`, fallback: fallback},

		{name: "no configuration at all", op: "CREATE", object: pod("nginx"), err: "no allowed registries"},
		{name: "malformed policy configuration", op: "CREATE", object: pod("nginx"), config: `{"registries": "ghcr.io"}`, fallback: fallback,
			err: "policy configuration: registries: want a list of strings"},
		{name: "malformed configuration does not block a delete", op: "DELETE", object: pod("nginx"), config: `{"registries": 1}`},
		{name: "no object", op: "CREATE", object: nil, config: corpConfig, err: "admission request: no object"},
		{name: "object not an object", op: "CREATE", object: json.RawMessage(`"nginx"`), config: corpConfig, err: "object is not a JSON object"},
		{name: "containers malformed", op: "CREATE", object: json.RawMessage(`{"kind":"Pod","spec":{"containers":{"image":"nginx"}}}`),
			config: corpConfig, err: "admission request: decode object: json: cannot unmarshal object"},
		{name: "image not a string", op: "CREATE", object: json.RawMessage(`{"kind":"Pod","spec":{"containers":[{"image":5}]}}`),
			config: corpConfig, err: "decode object"},
		{name: "old object malformed", op: "UPDATE", object: pod("nginx"), old: json.RawMessage(`[]`), config: corpConfig,
			err: "oldObject is not a JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := request(t, tt.op, tt.object, tt.old)
			if tt.config != "" {
				req.Config = json.RawMessage(tt.config)
			}
			if tt.edit != nil {
				tt.edit(req)
			}
			resp, err := decide(req, tt.fallback)
			switch {
			case tt.err != "":
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("decide: %v, %+v; want the error %q", err, resp, tt.err)
				}
			case err != nil:
				t.Fatalf("decide: %v", err)
			case tt.deny == "" && (!resp.Allowed || resp.Result != nil):
				t.Errorf("denied with %+v, want allowed", resp.Result)
			case tt.deny != "" && (resp.Allowed || resp.Result == nil || resp.Result.Code != 403 || resp.Result.Message != tt.deny):
				t.Errorf("answer %+v %+v,\nwant denied with 403 %q", resp, resp.Result, tt.deny)
			}
		})
	}
}

// request builds the admission request the API server would send, with the object's kind;
// an object without one (a malformed one) is taken for a Pod.
func request(t *testing.T, op string, object, old any) *tug.AdmissionRequest {
	t.Helper()
	req := &tug.AdmissionRequest{}
	req.UID, req.Operation, req.Name, req.Namespace = "u1", op, "web", "default"
	if object != nil {
		req.Object = toJSON(t, object)
	}
	if old != nil {
		req.OldObject = toJSON(t, old)
	}
	var meta struct{ APIVersion, Kind string }
	_ = json.Unmarshal(req.Object, &meta) // malformed objects stay Pods
	if meta.Kind == "" {
		meta.APIVersion, meta.Kind = "v1", "Pod"
	}
	group, version, ok := strings.Cut(meta.APIVersion, "/")
	if !ok {
		group, version = "", meta.APIVersion
	}
	req.Kind = tug.GroupVersionKind{Group: group, Version: version, Kind: meta.Kind}
	return req
}

func toJSON(t *testing.T, v any) json.RawMessage {
	t.Helper()
	if raw, ok := v.(json.RawMessage); ok {
		return raw
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Through the SDK as the host calls it: tug_configure, then tug_admit, with the errors
// turned into denials a user can read.
func TestAdmit(t *testing.T) {
	if err := sdktest.Configure(t, `{"registries": ["registry.corp.example"]}`); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		object  any
		config  string
		allowed bool
		code    int32
		message string // a part of it
	}{
		{"allowed", pod("registry.corp.example/web"), "", true, 0, ""},
		{"denied", pod("nginx:1.27"), "", false, 403,
			`container "web" uses image "docker.io/library/nginx:1.27", which is not from an allowed registry (allowed: registry.corp.example)`},
		{"policy configuration", pod("ghcr.io/myorg/web"), `{"registries": ["ghcr.io/myorg"]}`, true, 0, ""},
		{"malformed policy configuration", pod("nginx"), `{"registries": [""]}`, false, 500, `policy configuration: registries[0]: "": empty`},
		{"no object", nil, "", false, 400, "admission request: no object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := request(t, "CREATE", tt.object, nil)
			if tt.config != "" {
				req.Config = json.RawMessage(tt.config)
			}
			resp := sdktest.Admit(t, req)
			if resp.Allowed != tt.allowed {
				t.Fatalf("allowed %v (%+v), want %v", resp.Allowed, resp.Result, tt.allowed)
			}
			if tt.allowed {
				return
			}
			if resp.Result == nil || resp.Result.Code != tt.code || !strings.Contains(resp.Result.Message, tt.message) {
				t.Errorf("status %+v, want code %d and a message containing %q", resp.Result, tt.code, tt.message)
			}
		})
	}
}

func TestConfigure(t *testing.T) {
	tests := []struct {
		name    string
		config  string
		wantErr bool
	}{
		{"registries", `{"registries": ["ghcr.io/myorg"]}`, false},
		{"none: every policy brings its own", `{}`, false},
		{"not JSON", `registries: ghcr.io`, true},
		{"empty list", `{"registries": []}`, true},
		{"bad entry", `{"registries": ["https://ghcr.io"]}`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := sdktest.Configure(t, tt.config)
			if (err != nil) != tt.wantErr {
				t.Errorf("Configure(%s) = %v, want error: %v", tt.config, err, tt.wantErr)
			}
		})
	}
}
