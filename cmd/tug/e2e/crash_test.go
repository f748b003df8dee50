package e2e

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestCrashKeepsEveryWrite writes 1000 ConfigMaps, kills tug with SIGKILL, restarts it on the
// same data dir and expects exactly those objects with their resourceVersions.
func TestCrashKeepsEveryWrite(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	srv := startUp(t, dir)
	cs := srv.Clientset(t)
	ctx := context.Background()
	const ns, count, workers = "crash", 1000, 16
	createNamespace(t, cs, ns)

	var mu sync.Mutex
	rvs := make(map[string]string, count)
	names := make(chan string)
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for name := range names {
				cm, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{
					ObjectMeta: metav1.ObjectMeta{Name: name},
					Data:       map[string]string{"name": name},
				}, metav1.CreateOptions{})
				if err != nil {
					errs <- fmt.Errorf("create %s: %w", name, err)
					for range names { // drain so the producer finishes
					}
					return
				}
				mu.Lock()
				rvs[name] = cm.ResourceVersion
				mu.Unlock()
			}
		}()
	}
	for i := range count {
		names <- fmt.Sprintf("cm-%04d", i)
	}
	close(names)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if len(rvs) != count {
		t.Fatalf("created %d ConfigMaps, want %d", len(rvs), count)
	}

	srv.Kill(t)
	srv = startUp(t, dir)
	cs = srv.Clientset(t)

	list, err := cs.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatalf("list after restart: %v", err)
	}
	list.Items = withoutRootCA(list.Items)
	if len(list.Items) != count {
		t.Errorf("after kill -9 and restart: %d ConfigMaps, want %d", len(list.Items), count)
	}
	seen := map[string]bool{}
	bad := 0
	for _, cm := range list.Items {
		seen[cm.Name] = true
		want, ok := rvs[cm.Name]
		switch {
		case !ok:
			t.Errorf("unexpected ConfigMap %s after restart", cm.Name)
			bad++
		case cm.ResourceVersion != want || cm.Data["name"] != cm.Name:
			t.Errorf("%s after restart: rv %s data %v, want rv %s data name=%s", cm.Name, cm.ResourceVersion, cm.Data, want, cm.Name)
			bad++
		}
		if bad > 10 {
			t.Fatal("too many differences; stopping")
		}
	}
	for name := range rvs {
		if !seen[name] {
			t.Errorf("ConfigMap %s lost after kill -9", name)
			bad++
			if bad > 10 {
				t.Fatal("too many differences; stopping")
			}
		}
	}

	// The restarted server takes writes again.
	if _, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "after-restart"}}, metav1.CreateOptions{}); err != nil {
		t.Errorf("create after restart: %v", err)
	}
}

// TestDataDirInUse starts a second `tug up` on a data dir a running one holds: it must fail at
// once, saying the data dir is in use, and the first must keep serving.
func TestDataDirInUse(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	first := startUp(t, dir)
	cs := first.Clientset(t)
	ctx := context.Background()
	createNamespace(t, cs, "inuse")
	if _, err := cs.CoreV1().ConfigMaps("inuse").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "before"}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create: %v", err)
	}

	// Other ports, so that only the data dir is shared.
	second := startProc(t, "second tug up ("+dir+")", "up",
		"--data-dir", dir,
		"--listen", freeAddr(t),
		"--etcd-client-listen", freeAddr(t),
		"--etcd-peer-listen", freeAddr(t))
	select {
	case <-second.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("second tug up on a data dir in use still runs after 30s\n%s", second.output())
	}
	if second.err == nil {
		t.Errorf("second tug up on a data dir in use exited 0\n%s", second.output())
	}
	if msg := second.stderr.String(); !strings.Contains(msg, "in use") || !strings.Contains(msg, dir) {
		t.Errorf("second tug up: stderr does not say data dir %s is in use:\n%s", dir, msg)
	}

	if first.exited() {
		t.Fatalf("first tug up exited: %v\n%s", first.err, first.output())
	}
	resp, err := first.AnonymousClient().Get(first.URL() + "/readyz")
	if err != nil {
		t.Fatalf("first tug up: GET /readyz: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("first tug up: GET /readyz = %d, want 200", resp.StatusCode)
	}
	if _, err := cs.CoreV1().ConfigMaps("inuse").Get(ctx, "before", metav1.GetOptions{}); err != nil {
		t.Errorf("first tug up: get after the second start: %v", err)
	}
	if _, err := cs.CoreV1().ConfigMaps("inuse").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "after"}}, metav1.CreateOptions{}); err != nil {
		t.Errorf("first tug up: create after the second start: %v", err)
	}
	first.Stop(t)
}
