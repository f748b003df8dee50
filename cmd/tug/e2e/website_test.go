package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tugboat-io/tug/internal/wasmbuild"
)

// TestCustomController runs examples/website as its README says: a CRD, a controller
// plugin written with sdk/go pushed as a WasmPlugin, a Controller object binding them, a
// Website whose ConfigMap and Deployment appear, and a new plugin version swapped in live.
func TestCustomController(t *testing.T) {
	t.Parallel()
	s := startWithControllers(t)
	k := func(args ...string) string { t.Helper(); return s.mustKubectl(t, "1.33", args...) }
	example := filepath.Join("..", "..", "..", "examples", "website")
	wasm := filepath.Join(t.TempDir(), "website.wasm")
	if err := os.WriteFile(wasm, wasmbuild.Build(t, example, "."), 0o644); err != nil {
		t.Fatal(err)
	}
	push := func(footer string) {
		t.Helper()
		if out, err := s.tug(t, "plugin", "push", "website", wasm, "--kind", "controller", "--plugin-config", `{"footer":"`+footer+`"}`); err != nil {
			t.Fatalf("push: %v\n%s", err, out)
		}
	}
	push("v1")
	k("apply", "-f", filepath.Join(example, "crd.yaml"))
	k("wait", "--for", "condition=established", "crd/websites.website.example.tug.dev", "--timeout=30s")
	k("apply", "-f", filepath.Join(example, "controller.yaml"), "-f", filepath.Join(example, "hello.yaml"))

	s.waitKubectl(t, "the website serving", []string{"get", "websites", "--no-headers"}, func(out string) bool {
		f := strings.Fields(out)
		return len(f) >= 4 && f[0] == "hello" && f[1] == "2" && f[2] == "2" && f[3] == "Serving"
	})
	page := []string{"get", "configmap", "hello-page", "-o=jsonpath={.data.index\\.html}"}
	if out := k(page...); !strings.Contains(out, "<h1>Hello from tug</h1>") || !strings.Contains(out, "<footer>v1</footer>") {
		t.Fatalf("page:\n%s", out)
	}
	if out := k("get", "deployment", "hello", "-o=jsonpath={.metadata.ownerReferences[0].kind}/{.metadata.ownerReferences[0].name}"); out != "Website/hello" {
		t.Errorf("deployment owned by %q, want Website/hello", out)
	}
	// An invalid Website is refused by the CRD's schema, naming the field.
	if r := s.kubectlIn(t, "1.33", "apiVersion: website.example.tug.dev/v1\nkind: Website\nmetadata: {name: bad}\nspec: {title: x, replicas: 99}\n",
		"apply", "-f", "-"); r.err == nil || !strings.Contains(r.stderr, "spec.replicas") {
		t.Errorf("a Website with 99 replicas: %s", r)
	}

	// A new version, swapped in live: the page gets the new footer.
	push("v2")
	s.waitKubectl(t, "the page rewritten by v2", page, func(out string) bool { return strings.Contains(out, "<footer>v2</footer>") })
	s.waitKubectl(t, "the website serving again", []string{"get", "websites", "hello", "-o=jsonpath={.status.phase}/{.status.availableReplicas}"},
		func(out string) bool { return out == "Serving/2" })

	// Its children go with it.
	k("delete", "website", "hello")
	s.waitKubectl(t, "the children collected", []string{"get", "deployments,configmaps", "-l", "app.kubernetes.io/name=website", "--no-headers"},
		func(out string) bool { return strings.TrimSpace(out) == "" })
}
