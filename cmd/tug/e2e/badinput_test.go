package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// rawResponse is an API response read with plain net/http.
type rawResponse struct {
	code   int
	status metav1.Status
	body   string
}

func (r rawResponse) String() string {
	return fmt.Sprintf("HTTP %d: %s", r.code, tail(r.body, 2000))
}

// rawRequest sends one request with plain net/http and decodes a Status body if there is one.
func rawRequest(t *testing.T, srv *server, method, path, contentType string, body []byte) rawResponse {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL()+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := srv.HTTPClient(t).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	r := rawResponse{code: resp.StatusCode, body: string(raw)}
	_ = json.Unmarshal(raw, &r.status)
	return r
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestBadInput sends malformed and conflicting requests with plain net/http: each gets the
// Kubernetes Status error with the right code and reason, and changes nothing.
func TestBadInput(t *testing.T) {
	t.Parallel()
	srv := shared(t)
	cs := srv.Clientset(t)
	ctx := context.Background()
	const ns, missingNS = "bad-input", "bad-input-missing"
	createNamespace(t, cs, ns)
	cms := cs.CoreV1().ConfigMaps(ns)
	first, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "existing"}, Data: map[string]string{"v": "1"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	staleRV := first.ResourceVersion
	cur := first.DeepCopy()
	cur.Data["v"] = "2"
	if _, err := cms.Update(ctx, cur, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("update: %v", err)
	}

	// snapshot is the namespace's ConfigMaps by name → resourceVersion and data.
	snapshot := func() map[string]string {
		t.Helper()
		list, err := cms.List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatalf("list: %v", err)
		}
		m := map[string]string{}
		for _, cm := range list.Items {
			m[cm.Name] = cm.ResourceVersion + " " + fmt.Sprint(cm.Data)
		}
		return m
	}
	before := snapshot()

	configMap := func(name string, data map[string]string) map[string]any {
		return map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": name}, "data": data}
	}
	const collection = "/api/v1/namespaces/" + ns + "/configmaps"
	const jsonType = "application/json"

	cases := []struct {
		name        string
		method      string
		path        string
		contentType string
		body        []byte
		code        int
		reason      metav1.StatusReason
		check       func(t *testing.T, r rawResponse)
	}{
		{
			name: "malformed JSON", method: "POST", path: collection, contentType: jsonType,
			body: []byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"half"`),
			code: 400, reason: metav1.StatusReasonBadRequest,
		},
		{
			name: "wrong kind", method: "POST", path: collection, contentType: jsonType,
			body: mustJSON(t, map[string]any{"apiVersion": "v1", "kind": "Service", "metadata": map[string]any{"name": "svc"},
				"spec": map[string]any{"ports": []any{map[string]any{"port": 80}}}}),
			code: 400, reason: metav1.StatusReasonBadRequest,
		},
		{
			name: "namespace in body differs from path", method: "POST", path: collection, contentType: jsonType,
			body: mustJSON(t, map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "elsewhere", "namespace": "default"}}),
			code: 400, reason: metav1.StatusReasonBadRequest,
		},
		{
			name: "wrong content type", method: "POST", path: collection, contentType: "text/plain",
			body: mustJSON(t, configMap("plain", nil)),
			code: 415, reason: metav1.StatusReasonUnsupportedMediaType,
		},
		{
			name: "oversized body", method: "POST", path: collection, contentType: jsonType,
			body: mustJSON(t, configMap("huge", map[string]string{"blob": strings.Repeat("x", 3<<20+512<<10)})),
			code: 413, reason: metav1.StatusReasonRequestEntityTooLarge,
		},
		{
			name: "invalid name", method: "POST", path: collection, contentType: jsonType,
			body: mustJSON(t, configMap("Bad_Name", nil)),
			code: 422, reason: metav1.StatusReasonInvalid,
			check: func(t *testing.T, r rawResponse) {
				if r.status.Details == nil || r.status.Details.Name != "Bad_Name" || r.status.Details.Kind != "ConfigMap" {
					t.Errorf("details = %+v, want name Bad_Name kind ConfigMap", r.status.Details)
				}
				found := false
				if r.status.Details != nil {
					for _, c := range r.status.Details.Causes {
						found = found || c.Field == "metadata.name"
					}
				}
				if !found {
					t.Errorf("no cause names field metadata.name: %s", r)
				}
			},
		},
		{
			name: "update with stale resourceVersion", method: "PUT", path: collection + "/existing", contentType: jsonType,
			body: mustJSON(t, map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
				"metadata": map[string]any{"name": "existing", "resourceVersion": staleRV}, "data": map[string]string{"v": "stale"}}),
			code: 409, reason: metav1.StatusReasonConflict,
			check: func(t *testing.T, r rawResponse) {
				if !strings.Contains(r.status.Message, "the object has been modified") {
					t.Errorf("message = %q, want it to say the object has been modified", r.status.Message)
				}
			},
		},
		{
			name: "create existing", method: "POST", path: collection, contentType: jsonType,
			body: mustJSON(t, configMap("existing", map[string]string{"v": "again"})),
			code: 409, reason: metav1.StatusReasonAlreadyExists,
			check: func(t *testing.T, r rawResponse) {
				if r.status.Details == nil || r.status.Details.Name != "existing" {
					t.Errorf("details = %+v, want name existing", r.status.Details)
				}
			},
		},
		{
			name: "unknown resource get", method: "GET", path: "/api/v1/namespaces/" + ns + "/widgets",
			code: 404, reason: metav1.StatusReasonNotFound,
		},
		{
			name: "unknown resource create", method: "POST", path: "/api/v1/namespaces/" + ns + "/widgets", contentType: jsonType,
			body: mustJSON(t, map[string]any{"apiVersion": "v1", "kind": "Widget", "metadata": map[string]any{"name": "w"}}),
			code: 404, reason: metav1.StatusReasonNotFound,
		},
		{
			name: "unknown group", method: "GET", path: "/apis/nothing.example.com/v1/things",
			code: 404, reason: metav1.StatusReasonNotFound,
		},
		{
			name: "create in missing namespace", method: "POST", path: "/api/v1/namespaces/" + missingNS + "/configmaps", contentType: jsonType,
			body: mustJSON(t, configMap("orphan", nil)),
			code: 404, reason: metav1.StatusReasonNotFound,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := rawRequest(t, srv, tc.method, tc.path, tc.contentType, tc.body)
			if r.code != tc.code {
				t.Errorf("%s %s: HTTP %d, want %d: %s", tc.method, tc.path, r.code, tc.code, r)
			}
			if r.status.Kind != "Status" || r.status.Status != metav1.StatusFailure || r.status.Reason != tc.reason || int(r.status.Code) != tc.code {
				t.Errorf("%s %s: Status kind=%q status=%q reason=%q code=%d, want kind Status, Failure, reason %s, code %d: %s",
					tc.method, tc.path, r.status.Kind, r.status.Status, r.status.Reason, r.status.Code, tc.reason, tc.code, r)
			}
			if tc.check != nil {
				tc.check(t, r)
			}
			if after := snapshot(); !maps.Equal(before, after) {
				t.Errorf("the request changed the stored ConfigMaps:\nbefore %v\nafter  %v", before, after)
			}
		})
	}

	// Nothing was created in or for the missing namespace.
	if _, err := cs.CoreV1().Namespaces().Get(ctx, missingNS, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("get namespace %s: err = %v, want NotFound", missingNS, err)
	}
	if _, err := cs.CoreV1().ConfigMaps(missingNS).Get(ctx, "orphan", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("get orphan ConfigMap in the missing namespace: err = %v, want NotFound", err)
	}
	got, err := cms.Get(ctx, "existing", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Data["v"] != "2" {
		t.Errorf("existing data = %v, want v=2", got.Data)
	}
}
