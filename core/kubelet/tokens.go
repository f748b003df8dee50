package kubelet

import (
	"context"
	"fmt"
	"sync"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// defaultTokenSeconds is the lifetime asked for when a projection does not say (kube's
// default for serviceAccountToken projections).
const defaultTokenSeconds = 3600

// tokenCache keeps the service account tokens of projected volumes. A token is asked for
// again once 80% of its life has passed (kubelet's rule): a running pod's file is replaced well
// before it expires, and not rewritten at every sync.
type tokenCache struct {
	client kubernetes.Interface
	now    func() time.Time

	mu sync.Mutex
	m  map[tokenKey]tokenEntry
}

type tokenKey struct {
	pod      types.UID
	sa       string
	audience string
	seconds  int64
}

type tokenEntry struct {
	token          string
	refresh, until time.Time
}

func newTokenCache(client kubernetes.Interface) *tokenCache {
	return &tokenCache{client: client, now: time.Now, m: map[tokenKey]tokenEntry{}}
}

// token returns a token for the pod's service account as the projection asks, bound to the
// pod so it stops working when the pod is gone.
func (c *tokenCache) token(ctx context.Context, pod *corev1.Pod, p *corev1.ServiceAccountTokenProjection) (string, error) {
	sa := pod.Spec.ServiceAccountName
	if sa == "" {
		sa = "default"
	}
	seconds := int64(defaultTokenSeconds)
	if p.ExpirationSeconds != nil {
		seconds = *p.ExpirationSeconds
	}
	key := tokenKey{pod: pod.UID, sa: sa, audience: p.Audience, seconds: seconds}
	now := c.now()
	c.mu.Lock()
	e, ok := c.m[key]
	c.mu.Unlock()
	if ok && now.Before(e.refresh) {
		return e.token, nil
	}
	req := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
		ExpirationSeconds: &seconds,
		BoundObjectRef:    &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID},
	}}
	if p.Audience != "" {
		req.Spec.Audiences = []string{p.Audience}
	}
	got, err := c.client.CoreV1().ServiceAccounts(pod.Namespace).CreateToken(ctx, sa, req, metav1.CreateOptions{})
	if err != nil {
		if ok && now.Before(e.until) {
			return e.token, nil // the old one still works; try again at the next sync
		}
		return "", fmt.Errorf("token for service account %s/%s: %w", pod.Namespace, sa, err)
	}
	until := got.Status.ExpirationTimestamp.Time
	life := until.Sub(now)
	e = tokenEntry{token: got.Status.Token, until: until, refresh: now.Add(life * 8 / 10)}
	c.mu.Lock()
	for k, old := range c.m {
		if !now.Before(old.until) {
			delete(c.m, k) // pods long gone
		}
	}
	c.m[key] = e
	c.mu.Unlock()
	return e.token, nil
}
