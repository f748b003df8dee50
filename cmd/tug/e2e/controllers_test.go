package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/tugboat-io/tug/internal/wasmbuild"
)

// startWithControllers starts `tug up` with the default scheduling plugins and controllers
// (built here as make build builds them), the extra flags, and three hollow nodes.
func startWithControllers(t *testing.T, extra ...string) *server {
	t.Helper()
	sched, ctrls := defaultModules(t)
	s := startUp(t, t.TempDir(), append([]string{"--scheduler-module", sched, "--controllers-module", ctrls}, extra...)...)
	startProc(t, "tug sim", "sim", "--kubeconfig", s.Kubeconfig(), "--nodes", "3", "--heartbeat", "2s")
	s.waitKubectl(t, "three hollow nodes", []string{"get", "nodes", "--no-headers"}, func(out string) bool {
		return strings.Count(strings.TrimSpace(out), "\n") == 2
	})
	return s
}

// defaultModules builds the default scheduling plugins and controllers to wasm files, as make
// build embeds them, and returns their paths.
func defaultModules(t *testing.T) (sched, ctrls string) {
	t.Helper()
	dir := t.TempDir()
	sched, ctrls = filepath.Join(dir, "defaults.wasm"), filepath.Join(dir, "controllers.wasm")
	plugins := filepath.Join("..", "..", "..", "plugins")
	if err := os.WriteFile(sched, wasmbuild.Build(t, plugins, "./scheduler/cmd/defaults"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ctrls, wasmbuild.Build(t, plugins, "./controllers/cmd/defaults"), 0o644); err != nil {
		t.Fatal(err)
	}
	return sched, ctrls
}

// rolloutBounds watches a Deployment's pods and keeps the extremes a rollout must respect:
// the most pods that exist (not being deleted) and the fewest that are ready, at any moment.
type rolloutBounds struct {
	mu        sync.Mutex
	pods      map[string]bool // name → ready
	maxPods   int
	minReady  int
	images    map[string]bool
	stop      func()
	done      chan struct{}
	watchErrs []string
}

func watchRollout(t *testing.T, s *server, selector string) *rolloutBounds {
	t.Helper()
	cs := s.Clientset(t)
	ctx, cancel := context.WithCancel(context.Background())
	list, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		t.Fatal(err)
	}
	b := &rolloutBounds{pods: map[string]bool{}, images: map[string]bool{}, stop: cancel, done: make(chan struct{})}
	for i := range list.Items {
		b.observe(watch.Added, &list.Items[i])
	}
	b.maxPods, b.minReady = b.counts()
	w, err := cs.CoreV1().Pods("default").Watch(ctx, metav1.ListOptions{LabelSelector: selector, ResourceVersion: list.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(b.done)
		defer w.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-w.ResultChan():
				if !ok {
					b.mu.Lock()
					if ctx.Err() == nil {
						b.watchErrs = append(b.watchErrs, "watch closed early")
					}
					b.mu.Unlock()
					return
				}
				if p, ok := ev.Object.(*corev1.Pod); ok {
					b.observe(ev.Type, p)
				}
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-b.done })
	return b
}

func (b *rolloutBounds) observe(typ watch.EventType, p *corev1.Pod) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if typ == watch.Deleted || p.DeletionTimestamp != nil {
		delete(b.pods, p.Name)
	} else {
		ready := false
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
				ready = true
			}
		}
		b.pods[p.Name] = ready
		for _, c := range p.Spec.Containers {
			b.images[c.Image] = true
		}
	}
	n, r := b.counts()
	b.maxPods, b.minReady = max(b.maxPods, n), min(b.minReady, r)
}

func (b *rolloutBounds) counts() (pods, ready int) {
	for _, r := range b.pods {
		pods++
		if r {
			ready++
		}
	}
	return pods, ready
}

func (b *rolloutBounds) result() (maxPods, minReady int, images map[string]bool, errs []string) {
	b.stop()
	<-b.done
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.maxPods, b.minReady, b.images, b.watchErrs
}

// TestDeploymentLifecycle drives the Deployment and ReplicaSet controllers with real kubectl:
// a 5-replica Deployment gets a ReplicaSet and 5 running pods and rolls out; kubectl set
// image rolls within maxSurge and maxUnavailable at every moment, as a watch over the whole
// rollout sees it; kubectl rollout undo brings the previous template back; scaling goes both
// ways; deleting with --cascade=orphan leaves the ReplicaSets and pods, a plain delete takes
// them along, and --cascade=foreground removes them before the Deployment.
func TestDeploymentLifecycle(t *testing.T) {
	t.Parallel()
	s := startWithControllers(t)
	k := func(args ...string) string { t.Helper(); return s.mustKubectl(t, "1.33", args...) }

	k("create", "deployment", "web", "--image=nginx:1", "--replicas=5")
	if out := k("rollout", "status", "deployment/web", "--timeout=90s"); !strings.Contains(out, "successfully rolled out") {
		t.Fatalf("rollout status: %s", out)
	}
	s.waitKubectl(t, "one ReplicaSet with 5 ready pods", []string{"get", "rs", "-l", "app=web", "--no-headers",
		"-o=custom-columns=N:.metadata.name,D:.spec.replicas,R:.status.readyReplicas,O:.metadata.ownerReferences[0].name"},
		func(out string) bool {
			f := strings.Fields(out)
			return len(f) == 4 && strings.HasPrefix(f[0], "web-") && f[1] == "5" && f[2] == "5" && f[3] == "web"
		})
	s.waitKubectl(t, "5 running pods", []string{"get", "pods", "-l", "app=web", "--no-headers", "-o=custom-columns=S:.status.phase"},
		func(out string) bool { return strings.Count(out, "Running") == 5 })

	// maxSurge 25% of 5 rounds up to 2, maxUnavailable 25% rounds down to 1: at most 7 pods,
	// at least 4 ready, at every moment of the rollout.
	bounds := watchRollout(t, s, "app=web")
	k("set", "image", "deployment/web", "nginx=nginx:2")
	if out := k("rollout", "status", "deployment/web", "--timeout=90s"); !strings.Contains(out, "successfully rolled out") {
		t.Fatalf("rollout status after set image: %s", out)
	}
	maxPods, minReady, images, errs := bounds.result()
	if len(errs) > 0 {
		t.Fatalf("pod watch: %v", errs)
	}
	if maxPods > 7 || minReady < 4 {
		t.Errorf("rollout went to %d pods (maxSurge allows 7) and down to %d ready (maxUnavailable allows 4)", maxPods, minReady)
	}
	if !images["nginx:1"] || !images["nginx:2"] {
		t.Errorf("the watch saw images %v, want both", images)
	}
	t.Logf("rollout: at most %d pods, at least %d ready", maxPods, minReady)
	s.waitKubectl(t, "all 5 pods on nginx:2", []string{"get", "pods", "-l", "app=web", "--no-headers", "-o=custom-columns=I:.spec.containers[0].image"},
		func(out string) bool { return strings.Count(out, "nginx:2") == 5 && !strings.Contains(out, "nginx:1") })
	if out := k("rollout", "history", "deployment/web"); !strings.Contains(out, "\n1 ") || !strings.Contains(out, "\n2 ") {
		t.Errorf("rollout history lists no revisions 1 and 2:\n%s", out)
	}

	k("rollout", "undo", "deployment/web")
	if out := k("rollout", "status", "deployment/web", "--timeout=90s"); !strings.Contains(out, "successfully rolled out") {
		t.Fatalf("rollout status after undo: %s", out)
	}
	if out := k("get", "deployment", "web", "-o=jsonpath={.spec.template.spec.containers[0].image} {.metadata.annotations.deployment\\.kubernetes\\.io/revision}"); out != "nginx:1 3" {
		t.Errorf("after undo: image and revision %q, want \"nginx:1 3\"", out)
	}
	s.waitKubectl(t, "two ReplicaSets, the first one back at 5", []string{"get", "rs", "-l", "app=web", "--no-headers", "-o=custom-columns=D:.spec.replicas"},
		func(out string) bool {
			return len(strings.Fields(out)) == 2 && strings.Count(out, "5") == 1 && strings.Count(out, "0") == 1
		})

	k("scale", "deployment/web", "--replicas=8")
	s.waitKubectl(t, "8 available", []string{"get", "deployment", "web", "-o=jsonpath={.status.availableReplicas}/{.status.replicas}"},
		func(out string) bool { return out == "8/8" })
	k("scale", "deployment/web", "--replicas=2")
	s.waitKubectl(t, "2 pods left", []string{"get", "pods", "-l", "app=web", "--no-headers"},
		func(out string) bool { return strings.Count(strings.TrimSpace(out), "\n") == 1 })

	k("delete", "deployment", "web", "--cascade=orphan")
	s.waitKubectl(t, "ReplicaSets orphaned, not deleted", []string{"get", "rs", "-l", "app=web", "--no-headers",
		"-o=custom-columns=N:.metadata.name,O:.metadata.ownerReferences"}, func(out string) bool {
		lines := strings.Split(strings.TrimSpace(out), "\n")
		return len(lines) == 2 && strings.Count(out, "<none>") == 2
	})
	if out := k("get", "pods", "-l", "app=web", "--no-headers"); strings.Count(out, "Running") != 2 {
		t.Errorf("orphaning deleted pods:\n%s", out)
	}
	k("delete", "rs", "-l", "app=web")
	s.waitKubectl(t, "the orphans' pods collected", []string{"get", "pods", "-l", "app=web", "--no-headers"},
		func(out string) bool { return strings.TrimSpace(out) == "" })

	k("create", "deployment", "api", "--image=nginx", "--replicas=3")
	s.waitKubectl(t, "api's 3 pods", []string{"get", "pods", "-l", "app=api", "--no-headers"},
		func(out string) bool { return strings.Count(out, "Running") == 3 })
	k("delete", "deployment", "api")
	s.waitKubectl(t, "api's ReplicaSet and pods collected", []string{"get", "rs,pods", "-l", "app=api", "--no-headers"},
		func(out string) bool { return strings.TrimSpace(out) == "" })

	// Foreground: kubectl waits until the Deployment is gone, which is after its dependents.
	k("create", "deployment", "fg", "--image=nginx", "--replicas=2")
	s.waitKubectl(t, "fg's 2 pods", []string{"get", "pods", "-l", "app=fg", "--no-headers"},
		func(out string) bool { return strings.Count(out, "Running") == 2 })
	k("delete", "deployment", "fg", "--cascade=foreground", "--wait", "--timeout=60s")
	if out := k("get", "deployment,rs,pods", "-l", "app=fg", "--no-headers", "--ignore-not-found"); strings.TrimSpace(out) != "" {
		t.Errorf("after a foreground delete returned, left:\n%s", out)
	}
}
