package sim

import (
	"context"
	"log/slog"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/tugboat-io/tug/core/apiserver"
	"github.com/tugboat-io/tug/core/apiserver/apiservertest"
)

// TestHollowNodes: nodes register with capacity, labels, taints and Ready; leases are
// renewed; a pod bound to one runs at once with an address; a deleted pod is gone at once.
func TestHollowNodes(t *testing.T) {
	srv := apiservertest.Start(t, apiserver.Config{})
	client := kubernetes.NewForConfigOrDie(&rest.Config{Host: srv.URL})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	taint, err := ParseTaint("gpu=true:NoSchedule")
	if err != nil {
		t.Fatal(err)
	}
	capacity := DefaultCapacity()
	capacity["nvidia.com/gpu"] = resource.MustParse("2")
	nodes, err := New(Config{Client: client, Prefix: "hollow", Count: 3, Capacity: capacity,
		Labels: map[string]string{"zone": "a"}, Taints: []corev1.Taint{taint}, Heartbeat: 200 * time.Millisecond,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- nodes.Run(ctx) }()

	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
		}
	}
	waitFor("three ready nodes", func() bool {
		l, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: "type=hollow"})
		if err != nil || len(l.Items) != 3 {
			return false
		}
		for _, n := range l.Items {
			gpu := n.Status.Allocatable["nvidia.com/gpu"]
			if n.Labels["zone"] != "a" || len(n.Spec.Taints) != 1 || gpu.Value() != 2 || !ready(&n) {
				return false
			}
		}
		return true
	})
	var first time.Time
	waitFor("a lease", func() bool { first = renewTime(t, client, "hollow-1"); return !first.IsZero() })
	waitFor("a lease renewal", func() bool { return renewTime(t, client, "hollow-1").After(first) })

	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "nginx"}}}}
	if _, err := client.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := client.CoreV1().Pods("default").Bind(ctx, &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Target: corev1.ObjectReference{Kind: "Node", Name: "hollow-2"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor("the pod to run", func() bool {
		p, err := client.CoreV1().Pods("default").Get(ctx, "web", metav1.GetOptions{})
		return err == nil && p.Status.Phase == corev1.PodRunning && p.Status.PodIP != "" && p.Status.HostIP == "10.255.0.3" &&
			len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].Ready
	})
	if err := client.CoreV1().Pods("default").Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor("the pod to be gone", func() bool {
		_, err := client.CoreV1().Pods("default").Get(ctx, "web", metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	})

	// Pods that run to completion exit: with 0 they succeed, else fail (Never) or restart
	// (OnFailure).
	for _, c := range []struct {
		name   string
		policy corev1.RestartPolicy
		code   string
	}{{"ok", corev1.RestartPolicyNever, ""}, {"bad", corev1.RestartPolicyNever, "3"}, {"retry", corev1.RestartPolicyOnFailure, "1"}} {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: c.name, Namespace: "default",
			Annotations: map[string]string{AnnotationRunFor: "50ms", AnnotationExitCode: c.code}},
			Spec: corev1.PodSpec{RestartPolicy: c.policy, NodeName: "hollow-0", Containers: []corev1.Container{{Name: "app", Image: "busybox"}}}}
		if _, err := client.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	phase := func(name string) (corev1.PodPhase, int32) {
		p, err := client.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
		if err != nil || len(p.Status.ContainerStatuses) != 1 {
			return "", 0
		}
		return p.Status.Phase, p.Status.ContainerStatuses[0].RestartCount
	}
	waitFor("ok to succeed", func() bool { ph, _ := phase("ok"); return ph == corev1.PodSucceeded })
	waitFor("bad to fail", func() bool { ph, _ := phase("bad"); return ph == corev1.PodFailed })
	waitFor("retry to restart twice", func() bool { ph, n := phase("retry"); return ph == corev1.PodRunning && n >= 2 })

	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func ready(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func renewTime(t *testing.T, client kubernetes.Interface, name string) time.Time {
	t.Helper()
	l, err := client.CoordinationV1().Leases(corev1.NamespaceNodeLease).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil || l.Spec.RenewTime == nil {
		return time.Time{}
	}
	return l.Spec.RenewTime.Time
}

func TestParseTaint(t *testing.T) {
	for in, ok := range map[string]bool{"k=v:NoSchedule": true, "k:NoExecute": true, "k=v": false, "=v:NoSchedule": false, "k=v:Sometimes": false} {
		if _, err := ParseTaint(in); (err == nil) != ok {
			t.Errorf("ParseTaint(%q): %v", in, err)
		}
	}
}
