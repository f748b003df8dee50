package e2e

import (
	"strings"
	"testing"
)

// TestSim: `tug sim` registers hollow nodes that kubectl sees Ready with the capacity and
// labels given; a pod put on one runs (1/1 Running, an IP); SIGTERM stops tug sim cleanly.
func TestSim(t *testing.T) {
	t.Parallel()
	s := shared(t)
	sim := startProc(t, "tug sim", "sim", "--kubeconfig", s.Kubeconfig(), "--nodes", "3", "--prefix", "e2e-sim",
		"--cpu", "4", "--labels", "zone=e2e", "--heartbeat", "1s")
	s.waitKubectl(t, "three Ready hollow nodes", []string{"get", "nodes", "-l", "zone=e2e", "--no-headers",
		"-o=custom-columns=NAME:.metadata.name,CPU:.status.allocatable.cpu,READY:.status.conditions[?(@.type==\"Ready\")].status"},
		func(out string) bool {
			lines := strings.Split(strings.TrimSpace(out), "\n")
			if len(lines) != 3 {
				return false
			}
			for _, l := range lines {
				if f := strings.Fields(l); len(f) != 3 || !strings.HasPrefix(f[0], "e2e-sim-") || f[1] != "4" || f[2] != "True" {
					return false
				}
			}
			return true
		})
	if r := s.kubectl(t, "1.33", "run", "e2e-sim-pod", "--image=nginx", `--overrides={"spec":{"nodeName":"e2e-sim-1"}}`); r.err != nil {
		t.Fatalf("kubectl run: %s", r)
	}
	s.waitKubectl(t, "the pod to run on e2e-sim-1", []string{"get", "pod", "e2e-sim-pod", "--no-headers",
		"-o=custom-columns=STATUS:.status.phase,NODE:.spec.nodeName,IP:.status.podIP"},
		func(out string) bool {
			f := strings.Fields(out)
			return len(f) == 3 && f[0] == "Running" && f[1] == "e2e-sim-1" && f[2] != "<none>"
		})
	if r := s.kubectl(t, "1.33", "delete", "pod", "e2e-sim-pod", "--wait=true", "--timeout=60s"); r.err != nil {
		t.Fatalf("kubectl delete: %s", r)
	}
	sim.Stop(t)
	if r := s.kubectl(t, "1.33", "delete", "nodes", "-l", "zone=e2e"); r.err != nil {
		t.Fatalf("kubectl delete nodes: %s", r)
	}
}
