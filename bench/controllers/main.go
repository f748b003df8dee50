// Command controllers is the controller manager's load program. It builds tug and the
// default scheduling and controller modules, starts `tug up` on a fresh data dir with
// `tug sim` hollow nodes, and measures, in one run on one cluster:
//
//   - direct: N pods created by a client (16 at a time) until all are bound — the floor
//     that the API server, etcd and the scheduler set;
//   - deployment: a Deployment of N replicas, from its create until all N pods are bound,
//     and until the Deployment reports them all available;
//   - rolling update: a new image for it until the rollout is complete (every replica
//     updated and available, the old ReplicaSet at zero);
//   - churn: D Deployments of R replicas created at once until all pods are bound, then
//     deleted until every pod is gone.
//
// The ratios compare the controllers' paths with the direct one measured in the same run.
//
//	go run ./bench/controllers -nodes 100 -replicas 1000 -churn 50
//
// Results print as a Markdown table for docs/BENCHMARKS.md.
package main

import (
	"github.com/tugboat-io/tug/bench/internal/benchenv"

	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
)

func main() {
	nodes := flag.Int("nodes", 100, "hollow nodes")
	replicas := flag.Int("replicas", 1000, "replicas of the big Deployment (and pods of the direct run)")
	churn := flag.Int("churn", 50, "Deployments in the churn")
	churnReplicas := flag.Int("churn-replicas", 10, "replicas of each churned Deployment")
	keep := flag.Bool("keep", false, "leave the data dir and print its path")
	flag.Parse()
	if err := run(*nodes, *replicas, *churn, *churnReplicas, *keep); err != nil {
		fmt.Fprintln(os.Stderr, "controllers bench:", err)
		os.Exit(1)
	}
}

func run(nodes, replicas, churn, churnReplicas int, keep bool) error {
	dir, err := os.MkdirTemp("", "tug-bench-controllers-")
	if err != nil {
		return err
	}
	if !keep {
		defer os.RemoveAll(dir)
	}
	root, err := benchenv.ModuleRoot()
	if err != nil {
		return err
	}
	bin := filepath.Join(dir, "tug")
	sched, ctrls := filepath.Join(dir, "scheduler.wasm"), filepath.Join(dir, "controllers.wasm")
	if err := benchenv.GoBuild(root, "", "-o", bin, "./cmd/tug"); err != nil {
		return err
	}
	plugins := filepath.Join(root, "plugins")
	if err := benchenv.GoBuild(plugins, "wasm", "-buildmode=c-shared", "-o", sched, "./scheduler/cmd/defaults"); err != nil {
		return err
	}
	if err := benchenv.GoBuild(plugins, "wasm", "-buildmode=c-shared", "-o", ctrls, "./controllers/cmd/defaults"); err != nil {
		return err
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	listen, etcdClient, etcdPeer := benchenv.FreeAddr(), benchenv.FreeAddr(), benchenv.FreeAddr()
	data := filepath.Join(dir, "data")
	up := exec.CommandContext(ctx, bin, "up", "--data-dir", data, "--listen", listen, "--etcd-client-listen", etcdClient,
		"--etcd-peer-listen", etcdPeer, "--scheduler-module", sched, "--controllers-module", ctrls, "--log-level", "info")
	upLog, _ := os.Create(filepath.Join(dir, "up.log"))
	up.Stdout, up.Stderr = upLog, upLog
	if err := up.Start(); err != nil {
		return err
	}
	defer func() { _ = up.Process.Signal(os.Interrupt); _ = up.Wait() }()
	kubeconfig := filepath.Join(data, "kubeconfig")
	rc, err := benchenv.WaitReady(ctx, kubeconfig, 2*time.Minute)
	if err != nil {
		return err
	}
	// The nodes heartbeat as kubelets do: silent ones would be marked Unknown after 40 s and
	// their pods evicted by the node lifecycle controller.
	sim := exec.CommandContext(ctx, bin, "sim", "--kubeconfig", kubeconfig, "--nodes", fmt.Sprint(nodes), "--heartbeat", "10s")
	sim.Stdout, sim.Stderr = upLog, upLog
	if err := sim.Start(); err != nil {
		return err
	}
	defer func() { _ = sim.Process.Signal(os.Interrupt); _ = sim.Wait() }()

	rc.QPS, rc.Burst = 1000, 2000
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return err
	}
	if err := waitFor(ctx, 2*time.Minute, "nodes", func() (bool, error) {
		l, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		return err == nil && len(l.Items) == nodes, nil
	}); err != nil {
		return err
	}
	// Warm up: the scheduler's and controllers' first calls load their instances.
	if _, err := measureDeployment(ctx, client, "warmup", 2, nil); err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	if err := deleteDeployments(ctx, client, []string{"warmup"}); err != nil {
		return err
	}

	host, _ := os.Hostname()
	fmt.Printf("controllers bench: %d hollow nodes, %d replicas, churn %d×%d, GOMAXPROCS %d, %s\n\n",
		nodes, replicas, churn, churnReplicas, runtime.GOMAXPROCS(0), host)

	progress := func(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }
	direct, err := measureDirect(ctx, client, replicas)
	if err != nil {
		return fmt.Errorf("direct: %w", err)
	}
	progress("direct: %d pods bound in %.2f s", replicas, direct.Seconds())
	var available time.Duration
	deploy, err := measureDeployment(ctx, client, "big", replicas, &available)
	if err != nil {
		return fmt.Errorf("deployment: %w", err)
	}
	progress("deployment: %d pods bound in %.2f s, available in %.2f s", replicas, deploy.Seconds(), available.Seconds())
	roll, err := measureRollout(ctx, client, "big", replicas)
	if err != nil {
		return fmt.Errorf("rolling update: %w", err)
	}
	progress("rolling update: %.2f s", roll.Seconds())
	if err := deleteDeployments(ctx, client, []string{"big"}); err != nil {
		return err
	}
	churnUp, churnDown, err := measureChurn(ctx, client, churn, churnReplicas)
	if err != nil {
		return fmt.Errorf("churn: %w", err)
	}

	rate := func(n int, d time.Duration) string { return fmt.Sprintf("%.0f pods/s", float64(n)/d.Seconds()) }
	fmt.Println("| run | time | rate | vs direct |")
	fmt.Println("| --- | --- | --- | --- |")
	fmt.Printf("| direct: %d pods created by a client until all bound | %.2f s | %s | 1.00× |\n", replicas, direct.Seconds(), rate(replicas, direct))
	fmt.Printf("| Deployment of %d replicas until all pods bound | %.2f s | %s | %.2f× |\n", replicas, deploy.Seconds(), rate(replicas, deploy), direct.Seconds()/deploy.Seconds())
	fmt.Printf("| … until the Deployment reports %d available | %.2f s | | |\n", replicas, available.Seconds())
	fmt.Printf("| rolling update of the %d replicas to completion | %.2f s | %s | |\n", replicas, roll.Seconds(), rate(replicas, roll))
	fmt.Printf("| churn: %d Deployments × %d created until all bound | %.2f s | %s | |\n", churn, churnReplicas, churnUp.Seconds(), rate(churn*churnReplicas, churnUp))
	fmt.Printf("| churn: the %d Deployments deleted until no pod is left | %.2f s | | |\n", churn, churnDown.Seconds())
	if keep {
		fmt.Println("\ndata dir:", dir)
	}
	return nil
}

// boundCounter counts the pods matching a selector that are bound, from a watch started
// before the measured run.
type boundCounter struct {
	bound atomic.Int64
	seen  sync.Map // uid → bound
	stop  func()
}

func countBound(ctx context.Context, client kubernetes.Interface, ns, selector string) (*boundCounter, error) {
	ctx, cancel := context.WithCancel(ctx)
	w, err := client.CoreV1().Pods(ns).Watch(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		cancel()
		return nil, err
	}
	c := &boundCounter{stop: func() { cancel(); w.Stop() }}
	go func() {
		for ev := range w.ResultChan() {
			p, ok := ev.Object.(*corev1.Pod)
			if !ok {
				continue
			}
			if ev.Type == watch.Deleted {
				if was, ok := c.seen.LoadAndDelete(p.UID); ok && was.(bool) {
					c.bound.Add(-1)
				}
				continue
			}
			if p.Spec.NodeName != "" {
				if was, loaded := c.seen.Swap(p.UID, true); !loaded || !was.(bool) {
					c.bound.Add(1)
				}
			} else {
				c.seen.LoadOrStore(p.UID, false)
			}
		}
	}()
	return c, nil
}

func (c *boundCounter) waitAtLeast(ctx context.Context, n int, what string) error {
	return waitFor(ctx, 10*time.Minute, what, func() (bool, error) { return c.bound.Load() >= int64(n), nil })
}

func measureDirect(ctx context.Context, client kubernetes.Interface, n int) (time.Duration, error) {
	counter, err := countBound(ctx, client, "default", "bench=direct")
	if err != nil {
		return 0, err
	}
	defer counter.stop()
	start := time.Now()
	var failed atomic.Value
	var wg sync.WaitGroup
	next := atomic.Int64{}
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1) - 1; i < int64(n); i = next.Add(1) - 1 {
				p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("direct-%05d", i), Labels: map[string]string{"bench": "direct"}},
					Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx"}}}}
				if _, err := client.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
					failed.Store(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		return 0, err
	}
	if err := counter.waitAtLeast(ctx, n, "direct pods bound"); err != nil {
		return 0, err
	}
	d := time.Since(start)
	if err := client.CoreV1().Pods("default").DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: "bench=direct"}); err != nil {
		return 0, err
	}
	return d, waitNoPods(ctx, client, "bench=direct")
}

func deployment(name string, replicas int) *appsv1.Deployment {
	r := int32(replicas)
	labels := map[string]string{"bench": name}
	return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{Replicas: &r, Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx:1"}}}}}}
}

// measureDeployment creates a Deployment and returns how long until all its pods are bound;
// available, when not nil, receives how long until the Deployment reports them available.
func measureDeployment(ctx context.Context, client kubernetes.Interface, name string, replicas int, available *time.Duration) (time.Duration, error) {
	counter, err := countBound(ctx, client, "default", "bench="+name)
	if err != nil {
		return 0, err
	}
	defer counter.stop()
	start := time.Now()
	if _, err := client.AppsV1().Deployments("default").Create(ctx, deployment(name, replicas), metav1.CreateOptions{}); err != nil {
		return 0, err
	}
	if err := counter.waitAtLeast(ctx, replicas, name+" pods bound"); err != nil {
		return 0, err
	}
	bound := time.Since(start)
	err = waitFor(ctx, 10*time.Minute, name+" available", func() (bool, error) {
		d, err := client.AppsV1().Deployments("default").Get(ctx, name, metav1.GetOptions{})
		return err == nil && d.Status.AvailableReplicas == int32(replicas), nil
	})
	if available != nil {
		*available = time.Since(start)
	}
	return bound, err
}

func measureRollout(ctx context.Context, client kubernetes.Interface, name string, replicas int) (time.Duration, error) {
	start := time.Now()
	patch := `{"spec":{"template":{"spec":{"containers":[{"name":"c","image":"nginx:2"}]}}}}`
	d, err := client.AppsV1().Deployments("default").Patch(ctx, name, types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{})
	if err != nil {
		return 0, err
	}
	gen := d.Generation
	err = waitFor(ctx, 10*time.Minute, name+" rolled out", func() (bool, error) {
		d, err := client.AppsV1().Deployments("default").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		s := d.Status
		return s.ObservedGeneration >= gen && s.UpdatedReplicas == int32(replicas) && s.Replicas == int32(replicas) &&
			s.AvailableReplicas == int32(replicas), nil
	})
	return time.Since(start), err
}

func measureChurn(ctx context.Context, client kubernetes.Interface, n, replicas int) (up, down time.Duration, err error) {
	counter, err := countBound(ctx, client, "default", "churn=yes")
	if err != nil {
		return 0, 0, err
	}
	defer counter.stop()
	names := make([]string, n)
	start := time.Now()
	var wg sync.WaitGroup
	var failed atomic.Value
	for i := range n {
		names[i] = fmt.Sprintf("churn-%02d", i)
		d := deployment(names[i], replicas)
		d.Spec.Template.Labels["churn"] = "yes"
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := client.AppsV1().Deployments("default").Create(ctx, d, metav1.CreateOptions{}); err != nil {
				failed.Store(err)
			}
		}()
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		return 0, 0, err
	}
	if err := counter.waitAtLeast(ctx, n*replicas, "churned pods bound"); err != nil {
		return 0, 0, err
	}
	up = time.Since(start)
	start = time.Now()
	if err := deleteDeployments(ctx, client, names); err != nil {
		return 0, 0, err
	}
	return up, time.Since(start), nil
}

// deleteDeployments deletes Deployments in the background and waits until their pods are
// gone.
func deleteDeployments(ctx context.Context, client kubernetes.Interface, names []string) error {
	bg := metav1.DeletePropagationBackground
	for _, n := range names {
		if err := client.AppsV1().Deployments("default").Delete(ctx, n, metav1.DeleteOptions{PropagationPolicy: &bg}); err != nil {
			return err
		}
	}
	sel := "bench in (" + strings.Join(names, ",") + ")"
	return waitNoPods(ctx, client, sel)
}

func waitNoPods(ctx context.Context, client kubernetes.Interface, selector string) error {
	return waitFor(ctx, 10*time.Minute, "pods of "+selector+" gone", func() (bool, error) {
		l, err := client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: selector})
		return err == nil && len(l.Items) == 0, nil
	})
}

func waitFor(ctx context.Context, timeout time.Duration, what string, cond func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for {
		ok, err := cond()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %s waiting for %s", timeout, what)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}
