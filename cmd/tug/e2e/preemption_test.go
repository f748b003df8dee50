package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tugboat-io/tug/internal/wasmbuild"
)

// TestSchedulerPreemption: on a node full of low-priority pods, a high-priority pod preempts
// one of them — the fewest that make room — is nominated to the node, and runs there once
// the victim is gone; the victim gets a Preempted event, the other low pod stays.
func TestSchedulerPreemption(t *testing.T) {
	t.Parallel()
	module := filepath.Join(t.TempDir(), "defaults.wasm")
	if err := os.WriteFile(module, wasmbuild.Build(t, filepath.Join("..", "..", "..", "plugins", "scheduler"), "./cmd/defaults"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := startUp(t, t.TempDir(), "--scheduler-module", module)
	startProc(t, "tug sim", "sim", "--kubeconfig", s.Kubeconfig(), "--nodes", "1", "--cpu", "2", "--heartbeat", "2s")
	s.waitKubectl(t, "a hollow node", []string{"get", "nodes", "--no-headers"}, func(out string) bool {
		return strings.Count(strings.TrimSpace(out), "\n") == 0 && out != ""
	})
	run := func(name, cpu, priority string) {
		t.Helper()
		overrides := `{"spec":{` + priority + `"containers":[{"name":"c","image":"nginx","resources":{"requests":{"cpu":"` + cpu + `"}}}]}}`
		if r := s.kubectl(t, "1.33", "run", name, "--image=nginx", "--overrides="+overrides); r.err != nil {
			t.Fatalf("kubectl run: %s", r)
		}
	}
	running := func(what string, names ...string) {
		t.Helper()
		for _, n := range names {
			s.waitKubectl(t, what, []string{"get", "pod", n, "-o=jsonpath={.status.phase}"}, func(out string) bool { return out == "Running" })
		}
	}
	run("low-1", "1", "")
	run("low-2", "1", "")
	running("the low pods running", "low-1", "low-2")

	run("high", "1", `"priority":1000,`)
	running("the high pod running", "high")
	s.waitKubectl(t, "a Preempted event for a low pod", []string{"get", "events", "--field-selector", "reason=Preempted",
		"-o=jsonpath={.items[*].message}"}, func(out string) bool {
		return strings.Contains(out, "Preempted by pod default/high on node hollow-")
	})
	out := s.kubectl(t, "1.33", "get", "pods", "--no-headers", "-o=custom-columns=NAME:.metadata.name").stdout
	if strings.Count(out, "low-") != 1 || !strings.Contains(out, "high") {
		t.Errorf("want high and one low pod left, have:\n%s", out)
	}
	if n := s.kubectl(t, "1.33", "get", "pod", "high", "-o=jsonpath={.status.nominatedNodeName}").stdout; !strings.HasPrefix(n, "hollow-") {
		t.Errorf("high's nominatedNodeName is %q", n)
	}
}
