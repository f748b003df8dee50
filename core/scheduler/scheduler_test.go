package scheduler

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/tugboat-io/tug/core/apiserver"
	"github.com/tugboat-io/tug/core/apiserver/apiservertest"
	"github.com/tugboat-io/tug/core/leader"
)

// TestSchedulerEndToEnd runs the loop against a real API server on embedded etcd, with the
// SDK's nodelabel filter in wasm passing only zone=a: a pod lands on the zone-a node; a pod
// that fits nowhere gets FailedScheduling with the reasons and PodScheduled=False, and is
// scheduled once a fitting node appears.
func TestSchedulerEndToEnd(t *testing.T) {
	_, slot := nodeLabelSlot(t, "a")
	srv := apiservertest.Start(t, apiserver.Config{})
	client := kubernetes.NewForConfigOrDie(&rest.Config{Host: srv.URL})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	mkNode := func(name, zone string) {
		t.Helper()
		n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"zone": zone}}}
		if _, err := client.CoreV1().Nodes().Create(ctx, n, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	mkPod := func(name string) {
		t.Helper()
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}
		if _, err := client.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
		}
	}
	nodeOf := func(name string) string {
		p, err := client.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return p.Spec.NodeName
	}

	mkNode("b-1", "b")
	mkNode("a-1", "a")
	mkNode("c-1", "c")
	s := New(Config{Client: client, Logger: slog.New(slog.DiscardHandler),
		Profiles: []*Profile{{SchedulerName: corev1.DefaultSchedulerName,
			Plugins: []*Plugin{SlotPlugin("NodeLabel", slot, true, false, 1, false)}}},
		Election: &leader.Config{Namespace: "kube-system", Name: "tug-scheduler", Identity: "test"}})
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()

	mkPod("web")
	waitFor("web to be bound", func() bool { return nodeOf("web") != "" })
	if got := nodeOf("web"); got != "a-1" {
		t.Fatalf("web went to %s, want a-1", got)
	}

	// Make zone a full: delete a-1; the next pod fits nowhere.
	if err := client.CoreV1().Nodes().Delete(ctx, "a-1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor("the scheduler to see a-1 go", func() bool { return len(s.Nodes()) == 2 })
	mkPod("stuck")
	want := "0/2 nodes are available: 2 node(s) didn't match zone."
	waitFor("a FailedScheduling event", func() bool {
		evs, err := client.CoreV1().Events("default").List(ctx, metav1.ListOptions{
			FieldSelector: fields.OneTermEqualSelector("involvedObject.name", "stuck").String()})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs.Items {
			if e.Reason == "FailedScheduling" && e.Message == want && e.Type == corev1.EventTypeWarning {
				return true
			}
		}
		return false
	})
	waitFor("PodScheduled=False", func() bool {
		p, err := client.CoreV1().Pods("default").Get(ctx, "stuck", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable &&
				strings.Contains(c.Message, "didn't match zone") {
				return true
			}
		}
		return false
	})
	mkNode("a-2", "a")
	waitFor("stuck to be bound once a fitting node appears", func() bool { return nodeOf("stuck") != "" })
	if got := nodeOf("stuck"); got != "a-2" {
		t.Fatalf("stuck went to %s, want a-2", got)
	}
	evs, err := client.CoreV1().Events("default").List(ctx, metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector("reason", "Scheduled").String()})
	if err != nil {
		t.Fatal(err)
	}
	var msgs []string
	for _, e := range evs.Items {
		msgs = append(msgs, e.Message)
	}
	if fmt.Sprint(msgs) != "[Successfully assigned default/web to a-1 Successfully assigned default/stuck to a-2]" &&
		fmt.Sprint(msgs) != "[Successfully assigned default/stuck to a-2 Successfully assigned default/web to a-1]" {
		t.Errorf("Scheduled events: %q", msgs)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
}
