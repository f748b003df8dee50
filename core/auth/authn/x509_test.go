package authn

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tugboat-io/tug/core/auth/pki"
	"github.com/tugboat-io/tug/core/auth/user"
)

// selfSigned makes a client certificate signed by its own key: the forgery a client without
// the CA key could make.
func selfSigned(t *testing.T, cn string, groups ...string) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7),
		Subject:      pkix.Name{CommonName: cn, Organization: groups},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		IsCA:         true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestX509(t *testing.T) {
	ca, err := pki.NewCA(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	other, err := pki.NewCA(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	issue := func(ca *pki.CA, cn string, groups ...string) *x509.Certificate {
		kp, err := ca.IssueClient(cn, groups)
		if err != nil {
			t.Fatal(err)
		}
		return kp.Cert
	}
	serving, err := ca.IssueServing(pki.ServingNames{})
	if err != nil {
		t.Fatal(err)
	}
	alice := issue(ca, "alice", "dev", "ops")
	garbage := &x509.Certificate{Raw: []byte("not DER"), Subject: pkix.Name{CommonName: "admin"}}

	tests := []struct {
		name    string
		chain   []*x509.Certificate
		now     time.Time
		user    string
		groups  []string
		wantErr string // empty: no error
	}{
		{"valid", []*x509.Certificate{alice}, time.Time{}, "alice", []string{"dev", "ops"}, ""},
		{"node", []*x509.Certificate{issue(ca, "system:node:n1", "system:nodes")}, time.Time{}, "system:node:n1", []string{"system:nodes"}, ""},
		{"no certificate", nil, time.Time{}, "", nil, ""},
		{"expired", []*x509.Certificate{alice}, time.Now().Add(pki.LeafValidity + time.Hour), "", nil, "expired"},
		{"not yet valid", []*x509.Certificate{alice}, time.Now().Add(-time.Hour), "", nil, "expired or is not yet valid"},
		{"other CA", []*x509.Certificate{issue(other, "alice")}, time.Time{}, "", nil, "unknown authority"},
		{"self-signed admin", []*x509.Certificate{selfSigned(t, "admin", "system:masters")}, time.Time{}, "", nil, "unknown authority"},
		{"self-signed with CA's intermediate", []*x509.Certificate{selfSigned(t, "admin"), ca.Cert}, time.Time{}, "", nil, "unknown authority"},
		{"serving certificate", []*x509.Certificate{serving.Cert}, time.Time{}, "", nil, "usage"},
		{"empty common name", []*x509.Certificate{issue(ca, "x")}, time.Time{}, "", nil, ""}, // replaced below
		{"garbage", []*x509.Certificate{garbage}, time.Time{}, "", nil, "admin"},
		{"zero certificate", []*x509.Certificate{{}}, time.Time{}, "", nil, "empty"},
		{"nil certificate", []*x509.Certificate{nil}, time.Time{}, "", nil, "empty"},
	}
	// A CA-issued certificate without a CN: IssueClient refuses, so sign one by hand.
	csrPEM, _, err := pki.NewCSR(pkix.Name{Organization: []string{"system:masters"}})
	if err != nil {
		t.Fatal(err)
	}
	csr, err := pki.ParseCSR(csrPEM)
	if err != nil {
		t.Fatal(err)
	}
	noCN, err := ca.SignCSR(csr, x509.ExtKeyUsageClientAuth)
	if err != nil {
		t.Fatal(err)
	}
	noCNCert, err := pki.ParseCert(noCN)
	if err != nil {
		t.Fatal(err)
	}
	tests[9].chain, tests[9].wantErr = []*x509.Certificate{noCNCert}, "empty common name"

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &X509{Roots: ca.Pool()}
			if !tt.now.IsZero() {
				a.Now = func() time.Time { return tt.now }
			}
			r := httptest.NewRequest("GET", "/api", nil)
			if tt.chain != nil {
				r.TLS = &tls.ConnectionState{PeerCertificates: tt.chain}
			}
			info, ok, err := a.Authenticate(r)
			if tt.wantErr != "" {
				if ok || info != nil || err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrInvalidCredential) {
					t.Fatalf("got %+v, %v, %v; want error containing %q", info, ok, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.user == "" {
				if ok {
					t.Fatalf("authenticated as %+v", info)
				}
				return
			}
			if !ok || info.Name != tt.user || !slices.Equal(info.Groups, tt.groups) {
				t.Fatalf("got %+v, %v", info, ok)
			}
			if id := info.Extra[user.ExtraCredentialID]; len(id) != 1 || !strings.HasPrefix(id[0], "X509SHA256=") {
				t.Fatalf("credential id %q", id)
			}
		})
	}
	// No TLS at all (plain HTTP) is "no credentials".
	if _, ok, err := (&X509{Roots: ca.Pool()}).Authenticate(httptest.NewRequest("GET", "/", nil)); ok || err != nil {
		t.Fatalf("plain request: %v, %v", ok, err)
	}
}

// A verified chain is remembered, but only as long as Verify would accept it, and a caller
// changing the user it got does not change what the next request gets.
func TestX509RemembersOnlyWhileValid(t *testing.T) {
	ca, err := pki.NewCA(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	kp, err := ca.IssueClient("alice", []string{"dev"})
	if err != nil {
		t.Fatal(err)
	}
	cert := kp.Cert
	now := time.Now()
	a := &X509{Roots: ca.Pool(), Now: func() time.Time { return now }}
	req := func() (*user.Info, bool, error) {
		r := httptest.NewRequest("GET", "/api", nil)
		r.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{cert}}
		return a.Authenticate(r)
	}
	first, ok, err := req()
	if err != nil || !ok {
		t.Fatalf("first: %v, %v", ok, err)
	}
	first.Groups[0] = "system:masters"
	second, ok, err := req()
	if err != nil || !ok || !slices.Equal(second.Groups, []string{"dev"}) {
		t.Fatalf("second: %+v, %v, %v", second, ok, err)
	}
	if len(a.verified) != 1 {
		t.Fatalf("%d chains remembered, want 1", len(a.verified))
	}
	now = cert.NotAfter.Add(time.Second)
	if info, ok, err := req(); ok || err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("after expiry: %+v, %v, %v", info, ok, err)
	}
	now = cert.NotBefore.Add(-time.Minute)
	if info, ok, err := req(); ok || err == nil {
		t.Fatalf("before validity: %+v, %v, %v", info, ok, err)
	}
}
