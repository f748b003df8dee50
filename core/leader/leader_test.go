package leader

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/tugboat-io/tug/core/apiserver"
	"github.com/tugboat-io/tug/core/apiserver/apiservertest"
)

// TestOneLeaderAndFailover: of two candidates exactly one leads; when it stops, the other
// takes over at its next retry; and a lease left by a leader that died without releasing it
// is taken over within LeaseDuration + RetryPeriod of its last renewal.
func TestOneLeaderAndFailover(t *testing.T) {
	srv := apiservertest.Start(t, apiserver.Config{})
	client := kubernetes.NewForConfigOrDie(&rest.Config{Host: srv.URL})

	var mu sync.Mutex
	leading := map[string]bool{}
	leaders := func() []string {
		mu.Lock()
		defer mu.Unlock()
		var ids []string
		for id, on := range leading {
			if on {
				ids = append(ids, id)
			}
		}
		return ids
	}
	startNamed := func(id, lease string) (stop func()) {
		ctx, cancel := context.WithCancel(context.Background())
		cfg := Config{Client: client, Namespace: "kube-system", Name: lease, Identity: id}
		cfg.Logger = slog.New(slog.DiscardHandler)
		done := make(chan struct{})
		go func() {
			defer close(done)
			_ = Run(ctx, cfg, func(ctx context.Context) {
				mu.Lock()
				leading[id] = true
				mu.Unlock()
				<-ctx.Done()
				mu.Lock()
				leading[id] = false
				mu.Unlock()
			})
		}()
		return func() { cancel(); <-done }
	}
	waitOne := func(what string, within time.Duration) string {
		t.Helper()
		deadline := time.Now().Add(within)
		for {
			if ids := leaders(); len(ids) == 1 {
				return ids[0]
			} else if len(ids) > 1 {
				t.Fatalf("%s: two leaders %v", what, ids)
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: no leader within %v", what, within)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}

	start := func(id string) func() { return startNamed(id, "tug-test") }
	stopA := start("a")
	if got := waitOne("first election", 15*time.Second); got != "a" {
		t.Fatalf("leader %s, want a", got)
	}
	stopB := start("b")
	defer stopB()
	time.Sleep(3 * RetryPeriod / 2)
	if got := waitOne("with a follower", time.Second); got != "a" {
		t.Fatalf("leader %s, want a still", got)
	}
	// A clean stop releases the lease: b leads at its next retry.
	begin := time.Now()
	stopA()
	if got := waitOne("after a stopped", RetryPeriod+5*time.Second); got != "b" {
		t.Fatalf("leader %s, want b", got)
	}
	t.Logf("failover after a clean stop: %v", time.Since(begin).Round(10*time.Millisecond))

	// A leader that crashed: its lease, just renewed, is never renewed again.
	now := metav1.NewMicroTime(time.Now())
	holder, secs := "crashed", int32(LeaseDuration/time.Second)
	if _, err := client.CoordinationV1().Leases("kube-system").Create(context.Background(), &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "tug-crash"},
		Spec:       coordinationv1.LeaseSpec{HolderIdentity: &holder, LeaseDurationSeconds: &secs, AcquireTime: &now, RenewTime: &now},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	leading = map[string]bool{}
	mu.Unlock()
	begin = time.Now()
	stopC := startNamed("c", "tug-crash")
	defer stopC()
	if got := waitOne("after a crash", LeaseDuration+RetryPeriod+5*time.Second); got != "c" {
		t.Fatalf("leader %s, want c", got)
	}
	took := time.Since(begin)
	if took < LeaseDuration-time.Second {
		t.Fatalf("took over a live lease after %v", took)
	}
	t.Logf("failover after a crash: %v", took.Round(10*time.Millisecond))
}
