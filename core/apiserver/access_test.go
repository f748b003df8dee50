package apiserver_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/tugboat-io/tug/core/apiserver"
	"github.com/tugboat-io/tug/core/apiserver/apiservertest"
	"github.com/tugboat-io/tug/core/auth/authn"
	"github.com/tugboat-io/tug/core/auth/pki"
)

// tokens authenticates "Bearer alice" as alice; any other token is invalid.
type tokens struct{}

func (tokens) Authenticate(r *http.Request) (*apiserver.UserInfo, bool, error) {
	tok, ok := authn.BearerToken(r)
	switch {
	case !ok:
		return nil, false, nil
	case tok == "alice":
		return &apiserver.UserInfo{Name: "alice", Groups: []string{"system:authenticated"}}, true, nil
	case tok == "delegator":
		return &apiserver.UserInfo{Name: "delegator", UID: "u-1", Groups: []string{"system:authenticated"}, Extra: map[string][]string{"k": {"v"}}}, true, nil
	}
	return nil, false, errors.New("invalid token")
}

// aliceInA lets alice read pods in namespace a and /version, nothing else.
type aliceInA struct{}

func (aliceInA) Authorize(_ context.Context, a apiserver.Attributes) (bool, string, error) {
	if a.User == nil || a.User.Name != "alice" {
		return false, "not alice", nil
	}
	if !a.ResourceRequest {
		return a.Path == "/version", "only /version", nil
	}
	if a.Resource == "pods" && a.Namespace == "a" && (a.Verb == "get" || a.Verb == "list") {
		return true, "", nil
	}
	return false, "alice may only read pods in a", nil
}

func do(t *testing.T, c *http.Client, method, url, token string, body any) (int, []byte) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

func TestAuthenticationAndAuthorization(t *testing.T) {
	srv := apiservertest.Start(t, apiserver.Config{Authn: tokens{}, Authz: aliceInA{}})
	c := http.DefaultClient
	for _, tt := range []struct {
		name, method, path, token string
		want                      int
		reason                    metav1.StatusReason
	}{
		{"health needs no credentials", "GET", "/healthz", "", 200, ""},
		{"readyz needs no credentials", "GET", "/readyz", "", 200, ""},
		{"no token", "GET", "/api/v1/namespaces/a/pods", "", 401, metav1.StatusReasonUnauthorized},
		{"garbage token", "GET", "/api/v1/namespaces/a/pods", "garbage", 401, metav1.StatusReasonUnauthorized},
		{"discovery without token", "GET", "/api", "", 401, metav1.StatusReasonUnauthorized},
		{"metrics without token", "GET", "/metrics", "", 401, metav1.StatusReasonUnauthorized},
		{"allowed", "GET", "/api/v1/namespaces/a/pods", "alice", 200, ""},
		{"another namespace", "GET", "/api/v1/namespaces/b/pods", "alice", 403, metav1.StatusReasonForbidden},
		{"another verb", "DELETE", "/api/v1/namespaces/a/pods/x", "alice", 403, metav1.StatusReasonForbidden},
		{"non-resource allowed", "GET", "/version", "alice", 200, ""},
		{"non-resource denied", "GET", "/openapi/v2", "alice", 403, metav1.StatusReasonForbidden},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, body := do(t, c, tt.method, srv.URL+tt.path, tt.token, nil)
			if code != tt.want {
				t.Fatalf("%s %s = %d, want %d: %s", tt.method, tt.path, code, tt.want, body)
			}
			if tt.reason == "" {
				return
			}
			var st metav1.Status
			if err := json.Unmarshal(body, &st); err != nil || st.Reason != tt.reason {
				t.Fatalf("status %s (%v), want reason %s", body, err, tt.reason)
			}
			if tt.want == 403 && !strings.Contains(st.Message, "alice may only read pods in a") && !strings.Contains(st.Message, "only /version") {
				t.Errorf("403 message %q does not carry the authorizer's reason", st.Message)
			}
		})
	}
}

func TestSelfReviews(t *testing.T) {
	srv := apiservertest.Start(t, apiserver.Config{Authn: tokens{}, Authz: allowReviews{aliceInA{}}})
	c := http.DefaultClient
	ask := func(ns string) authorizationv1.SelfSubjectAccessReview {
		code, body := do(t, c, "POST", srv.URL+"/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", "alice",
			authorizationv1.SelfSubjectAccessReview{TypeMeta: metav1.TypeMeta{APIVersion: "authorization.k8s.io/v1", Kind: "SelfSubjectAccessReview"},
				Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: ns, Verb: "list", Resource: "pods"}}})
		if code != 201 {
			t.Fatalf("SelfSubjectAccessReview = %d: %s", code, body)
		}
		var r authorizationv1.SelfSubjectAccessReview
		if err := json.Unmarshal(body, &r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	if r := ask("a"); !r.Status.Allowed {
		t.Errorf("alice may not list pods in a: %+v", r.Status)
	}
	if r := ask("b"); r.Status.Allowed || !strings.Contains(r.Status.Reason, "alice may only read pods in a") {
		t.Errorf("alice in b: %+v, want denied with the reason", r.Status)
	}
	code, body := do(t, c, "POST", srv.URL+"/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", "alice",
		authorizationv1.SelfSubjectAccessReview{TypeMeta: metav1.TypeMeta{APIVersion: "authorization.k8s.io/v1", Kind: "SelfSubjectAccessReview"}})
	if code != 422 {
		t.Errorf("a review without attributes = %d, want 422: %s", code, body)
	}
	code, body = do(t, c, "POST", srv.URL+"/apis/authentication.k8s.io/v1/selfsubjectreviews", "alice",
		authenticationv1.SelfSubjectReview{TypeMeta: metav1.TypeMeta{APIVersion: "authentication.k8s.io/v1", Kind: "SelfSubjectReview"}})
	var who authenticationv1.SelfSubjectReview
	if code != 201 || json.Unmarshal(body, &who) != nil || who.Status.UserInfo.Username != "alice" {
		t.Errorf("SelfSubjectReview = %d %s, want alice", code, body)
	}
	if code, _ := do(t, c, "POST", srv.URL+"/apis/authentication.k8s.io/v1/selfsubjectreviews", "", nil); code != 401 {
		t.Errorf("SelfSubjectReview without a token = %d, want 401", code)
	}
}

// aliceRules lists alice's rules in a, the ones aliceInA follows.
type aliceRules struct{}

func (aliceRules) RulesFor(_ context.Context, u *apiserver.UserInfo, ns string) (authorizationv1.SubjectRulesReviewStatus, error) {
	st := authorizationv1.SubjectRulesReviewStatus{ResourceRules: []authorizationv1.ResourceRule{},
		NonResourceRules: []authorizationv1.NonResourceRule{{Verbs: []string{"get"}, NonResourceURLs: []string{"/version"}}}}
	if u.Name == "alice" && ns == "a" {
		st.ResourceRules = append(st.ResourceRules, authorizationv1.ResourceRule{Verbs: []string{"get", "list"}, APIGroups: []string{""}, Resources: []string{"pods"}})
	}
	return st, nil
}

// SelfSubjectRulesReview answers from the configured rule lister for the requesting user, and
// refuses a review without a namespace, naming the field.
func TestSelfSubjectRulesReview(t *testing.T) {
	srv := apiservertest.Start(t, apiserver.Config{Authn: tokens{}, Authz: allowReviews{aliceInA{}}, Rules: aliceRules{}})
	review := func(ns string) (int, []byte) {
		return do(t, http.DefaultClient, "POST", srv.URL+"/apis/authorization.k8s.io/v1/selfsubjectrulesreviews", "alice",
			authorizationv1.SelfSubjectRulesReview{TypeMeta: metav1.TypeMeta{APIVersion: "authorization.k8s.io/v1", Kind: "SelfSubjectRulesReview"},
				Spec: authorizationv1.SelfSubjectRulesReviewSpec{Namespace: ns}})
	}
	code, body := review("a")
	var r authorizationv1.SelfSubjectRulesReview
	if code != 201 || json.Unmarshal(body, &r) != nil {
		t.Fatalf("SelfSubjectRulesReview = %d: %s", code, body)
	}
	if len(r.Status.ResourceRules) != 1 || r.Status.ResourceRules[0].Resources[0] != "pods" || len(r.Status.NonResourceRules) != 1 || r.Status.Incomplete {
		t.Errorf("alice's rules in a = %+v", r.Status)
	}
	code, body = review("")
	var st metav1.Status
	if code != 422 || json.Unmarshal(body, &st) != nil || st.Details == nil || len(st.Details.Causes) != 1 || st.Details.Causes[0].Field != "spec.namespace" {
		t.Errorf("a review without a namespace = %d %s, want 422 naming spec.namespace", code, body)
	}
	// Without a rule lister (no RBAC), the answer is an empty list marked incomplete.
	bare := apiservertest.Start(t, apiserver.Config{Authn: tokens{}, Authz: allowReviews{aliceInA{}}})
	code, body = do(t, http.DefaultClient, "POST", bare.URL+"/apis/authorization.k8s.io/v1/selfsubjectrulesreviews", "alice",
		authorizationv1.SelfSubjectRulesReview{TypeMeta: metav1.TypeMeta{APIVersion: "authorization.k8s.io/v1", Kind: "SelfSubjectRulesReview"},
			Spec: authorizationv1.SelfSubjectRulesReviewSpec{Namespace: "a"}})
	r = authorizationv1.SelfSubjectRulesReview{}
	if code != 201 || json.Unmarshal(body, &r) != nil || !r.Status.Incomplete || len(r.Status.ResourceRules) != 0 {
		t.Errorf("without a rule lister = %d %s, want an empty, incomplete list", code, body)
	}
}

// allowReviews lets everyone create the self reviews, as kube's system:basic-user does.
type allowReviews struct{ apiserver.Authorizer }

func (a allowReviews) Authorize(ctx context.Context, at apiserver.Attributes) (bool, string, error) {
	if at.Verb == "create" && (at.Resource == "selfsubjectaccessreviews" || at.Resource == "selfsubjectreviews" || at.Resource == "selfsubjectrulesreviews") {
		return true, "", nil
	}
	return a.Authorizer.Authorize(ctx, at)
}

// delegates lets "delegator" do anything with token and access reviews (more than
// system:auth-delegator's create, so the server's own refusal of other verbs shows); the rest
// is aliceInA.
type delegates struct{ aliceInA }

func (a delegates) Authorize(ctx context.Context, at apiserver.Attributes) (bool, string, error) {
	if at.User != nil && at.User.Name == "delegator" && (at.Resource == "tokenreviews" || at.Resource == "subjectaccessreviews") {
		return true, "", nil
	}
	return a.aliceInA.Authorize(ctx, at)
}

func TestSubjectAccessReview(t *testing.T) {
	srv := apiservertest.Start(t, apiserver.Config{Authn: tokens{}, Authz: delegates{}})
	const path = "/apis/authorization.k8s.io/v1/subjectaccessreviews"
	sar := func(spec authorizationv1.SubjectAccessReviewSpec) authorizationv1.SubjectAccessReview {
		return authorizationv1.SubjectAccessReview{TypeMeta: metav1.TypeMeta{APIVersion: "authorization.k8s.io/v1", Kind: "SubjectAccessReview"}, Spec: spec}
	}
	podsIn := func(ns string) *authorizationv1.ResourceAttributes {
		return &authorizationv1.ResourceAttributes{Namespace: ns, Verb: "list", Resource: "pods"}
	}
	for _, tt := range []struct {
		name, token string
		review      authorizationv1.SubjectAccessReview
		code        int
		allowed     bool
		reason      string // in the status's reason, or the error's message
	}{
		{"allowed", "delegator", sar(authorizationv1.SubjectAccessReviewSpec{User: "alice", ResourceAttributes: podsIn("a")}), 201, true, ""},
		{"denied with the reason", "delegator", sar(authorizationv1.SubjectAccessReviewSpec{User: "alice", ResourceAttributes: podsIn("b")}), 201, false, "alice may only read pods in a"},
		{"non-resource", "delegator", sar(authorizationv1.SubjectAccessReviewSpec{User: "alice", NonResourceAttributes: &authorizationv1.NonResourceAttributes{Verb: "get", Path: "/version"}}), 201, true, ""},
		{"the reviewer's rights do not count", "delegator", sar(authorizationv1.SubjectAccessReviewSpec{User: "bob", ResourceAttributes: podsIn("a")}), 201, false, "not alice"},
		{"no user or group", "delegator", sar(authorizationv1.SubjectAccessReviewSpec{ResourceAttributes: podsIn("a")}), 422, false, "spec.user"},
		{"no attributes", "delegator", sar(authorizationv1.SubjectAccessReviewSpec{User: "alice"}), 422, false, "exactly one of nonResourceAttributes or resourceAttributes"},
		{"both attributes", "delegator", sar(authorizationv1.SubjectAccessReviewSpec{User: "alice", ResourceAttributes: podsIn("a"), NonResourceAttributes: &authorizationv1.NonResourceAttributes{Verb: "get", Path: "/"}}), 422, false, "exactly one"},
		{"metadata", "delegator", func() authorizationv1.SubjectAccessReview {
			r := sar(authorizationv1.SubjectAccessReviewSpec{User: "alice", ResourceAttributes: podsIn("a")})
			r.Name = "x"
			return r
		}(), 422, false, "metadata"},
		{"a user without the right", "alice", sar(authorizationv1.SubjectAccessReviewSpec{User: "alice", ResourceAttributes: podsIn("a")}), 403, false, "subjectaccessreviews"},
		{"no credentials", "", sar(authorizationv1.SubjectAccessReviewSpec{User: "alice", ResourceAttributes: podsIn("a")}), 401, false, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			body, ok := createReview(t, srv.URL+path, tt.token, tt.review, tt.code, tt.reason)
			if !ok {
				return
			}
			var r authorizationv1.SubjectAccessReview
			if err := json.Unmarshal(body, &r); err != nil {
				t.Fatal(err)
			}
			if r.Status.Allowed != tt.allowed || !strings.Contains(r.Status.Reason, tt.reason) {
				t.Fatalf("status %+v, want allowed=%v with %q", r.Status, tt.allowed, tt.reason)
			}
		})
	}
	if code, body := do(t, http.DefaultClient, "GET", srv.URL+path, "delegator", nil); code != 405 {
		t.Errorf("list subjectaccessreviews = %d, want 405: %s", code, body)
	}
}

// createReview posts a review and checks the answer's code; for 201 it returns the body and
// true, else it checks the answer is a Status whose message contains msg.
func createReview(t *testing.T, url, token string, review any, code int, msg string) ([]byte, bool) {
	t.Helper()
	got, body := do(t, http.DefaultClient, "POST", url, token, review)
	if got != code {
		t.Fatalf("= %d, want %d: %s", got, code, body)
	}
	if code == 201 {
		return body, true
	}
	var st metav1.Status
	if err := json.Unmarshal(body, &st); err != nil || st.Kind != "Status" || !strings.Contains(st.Message, msg) {
		t.Fatalf("want a Status naming %q: %s", msg, body)
	}
	return nil, false
}

func TestTokenReview(t *testing.T) {
	const api = "https://kubernetes.default.svc.cluster.local"
	srv := apiservertest.Start(t, apiserver.Config{Authn: tokens{}, Authz: delegates{}, APIAudiences: []string{api}})
	const path = "/apis/authentication.k8s.io/v1/tokenreviews"
	review := func(token string, audiences ...string) authenticationv1.TokenReview {
		return authenticationv1.TokenReview{TypeMeta: metav1.TypeMeta{APIVersion: "authentication.k8s.io/v1", Kind: "TokenReview"},
			Spec: authenticationv1.TokenReviewSpec{Token: token, Audiences: audiences}}
	}
	for _, tt := range []struct {
		name, token string
		review      authenticationv1.TokenReview
		code        int
		user        string
		audiences   []string
		err         string // in status.error, or the Status error's message
	}{
		{"a good token", "delegator", review("alice"), 201, "alice", []string{api}, ""},
		{"the API's audience", "delegator", review("alice", "other", api), 201, "alice", []string{api}, ""},
		{"another audience", "delegator", review("alice", "vault"), 201, "", nil, "invalid for the target audiences"},
		{"a bad token", "delegator", review("garbage"), 201, "", nil, "invalid token"},
		{"no token", "delegator", review(""), 422, "", nil, "spec.token"},
		{"a user without the right", "alice", review("alice"), 403, "", nil, "tokenreviews"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			body, ok := createReview(t, srv.URL+path, tt.token, tt.review, tt.code, tt.err)
			if !ok {
				return
			}
			var r authenticationv1.TokenReview
			if err := json.Unmarshal(body, &r); err != nil {
				t.Fatal(err)
			}
			if r.Status.Authenticated != (tt.user != "") || r.Status.User.Username != tt.user || !strings.Contains(r.Status.Error, tt.err) ||
				strings.Join(r.Status.Audiences, ",") != strings.Join(tt.audiences, ",") {
				t.Fatalf("status %+v, want user %q audiences %v error %q", r.Status, tt.user, tt.audiences, tt.err)
			}
		})
	}
	// The user comes back whole: uid, groups, extra.
	_, body := do(t, http.DefaultClient, "POST", srv.URL+path, "delegator", review("delegator"))
	var r authenticationv1.TokenReview
	if err := json.Unmarshal(body, &r); err != nil || r.Status.User.UID != "u-1" || len(r.Status.User.Groups) == 0 || r.Status.User.Extra["k"][0] != "v" {
		t.Errorf("reviewed user %+v (%v)", r.Status.User, err)
	}
}

// TestTLSClientCertificates serves HTTPS with a CA's serving certificate and authenticates
// client certificates of that CA only.
func TestTLSClientCertificates(t *testing.T) {
	now := time.Now()
	ca, err := pki.NewCA(now)
	if err != nil {
		t.Fatal(err)
	}
	serving, err := ca.IssueServing(pki.ServingNames{})
	if err != nil {
		t.Fatal(err)
	}
	cert, err := serving.TLSCertificate()
	if err != nil {
		t.Fatal(err)
	}
	srv := apiservertest.Start(t, apiserver.Config{
		TLS:   &tls.Config{Certificates: []tls.Certificate{cert}, ClientAuth: tls.RequestClientCert, MinVersion: tls.VersionTLS12},
		Authn: &authn.X509{Roots: ca.Pool()},
		Authz: allowReviews{aliceInA{}},
	})
	client := func(kp *pki.KeyPair) *http.Client {
		cfg := &tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12}
		if kp != nil {
			c, err := kp.TLSCertificate()
			if err != nil {
				t.Fatal(err)
			}
			cfg.Certificates = []tls.Certificate{c}
		}
		return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: true}}
	}
	alice, err := ca.IssueClient("alice", nil)
	if err != nil {
		t.Fatal(err)
	}
	other, err := pki.NewCA(now)
	if err != nil {
		t.Fatal(err)
	}
	forged, err := other.IssueClient("alice", []string{"system:masters"})
	if err != nil {
		t.Fatal(err)
	}
	if code, body := do(t, client(alice), "GET", srv.URL+"/api/v1/namespaces/a/pods", "", nil); code != 200 {
		t.Errorf("alice's certificate = %d: %s", code, body)
	}
	if code, _ := do(t, client(nil), "GET", srv.URL+"/api/v1/namespaces/a/pods", "", nil); code != 401 {
		t.Errorf("no certificate = %d, want 401", code)
	}
	if code, _ := do(t, client(forged), "GET", srv.URL+"/api/v1/namespaces/a/pods", "", nil); code != 401 {
		t.Errorf("a certificate of another CA = %d, want 401", code)
	}
	if code, _ := do(t, client(nil), "GET", srv.URL+"/healthz", "", nil); code != 200 {
		t.Errorf("health over TLS without a certificate = %d, want 200", code)
	}
	// A client that does not trust the CA fails the handshake rather than talking to it.
	if _, err := (&http.Client{}).Get(srv.URL + "/healthz"); err == nil {
		t.Error("a client without the CA reached the server")
	}
}

// TestTokenRequest issues service account tokens through serviceaccounts/token, as kubectl
// create token and kubelets ask for them, and refuses what kube refuses.
func TestTokenRequest(t *testing.T) {
	key, err := pki.NewSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	signer, err := authn.NewSigner(key, "https://issuer.test", []string{"https://issuer.test"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := apiservertest.Start(t, apiserver.Config{TokenIssuer: signer})
	cs, err := kubernetes.NewForConfig(&rest.Config{Host: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	sa, err := cs.CoreV1().ServiceAccounts("default").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "robot"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pod, err := cs.CoreV1().Pods("default").Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"},
		Spec: corev1.PodSpec{ServiceAccountName: "robot", Containers: []corev1.Container{{Name: "c", Image: "x"}}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	other, err := cs.CoreV1().Pods("default").Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "q"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "x"}}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	seconds := int64(1800)
	tr, err := cs.CoreV1().ServiceAccounts("default").CreateToken(ctx, "robot", &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
		ExpirationSeconds: &seconds, BoundObjectRef: &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: "p", UID: pod.UID}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Until(tr.Status.ExpirationTimestamp.Time); d < 29*time.Minute || d > 31*time.Minute {
		t.Errorf("expires in %s, want 30m", d)
	}
	// The token names the account and the pod, under the signer's issuer.
	getter := fakeGetter{sa: sa, pod: pod}
	v, err := authn.NewServiceAccountVerifier("https://issuer.test", []string{"https://issuer.test"}, []*ecdsa.PublicKey{&key.PublicKey}, getter, nil)
	if err != nil {
		t.Fatal(err)
	}
	u, ok, err := v.AuthenticateToken(ctx, tr.Status.Token)
	if err != nil || !ok || u.Name != "system:serviceaccount:default:robot" || u.Extra["authentication.kubernetes.io/pod-name"][0] != "p" {
		t.Fatalf("token authenticates as %+v, %v, %v", u, ok, err)
	}
	for _, tt := range []struct {
		name string
		spec authenticationv1.TokenRequestSpec
		code int32
	}{
		{"too short", authenticationv1.TokenRequestSpec{ExpirationSeconds: func() *int64 { s := int64(60); return &s }()}, 422},
		{"missing pod", authenticationv1.TokenRequestSpec{BoundObjectRef: &authenticationv1.BoundObjectReference{Kind: "Pod", Name: "nope"}}, 422},
		{"pod uid differs", authenticationv1.TokenRequestSpec{BoundObjectRef: &authenticationv1.BoundObjectReference{Kind: "Pod", Name: "p", UID: "other"}}, 422},
		{"pod of another account", authenticationv1.TokenRequestSpec{BoundObjectRef: &authenticationv1.BoundObjectReference{Kind: "Pod", Name: other.Name}}, 400},
		{"unsupported kind", authenticationv1.TokenRequestSpec{BoundObjectRef: &authenticationv1.BoundObjectReference{Kind: "ConfigMap", Name: "x"}}, 422},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := cs.CoreV1().ServiceAccounts("default").CreateToken(ctx, "robot", &authenticationv1.TokenRequest{Spec: tt.spec}, metav1.CreateOptions{})
			if code := apierrors.ReasonForError(err); err == nil || apiStatusCode(err) != tt.code {
				t.Fatalf("err %v (%s), want code %d", err, code, tt.code)
			}
		})
	}
	if _, err := cs.CoreV1().ServiceAccounts("default").CreateToken(ctx, "ghost", &authenticationv1.TokenRequest{}, metav1.CreateOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("token for a missing account: %v, want NotFound", err)
	}
}

func apiStatusCode(err error) int32 {
	var st apierrors.APIStatus
	if errors.As(err, &st) {
		return st.Status().Code
	}
	return 0
}

type fakeGetter struct {
	sa  *corev1.ServiceAccount
	pod *corev1.Pod
}

func (g fakeGetter) GetServiceAccount(_ context.Context, ns, name string) (*corev1.ServiceAccount, error) {
	if g.sa.Namespace == ns && g.sa.Name == name {
		return g.sa, nil
	}
	return nil, nil
}

func (g fakeGetter) GetPod(_ context.Context, ns, name string) (*corev1.Pod, error) {
	if g.pod.Namespace == ns && g.pod.Name == name {
		return g.pod, nil
	}
	return nil, nil
}

func (fakeGetter) GetNode(context.Context, string) (*corev1.Node, error) { return nil, nil }

// A review is created, never read or listed.
func TestReviewOtherVerbs(t *testing.T) {
	srv := apiservertest.Start(t, apiserver.Config{Authn: tokens{}, Authz: allowAll{}})
	for _, m := range []string{"GET", "PUT", "DELETE"} {
		if code, body := do(t, http.DefaultClient, m, srv.URL+"/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", "alice", nil); code != http.StatusMethodNotAllowed {
			t.Errorf("%s selfsubjectaccessreviews = %d, want 405: %s", m, code, body)
		}
	}
}

type allowAll struct{}

func (allowAll) Authorize(context.Context, apiserver.Attributes) (bool, string, error) {
	return true, "", nil
}

// cmdlineOnly lets alice get /debug/pprof/cmdline, nothing else.
type cmdlineOnly struct{}

func (cmdlineOnly) Authorize(_ context.Context, a apiserver.Attributes) (bool, string, error) {
	return a.User != nil && a.User.Name == "alice" && a.Path == "/debug/pprof/cmdline", "only cmdline", nil
}

// Profiles are served only to callers the authorizer lets get /debug/pprof/…, and not at all
// when profiling is off.
func TestProfilingIsAuthorized(t *testing.T) {
	on := apiservertest.Start(t, apiserver.Config{Authn: tokens{}, Authz: cmdlineOnly{}, Profiling: true})
	if code, body := do(t, http.DefaultClient, "GET", on.URL+"/debug/pprof/cmdline", "alice", nil); code != 200 || len(body) == 0 {
		t.Errorf("alice's cmdline = %d: %q", code, body)
	}
	if code, _ := do(t, http.DefaultClient, "GET", on.URL+"/debug/pprof/goroutine", "alice", nil); code != 403 {
		t.Errorf("alice's goroutine profile = %d, want 403", code)
	}
	if code, _ := do(t, http.DefaultClient, "GET", on.URL+"/debug/pprof/cmdline", "", nil); code != 401 {
		t.Errorf("anonymous cmdline = %d, want 401", code)
	}
	off := apiservertest.Start(t, apiserver.Config{Authn: tokens{}, Authz: cmdlineOnly{}})
	if code, _ := do(t, http.DefaultClient, "GET", off.URL+"/debug/pprof/cmdline", "alice", nil); code != 404 {
		t.Errorf("cmdline with profiling off = %d, want 404", code)
	}
}

// Guard asks of a handler beside the API what the API asks: credentials (401), the
// authorizer's yes (403), and lets open paths through untouched.
func TestGuard(t *testing.T) {
	srv := apiservertest.Start(t, apiserver.Config{Authn: tokens{}, Authz: aliceInA{}})
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
	h := srv.API.Guard(ok, func(r *http.Request) (apiserver.Attributes, bool, error) {
		if r.URL.Path == "/open" {
			return apiserver.Attributes{}, false, nil
		}
		ns := strings.TrimPrefix(r.URL.Path, "/pods/")
		return apiserver.Attributes{Verb: "get", Resource: "pods", Namespace: ns, Name: "x", ResourceRequest: true}, true, nil
	})
	g := httptest.NewServer(h)
	defer g.Close()
	for _, tt := range []struct {
		path, token string
		want        int
	}{
		{"/open", "", 200},
		{"/pods/a", "", 401},
		{"/pods/a", "garbage", 401},
		{"/pods/a", "alice", 200},
		{"/pods/b", "alice", 403},
	} {
		code, body := do(t, http.DefaultClient, "GET", g.URL+tt.path, tt.token, nil)
		if code != tt.want {
			t.Errorf("GET %s with %q = %d, want %d: %s", tt.path, tt.token, code, tt.want, body)
		}
		if tt.want == 403 && !strings.Contains(string(body), "alice may only read pods in a") {
			t.Errorf("403 without the authorizer's reason: %s", body)
		}
	}
}
