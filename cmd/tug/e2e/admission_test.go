package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tugboat-io/tug/internal/wasmbuild"
)

// TestAdmission runs tug up with the built-in admission module and the default controllers,
// and checks with real kubectl what the issue asks of admission: a user policy's denial shows
// its message, the built-in mutating policies' changes are on the stored object, 20 concurrent
// creates under a quota of 5 leave exactly 5, a policy changed live applies to the next
// requests, and plugins that trap, panic, loop, eat memory or answer a broken patch are
// contained under both failure policies.
func TestAdmission(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	plugins := filepath.Join("..", "..", "..", "plugins")
	admission := filepath.Join(dir, "admission.wasm")
	if err := os.WriteFile(admission, wasmbuild.Build(t, plugins, "./admission/cmd/defaults"), 0o644); err != nil {
		t.Fatal(err)
	}
	registries := filepath.Join(dir, "registries.wasm")
	if err := os.WriteFile(registries, wasmbuild.Build(t, filepath.Join("..", "..", "..", "examples", "admission", "allowed-registries"), "."), 0o644); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "badadmit.wasm")
	if err := os.WriteFile(bad, wasmbuild.Build(t, plugins, "./internal/testguests/badadmit"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, ctrls := defaultModules(t)
	s := startUp(t, t.TempDir(), "--admission-module", admission, "--controllers-module", ctrls, "--scheduler=false")
	k := func(args ...string) kubectlResult {
		t.Helper()
		r := s.kubectl(t, "1.33", args...)
		if r.err != nil {
			t.Fatalf("%s\n%s", r, s.output())
		}
		return r
	}
	apply := func(yaml string) {
		t.Helper()
		if r := s.kubectlIn(t, "1.33", yaml, "apply", "-f", "-"); r.err != nil {
			t.Fatalf("%s\n%s", r, s.output())
		}
	}
	// The built-in policies are created and become Active.
	s.waitKubectl(t, "seven active built-in policies", []string{"get", "admissionpolicies", "-l", "admission.tug.dev/builtin=true",
		"-o", `jsonpath={range .items[*]}{.status.conditions[?(@.type=="Active")].status}{" "}{end}`},
		func(out string) bool { return strings.Count(out, "True") == 7 })

	// The ServiceAccount policy refuses pods until their namespace's default account exists,
	// as kube's does; the controllers create it.
	waitDefaultSA := func(ns string) {
		t.Helper()
		s.waitKubectl(t, "default service account in "+ns, []string{"get", "serviceaccount", "default", "-n", ns, "-o", "name"},
			func(out string) bool { return strings.TrimSpace(out) == "serviceaccount/default" })
	}
	waitDefaultSA("default")

	t.Run("builtin mutations are stored", func(t *testing.T) {
		k("run", "mutated", "--image", "registry.example/app:1", "--restart", "Never")
		pod, err := s.Clientset(t).CoreV1().Pods("default").Get(context.Background(), "mutated", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		tolerated := map[string]int64{}
		for _, tol := range pod.Spec.Tolerations {
			if tol.TolerationSeconds != nil {
				tolerated[tol.Key] = *tol.TolerationSeconds
			}
		}
		if tolerated["node.kubernetes.io/not-ready"] != 300 || tolerated["node.kubernetes.io/unreachable"] != 300 {
			t.Errorf("DefaultTolerationSeconds not stored: %+v", pod.Spec.Tolerations)
		}
		if pod.Spec.ServiceAccountName != "default" {
			t.Errorf("ServiceAccount did not default the account: %q", pod.Spec.ServiceAccountName)
		}
		var token bool
		for _, v := range pod.Spec.Volumes {
			token = token || (strings.HasPrefix(v.Name, "kube-api-access-") && v.Projected != nil)
		}
		if !token {
			t.Errorf("no service account token volume: %+v", pod.Spec.Volumes)
		}
	})

	t.Run("user policy denies with its message, and a live change applies", func(t *testing.T) {
		if out, err := s.tug(t, "plugin", "push", "allowed-registries", registries, "--kind", "admission"); err != nil {
			t.Fatalf("push: %v\n%s", err, out)
		}
		policy := `apiVersion: plugins.tug.dev/v1alpha1
kind: AdmissionPolicy
metadata: {name: allowed-registries}
spec:
  plugin: allowed-registries
  type: Validating
  rules:
  - {apiGroups: [""], apiVersions: [v1], resources: [pods], operations: [CREATE]}
  namespaceSelector: {matchLabels: {registries: enforced}}
  config: {registries: [%s]}
`
		apply(fmt.Sprintf(policy, "registry.corp.example"))
		k("create", "namespace", "locked")
		k("label", "namespace", "locked", "registries=enforced")
		waitDefaultSA("locked")
		s.waitKubectl(t, "the policy active", []string{"get", "admissionpolicy", "allowed-registries", "-o", `jsonpath={.status.conditions[?(@.type=="Active")].status}`},
			func(out string) bool { return out == "True" })
		// Policies reach the chain through a watch: retry the first denial briefly.
		want := `admission policy "allowed-registries" denied the request: container "web" uses image "docker.io/library/nginx:1.27", which is not from an allowed registry (allowed: registry.corp.example)`
		deadline := time.Now().Add(15 * time.Second)
		for {
			r := s.kubectl(t, "1.33", "run", "web", "-n", "locked", "--image", "docker.io/library/nginx:1.27", "--restart", "Never")
			if r.err != nil && strings.Contains(r.stderr, want) && strings.Contains(r.stderr, "Forbidden") {
				break
			}
			if r.err == nil {
				k("delete", "pod", "web", "-n", "locked", "--wait=false")
			}
			if time.Now().After(deadline) {
				t.Fatalf("want a denial naming the policy, got %s", r)
			}
			time.Sleep(200 * time.Millisecond)
		}
		k("run", "ok", "-n", "locked", "--image", "registry.corp.example/app:1", "--restart", "Never")
		// Allow docker.io/library too: the next requests see the new config.
		apply(fmt.Sprintf(policy, "registry.corp.example, docker.io/library"))
		deadline = time.Now().Add(15 * time.Second)
		for {
			r := s.kubectl(t, "1.33", "run", "web", "-n", "locked", "--image", "docker.io/library/nginx:1.27", "--restart", "Never")
			if r.err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the changed policy never applied: %s", r)
			}
			time.Sleep(200 * time.Millisecond)
		}
	})

	t.Run("quota of 5 under 20 concurrent creates", func(t *testing.T) {
		k("create", "namespace", "quota")
		k("create", "quota", "five", "-n", "quota", "--hard=pods=5")
		waitDefaultSA("quota")
		// Admission reads quotas from the server's watch cache, as kube's from an informer:
		// the controller filling in status.hard has seen the quota through that cache.
		s.waitKubectl(t, "the quota seen", []string{"get", "quota", "five", "-n", "quota", "-o", "jsonpath={.status.hard.pods}"},
			func(out string) bool { return out == "5" })
		cs := s.Clientset(t)
		var wg sync.WaitGroup
		var mu sync.Mutex
		created, refused := 0, 0
		var others []error
		for i := range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := cs.CoreV1().Pods("quota").Create(context.Background(), &corev1.Pod{
					ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("p%d", i)},
					Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "registry.example/app:1"}}}}, metav1.CreateOptions{})
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					created++
				case apierrors.IsForbidden(err) && strings.Contains(err.Error(), "exceeded quota: five"):
					refused++
				default:
					others = append(others, err)
				}
			}()
		}
		wg.Wait()
		if created != 5 || refused != 15 || len(others) > 0 {
			t.Fatalf("created %d, refused %d, other errors %v; want 5 and 15", created, refused, others)
		}
		pods, err := cs.CoreV1().Pods("quota").List(context.Background(), metav1.ListOptions{})
		if err != nil || len(pods.Items) != 5 {
			t.Fatalf("%d pods stored (%v), want 5", len(pods.Items), err)
		}
		// The controller, recalculating from the pods, agrees with the charges.
		s.waitKubectl(t, "quota usage 5", []string{"get", "quota", "five", "-n", "quota", "-o", "jsonpath={.status.used.pods}"},
			func(out string) bool { return out == "5" })
	})

	t.Run("misbehaving plugins are contained", func(t *testing.T) {
		if out, err := s.tug(t, "plugin", "push", "badadmit", bad, "--kind", "admission"); err != nil {
			t.Fatalf("push: %v\n%s", err, out)
		}
		modes := []string{"trap", "panic", "loop", "alloc", "badpatch"}
		for _, mode := range modes {
			for _, fp := range []string{"Fail", "Ignore"} {
				name := "bad-" + mode + "-" + strings.ToLower(fp)
				apply(fmt.Sprintf(`apiVersion: plugins.tug.dev/v1alpha1
kind: AdmissionPolicy
metadata: {name: %s}
spec:
  plugin: badadmit
  type: Mutating
  failurePolicy: %s
  timeoutMilliseconds: 500
  rules:
  - {apiGroups: [""], apiVersions: [v1], resources: [configmaps], operations: [CREATE]}
  objectSelector: {matchLabels: {tug.test/bad: %s}}
  config: {mode: %s}
`, name, fp, name, mode))
			}
		}
		s.waitKubectl(t, "ten bad policies active", []string{"get", "admissionpolicies", "-o", `jsonpath={range .items[*]}{.metadata.name}={.status.conditions[?(@.type=="Active")].status}{" "}{end}`},
			func(out string) bool {
				active := 0
				for _, f := range strings.Fields(out) {
					if strings.HasPrefix(f, "bad-") && strings.HasSuffix(f, "=True") {
						active++
					}
				}
				return active == 10
			})
		for _, mode := range modes {
			for _, fp := range []string{"fail", "ignore"} {
				name := "bad-" + mode + "-" + fp
				cm := fmt.Sprintf(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":%q,"labels":{"tug.test/bad":%q}}}`, name, name)
				deadline := time.Now().Add(20 * time.Second)
				for {
					r := s.kubectlIn(t, "1.33", cm, "create", "-f", "-")
					var ok bool
					if fp == "fail" {
						ok = r.err != nil && strings.Contains(r.stderr, fmt.Sprintf("admission policy %q failed", name))
					} else {
						ok = r.err == nil
					}
					if ok {
						break
					}
					if r.err == nil {
						k("delete", "configmap", name) // created before the policy reached the chain
					}
					if time.Now().After(deadline) {
						t.Fatalf("%s: %s", name, r)
					}
					time.Sleep(300 * time.Millisecond)
				}
			}
		}
		// The server kept serving throughout, and still admits everything else.
		k("create", "configmap", "after-the-storm")
	})
}
