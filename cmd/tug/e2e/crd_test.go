package e2e

import (
	"context"
	"strconv"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/clientcmd"
)

const e2eWidgetCRD = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.stable.example.com
spec:
  group: stable.example.com
  scope: Namespaced
  names:
    plural: widgets
    kind: Widget
    shortNames: [wdg]
    categories: [all]
  versions:
  - name: v1
    served: true
    storage: true
    subresources:
      status: {}
      scale:
        specReplicasPath: .spec.replicas
        statusReplicasPath: .status.replicas
    additionalPrinterColumns:
    - name: Replicas
      type: integer
      jsonPath: .spec.replicas
    - name: Color
      type: string
      jsonPath: .spec.color
    - name: Age
      type: date
      jsonPath: .metadata.creationTimestamp
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [size]
            properties:
              replicas: {type: integer, minimum: 0, maximum: 10}
              size: {type: string, enum: [S, M, L]}
              color: {type: string, default: blue}
          status:
            type: object
            properties:
              replicas: {type: integer}
`

func widgetYAML(name string, replicas int) string {
	return "apiVersion: stable.example.com/v1\nkind: Widget\nmetadata:\n  name: " + name +
		"\nspec:\n  size: M\n  replicas: " + strconv.Itoa(replicas) + "\n"
}

// TestCustomResourceDefinitionsWithKubectl drives a CRD's whole life with kubectl 1.33: apply,
// wait for Established, custom resources applied, printed with their columns, refused when
// invalid, scaled, listed by `get all`, read by client-go's dynamic client, kept across a
// restart, and removed with the CRD.
func TestCustomResourceDefinitionsWithKubectl(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srv := startUp(t, dir)
	const v = "1.33"
	must := func(stdin string, args ...string) string {
		t.Helper()
		r := srv.kubectlIn(t, v, stdin, args...)
		if r.err != nil {
			t.Fatalf("%s\n%s", r, srv.output())
		}
		return r.stdout
	}

	if out := must(e2eWidgetCRD, "apply", "-f", "-"); !strings.Contains(out, "customresourcedefinition.apiextensions.k8s.io/widgets.stable.example.com created") {
		t.Fatalf("apply crd: %s", out)
	}
	must("", "wait", "--for", "condition=established", "--timeout=60s", "crd/widgets.stable.example.com")
	if out := must("", "api-resources", "--api-group=stable.example.com"); !strings.Contains(out, "widgets") || !strings.Contains(out, "wdg") ||
		!strings.Contains(out, "Widget") {
		t.Fatalf("api-resources: %s", out)
	}
	if out := must("", "get", "crd"); !strings.Contains(out, "widgets.stable.example.com") {
		t.Fatalf("get crd: %s", out)
	}

	must("", "create", "namespace", "crd-e2e")
	if out := must(widgetYAML("w1", 2), "apply", "-n", "crd-e2e", "-f", "-"); !strings.Contains(out, "widget.stable.example.com/w1 created") {
		t.Fatalf("apply widget: %s", out)
	}
	out := must("", "get", "widgets", "-n", "crd-e2e")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || strings.Join(strings.Fields(lines[0]), " ") != "NAME REPLICAS COLOR AGE" ||
		!strings.HasPrefix(strings.Join(strings.Fields(lines[1]), " "), "w1 2 blue ") {
		t.Fatalf("get widgets:\n%s", out)
	}

	// A changed manifest applies as a patch; the spec change bumps the generation.
	if out := must(widgetYAML("w1", 3), "apply", "-n", "crd-e2e", "-f", "-"); !strings.Contains(out, "widget.stable.example.com/w1 configured") {
		t.Fatalf("re-apply widget: %s", out)
	}
	if out := must("", "get", "wdg", "w1", "-n", "crd-e2e", "-o", "jsonpath={.spec.replicas} {.metadata.generation} {.spec.color}"); out != "3 2 blue" {
		t.Fatalf("after re-apply: %q", out)
	}

	bad := srv.kubectlIn(t, v, widgetYAML("w1", 100), "apply", "-n", "crd-e2e", "-f", "-")
	if bad.err == nil || !strings.Contains(bad.stderr, "spec.replicas: Invalid value: 100") {
		t.Fatalf("invalid widget accepted or not named: %s", bad)
	}
	badNew := srv.kubectlIn(t, v, strings.Replace(widgetYAML("w9", 1), "size: M", "size: XL", 1), "create", "-n", "crd-e2e", "-f", "-")
	if badNew.err == nil || !strings.Contains(badNew.stderr, `spec.size: Unsupported value: "XL"`) {
		t.Fatalf("invalid enum accepted or not named: %s", badNew)
	}

	if out := must("", "scale", "widget", "w1", "-n", "crd-e2e", "--replicas=4"); !strings.Contains(out, "scaled") {
		t.Fatalf("scale: %s", out)
	}
	if out := must("", "get", "widget", "w1", "-n", "crd-e2e", "-o", "jsonpath={.spec.replicas}"); out != "4" {
		t.Fatalf("after scale: %q", out)
	}
	if out := must("", "get", "all", "-n", "crd-e2e"); !strings.Contains(out, "widget.stable.example.com/w1") {
		t.Fatalf("get all does not show the widget:\n%s", out)
	}

	// client-go's dynamic client reads and writes custom resources.
	cfg, err := clientcmd.BuildConfigFromFlags("", srv.Kubeconfig())
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	widgets := dyn.Resource(schema.GroupVersionResource{Group: "stable.example.com", Version: "v1", Resource: "widgets"}).Namespace("crd-e2e")
	ctx := context.Background()
	w2 := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "stable.example.com/v1", "kind": "Widget",
		"metadata": map[string]any{"name": "w2"}, "spec": map[string]any{"size": "L"}}}
	created, err := widgets.Create(ctx, w2, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("dynamic create: %v", err)
	}
	if c, _, _ := unstructured.NestedString(created.Object, "spec", "color"); c != "blue" {
		t.Fatalf("dynamic create not defaulted: %v", created.Object)
	}
	list, err := widgets.List(ctx, metav1.ListOptions{})
	if err != nil || len(list.Items) != 2 || list.GetKind() != "WidgetList" {
		t.Fatalf("dynamic list: %v %v", list, err)
	}

	// Custom resources survive a restart, served from the first request.
	srv.Stop(t)
	srv = startUp(t, dir)
	if out := must("", "get", "widget", "w2", "-n", "crd-e2e", "-o", "jsonpath={.spec.size}"); out != "L" {
		t.Fatalf("after restart: %q", out)
	}

	// Deleting the CRD deletes its custom resources: defined again, it has none.
	if out := must("", "delete", "crd", "widgets.stable.example.com"); !strings.Contains(out, "deleted") {
		t.Fatalf("delete crd: %s", out)
	}
	// kubectl's discovery cache may still map the name, in which case the server's 404 for
	// the path is what it reports.
	gone := srv.kubectl(t, v, "get", "widgets", "-A")
	if gone.err == nil || !(strings.Contains(gone.stderr, `doesn't have a resource type "widgets"`) ||
		strings.Contains(gone.stderr, "could not find the requested resource (path /apis/stable.example.com/v1/widgets)")) {
		t.Fatalf("widgets still served after the CRD went: %s", gone)
	}
	must(e2eWidgetCRD, "apply", "-f", "-")
	must("", "wait", "--for", "condition=established", "--timeout=60s", "crd/widgets.stable.example.com")
	if r := srv.kubectl(t, v, "get", "widgets", "-A"); r.err != nil || !strings.Contains(r.stderr, "No resources found") {
		t.Fatalf("widgets survived their CRD: %s", r)
	}
}
