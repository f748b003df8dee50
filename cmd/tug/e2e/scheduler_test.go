package e2e

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tugboat-io/tug/internal/wasmbuild"
)

// TestSchedulerWithHollowNodes: `tug up` with the default plugins (built here as make build
// builds them) schedules pods onto `tug sim`'s nodes — kubectl sees them Running there, with
// a Scheduled event — and a pod that fits nowhere gets kube-scheduler's FailedScheduling
// message.
func TestSchedulerWithHollowNodes(t *testing.T) {
	t.Parallel()
	module := filepath.Join(t.TempDir(), "defaults.wasm")
	if err := os.WriteFile(module, wasmbuild.Build(t, filepath.Join("..", "..", "..", "plugins", "scheduler"), "./cmd/defaults"), 0o644); err != nil {
		t.Fatal(err)
	}
	config := filepath.Join(t.TempDir(), "scheduler.yaml")
	if err := os.WriteFile(config, []byte(`
profiles:
- schedulerName: default-scheduler
- schedulerName: bin-packing
  plugins:
    score:
      disabled: [{name: "*"}]
      enabled: [{name: NodeResourcesFit}]
  pluginConfig:
  - name: NodeResourcesFit
    args: {scoringStrategy: {type: MostAllocated}}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	s := startUp(t, t.TempDir(), "--scheduler-module", module, "--scheduler-config", config)
	startProc(t, "tug sim", "sim", "--kubeconfig", s.Kubeconfig(), "--nodes", "3", "--cpu", "2", "--heartbeat", "2s")

	s.waitKubectl(t, "three hollow nodes", []string{"get", "nodes", "--no-headers"}, func(out string) bool {
		return strings.Count(strings.TrimSpace(out), "\n") == 2
	})
	run := func(name, cpu string) {
		t.Helper()
		overrides := `{"spec":{"containers":[{"name":"` + name + `","image":"nginx","resources":{"requests":{"cpu":"` + cpu + `"}}}]}}`
		if r := s.kubectl(t, "1.33", "run", name, "--image=nginx", "--overrides="+overrides); r.err != nil {
			t.Fatalf("kubectl run: %s", r)
		}
	}
	run("web", "500m")
	s.waitKubectl(t, "web scheduled and running on a hollow node", []string{"get", "pod", "web", "--no-headers",
		"-o=custom-columns=STATUS:.status.phase,NODE:.spec.nodeName"}, func(out string) bool {
		f := strings.Fields(out)
		return len(f) == 2 && f[0] == "Running" && strings.HasPrefix(f[1], "hollow-")
	})
	s.waitKubectl(t, "a Scheduled event", []string{"get", "events", "--field-selector", "reason=Scheduled", "-o=jsonpath={.items[*].message}"},
		func(out string) bool { return strings.Contains(out, "Successfully assigned default/web to hollow-") })

	// 3 cpu fits no 2-cpu node.
	run("huge", "3")
	s.waitKubectl(t, "FailedScheduling with the reasons", []string{"get", "events", "--field-selector", "reason=FailedScheduling,involvedObject.name=huge",
		"-o=jsonpath={.items[*].message}"}, func(out string) bool {
		return strings.Contains(out, "0/3 nodes are available: 3 Insufficient cpu.")
	})
	// tug explain: every node's verdict for the pod that fits nowhere, the scores for the one
	// that was placed.
	out, err := s.tug(t, "explain", "pod", "huge")
	if err != nil || !strings.Contains(out, "Result: not scheduled: 0/3 nodes are available: 3 Insufficient cpu.") ||
		strings.Count(out, "NodeResourcesFit  Insufficient cpu (Unschedulable)") != 3 {
		t.Errorf("tug explain pod huge: %v\n%s", err, out)
	}
	out, err = s.tug(t, "explain", "pod", "web")
	if err != nil || !strings.Contains(out, "Result: scheduled to hollow-") || !strings.Contains(out, "<- chosen") ||
		!strings.Contains(out, "NodeResourcesFit") || !strings.Contains(out, "TOTAL") || strings.Count(out, "\nhollow-") != 3 {
		t.Errorf("tug explain pod web: %v\n%s", err, out)
	}
	if out, err := s.tug(t, "explain", "pod", "nobody"); err == nil || !strings.Contains(out, "has not tried pod default/nobody") {
		t.Errorf("tug explain pod nobody: %v\n%s", err, out)
	}
	// The endpoint asks for what the API server asks: no credentials → 401, a user who may
	// not get the pod → 403.
	lease := s.kubectl(t, "1.33", "get", "lease", "-n", "kube-system", "tug-scheduler", "-o", `jsonpath={.metadata.annotations.scheduler\.tug\.dev/explain-url}`)
	explainURL := strings.TrimSpace(lease.stdout)
	if !strings.HasPrefix(explainURL, "https://") {
		t.Fatalf("the scheduler's explain URL %q is not HTTPS: %s", explainURL, lease)
	}
	get := func(token string) int {
		t.Helper()
		req, err := http.NewRequest("GET", explainURL+"/explain/default/web", nil)
		if err != nil {
			t.Fatal(err)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := s.AnonymousClient().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := get(""); code != http.StatusUnauthorized {
		t.Errorf("explain without credentials = %d, want 401", code)
	}
	if r := s.kubectl(t, "1.33", "create", "serviceaccount", "nobody"); r.err != nil {
		t.Fatalf("create serviceaccount: %s", r)
	}
	tok := s.kubectl(t, "1.33", "create", "token", "nobody")
	if tok.err != nil {
		t.Fatalf("create token: %s", tok)
	}
	if code := get(strings.TrimSpace(tok.stdout)); code != http.StatusForbidden {
		t.Errorf("explain as a service account that may not get pods = %d, want 403", code)
	}
	s.waitKubectl(t, "PodScheduled=False", []string{"get", "pod", "huge", "-o=jsonpath={.status.conditions[?(@.type==\"PodScheduled\")].reason}"},
		func(out string) bool { return out == "Unschedulable" })

	// A second profile: a pod naming it is scheduled by it, bin-packed onto the node web is on.
	packed := `{"spec":{"schedulerName":"bin-packing","containers":[{"name":"packed","image":"nginx","resources":{"requests":{"cpu":"500m"}}}]}}`
	if r := s.kubectl(t, "1.33", "run", "packed", "--image=nginx", "--overrides="+packed); r.err != nil {
		t.Fatalf("kubectl run: %s", r)
	}
	webNode := s.kubectl(t, "1.33", "get", "pod", "web", "-o=jsonpath={.spec.nodeName}").stdout
	s.waitKubectl(t, "packed onto web's node by the bin-packing profile", []string{"get", "pod", "packed", "-o=jsonpath={.spec.nodeName}"},
		func(out string) bool { return out == webNode })
}
