package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tugboat-io/tug/internal/wasmbuild"
)

// TestControllerManagerFailover: two servers over one etcd both run a controller manager;
// one leads (the Lease kube-system/tug-controller-manager), and when it is killed the other
// takes over and reconciles what is created next.
func TestControllerManagerFailover(t *testing.T) {
	t.Parallel()
	members := startEtcdCluster(t, 1)
	eps := []string{"http://" + members[0].client}
	ctrls := filepath.Join(t.TempDir(), "controllers.wasm")
	if err := os.WriteFile(ctrls, wasmbuild.Build(t, filepath.Join("..", "..", "..", "plugins"), "./controllers/cmd/defaults"), 0o644); err != nil {
		t.Fatal(err)
	}
	flags := []string{"--controllers-module", ctrls, "--scheduler=false"}
	a := startServer(t, filepath.Join(t.TempDir(), "a"), eps, flags...)
	b := startServer(t, filepath.Join(t.TempDir(), "b"), eps, flags...)

	leads := func(s *server) bool {
		return strings.Contains(s.proc.stderr.String(), `msg=leading component=leader-election lease=kube-system/tug-controller-manager`)
	}
	deadline := time.Now().Add(60 * time.Second)
	for !leads(a) && !leads(b) {
		if time.Now().After(deadline) {
			t.Fatalf("no controller manager leads:\n%s\n%s", a.output(), b.output())
		}
		time.Sleep(200 * time.Millisecond)
	}
	if leads(a) && leads(b) {
		t.Fatal("both controller managers lead")
	}
	leader, follower := a, b
	if leads(b) {
		leader, follower = b, a
	}
	leader.mustKubectl(t, "1.33", "create", "deployment", "before", "--image=nginx", "--replicas=2")
	follower.waitKubectl(t, "the leader's ReplicaSet", []string{"get", "rs", "-l", "app=before", "-o=jsonpath={.items[0].spec.replicas}"},
		func(out string) bool { return out == "2" })

	leader.proc.Kill(t)
	follower.mustKubectl(t, "1.33", "create", "deployment", "after", "--image=nginx", "--replicas=3")
	// The Lease (15 s) runs out, the follower takes it and reconciles.
	follower.waitKubectl(t, "the new leader's ReplicaSet and pods", []string{"get", "pods", "-l", "app=after", "--no-headers"},
		func(out string) bool { return strings.Count(strings.TrimSpace(out), "\n") == 2 })
	if !leads(follower) {
		t.Errorf("the follower reconciled without saying it leads:\n%s", follower.output())
	}
}
