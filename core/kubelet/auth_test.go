package kubelet

import (
	"crypto/tls"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/tugboat-io/tug/core/auth/authn"
	"github.com/tugboat-io/tug/core/auth/pki"
	"github.com/tugboat-io/tug/core/auth/user"
)

// reviewingClient answers TokenReviews (token "dev-token" is dev, "sa-token" a service
// account, anything else invalid) and SubjectAccessReviews (the API server's kubelet client
// may do anything to nodes/proxy; "sa" may get nodes/pods; no one else anything), and records
// the attributes asked about.
func reviewingClient(asked *[]authorizationv1.ResourceAttributes) *fake.Clientset {
	c := fake.NewSimpleClientset()
	c.PrependReactor("create", "tokenreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		tr := a.(k8stesting.CreateAction).GetObject().(*authenticationv1.TokenReview)
		switch tr.Spec.Token {
		case "dev-token":
			tr.Status = authenticationv1.TokenReviewStatus{Authenticated: true, User: authenticationv1.UserInfo{Username: "dev", Groups: []string{user.AllAuthenticated}}}
		case "sa-token":
			tr.Status = authenticationv1.TokenReviewStatus{Authenticated: true, User: authenticationv1.UserInfo{Username: "sa", Groups: []string{user.AllAuthenticated}}}
		case "monitor-token":
			tr.Status = authenticationv1.TokenReviewStatus{Authenticated: true, User: authenticationv1.UserInfo{Username: "monitor", Groups: []string{user.AllAuthenticated}}}
		default:
			tr.Status = authenticationv1.TokenReviewStatus{Error: "invalid bearer token"}
		}
		return true, tr, nil
	})
	c.PrependReactor("create", "subjectaccessreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		sar := a.(k8stesting.CreateAction).GetObject().(*authorizationv1.SubjectAccessReview)
		ra := *sar.Spec.ResourceAttributes
		*asked = append(*asked, ra)
		ok := ra.Resource == "nodes" && ra.Name == "n1" && ra.Group == "" &&
			((sar.Spec.User == user.APIServerKubeletClient && ra.Subresource == "proxy") || (sar.Spec.User == "sa" && ra.Subresource == "pods" && ra.Verb == "get") ||
				(sar.Spec.User == "monitor" && ra.Subresource == "proxy" && ra.Verb == "get"))
		sar.Status = authorizationv1.SubjectAccessReviewStatus{Allowed: ok, Reason: "test policy"}
		return true, sar, nil
	})
	return c
}

// TestAuthFilter serves the kubelet API's filter over TLS as the agent does and checks who
// gets through.
func TestAuthFilter(t *testing.T) {
	ca, err := pki.NewCA(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	other, err := pki.NewCA(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	serving, err := ca.IssueServing(pki.ServingNames{})
	if err != nil {
		t.Fatal(err)
	}
	var asked []authorizationv1.ResourceAttributes
	client := reviewingClient(&asked)
	a := &Agent{cfg: Config{NodeName: "n1"}, log: slog.New(slog.DiscardHandler), client: client}
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "through") })
	srv := httptest.NewUnstartedServer(a.authFilter(authn.Union(&authn.X509{Roots: ca.Pool()}, authn.Bearer(tokenReviewer{client})), accessReviewer{client}, ok))
	cert, err := serving.TLSCertificate()
	if err != nil {
		t.Fatal(err)
	}
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, ClientAuth: tls.RequestClientCert, MinVersion: tls.VersionTLS12}
	srv.StartTLS()
	defer srv.Close()

	clientWith := func(issuer *pki.CA, name string) *http.Client {
		cfg := &tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12}
		if issuer != nil {
			kp, err := issuer.IssueClient(name, nil)
			if err != nil {
				t.Fatal(err)
			}
			c, err := kp.TLSCertificate()
			if err != nil {
				t.Fatal(err)
			}
			cfg.Certificates = []tls.Certificate{c}
		}
		return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}
	}
	anon := clientWith(nil, "")
	apiserver := clientWith(ca, user.APIServerKubeletClient)
	const logs = "/containerLogs/default/web/app"
	for _, tt := range []struct {
		name   string
		client *http.Client
		method string
		path   string
		token  string
		want   int
		attrs  string // subresources asked about, in order
	}{
		{"health without credentials", anon, "GET", "/healthz", "", 200, ""},
		{"no credentials", anon, "GET", logs, "", 401, ""},
		{"a certificate of another CA", clientWith(other, user.APIServerKubeletClient), "GET", logs, "", 401, ""},
		{"a bad token", anon, "GET", logs, "garbage", 401, ""},
		{"a user without nodes/proxy", anon, "GET", logs, "dev-token", 403, "get proxy"},
		{"a user without nodes/proxy, certificate", clientWith(ca, "dev"), "GET", logs, "", 403, "get proxy"},
		{"the API server's client reads logs", apiserver, "GET", logs, "", 200, "get proxy"},
		{"the API server's client execs (websocket)", apiserver, "GET", "/exec/default/web/app?command=ls", "", 200, "create proxy"},
		{"get on nodes/proxy reads logs", anon, "GET", logs, "monitor-token", 200, "get proxy"},
		{"get on nodes/proxy is not exec", anon, "GET", "/exec/default/web/app?command=ls", "monitor-token", 403, "create proxy"},
		{"the API server's client execs (SPDY)", apiserver, "POST", "/exec/default/web/app?command=ls", "", 200, "create proxy"},
		{"nodes/pods reads pods", anon, "GET", "/pods", "sa-token", 200, "get pods"},
		{"nodes/pods is not nodes/proxy", anon, "GET", logs, "sa-token", 403, "get proxy"},
		{"pods falls back to nodes/proxy", apiserver, "GET", "/pods", "", 200, "get pods,get proxy"},
		{"stats is nodes/stats", apiserver, "GET", "/stats/summary", "", 403, "get stats"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			asked = nil
			req, err := http.NewRequest(tt.method, srv.URL+tt.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tt.token != "" {
				req.Header.Set("Authorization", "Bearer "+tt.token)
			}
			resp, err := tt.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Fatalf("%s %s = %d %s, want %d", tt.method, tt.path, resp.StatusCode, body, tt.want)
			}
			var got []string
			for _, at := range asked {
				if at.Resource != "nodes" || at.Name != "n1" || at.Version != "v1" {
					t.Errorf("asked about %+v, want node n1", at)
				}
				got = append(got, at.Verb+" "+at.Subresource)
			}
			if strings.Join(got, ",") != tt.attrs {
				t.Errorf("asked about %q, want %q", strings.Join(got, ","), tt.attrs)
			}
			if tt.want == 200 && string(body) != "through" && tt.path != "/healthz" {
				t.Errorf("body %q", body)
			}
			if tt.want == 403 && !strings.Contains(string(body), "Forbidden (user=") {
				t.Errorf("403 body %q does not say who was refused what", body)
			}
		})
	}
}
