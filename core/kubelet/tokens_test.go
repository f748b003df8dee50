package kubelet

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

func TestTokenCache(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cs := fake.NewClientset()
	issued, fail := 0, false
	var last *authenticationv1.TokenRequest
	cs.PrependReactor("create", "serviceaccounts", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "token" {
			return false, nil, nil
		}
		if fail {
			return true, nil, errors.New("server down")
		}
		issued++
		tr := a.(k8stesting.CreateAction).GetObject().(*authenticationv1.TokenRequest).DeepCopy()
		last = tr
		tr.Status = authenticationv1.TokenRequestStatus{Token: fmt.Sprintf("tok-%d", issued),
			ExpirationTimestamp: metav1.NewTime(now.Add(time.Duration(*tr.Spec.ExpirationSeconds) * time.Second))}
		return true, tr, nil
	})
	c := newTokenCache(cs)
	c.now = func() time.Time { return now }
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "dev", UID: "u1"}, Spec: corev1.PodSpec{ServiceAccountName: "builder"}}
	proj := &corev1.ServiceAccountTokenProjection{Path: "token", Audience: "vault"}
	get := func() string {
		t.Helper()
		tok, err := c.token(context.Background(), pod, proj)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	if tok := get(); tok != "tok-1" {
		t.Fatalf("first token %q", tok)
	}
	if b := last.Spec.BoundObjectRef; b == nil || b.Kind != "Pod" || b.Name != "web" || b.UID != "u1" {
		t.Errorf("token not bound to the pod: %+v", last.Spec.BoundObjectRef)
	}
	if len(last.Spec.Audiences) != 1 || last.Spec.Audiences[0] != "vault" || *last.Spec.ExpirationSeconds != defaultTokenSeconds {
		t.Errorf("request %+v", last.Spec)
	}
	now = now.Add(47 * time.Minute) // under 80% of an hour
	if tok := get(); tok != "tok-1" || issued != 1 {
		t.Fatalf("asked again before 80%% of its life: %q, %d issued", tok, issued)
	}
	now = now.Add(2 * time.Minute) // past 48 minutes
	fail = true
	if tok := get(); tok != "tok-1" {
		t.Fatalf("with the server down, the still-valid token should serve: %q", tok)
	}
	fail = false
	if tok := get(); tok != "tok-2" {
		t.Fatalf("token not renewed after 80%% of its life: %q", tok)
	}
	now = now.Add(2 * time.Hour)
	fail = true
	if _, err := c.token(context.Background(), pod, proj); err == nil {
		t.Fatal("an expired token was served while the server is down")
	}
}
