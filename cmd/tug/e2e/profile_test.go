package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	pluginsv1alpha1 "github.com/tugboat-io/tug/core/api/plugins/v1alpha1"
	"github.com/tugboat-io/tug/internal/wasmbuild"
)

// TestSchedulerProfileHotSwap: while pods are created continuously, kubectl apply swaps the
// default profile's NodeResourcesFit from LeastAllocated to MostAllocated, then adds a custom
// filter (the SDK's example nodelabel, as a WasmPlugin fetched from a URL) that admits only
// zone b. Pods created once a swap is active are placed by the new chain; a profile naming a
// plugin that does not exist is refused in its status and the chain before it keeps
// scheduling; every pod ends bound exactly once and running.
func TestSchedulerProfileHotSwap(t *testing.T) {
	t.Parallel()
	module := filepath.Join(t.TempDir(), "defaults.wasm")
	if err := os.WriteFile(module, wasmbuild.Build(t, filepath.Join("..", "..", "..", "plugins", "scheduler"), "./cmd/defaults"), 0o644); err != nil {
		t.Fatal(err)
	}
	filter := wasmbuild.Build(t, filepath.Join("..", "..", "..", "sdk", "go", "examples", "nodelabel"), ".")
	sum := sha256.Sum256(filter)
	modules := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(filter) }))
	defer modules.Close()

	s := startUp(t, t.TempDir(), "--scheduler-module", module)
	for _, zone := range []string{"a", "b"} {
		startProc(t, "tug sim zone "+zone, "sim", "--kubeconfig", s.Kubeconfig(), "--nodes", "2", "--prefix", "zone-"+zone,
			"--labels", "zone="+zone, "--cpu", "16", "--memory", "16Gi", "--heartbeat", "2s")
	}
	s.waitKubectl(t, "four hollow nodes", []string{"get", "nodes", "--no-headers"}, func(out string) bool {
		return strings.Count(strings.TrimSpace(out), "\n") == 3
	})
	cfg, err := clientcmd.BuildConfigFromFlags("", s.Kubeconfig())
	if err != nil {
		t.Fatal(err)
	}
	cfg.QPS, cfg.Burst = 100, 100 // above the pace of the pods
	client := kubernetes.NewForConfigOrDie(cfg)

	// Pods every 100 ms, each remembering when it was created. Each asks for 1/64 of a node's
	// cpu and memory alike: BalancedAllocation then scores every node the same, and one more
	// pod moves a node's NodeResourcesFit score by more than the score's integer rounding, so
	// LeastAllocated and MostAllocated alone decide, with no ties but at equal counts.
	ctx, stop := context.WithCancel(context.Background())
	var mu sync.Mutex
	created := map[string]time.Time{}
	var creating sync.WaitGroup
	creating.Add(1)
	go func() {
		defer creating.Done()
		for i := 0; ctx.Err() == nil; i++ {
			name := fmt.Sprintf("p-%03d", i)
			at := time.Now()
			_, err := client.CoreV1().Pods("default").Create(ctx, &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: name},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx", Resources: corev1.ResourceRequirements{
					Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m"), corev1.ResourceMemory: resource.MustParse("256Mi")}}}}},
			}, metav1.CreateOptions{})
			if err != nil {
				if ctx.Err() == nil {
					t.Errorf("create %s: %v", name, err)
				}
				return
			}
			mu.Lock()
			created[name] = at
			mu.Unlock()
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	defer func() {
		stop()
		creating.Wait()
	}()

	// activeAt applies manifest and waits until the profile's Active condition is status
	// for generation gen; it returns when that was seen, and logs how long after the apply.
	activeAt := func(manifest string, gen int64, status, reason string) time.Time {
		t.Helper()
		if r := s.kubectlIn(t, "1.33", manifest, "apply", "-f", "-"); r.err != nil {
			t.Fatalf("kubectl apply: %s", r)
		}
		applied := time.Now()
		for deadline := applied.Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			var p pluginsv1alpha1.SchedulerProfile
			err := client.RESTClient().Get().AbsPath("/apis/plugins.tug.dev/v1alpha1/schedulerprofiles/default-scheduler").Do(ctx).Into(&p)
			if c := meta.FindStatusCondition(p.Status.Conditions, "Active"); err == nil && c != nil &&
				p.Status.ObservedGeneration == gen && string(c.Status) == status && c.Reason == reason {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("profile generation %d not %s/%s: %+v, %v", gen, status, reason, p.Status, err)
			}
		}
		seen := time.Now()
		t.Logf("profile generation %d %s %s %v after kubectl apply returned", gen, status, reason, seen.Sub(applied).Round(time.Millisecond))
		return seen
	}
	// grown waits until n pods were created after from and at least a second ago, so that a
	// phase's window (which ends a second before the next swap) holds n pods however slowly
	// this machine creates them.
	grown := func(from time.Time, n int) {
		t.Helper()
		for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			have, before := 0, time.Now().Add(-time.Second)
			mu.Lock()
			for _, at := range created {
				if !at.Before(from) && at.Before(before) {
					have++
				}
			}
			mu.Unlock()
			if have >= n {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("only %d pods created since %v", have, from)
			}
		}
	}

	profile := `apiVersion: plugins.tug.dev/v1alpha1
kind: SchedulerProfile
metadata:
  name: default-scheduler
spec:
  plugins:
    filter:
      enabled: [%s]
  pluginConfig:
  - name: NodeResourcesFit
    args: {scoringStrategy: {type: MostAllocated}}
`
	// The zone filter loads first, while LeastAllocated spreads the first pods: loading it
	// changes no chain, and compiling it (seconds on a slow machine) then does not stretch
	// the MostAllocated phase past what one node holds.
	plugin := fmt.Sprintf(`apiVersion: plugins.tug.dev/v1alpha1
kind: WasmPlugin
metadata:
  name: zone-filter
spec:
  kinds: [scheduler-filter]
  module: {digest: "sha256:%s", url: %q}
  config: {label: zone, values: ["b"]}
`, hex.EncodeToString(sum[:]), modules.URL+"/nodelabel.wasm")
	if r := s.kubectlIn(t, "1.33", plugin, "apply", "-f", "-"); r.err != nil {
		t.Fatalf("kubectl apply: %s", r)
	}
	s.waitKubectl(t, "the zone filter loaded", []string{"get", "wasmplugin", "zone-filter",
		`-o=jsonpath={.status.conditions[?(@.type=="Active")].status}`}, func(out string) bool { return out == "True" })
	grown(time.Time{}, 12)

	packed := activeAt(fmt.Sprintf(profile, ""), 1, "True", "Active")
	grown(packed, 12)
	zoned := activeAt(fmt.Sprintf(profile, "{name: zone-filter}"), 2, "True", "Active")
	grown(zoned, 8)
	refused := activeAt(fmt.Sprintf(profile, "{name: zone-filter}, {name: no-such-filter}"), 3, "False", "PluginNotFound")
	grown(refused, 8)
	stop()
	creating.Wait()

	// Every pod bound once and running.
	var pods *corev1.PodList
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		pods, err = client.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		running := 0
		for _, p := range pods.Items {
			if p.Spec.NodeName != "" && p.Status.Phase == corev1.PodRunning {
				running++
			}
		}
		if running == len(created) && len(pods.Items) == len(created) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d pods running", running, len(created))
		}
	}
	events, err := client.CoreV1().Events("default").List(context.Background(), metav1.ListOptions{FieldSelector: "reason=Scheduled"})
	if err != nil {
		t.Fatal(err)
	}
	scheduled := map[string]int{}
	for _, e := range events.Items {
		scheduled[e.InvolvedObject.Name]++
	}
	for name := range created {
		if scheduled[name] != 1 {
			t.Errorf("pod %s was scheduled %d times", name, scheduled[name])
		}
	}

	// Placements per phase: which nodes the pods created in [from, to) went to.
	nodesOf := func(from, to time.Time) (map[string]int, int) {
		nodes, n := map[string]int{}, 0
		for _, p := range pods.Items {
			if at := created[p.Name]; !at.Before(from) && at.Before(to) {
				nodes[p.Spec.NodeName]++
				n++
			}
		}
		return nodes, n
	}
	spread, n := nodesOf(time.Time{}, packed.Add(-time.Second))
	if n < 12 || len(spread) < 3 {
		t.Errorf("LeastAllocated: %d pods went to %v, want them spread over 3 or more of the 4 nodes", n, spread)
	}
	one, n := nodesOf(packed, zoned.Add(-time.Second))
	if n < 12 || len(one) != 1 {
		t.Errorf("MostAllocated: %d pods went to %v, want one node", n, one)
	}
	for _, window := range []struct {
		what     string
		from, to time.Time
	}{{"with the zone filter", zoned, refused}, {"after a refused profile", refused, time.Now()}} {
		nodes, n := nodesOf(window.from, window.to)
		if n < 8 {
			t.Errorf("%s: only %d pods", window.what, n)
		}
		for node := range nodes {
			if !strings.HasPrefix(node, "zone-b-") {
				t.Errorf("%s: pods went to %v, want zone b only", window.what, nodes)
				break
			}
		}
	}
}
