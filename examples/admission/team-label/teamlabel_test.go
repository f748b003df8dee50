package main

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	tug "github.com/tugboat-io/tug/sdk/go"
	"github.com/tugboat-io/tug/sdk/go/sdktest"
)

func deployment(labels map[string]string) map[string]any {
	meta := map[string]any{"name": "web", "namespace": "default"}
	if labels != nil {
		meta["labels"] = labels
	}
	return map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta,
		"spec": map[string]any{"template": map[string]any{"spec": map[string]any{
			"containers": []any{map[string]any{"name": "web", "image": "nginx"}}}}}}
}

// request builds the admission request the API server would send for a Deployment.
func request(t *testing.T, op string, object, old any) *tug.AdmissionRequest {
	t.Helper()
	req := &tug.AdmissionRequest{}
	req.UID, req.Operation, req.Name, req.Namespace = "u1", op, "web", "default"
	req.Kind = tug.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}
	req.Resource = tug.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	req.Object, req.OldObject = toJSON(t, object), toJSON(t, old)
	return req
}

func toJSON(t *testing.T, v any) json.RawMessage {
	t.Helper()
	switch v := v.(type) {
	case nil:
		return nil
	case json.RawMessage:
		return v
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseConfig(t *testing.T) {
	tests := []struct {
		config, want, wantErr string
	}{
		{``, "", ""},
		{`null`, "", ""},
		{`{}`, "", ""},
		{`{"label": "team"}`, "team", ""},
		{`{"label": "example.com/owner"}`, "example.com/owner", ""},
		{`{"label": "app.kubernetes.io/part-of", "extra": 1}`, "app.kubernetes.io/part-of", ""},
		{`{"label": "Team_1.x"}`, "Team_1.x", ""},
		{`{"label": ""}`, "", `label: "": empty`},
		{`{"label": "team name"}`, "", "not a label key: the name"},
		{`{"label": "-team"}`, "", "not a label key: the name"},
		{`{"label": "` + strings.Repeat("t", 64) + `"}`, "", "not a label key: the name"},
		{`{"label": "example.com/"}`, "", "not a label key: the name"},
		{`{"label": "/team"}`, "", "not a label key: the prefix"},
		{`{"label": "Example.com/team"}`, "", "not a label key: the prefix"},
		{`{"label": "a/b/c"}`, "", "not a label key: the name"},
		{`{"label": 5}`, "", "policy configuration: json: cannot unmarshal number"},
		{`label=team`, "", "policy configuration: invalid character"},
		{`["team"]`, "", "policy configuration: json: cannot unmarshal array"},
	}
	for _, tt := range tests {
		got, err := parseConfig([]byte(tt.config))
		switch {
		case tt.wantErr != "":
			if err == nil || !errors.Is(err, errConfig) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("parseConfig(%s) = %q, %v; want an error containing %q", tt.config, got, err, tt.wantErr)
			}
		case err != nil || got != tt.want:
			t.Errorf("parseConfig(%s) = %q, %v; want %q", tt.config, got, err, tt.want)
		}
	}
}

func TestDecide(t *testing.T) {
	const (
		noTeam    = `Deployment "web" has no "team" label: every Deployment must carry a non-empty "team" label`
		emptyTeam = `Deployment "web" has an empty "team" label: every Deployment must carry a non-empty "team" label`
	)
	team := map[string]string{"team": "payments"}
	other := map[string]string{"app": "web"}
	deleting := deployment(other)
	deleting["metadata"].(map[string]any)["deletionTimestamp"] = "2025-01-01T00:00:00Z"
	tests := []struct {
		name     string
		op       string
		object   any
		old      any
		edit     func(*tug.AdmissionRequest)
		config   string // the request's
		fallback string
		deny     string // the denial; "" for allowed
		warn     string // the warning of an allowed answer
		err      string // decide's error, in part
	}{
		{name: "labelled", op: "CREATE", object: deployment(team)},
		{name: "no labels", op: "CREATE", object: deployment(nil), deny: noTeam},
		{name: "other labels", op: "CREATE", object: deployment(other), deny: noTeam},
		{name: "empty value", op: "CREATE", object: deployment(map[string]string{"team": ""}), deny: emptyTeam},
		{name: "label from the policy configuration", op: "CREATE", object: deployment(team), config: `{"label": "owner"}`,
			deny: `Deployment "web" has no "owner" label: every Deployment must carry a non-empty "owner" label`},
		{name: "policy configuration carries it", op: "CREATE", object: deployment(map[string]string{"owner": "x"}), config: `{"label": "owner"}`},
		{name: "label from the plugin configuration", op: "CREATE", object: deployment(team), fallback: "owner",
			deny: `Deployment "web" has no "owner" label: every Deployment must carry a non-empty "owner" label`},
		{name: "policy configuration wins", op: "CREATE", object: deployment(team), config: `{"label": "team"}`, fallback: "owner"},
		{name: "policy configuration without a label", op: "CREATE", object: deployment(team), config: `{}`},
		{name: "generateName", op: "CREATE", object: json.RawMessage(`{"metadata":{"generateName":"web-"}}`),
			edit: func(r *tug.AdmissionRequest) { r.Name = "" },
			deny: `Deployment "web-…" has no "team" label: every Deployment must carry a non-empty "team" label`},
		{name: "update keeps it", op: "UPDATE", object: deployment(team), old: deployment(team)},
		{name: "update removes it", op: "UPDATE", object: deployment(other), old: deployment(team), deny: noTeam},
		{name: "update of a deployment that never had it", op: "UPDATE", object: deployment(other), old: deployment(nil),
			warn: `Deployment "web" has no "team" label; every Deployment must carry one`},
		{name: "removed while deleting", op: "UPDATE", object: deleting, old: deployment(team),
			warn: `Deployment "web" has no "team" label; every Deployment must carry one`},
		{name: "delete", op: "DELETE", object: nil, old: deployment(nil)},
		{name: "scale subresource", op: "UPDATE", object: json.RawMessage(`{"kind":"Scale","spec":{"replicas":3}}`),
			edit: func(r *tug.AdmissionRequest) { r.SubResource = "scale" }},
		{name: "not a deployment", op: "CREATE", object: json.RawMessage(`{"kind":"StatefulSet","metadata":{"name":"db"}}`),
			edit: func(r *tug.AdmissionRequest) { r.Kind.Kind = "StatefulSet" }},
		{name: "core group", op: "CREATE", object: json.RawMessage(`{"kind":"Deployment"}`),
			edit: func(r *tug.AdmissionRequest) { r.Kind.Group = "" }},

		{name: "malformed policy configuration", op: "CREATE", object: deployment(team), config: `{"label": "not a key"}`,
			err: `policy configuration: label: "not a key": not a label key`},
		{name: "malformed configuration does not block a delete", op: "DELETE", object: nil, old: deployment(nil), config: `{"label": 5}`},
		{name: "no object", op: "CREATE", object: nil, err: "admission request: no object"},
		{name: "object not an object", op: "CREATE", object: json.RawMessage(`[1]`), err: "admission request: object is not a JSON object"},
		{name: "labels malformed", op: "CREATE", object: json.RawMessage(`{"metadata":{"labels":["team"]}}`),
			err: "admission request: decode object: json: cannot unmarshal array"},
		{name: "update without an old object", op: "UPDATE", object: deployment(nil), err: "admission request: no oldObject"},
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
			case tt.deny == "" && strings.Join(resp.Warnings, "|") != tt.warn:
				t.Errorf("warnings %q, want %q", resp.Warnings, tt.warn)
			case tt.deny != "" && (resp.Allowed || resp.Result == nil || resp.Result.Code != 403 || resp.Result.Message != tt.deny):
				t.Errorf("answer %+v %+v,\nwant denied with 403 %q", resp, resp.Result, tt.deny)
			}
		})
	}
}

// Through the SDK as the host calls it: tug_configure, then tug_admit, with the errors
// turned into denials a user can read.
func TestAdmit(t *testing.T) {
	if err := sdktest.Configure(t, `{"label": "owner"}`); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		object  any
		config  string
		allowed bool
		code    int32
		message string
	}{
		{"labelled", deployment(map[string]string{"owner": "x"}), "", true, 0, ""},
		{"unlabelled", deployment(map[string]string{"team": "x"}), "", false, 403,
			`Deployment "web" has no "owner" label: every Deployment must carry a non-empty "owner" label`},
		{"policy configuration", deployment(map[string]string{"team": "x"}), `{"label": "team"}`, true, 0, ""},
		{"malformed policy configuration", deployment(nil), `{"label": ""}`, false, 500, `policy configuration: label: "": empty`},
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
			if !tt.allowed && (resp.Result == nil || resp.Result.Code != tt.code || resp.Result.Message != tt.message) {
				t.Errorf("status %+v, want code %d and message %q", resp.Result, tt.code, tt.message)
			}
		})
	}
}

func TestConfigure(t *testing.T) {
	tests := []struct {
		config  string
		wantErr bool
	}{
		{`{"label": "team"}`, false},
		{`{}`, false},
		{`{"label": ""}`, true},
		{`{"label": "a b"}`, true},
		{`not json`, true},
	}
	for _, tt := range tests {
		if err := sdktest.Configure(t, tt.config); (err != nil) != tt.wantErr {
			t.Errorf("Configure(%s) = %v, want error: %v", tt.config, err, tt.wantErr)
		}
	}
}
