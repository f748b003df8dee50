package rootca_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/tugboat-io/tug/core/apiserver"
	"github.com/tugboat-io/tug/core/apiserver/apiservertest"
	"github.com/tugboat-io/tug/core/auth/rootca"
)

func TestPublisher(t *testing.T) {
	srv := apiservertest.Start(t, apiserver.Config{})
	cs, err := kubernetes.NewForConfig(&rest.Config{Host: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ca := "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
	p := &rootca.Publisher{Client: cs, CAPEM: []byte(ca), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	go func() { _ = p.Run(ctx) }()

	waitCA := func(what string) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			cm, err := cs.CoreV1().ConfigMaps("team").Get(ctx, rootca.Name, metav1.GetOptions{})
			if err == nil && cm.Data[rootca.Key] == ca && len(cm.Data) == 1 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %s/%s not published: %v %+v", what, "team", rootca.Name, err, cm)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitCA("new namespace")
	cm, _ := cs.CoreV1().ConfigMaps("team").Get(ctx, rootca.Name, metav1.GetOptions{})
	cm.Data = map[string]string{rootca.Key: "tampered", "extra": "x"}
	if _, err := cs.CoreV1().ConfigMaps("team").Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitCA("after an edit")
	if err := cs.CoreV1().ConfigMaps("team").Delete(ctx, rootca.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitCA("after a delete")
	if _, err := cs.CoreV1().ConfigMaps("default").Get(ctx, rootca.Name, metav1.GetOptions{}); err != nil {
		t.Errorf("the default namespace has no %s: %v", rootca.Name, err)
	}
}
