package e2e

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/tugboat-io/tug/internal/wasmbuild"
)

func apply(t *testing.T, s *server, yaml string) {
	t.Helper()
	if r := s.kubectlIn(t, "1.33", yaml, "apply", "-f", "-"); r.err != nil {
		t.Fatalf("apply: %s", r)
	}
}

// podAdds records the order in which pods matching a selector are created.
func podAdds(t *testing.T, s *server, selector string) func() []string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	w, err := s.Clientset(t).CoreV1().Pods("default").Watch(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var names []string
	go func() {
		for ev := range w.ResultChan() {
			if p, ok := ev.Object.(*corev1.Pod); ok && ev.Type == watch.Added {
				mu.Lock()
				names = append(names, p.Name)
				mu.Unlock()
			}
		}
	}()
	return func() []string { mu.Lock(); defer mu.Unlock(); return slices.Clone(names) }
}

// TestWorkloadControllers: a Job completes, a DaemonSet follows nodes joining and leaving,
// a StatefulSet creates web-0, web-1, web-2 in order with their claims.
func TestWorkloadControllers(t *testing.T) {
	t.Parallel()
	s := startWithControllers(t)
	k := func(args ...string) string { t.Helper(); return s.mustKubectl(t, "1.33", args...) }

	// Job: three completions, two at a time; each hollow pod exits 0 after a second.
	apply(t, s, `apiVersion: batch/v1
kind: Job
metadata: {name: count}
spec:
  completions: 3
  parallelism: 2
  template:
    spec:
      restartPolicy: Never
      containers: [{name: c, image: busybox, command: ["true"]}]
`)
	if out := k("wait", "--for=condition=complete", "job/count", "--timeout=60s"); !strings.Contains(out, "condition met") {
		t.Fatalf("job: %s", out)
	}
	if out := k("get", "job", "count", "-o=jsonpath={.status.succeeded} {.status.failed}"); out != "3 " {
		t.Errorf("job succeeded/failed %q, want \"3 \"", out)
	}

	// DaemonSet: one pod per node, following a node that joins and one that leaves.
	apply(t, s, `apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      containers: [{name: c, image: agent:1}]
`)
	if out := k("rollout", "status", "ds/agent", "--timeout=60s"); !strings.Contains(out, "successfully rolled out") {
		t.Fatalf("daemonset rollout: %s", out)
	}
	nodesOfAgents := []string{"get", "pods", "-l", "app=agent", "--no-headers", "-o=custom-columns=N:.spec.nodeName,P:.status.phase"}
	s.waitKubectl(t, "an agent on each of the 3 nodes", nodesOfAgents, func(out string) bool {
		return strings.Count(out, "Running") == 3 && strings.Contains(out, "hollow-0") && strings.Contains(out, "hollow-1") && strings.Contains(out, "hollow-2")
	})
	extra := startProc(t, "tug sim (extra)", "sim", "--kubeconfig", s.Kubeconfig(), "--nodes", "1", "--prefix", "extra", "--heartbeat", "2s")
	s.waitKubectl(t, "an agent on the joining node", nodesOfAgents, func(out string) bool {
		return strings.Count(out, "Running") == 4 && strings.Contains(out, "extra-0")
	})
	extra.Stop(t)
	k("delete", "node", "extra-0")
	s.waitKubectl(t, "the agent gone with its node", nodesOfAgents, func(out string) bool {
		return strings.Count(out, "Running") == 3 && !strings.Contains(out, "extra-0")
	})

	// StatefulSet: ordered creation, each pod once the one before is ready.
	order := podAdds(t, s, "app=web")
	apply(t, s, `apiVersion: apps/v1
kind: StatefulSet
metadata: {name: web}
spec:
  serviceName: web
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: c, image: nginx, volumeMounts: [{name: data, mountPath: /data}]}]
  volumeClaimTemplates:
  - metadata: {name: data}
    spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
`)
	if out := k("rollout", "status", "sts/web", "--timeout=60s"); !strings.Contains(out, "roll out complete") && !strings.Contains(out, "rolling update complete") {
		t.Fatalf("statefulset rollout: %s", out)
	}
	if got := order(); !slices.Equal(got, []string{"web-0", "web-1", "web-2"}) {
		t.Errorf("pods created in order %v, want web-0, web-1, web-2", got)
	}
	if out := k("get", "pvc", "--no-headers", "-o=custom-columns=N:.metadata.name"); strings.Fields(out) == nil ||
		!slices.Equal(strings.Fields(out), []string{"data-web-0", "data-web-1", "data-web-2"}) {
		t.Errorf("claims %q, want data-web-0..2", out)
	}
	// The claims outlive the set, as kube's default retention keeps them.
	k("delete", "sts", "web", "--wait=true")
	s.waitKubectl(t, "the set's pods gone", []string{"get", "pods", "-l", "app=web", "--no-headers"}, func(out string) bool { return strings.TrimSpace(out) == "" })
	if out := k("get", "pvc", "--no-headers"); strings.Count(out, "data-web-") != 3 {
		t.Errorf("claims after the set was deleted: %q, want all 3 kept", out)
	}

	// A ReplicaSet adopts an orphan pod its selector matches, and lets go of a pod
	// relabelled out of it (and replaces it).
	k("run", "stray", "--image=nginx", "--labels=app=claimed")
	apply(t, s, `apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: claimed}
spec:
  replicas: 2
  selector: {matchLabels: {app: claimed}}
  template:
    metadata: {labels: {app: claimed}}
    spec:
      containers: [{name: c, image: nginx}]
`)
	s.waitKubectl(t, "the stray pod adopted", []string{"get", "pod", "stray", "-o=jsonpath={.metadata.ownerReferences[0].kind}/{.metadata.ownerReferences[0].name}"},
		func(out string) bool { return out == "ReplicaSet/claimed" })
	s.waitKubectl(t, "two pods, one of them made", []string{"get", "pods", "-l", "app=claimed", "--no-headers"},
		func(out string) bool { return strings.Count(strings.TrimSpace(out), "\n") == 1 })
	k("label", "pod", "stray", "app=debug", "--overwrite")
	s.waitKubectl(t, "the relabelled pod released and replaced", []string{"get", "pods", "-l", "app=claimed", "--no-headers"},
		func(out string) bool {
			return strings.Count(strings.TrimSpace(out), "\n") == 1 && !strings.Contains(out, "stray")
		})
	s.waitKubectl(t, "the stray pod without an owner", []string{"get", "pod", "stray", "-o=jsonpath={.metadata.ownerReferences}"},
		func(out string) bool { return out == "" || out == "[]" })
}

// TestControllerPluginSwap: the ReplicaSet controller's plugin is swapped live for one that
// traps, one that loops, a new version of the real one and back to the built-in. The broken
// ones are contained — a warning event on the ReplicaSet, retries with backoff — while the
// other controllers go on; the good one takes over without a duplicate pod.
func TestControllerPluginSwap(t *testing.T) {
	t.Parallel()
	s := startWithControllers(t)
	k := func(args ...string) string { t.Helper(); return s.mustKubectl(t, "1.33", args...) }
	dir := t.TempDir()
	plugins := filepath.Join("..", "..", "..", "plugins")
	bad, good := filepath.Join(dir, "bad.wasm"), filepath.Join(dir, "controllers.wasm")
	if err := os.WriteFile(bad, wasmbuild.Build(t, plugins, "./internal/testguests/badreconcile"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(good, wasmbuild.Build(t, plugins, "./controllers/cmd/defaults"), 0o644); err != nil {
		t.Fatal(err)
	}
	push := func(name, file, config string) {
		t.Helper()
		if out, err := s.tug(t, "plugin", "push", name, file, "--kind", "controller", "--plugin-config", config); err != nil {
			t.Fatalf("push %s: %v\n%s", name, err, out)
		}
		s.waitKubectl(t, name+" active", []string{"get", "wasmplugin", name, "-o=jsonpath={.status.conditions[?(@.type==\"Active\")].status}"},
			func(out string) bool { return out == "True" })
	}
	push("rs-trap", bad, `{"mode":"trap"}`)
	push("rs-loop", bad, `{"mode":"loop"}`)
	push("rs-v2", good, `{"controller":"ReplicaSet"}`)
	swap := func(plugin string) {
		t.Helper()
		patch := `{"spec":{"plugin":null}}`
		if plugin != "" {
			patch = `{"spec":{"plugin":"` + plugin + `"}}`
		}
		k("patch", "controller", "replicaset", "--type=merge", "-p", patch)
		s.waitKubectl(t, "replicaset controller on "+plugin, []string{"get", "controller", "replicaset",
			"-o=jsonpath={.spec.plugin}|{.status.conditions[?(@.type==\"Active\")].status}|{.status.observedGeneration}|{.metadata.generation}"},
			func(out string) bool {
				f := strings.Split(out, "|")
				return len(f) == 4 && f[0] == plugin && f[1] == "True" && f[2] == f[3]
			})
	}
	if out := k("get", "controllers", "--no-headers"); !strings.Contains(out, "replicaset") || !strings.Contains(out, "(built-in)") {
		t.Fatalf("built-in controllers not listed:\n%s", out)
	}

	k("create", "deployment", "web", "--image=nginx", "--replicas=2")
	if out := k("rollout", "status", "deployment/web", "--timeout=60s"); !strings.Contains(out, "successfully rolled out") {
		t.Fatalf("rollout status: %s", out)
	}
	bounds := watchRollout(t, s, "app=web")
	runningPods := []string{"get", "pods", "-l", "app=web", "--no-headers", "-o=custom-columns=P:.status.phase"}

	for _, c := range []struct{ plugin, event string }{{"rs-trap", "trapped"}, {"rs-loop", "deadline"}} {
		swap(c.plugin)
		k("scale", "deployment/web", "--replicas=4")
		// The Deployment controller goes on: the ReplicaSet is scaled; its own controller
		// fails and says so.
		s.waitKubectl(t, "the ReplicaSet scaled to 4", []string{"get", "rs", "-l", "app=web", "-o=jsonpath={.items[0].spec.replicas}"},
			func(out string) bool { return out == "4" })
		s.waitKubectl(t, "a ReconcileFailed event naming "+c.event, []string{"get", "events", "--field-selector", "reason=ReconcileFailed",
			"-o=custom-columns=M:.message", "--no-headers"}, func(out string) bool { return strings.Contains(out, c.event) })
		if out := k(runningPods...); strings.Count(out, "Running") != 2 {
			t.Fatalf("pods changed while the plugin was broken: %q", out)
		}
		k("scale", "deployment/web", "--replicas=2")
	}

	// Another controller works all along: a Job completes.
	k("create", "job", "side", "--image=busybox", "--", "true")
	if out := k("wait", "--for=condition=complete", "job/side", "--timeout=60s"); !strings.Contains(out, "condition met") {
		t.Fatalf("job while the ReplicaSet controller is broken: %s", out)
	}

	// A good version takes over: exactly 5 pods, never more.
	swap("rs-v2")
	k("scale", "deployment/web", "--replicas=5")
	s.waitKubectl(t, "5 running pods", runningPods, func(out string) bool { return strings.Count(out, "Running") == 5 })
	swap("")
	k("scale", "deployment/web", "--replicas=6")
	s.waitKubectl(t, "6 running pods on the built-in again", runningPods, func(out string) bool { return strings.Count(out, "Running") == 6 })
	maxPods, _, _, errs := bounds.result()
	if len(errs) > 0 {
		t.Fatalf("pod watch: %v", errs)
	}
	if maxPods > 6 {
		t.Errorf("%d pods existed at once, want at most 6: a swap made duplicates", maxPods)
	}
}
