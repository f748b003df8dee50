package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/tugboat-io/tug/internal/wasmbuild"
)

// unauthorized is how kubectl reports a 401.
const unauthorized = "You must be logged in to the server"

// userKubeconfig writes a kubeconfig for s that authenticates with token alone (no client
// certificate) and returns its path.
func userKubeconfig(t *testing.T, s *server, token string) string {
	t.Helper()
	admin, err := clientcmd.LoadFromFile(s.Kubeconfig())
	if err != nil {
		t.Fatal(err)
	}
	cluster := admin.Clusters[admin.Contexts[admin.CurrentContext].Cluster]
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["tug"] = cluster
	cfg.AuthInfos["user"] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts["user"] = &clientcmdapi.Context{Cluster: "tug", AuthInfo: "user"}
	cfg.CurrentContext = "user"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestSecurity runs a tug up with a static token file and checks, with real kubectl, what the
// issue asks of authentication and authorization: no credentials → 401, bad ones (garbage,
// forged, expired tokens; a certificate of another CA) → 401, a namespaced Role works in its
// namespace and is Forbidden elsewhere, a user who may write roles grants only what they
// hold, kubectl auth can-i and whoami answer, a node's
// credentials cannot touch another node, and service account tokens bound to a pod die with it.
func TestSecurity(t *testing.T) {
	t.Parallel()
	tokens := filepath.Join(t.TempDir(), "tokens.csv")
	if err := os.WriteFile(tokens, []byte("dev-token,dev,uid-dev\nnode-a-token,system:node:node-a,uid-node-a,system:nodes\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	admission := filepath.Join(t.TempDir(), "admission.wasm")
	if err := os.WriteFile(admission, wasmbuild.Build(t, filepath.Join("..", "..", "..", "plugins"), "./admission/cmd/defaults"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A node agent of its own, node-k, whose API is checked below.
	s := startUp(t, t.TempDir(), "--token-auth-file", tokens, "--admission-module", admission, "--scheduler=false", "--controllers=false",
		"--node=true", "--node-name", "node-k", "--node-ip", "127.0.0.1", "--kubelet-listen", freeAddr(t), "--kubelet-healthz-listen", "-",
		"--container-runtime", "wasm", "--proxy-mode", "none", "--cluster-dns-port", "0")
	k := func(args ...string) kubectlResult {
		t.Helper()
		r := s.kubectl(t, "1.33", args...)
		if r.err != nil {
			t.Fatalf("%s\n%s", r, s.output())
		}
		return r
	}
	as := func(token string, args ...string) kubectlResult {
		t.Helper()
		return s.kubectl(t, "1.33", append([]string{"--kubeconfig", userKubeconfig(t, s, token)}, args...)...)
	}

	// The kubeconfig tug wrote is the admin's: HTTPS, the CA, a client certificate.
	if r := k("auth", "whoami", "-o", "jsonpath={.status.userInfo.username} {.status.userInfo.groups}"); !strings.Contains(r.stdout, "tug:admin") || !strings.Contains(r.stdout, "system:masters") {
		t.Errorf("admin whoami: %s", r)
	}

	t.Run("unauthenticated", func(t *testing.T) {
		// (No credentials at all is checked with raw requests below: kubectl would prompt.)
		for _, tok := range []string{
			"garbage",                    // not any kind of token
			"abcdef.0123456789abcdef",    // a join token nobody created
			forgedServiceAccountToken(t), // our issuer's claims, signed by another key
		} {
			r := as(tok, "get", "pods")
			if r.err == nil || !strings.Contains(r.stderr, unauthorized) {
				t.Errorf("token %.20q: want Unauthorized, got %s", tok, r)
			}
		}
		// An expired join token.
		k("create", "secret", "generic", "bootstrap-token-expird", "-n", "kube-system", "--type", "bootstrap.kubernetes.io/token",
			"--from-literal=token-id=expird", "--from-literal=token-secret=0123456789abcdef",
			"--from-literal=usage-bootstrap-authentication=true", "--from-literal=expiration=2020-01-01T00:00:00Z")
		if r := as("expird.0123456789abcdef", "get", "csr"); r.err == nil || !strings.Contains(r.stderr, unauthorized) {
			t.Errorf("expired join token: %s", r)
		}
		// Raw requests: nothing but health without credentials, and a certificate of another
		// CA (claiming system:masters) is nobody.
		anon := s.AnonymousClient()
		for path, want := range map[string]int{"/healthz": 200, "/readyz": 200, "/livez": 200, "/version": 401, "/api": 401, "/api/v1/namespaces": 401, "/metrics": 401} {
			resp, err := anon.Get(s.URL() + path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != want {
				t.Errorf("anonymous GET %s = %d, want %d", path, resp.StatusCode, want)
			}
		}
		forged := foreignClientCert(t)
		c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
			RootCAs: s.caPool(), Certificates: []tls.Certificate{forged}, MinVersion: tls.VersionTLS12}}}
		resp, err := c.Get(s.URL() + "/api/v1/namespaces")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 401 {
			t.Errorf("a certificate of another CA = %d, want 401", resp.StatusCode)
		}
	})

	t.Run("role", func(t *testing.T) {
		k("create", "namespace", "team-a")
		k("create", "role", "pod-reader", "-n", "team-a", "--verb=get,list,watch", "--resource=pods")
		k("create", "rolebinding", "dev-reads", "-n", "team-a", "--role=pod-reader", "--user=dev")
		deadline := time.Now().Add(10 * time.Second)
		for {
			r := as("dev-token", "get", "pods", "-n", "team-a")
			if r.err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("dev cannot list pods in team-a: %s", r)
			}
			time.Sleep(100 * time.Millisecond)
		}
		r := as("dev-token", "get", "pods", "-n", "default")
		if r.err == nil || !strings.Contains(r.stderr, `pods is forbidden: User "dev" cannot list resource "pods" in API group "" in the namespace "default"`) {
			t.Errorf("dev in default: %s", r)
		}
		if r := as("dev-token", "delete", "pod", "x", "-n", "team-a"); r.err == nil || !strings.Contains(r.stderr, "forbidden") {
			t.Errorf("dev deleting in team-a: %s", r)
		}
		if r := as("dev-token", "auth", "can-i", "list", "pods", "-n", "team-a"); strings.TrimSpace(r.stdout) != "yes" {
			t.Errorf("can-i list pods -n team-a: %s", r)
		}
		// can-i exits 1 for "no" and prints the authorizer's reason.
		if r := as("dev-token", "auth", "can-i", "list", "pods", "-n", "default"); !strings.HasPrefix(r.stdout, "no") {
			t.Errorf("can-i list pods -n default: %s", r)
		}
		// can-i --list (a SelfSubjectRulesReview) shows the role's rights where it is bound,
		// and not elsewhere.
		if r := as("dev-token", "auth", "can-i", "--list", "-n", "team-a"); r.err != nil || !podsListed(r.stdout) {
			t.Errorf("can-i --list -n team-a does not list pods with get, list and watch: %s", r)
		}
		if r := as("dev-token", "auth", "can-i", "--list", "-n", "default"); r.err != nil || podsListed(r.stdout) {
			t.Errorf("can-i --list -n default: %s", r)
		}
		if r := as("dev-token", "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}"); r.stdout != "dev" {
			t.Errorf("dev whoami: %s", r)
		}

		// Allowed to write roles and bindings in team-a, dev still grants only what dev holds.
		k("create", "role", "rbac-writer", "-n", "team-a", "--verb=create", "--resource=roles.rbac.authorization.k8s.io,rolebindings.rbac.authorization.k8s.io")
		k("create", "rolebinding", "dev-writes-rbac", "-n", "team-a", "--role=rbac-writer", "--user=dev")
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			r := as("dev-token", "create", "role", "pod-getter", "-n", "team-a", "--verb=get", "--resource=pods")
			if r.err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("dev cannot create a role of what dev holds: %s", r)
			}
		}
		if r := as("dev-token", "create", "role", "secret-getter", "-n", "team-a", "--verb=get", "--resource=secrets"); r.err == nil ||
			!strings.Contains(r.stderr, `is attempting to grant RBAC permissions not currently held`) || !strings.Contains(r.stderr, "secrets") {
			t.Errorf("dev granting secrets: %s", r)
		}
		if r := as("dev-token", "create", "rolebinding", "dev-admin", "-n", "team-a", "--clusterrole=admin", "--user=dev"); r.err == nil ||
			!strings.Contains(r.stderr, `is attempting to grant RBAC permissions not currently held`) {
			t.Errorf("dev binding admin to dev: %s", r)
		}
	})

	t.Run("node", func(t *testing.T) {
		cs := s.Clientset(t)
		ctx := context.Background()
		for _, n := range []string{"node-a", "node-b"} {
			if _, err := cs.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: n}}, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		if r := as("node-a-token", "label", "node", "node-a", "tug.test/own=yes"); r.err != nil {
			t.Errorf("node-a labelling itself: %s", r)
		}
		r := as("node-a-token", "label", "node", "node-b", "tug.test/other=yes")
		if r.err == nil || !strings.Contains(r.stderr, "forbidden") || !strings.Contains(r.stderr, `may not modify node "node-b"`) {
			t.Errorf("node-a labelling node-b: %s", r)
		}
		if r := as("node-a-token", "delete", "node", "node-b"); r.err == nil || !strings.Contains(r.stderr, "forbidden") {
			t.Errorf("node-a deleting node-b: %s", r)
		}
		if r := as("node-a-token", "get", "secrets", "-n", "default"); r.err == nil || !strings.Contains(r.stderr, "forbidden") {
			t.Errorf("node-a listing secrets: %s", r)
		}
		// NodeRestriction: a node creates only mirror pods bound to itself, and only its own
		// Node (the authorizer cannot see a create's name; the admission policy can).
		podFor := func(node string) string {
			return `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"m-` + node + `","namespace":"default","annotations":{"kubernetes.io/config.mirror":"x"}},
"spec":{"nodeName":"` + node + `","containers":[{"name":"c","image":"x"}]}}`
		}
		asIn := func(token, stdin string, args ...string) kubectlResult {
			t.Helper()
			return s.kubectlIn(t, "1.33", stdin, append([]string{"--kubeconfig", userKubeconfig(t, s, token)}, args...)...)
		}
		if r := asIn("node-a-token", podFor("node-b"), "create", "-f", "-"); r.err == nil || !strings.Contains(r.stderr, `node "node-a" can only create pods with spec.nodeName set to itself`) {
			t.Errorf("node-a creating a pod on node-b: %s", r)
		}
		if r := asIn("node-a-token", podFor("node-a"), "create", "-f", "-"); r.err != nil {
			t.Errorf("node-a creating its own mirror pod: %s", r)
		}
		if r := asIn("node-a-token", `{"apiVersion":"v1","kind":"Node","metadata":{"name":"node-c"}}`, "create", "-f", "-"); r.err == nil || !strings.Contains(r.stderr, `node "node-a" is not allowed to modify node "node-c"`) {
			t.Errorf("node-a creating node-c: %s", r)
		}
		if n, err := cs.CoreV1().Nodes().Get(ctx, "node-b", metav1.GetOptions{}); err != nil || n.Labels["tug.test/other"] != "" {
			t.Errorf("node-b changed: %v %v", n.Labels, err)
		}
	})

	t.Run("service account tokens", func(t *testing.T) {
		k("create", "serviceaccount", "robot", "-n", "team-a")
		tok := strings.TrimSpace(k("create", "token", "robot", "-n", "team-a").stdout)
		if r := as(tok, "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}"); r.stdout != "system:serviceaccount:team-a:robot" {
			t.Errorf("robot whoami: %s", r)
		}
		if r := as(tok, "get", "pods", "-n", "team-a"); r.err == nil || !strings.Contains(r.stderr, `User "system:serviceaccount:team-a:robot" cannot list`) {
			t.Errorf("robot without a role: %s", r)
		}
		// Bound to a pod: the token dies with it.
		cs := s.Clientset(t)
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "holder", Namespace: "team-a"},
			Spec: corev1.PodSpec{ServiceAccountName: "robot", Containers: []corev1.Container{{Name: "c", Image: "tug.test/none"}}}}
		if _, err := cs.CoreV1().Pods("team-a").Create(context.Background(), pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		bound := strings.TrimSpace(k("create", "token", "robot", "-n", "team-a", "--bound-object-kind", "Pod", "--bound-object-name", "holder").stdout)
		if r := as(bound, "auth", "whoami", "-o", "jsonpath={.status.userInfo.extra.authentication\\.kubernetes\\.io/pod-name}"); !strings.Contains(r.stdout, "holder") {
			t.Errorf("bound token's pod: %s", r)
		}
		k("delete", "pod", "holder", "-n", "team-a", "--grace-period=0", "--force")
		deadline := time.Now().Add(10 * time.Second)
		for {
			r := as(bound, "auth", "whoami")
			if r.err != nil && strings.Contains(r.stderr, unauthorized) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("a token bound to a deleted pod still works: %s", r)
			}
			time.Sleep(200 * time.Millisecond)
		}
		if r := as(tok, "auth", "whoami"); r.err != nil {
			t.Errorf("the unbound token stopped working: %s", r)
		}
	})

	t.Run("kubelet API", func(t *testing.T) {
		// The node agent serves HTTPS with a certificate the kubelet serving CA signed (a
		// CSR to kubernetes.io/kubelet-serving) — not the cluster CA, which clients trust
		// for the API server —, and lets through only callers the API server vouches for
		// and allows: anonymous → 401, a plain user's token → 403, the admin
		// (system:masters) → allowed.
		cs := s.Clientset(t)
		var kubelet string
		if err := poll(60*time.Second, func() (bool, error) {
			n, err := cs.CoreV1().Nodes().Get(context.Background(), "node-k", metav1.GetOptions{})
			if err != nil || n.Status.DaemonEndpoints.KubeletEndpoint.Port == 0 {
				return false, nil
			}
			kubelet = fmt.Sprintf("https://127.0.0.1:%d", n.Status.DaemonEndpoints.KubeletEndpoint.Port)
			// Verified against the kubelet serving CA: the handshake fails until the
			// certificate is issued.
			resp, err := s.kubeletClient(t, nil).Get(kubelet + "/healthz")
			if err != nil {
				return false, nil
			}
			resp.Body.Close()
			return resp.StatusCode == 200, nil
		}); err != nil {
			t.Fatalf("node-k's API does not serve HTTPS with a certificate of the kubelet serving CA: %v\n%s", err, s.output())
		}
		// A client that trusts the cluster CA, as every client of the API server does, does
		// not trust the node's certificate: a node cannot pose as the API server.
		if resp, err := s.AnonymousClient().Get(kubelet + "/healthz"); err == nil {
			resp.Body.Close()
			t.Error("the kubelet's certificate verifies against the cluster CA")
		} else if !errors.As(err, new(x509.UnknownAuthorityError)) {
			t.Errorf("a client of the cluster CA on the kubelet: %v, want an unknown authority", err)
		}
		get := func(c *http.Client, token string) int {
			t.Helper()
			req, err := http.NewRequest("GET", kubelet+"/pods", nil)
			if err != nil {
				t.Fatal(err)
			}
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp.StatusCode
		}
		anonymous := s.kubeletClient(t, nil)
		if code := get(anonymous, ""); code != 401 {
			t.Errorf("anonymous GET /pods on the kubelet = %d, want 401", code)
		}
		if code := get(anonymous, "garbage"); code != 401 {
			t.Errorf("a garbage token on the kubelet = %d, want 401", code)
		}
		if code := get(anonymous, "dev-token"); code != 403 {
			t.Errorf("dev's token on the kubelet = %d, want 403", code)
		}
		foreign := foreignClientCert(t)
		if code := get(s.kubeletClient(t, &foreign), ""); code != 401 {
			t.Errorf("a certificate of another CA on the kubelet = %d, want 401", code)
		}
		if code := get(s.kubeletClient(t, s.adminCert(t)), ""); code != 200 {
			t.Errorf("the admin on the kubelet = %d, want 200", code)
		}
	})

	t.Run("bootstrap roles", func(t *testing.T) {
		cs := s.Clientset(t)
		crb, err := cs.RbacV1().ClusterRoleBindings().Get(context.Background(), "cluster-admin", metav1.GetOptions{})
		if err != nil || len(crb.Subjects) != 1 || crb.Subjects[0] != (rbacv1.Subject{Kind: "Group", APIGroup: "rbac.authorization.k8s.io", Name: "system:masters"}) {
			t.Errorf("cluster-admin binding: %+v %v", crb, err)
		}
	})
}

// podsListed reports whether kubectl auth can-i --list printed a row for pods with get, list
// and watch.
func podsListed(out string) bool {
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == "pods" && strings.HasSuffix(strings.TrimSpace(line), "[get list watch]") {
			return true
		}
	}
	return false
}

// forgedServiceAccountToken is a token with the claims of tug's issuer, signed by a key the
// cluster never saw.
func forgedServiceAccountToken(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "forged"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tok, err := jwt.Signed(sig).Claims(jwt.Claims{Issuer: "https://kubernetes.default.svc.cluster.local", Subject: "system:serviceaccount:kube-system:default",
		Audience: jwt.Audience{"https://kubernetes.default.svc.cluster.local"}, IssuedAt: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(time.Hour))}).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// foreignClientCert is a self-signed client certificate claiming admin rights.
func foreignClientCert(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "tug:admin", Organization: []string{"system:masters"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}
