package apiserver_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/tugboat-io/tug/core/apiserver"
	"github.com/tugboat-io/tug/core/apiserver/apiservertest"
)

// execGetOnly lets alice get pods/exec but not create it; delegator may do anything.
type execGetOnly struct{}

func (execGetOnly) Authorize(_ context.Context, a apiserver.Attributes) (bool, string, error) {
	if a.User != nil && a.User.Name == "alice" && a.Subresource == "exec" && a.Verb != "get" {
		return false, "alice may only get pods/exec", nil
	}
	return true, "", nil
}

// TestExecChecks: pods/exec refuses what it cannot run before reaching any node agent, with a
// Status naming the problem.
func TestExecChecks(t *testing.T) {
	srv := apiservertest.Start(t, apiserver.Config{Authn: tokens{}, Authz: execGetOnly{}})
	cs, err := kubernetes.NewForConfig(&rest.Config{Host: srv.URL, BearerToken: "delegator"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, p := range []*corev1.Pod{
		{ObjectMeta: metav1.ObjectMeta{Name: "unscheduled", Namespace: "default"}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "x"}}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "two", Namespace: "default"}, Spec: corev1.PodSpec{NodeName: "n1", Containers: []corev1.Container{{Name: "a", Image: "x"}, {Name: "b", Image: "x"}}}},
	} {
		if _, err := cs.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	ws := map[string]string{"Upgrade": "websocket", "Connection": "Upgrade"}
	for _, tt := range []struct {
		name, token, method, path string
		headers                   map[string]string
		code                      int
		msg                       string
	}{
		{"no command", "delegator", "GET", "/api/v1/namespaces/default/pods/two/exec?container=a&stdout=true", ws, 400, "at least one command"},
		{"no stream", "delegator", "GET", "/api/v1/namespaces/default/pods/two/exec?container=a&command=ls", ws, 400, "at least 1 of stdin, stdout, stderr"},
		{"no container named", "delegator", "GET", "/api/v1/namespaces/default/pods/two/exec?command=ls&stdout=true", ws, 400, "choose one of"},
		{"unknown container", "delegator", "GET", "/api/v1/namespaces/default/pods/two/exec?container=c&command=ls&stdout=true", ws, 400, "container c is not valid"},
		{"tty and stderr", "delegator", "GET", "/api/v1/namespaces/default/pods/two/exec?container=a&command=ls&tty=true&stderr=true", ws, 400, "tty and stderr"},
		{"not scheduled", "delegator", "GET", "/api/v1/namespaces/default/pods/unscheduled/exec?command=ls&stdout=true", ws, 400, "not yet scheduled"},
		{"SPDY", "delegator", "POST", "/api/v1/namespaces/default/pods/two/exec?container=a&command=ls&stdout=true", map[string]string{"Upgrade": "SPDY/3.1", "Connection": "Upgrade"}, 400, "use kubectl 1.30 or newer"},
		{"no node agent", "delegator", "GET", "/api/v1/namespaces/default/pods/two/exec?container=a&command=ls&stdout=true", ws, 404, `nodes "n1" not found`},
		{"a websocket needs create too", "alice", "GET", "/api/v1/namespaces/default/pods/two/exec?container=a&command=ls&stdout=true", ws, 403, "alice may only get pods/exec"},
		{"missing pod", "delegator", "GET", "/api/v1/namespaces/default/pods/none/exec?command=ls&stdout=true", ws, 404, "not found"},
		{"other verbs", "delegator", "DELETE", "/api/v1/namespaces/default/pods/two/exec", nil, 405, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, srv.URL+tt.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+tt.token)
			for k, v := range tt.headers {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var st metav1.Status
			if err := json.NewDecoder(resp.Body).Decode(&st); err != nil || resp.StatusCode != tt.code || st.Kind != "Status" || !strings.Contains(st.Message, tt.msg) {
				t.Fatalf("= %d %+v (%v), want %d with %q", resp.StatusCode, st, err, tt.code, tt.msg)
			}
		})
	}
}
