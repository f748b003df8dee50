package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tugboat-io/tug/core/store"
	"github.com/tugboat-io/tug/core/store/storetest"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
)

// etcdMember is one running `tug etcd`.
type etcdMember struct {
	*proc
	name, client string
}

// startEtcdCluster starts n `tug etcd` members forming one new cluster and waits until every
// member answers and the cluster has a leader.
func startEtcdCluster(t *testing.T, n int) []*etcdMember {
	t.Helper()
	type addrs struct{ name, client, peer string }
	var as []addrs
	var initial []string
	for i := range n {
		a := addrs{name: fmt.Sprintf("n%d", i+1), client: freeAddr(t), peer: freeAddr(t)}
		as = append(as, a)
		initial = append(initial, a.name+"=http://"+a.peer)
	}
	var members []*etcdMember
	for _, a := range as {
		p := startProc(t, "tug etcd "+a.name, "etcd",
			"--name", a.name,
			"--data-dir", filepath.Join(t.TempDir(), a.name),
			"--client-listen", a.client,
			"--peer-listen", a.peer,
			"--initial-cluster", strings.Join(initial, ","),
			"--initial-cluster-state", "new")
		members = append(members, &etcdMember{proc: p, name: a.name, client: a.client})
	}

	cli := etcdClient(t, members)
	err := poll(readyTimeout, func() (bool, error) {
		for _, m := range members {
			if m.exited() {
				return false, fmt.Errorf("%s exited: %v", m.name, m.err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			st, err := cli.Status(ctx, m.client)
			cancel()
			if err != nil {
				return false, fmt.Errorf("status of %s: %w", m.name, err)
			}
			if st.Leader == 0 {
				return false, fmt.Errorf("%s knows no leader", m.name)
			}
		}
		return true, nil
	})
	if err != nil {
		var out []string
		for _, m := range members {
			out = append(out, m.output())
		}
		t.Fatalf("etcd cluster not healthy: %v\n%s", err, strings.Join(out, "\n"))
	}
	return members
}

func etcdClient(t *testing.T, members []*etcdMember) *clientv3.Client {
	t.Helper()
	var eps []string
	for _, m := range members {
		eps = append(eps, "http://"+m.client)
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: eps, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatalf("etcd client: %v", err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// leaderOf returns the member that leads the cluster now.
func leaderOf(t *testing.T, cli *clientv3.Client, members []*etcdMember) *etcdMember {
	t.Helper()
	for _, m := range members {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		st, err := cli.Status(ctx, m.client)
		cancel()
		if err != nil {
			t.Fatalf("status of %s: %v", m.name, err)
		}
		if st.Leader == st.Header.MemberId {
			return m
		}
	}
	t.Fatal("no member says it is the leader")
	return nil
}

// waitEvent waits for a watch event satisfying match.
func waitEvent(t *testing.T, w watch.Interface, what string, match func(watch.Event) bool) {
	t.Helper()
	timeout := time.After(eventually)
	var seen []string
	for {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				t.Fatalf("watch closed before %s; events seen: %q", what, seen)
			}
			seen = append(seen, describeEvent(ev))
			if match(ev) {
				return
			}
		case <-timeout:
			t.Fatalf("no %s within %s; events seen: %q", what, eventually, seen)
		}
	}
}

func describeEvent(ev watch.Event) string {
	if cm, ok := ev.Object.(*corev1.ConfigMap); ok {
		return fmt.Sprintf("%s %s rv=%s data=%v", ev.Type, cm.Name, cm.ResourceVersion, cm.Data)
	}
	return fmt.Sprintf("%s %T", ev.Type, ev.Object)
}

func isConfigMap(ev watch.Event, typ watch.EventType, name, key, value string) bool {
	cm, ok := ev.Object.(*corev1.ConfigMap)
	return ok && ev.Type == typ && cm.Name == name && cm.Data[key] == value
}

// TestExternalEtcdHA runs two `tug server`s on a three-member `tug etcd` cluster: each server
// sees what the other writes, and both keep taking writes after the etcd leader is killed.
func TestExternalEtcdHA(t *testing.T) {
	t.Parallel()
	members := startEtcdCluster(t, 3)
	var eps []string
	for _, m := range members {
		eps = append(eps, "http://"+m.client)
	}
	a := startServer(t, filepath.Join(t.TempDir(), "a"), eps)
	b := startServer(t, filepath.Join(t.TempDir(), "b"), eps)
	csA, csB := a.Clientset(t), b.Clientset(t)
	ctx := context.Background()
	const ns = "ha"
	createNamespace(t, csA, ns)

	created, err := csA.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "shared"}, Data: map[string]string{"v": "1"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create through A: %v", err)
	}
	got, err := csB.CoreV1().ConfigMaps(ns).Get(ctx, "shared", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get through B of what A created: %v", err)
	}
	if got.UID != created.UID || got.ResourceVersion != created.ResourceVersion || got.Data["v"] != "1" {
		t.Errorf("B reads uid %s rv %s data %v, want what A created: uid %s rv %s v=1", got.UID, got.ResourceVersion, got.Data, created.UID, created.ResourceVersion)
	}

	watchCtx, cancelWatch := context.WithCancel(ctx)
	defer cancelWatch()
	w, err := csB.CoreV1().ConfigMaps(ns).Watch(watchCtx, metav1.ListOptions{FieldSelector: "metadata.name=shared", ResourceVersion: created.ResourceVersion})
	if err != nil {
		t.Fatalf("watch through B: %v", err)
	}
	defer w.Stop()
	created.Data["v"] = "2"
	if _, err := csA.CoreV1().ConfigMaps(ns).Update(ctx, created, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("update through A: %v", err)
	}
	waitEvent(t, w, "MODIFIED event with v=2 through B", func(ev watch.Event) bool { return isConfigMap(ev, watch.Modified, "shared", "v", "2") })
	w.Stop()

	cli := etcdClient(t, members)
	leader := leaderOf(t, cli, members)
	t.Logf("killing the etcd leader %s", leader.name)
	leader.Kill(t)

	// The first write through each server may wait for a new leader; retry it up to 30s.
	createWithRetry := func(cs kubernetes.Interface, server, name string) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			_, err := cs.CoreV1().ConfigMaps(ns).Create(cctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
			cancel()
			if err == nil {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("first write through %s after killing etcd member %s still fails after 30s: %v", server, leader.name, err)
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
	createWithRetry(csA, "A", "first-a")
	createWithRetry(csB, "B", "first-b")

	// Then writes succeed without retries, and each server reads the other's.
	servers := []struct {
		name string
		cs   kubernetes.Interface
	}{{"A", csA}, {"B", csB}}
	for i := range 5 {
		for j, s := range servers {
			name := fmt.Sprintf("after-%s-%d", strings.ToLower(s.name), i)
			if _, err := s.cs.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
				t.Errorf("create %s through %s after the etcd member was killed: %v", name, s.name, err)
				continue
			}
			other := servers[1-j]
			if _, err := other.cs.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{}); err != nil {
				t.Errorf("get %s through %s, created through %s: %v", name, other.name, s.name, err)
			}
		}
	}

	// Optimistic concurrency still holds across servers: B updates, A's stale copy conflicts.
	cur, err := csA.CoreV1().ConfigMaps(ns).Get(ctx, "shared", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get through A: %v", err)
	}
	fresh := cur.DeepCopy()
	fresh.Data["v"] = "3"
	if _, err := csB.CoreV1().ConfigMaps(ns).Update(ctx, fresh, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("update through B: %v", err)
	}
	cur.Data["v"] = "stale"
	_, err = csA.CoreV1().ConfigMaps(ns).Update(ctx, cur, metav1.UpdateOptions{})
	if !apierrors.IsConflict(err) {
		t.Errorf("stale update through A after B's update: err = %v, want Conflict", err)
	}

	// A new watch through B sees a write through A.
	list, err := csB.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatalf("list through B: %v", err)
	}
	if want := 1 + 2 + 10; len(withoutRootCA(list.Items)) != want {
		t.Errorf("list through B: %d ConfigMaps, want %d", len(list.Items), want)
	}
	w2, err := csB.CoreV1().ConfigMaps(ns).Watch(watchCtx, metav1.ListOptions{ResourceVersion: list.ResourceVersion})
	if err != nil {
		t.Fatalf("watch through B after the kill: %v", err)
	}
	defer w2.Stop()
	if _, err := csA.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "watched-after-kill"}, Data: map[string]string{"v": "x"}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create through A: %v", err)
	}
	waitEvent(t, w2, "ADDED event for watched-after-kill through B", func(ev watch.Event) bool {
		return isConfigMap(ev, watch.Added, "watched-after-kill", "v", "x")
	})
}

// TestStoreConformanceExternalCluster runs the store's conformance suite against a three-member
// etcd cluster of separate `tug etcd` processes, the external-etcd setup `tug server` uses.
func TestStoreConformanceExternalCluster(t *testing.T) {
	t.Parallel()
	members := startEtcdCluster(t, 3)
	cli := etcdClient(t, members)
	storetest.Run(t, store.New(cli, "/conformance"))
}
