package e2e

import (
	"strings"
	"testing"
)

// A node that stops heart-beating goes Unknown after the grace period, is tainted
// unreachable, and its pods are evicted and replaced on the nodes that are alive.
func TestSilentNodeIsReplaced(t *testing.T) {
	t.Parallel()
	s := startWithControllers(t, "--node-monitor-grace-period", "4s")
	k := func(args ...string) string { t.Helper(); return s.mustKubectl(t, "1.33", args...) }

	dying := startProc(t, "tug sim (dying)", "sim", "--kubeconfig", s.Kubeconfig(), "--nodes", "1", "--prefix", "dying", "--heartbeat", "1s")
	s.waitKubectl(t, "the dying node ready", []string{"get", "node", "dying-0", "-o=jsonpath={.status.conditions[?(@.type==\"Ready\")].status}"},
		func(out string) bool { return out == "True" })
	// Only the dying node takes the pods at first.
	for i := range 3 {
		k("cordon", "hollow-"+string(rune('0'+i)))
	}
	k("create", "deployment", "web", "--image=nginx", "--replicas=2")
	if out := k("rollout", "status", "deployment/web", "--timeout=60s"); !strings.Contains(out, "successfully rolled out") {
		t.Fatalf("rollout status: %s", out)
	}
	if out := k("get", "pods", "-l", "app=web", "-o=jsonpath={.items[*].spec.nodeName}"); out != "dying-0 dying-0" {
		t.Fatalf("pods on %q, want both on dying-0", out)
	}
	for i := range 3 {
		k("uncordon", "hollow-"+string(rune('0'+i)))
	}

	dying.Kill(t)
	s.waitKubectl(t, "dying-0 Unknown and tainted unreachable", []string{"get", "node", "dying-0",
		"-o=jsonpath={.status.conditions[?(@.type==\"Ready\")].status} {.spec.taints[*].key}"},
		func(out string) bool {
			return strings.HasPrefix(out, "Unknown ") && strings.Count(out, "node.kubernetes.io/unreachable") == 2
		})
	// The evicted pods stay Terminating (nothing on the dead node stops them, as in kube),
	// and two replacements run on live nodes.
	s.waitKubectl(t, "two replacements on live nodes", []string{"get", "pods", "-l", "app=web", "--no-headers",
		"-o=custom-columns=N:.spec.nodeName,D:.metadata.deletionTimestamp,P:.status.phase"},
		func(out string) bool {
			live, evicted := 0, 0
			for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
				f := strings.Fields(line)
				switch {
				case len(f) != 3:
					return false
				case f[0] == "dying-0" && f[1] != "<none>":
					evicted++
				case strings.HasPrefix(f[0], "hollow-") && f[1] == "<none>" && f[2] == "Running":
					live++
				}
			}
			return live == 2 && evicted == 2
		})
	if out := k("get", "events", "--field-selector", "involvedObject.name=dying-0", "-o=custom-columns=R:.reason", "--no-headers"); !strings.Contains(out, "NodeNotReady") || !strings.Contains(out, "TaintManagerEviction") {
		t.Errorf("node events %q, want NodeNotReady and TaintManagerEviction", out)
	}
}

// Deleting a namespace deletes everything in it, then the namespace.
func TestNamespaceDeletion(t *testing.T) {
	t.Parallel()
	s := startWithControllers(t)
	k := func(args ...string) string { t.Helper(); return s.mustKubectl(t, "1.33", args...) }

	k("create", "namespace", "doomed")
	k("-n", "doomed", "create", "deployment", "web", "--image=nginx", "--replicas=3")
	k("-n", "doomed", "create", "configmap", "settings", "--from-literal=a=b")
	k("-n", "doomed", "create", "service", "clusterip", "web", "--tcp=80:80")
	s.waitKubectl(t, "3 running pods", []string{"-n", "doomed", "get", "pods", "--no-headers"},
		func(out string) bool { return strings.Count(out, "Running") == 3 })

	// While it lives, the namespace's other controllers work on it: the service's
	// endpoints and slices list the 3 pods, the namespace has its default account, and a
	// quota counts the pods.
	s.waitKubectl(t, "3 endpoints", []string{"-n", "doomed", "get", "endpoints", "web", "-o=jsonpath={.subsets[*].addresses[*].ip}"},
		func(out string) bool { return len(strings.Fields(out)) == 3 })
	s.waitKubectl(t, "an EndpointSlice of 3", []string{"-n", "doomed", "get", "endpointslices", "-l", "kubernetes.io/service-name=web",
		"-o=jsonpath={.items[*].endpoints[*].addresses[0]}"}, func(out string) bool { return len(strings.Fields(out)) == 3 })
	s.waitKubectl(t, "the default ServiceAccount", []string{"-n", "doomed", "get", "serviceaccount", "default", "-o=name"},
		func(out string) bool { return strings.TrimSpace(out) == "serviceaccount/default" })
	k("-n", "doomed", "create", "quota", "q", "--hard=pods=10,configmaps=5")
	s.waitKubectl(t, "the quota's usage", []string{"-n", "doomed", "get", "quota", "q", "-o=jsonpath={.status.used.pods}/{.status.used.configmaps}"},
		func(out string) bool { return out == "3/2" }) // settings, and the root CA every namespace holds

	// kubectl delete waits until the namespace is gone.
	if out := k("delete", "namespace", "doomed", "--timeout=60s"); !strings.Contains(out, "deleted") {
		t.Fatalf("delete namespace: %s", out)
	}
	if r := s.kubectl(t, "1.33", "get", "namespace", "doomed"); r.err == nil || !strings.Contains(r.stderr, "NotFound") {
		t.Fatalf("namespace still there: %s", r)
	}
	// Re-created, it is empty.
	k("create", "namespace", "doomed")
	if out := k("-n", "doomed", "get", "all,configmaps", "--no-headers", "--ignore-not-found"); strings.Contains(out, "web") || strings.Contains(out, "settings") {
		t.Fatalf("objects survived their namespace:\n%s", out)
	}
}
