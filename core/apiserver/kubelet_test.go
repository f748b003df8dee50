package apiserver

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/tugboat-io/tug/core/auth/pki"
)

// TestKubeletClientChecksTheNode: the server reaches an agent only when its certificate chains
// to the cluster CA and is the certificate of the node the request is for, and presents its
// own client certificate.
func TestKubeletClientChecksTheNode(t *testing.T) {
	ca, err := pki.NewCA(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	other, err := pki.NewCA(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	nodeCert := func(issuer *pki.CA, cn string) tls.Certificate {
		csr, key, err := pki.NewServingCSR(pkix.Name{CommonName: cn, Organization: []string{"system:nodes"}}, nil, []net.IP{net.ParseIP("127.0.0.1")})
		if err != nil {
			t.Fatal(err)
		}
		req, err := pki.ParseCSR(csr)
		if err != nil {
			t.Fatal(err)
		}
		certPEM, err := issuer.SignCSR(req, x509.ExtKeyUsageServerAuth)
		if err != nil {
			t.Fatal(err)
		}
		keyPEM, err := pki.EncodeKey(key)
		if err != nil {
			t.Fatal(err)
		}
		c, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	serve := func(cert tls.Certificate) *httptest.Server {
		srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if len(r.TLS.PeerCertificates) == 0 || r.TLS.PeerCertificates[0].Subject.CommonName != "kube-apiserver-kubelet-client" {
				http.Error(w, "no client certificate", http.StatusUnauthorized)
			}
		}))
		srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, ClientAuth: tls.RequestClientCert, MinVersion: tls.VersionTLS12}
		srv.StartTLS()
		t.Cleanup(srv.Close)
		return srv
	}
	kp, err := ca.IssueClient("kube-apiserver-kubelet-client", nil)
	if err != nil {
		t.Fatal(err)
	}
	clientCert, err := kp.TLSCertificate()
	if err != nil {
		t.Fatal(err)
	}
	client := newKubeletClient(&tls.Config{RootCAs: ca.Pool(), Certificates: []tls.Certificate{clientCert}, MinVersion: tls.VersionTLS12})
	n1 := serve(nodeCert(ca, "system:node:n1"))
	foreign := serve(nodeCert(other, "system:node:n1"))
	for _, tt := range []struct {
		name, url, node string
		ok              bool
	}{
		{"the node's agent", n1.URL, "n1", true},
		{"another node's agent at the address", n1.URL, "n2", false},
		{"a certificate of another CA", foreign.URL, "n1", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			u, _ := url.Parse(tt.url)
			req, err := kubeletRequest(t.Context(), http.MethodGet, u, tt.node)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := client.Do(req)
			if (err == nil) != tt.ok {
				t.Fatalf("err = %v, want ok=%v", err, tt.ok)
			}
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode != 200 {
					t.Errorf("status %d: the client certificate was not presented", resp.StatusCode)
				}
			}
		})
	}
}
