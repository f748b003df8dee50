package main

import (
	"encoding/json"
	"strings"
	"testing"

	tug "github.com/tugboat-io/tug/sdk/go"
	"github.com/tugboat-io/tug/sdk/go/sdktest"
)

const hello = `{"apiVersion":"website.example.tug.dev/v1","kind":"Website","metadata":{"name":"hello","generation":2},
"spec":{"title":"Hello","message":"from <tug>","replicas":2}}`

func reconcile(t *testing.T, footer string, children map[string][]json.RawMessage) *tug.ReconcileResult {
	t.Helper()
	if err := sdktest.Configure(t, Config{Footer: footer}); err != nil {
		t.Fatal(err)
	}
	res, err := sdktest.Reconcile(t, &tug.ReconcileRequest{Parent: json.RawMessage(hello), Children: children})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestDeclaresPageAndDeployment(t *testing.T) {
	res := reconcile(t, "v1", nil)
	var cm struct {
		Metadata struct{ Name string }
		Data     map[string]string
	}
	if len(res.Children[ConfigMapKey]) != 1 || json.Unmarshal(res.Children[ConfigMapKey][0], &cm) != nil {
		t.Fatalf("config maps %s", res.Children[ConfigMapKey])
	}
	page := cm.Data["index.html"]
	if cm.Metadata.Name != "hello-page" || !strings.Contains(page, "<h1>Hello</h1>") || !strings.Contains(page, "from &lt;tug&gt;") ||
		!strings.Contains(page, "<footer>v1</footer>") {
		t.Errorf("page %s %q", cm.Metadata.Name, page)
	}
	var d struct {
		Spec struct {
			Replicas int32
			Template struct {
				Metadata struct{ Annotations map[string]string }
			}
		}
	}
	if len(res.Children[DeploymentKey]) != 1 || json.Unmarshal(res.Children[DeploymentKey][0], &d) != nil {
		t.Fatalf("deployments %s", res.Children[DeploymentKey])
	}
	if d.Spec.Replicas != 2 || d.Spec.Template.Metadata.Annotations["website.example.tug.dev/page"] == "" {
		t.Errorf("deployment %+v", d)
	}
}

func TestAnotherFooterRollsThePods(t *testing.T) {
	annotation := func(res *tug.ReconcileResult) string {
		var st Status
		if err := json.Unmarshal(res.Status, &st); err != nil {
			t.Fatal(err)
		}
		return st.Page
	}
	if v1, v2 := annotation(reconcile(t, "v1", nil)), annotation(reconcile(t, "v2", nil)); v1 == v2 {
		t.Errorf("pages of v1 and v2 hash the same: %s", v1)
	}
}

func TestStatusFollowsTheDeployment(t *testing.T) {
	dep := `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"hello"},"status":{"replicas":2,"availableReplicas":2}}`
	res := reconcile(t, "v1", map[string][]json.RawMessage{DeploymentKey: {json.RawMessage(dep)}})
	var st Status
	if err := json.Unmarshal(res.Status, &st); err != nil {
		t.Fatal(err)
	}
	if st.Phase != "Serving" || st.AvailableReplicas != 2 || st.ObservedGeneration != 2 {
		t.Errorf("status %+v, want Serving with 2 available at generation 2", st)
	}
	res = reconcile(t, "v1", nil)
	if err := json.Unmarshal(res.Status, &st); err != nil || st.Phase != "Pending" {
		t.Errorf("status without a deployment %+v, want Pending", st)
	}
}
