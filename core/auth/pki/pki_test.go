package pki

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"
)

func newTestCA(t *testing.T) *CA {
	t.Helper()
	ca, err := NewCA(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func TestNewCA(t *testing.T) {
	now := time.Now()
	ca, err := NewCA(now)
	if err != nil {
		t.Fatal(err)
	}
	if !ca.Cert.IsCA || ca.Cert.KeyUsage&x509.KeyUsageCertSign == 0 {
		t.Fatalf("not a signing CA: IsCA=%v usage=%v", ca.Cert.IsCA, ca.Cert.KeyUsage)
	}
	if got := ca.Cert.NotAfter.Sub(now); got < CAValidity-time.Minute || got > CAValidity+time.Minute {
		t.Fatalf("CA valid for %v, want %v", got, CAValidity)
	}
	if err := ca.Cert.CheckSignatureFrom(ca.Cert); err != nil {
		t.Fatalf("not self-signed: %v", err)
	}
	again, err := ParseCA(ca.CertPEM, ca.KeyPEM)
	if err != nil || !again.Cert.Equal(ca.Cert) {
		t.Fatalf("round trip: %v", err)
	}
}

func TestParseCARejects(t *testing.T) {
	ca := newTestCA(t)
	other := newTestCA(t)
	leaf, err := ca.IssueClient("alice", nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		cert, key []byte
		want      error
	}{
		{"key of another CA", ca.CertPEM, other.KeyPEM, ErrKeyMismatch},
		{"leaf certificate", leaf.CertPEM, leaf.KeyPEM, ErrNotCA},
		{"garbage cert", []byte("nope"), ca.KeyPEM, nil},
		{"garbage key", ca.CertPEM, []byte("-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n"), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseCA(tt.cert, tt.key)
			if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestFirstServiceIP(t *testing.T) {
	tests := []struct {
		cidr, want string
	}{
		{"10.96.0.0/12", "10.96.0.1"},
		{"10.96.5.7/12", "10.96.0.1"},
		{"fd00:10:96::/108", "fd00:10:96::1"},
		{"10.0.0.0/32", ""},
	}
	for _, tt := range tests {
		t.Run(tt.cidr, func(t *testing.T) {
			got, err := FirstServiceIP(netip.MustParsePrefix(tt.cidr))
			if tt.want == "" {
				if err == nil {
					t.Fatalf("got %v, want an error", got)
				}
				return
			}
			if err != nil || got.String() != tt.want {
				t.Fatalf("got %v, %v; want %s", got, err, tt.want)
			}
		})
	}
}

func TestIssueServing(t *testing.T) {
	ca := newTestCA(t)
	names := ServingNames{
		IPs:         []netip.Addr{netip.MustParseAddr("192.168.1.10")},
		DNSNames:    []string{"Tug.Example.COM"},
		ServiceCIDR: netip.MustParsePrefix("10.96.0.0/12"),
	}
	kp, err := ca.IssueServing(names)
	if err != nil {
		t.Fatal(err)
	}
	wantDNS := []string{"kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local", "localhost", "tug.example.com"}
	if !slices.Equal(kp.Cert.DNSNames, wantDNS) {
		t.Errorf("DNS names %q, want %q", kp.Cert.DNSNames, wantDNS)
	}
	var ips []string
	for _, ip := range kp.Cert.IPAddresses {
		ips = append(ips, ip.String())
	}
	if want := []string{"10.96.0.1", "127.0.0.1", "192.168.1.10", "::1"}; !slices.Equal(ips, want) {
		t.Errorf("IPs %q, want %q", ips, want)
	}
	for _, name := range []string{"kubernetes.default.svc", "localhost", "10.96.0.1", "::1", "192.168.1.10", "tug.example.com"} {
		if _, err := kp.Cert.Verify(x509.VerifyOptions{DNSName: name, Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
			t.Errorf("verify for %s: %v", name, err)
		}
	}
	if _, err := kp.Cert.Verify(x509.VerifyOptions{DNSName: "evil.example.com", Roots: ca.Pool()}); err == nil {
		t.Error("certificate valid for a name it was not issued for")
	}
	if _, err := kp.TLSCertificate(); err != nil {
		t.Error(err)
	}
	if !Covers(kp.Cert, names) || !Covers(kp.Cert, ServingNames{}) {
		t.Error("certificate does not cover the names it was issued for")
	}
	if Covers(kp.Cert, ServingNames{IPs: []netip.Addr{netip.MustParseAddr("192.168.1.11")}}) {
		t.Error("covers an IP it lacks")
	}
	if Covers(kp.Cert, ServingNames{ServiceCIDR: netip.MustParsePrefix("10.0.0.0/16")}) {
		t.Error("covers another service range's IP")
	}
}

func TestIssueClient(t *testing.T) {
	ca := newTestCA(t)
	kp, err := ca.IssueClient("alice", []string{"dev", "ops"})
	if err != nil {
		t.Fatal(err)
	}
	if kp.Cert.Subject.CommonName != "alice" || !slices.Equal(kp.Cert.Subject.Organization, []string{"dev", "ops"}) {
		t.Fatalf("subject %v", kp.Cert.Subject)
	}
	if got := kp.Cert.NotAfter.Sub(time.Now()); got < LeafValidity-time.Minute || got > LeafValidity+time.Minute {
		t.Errorf("valid for %v, want %v", got, LeafValidity)
	}
	if _, err := kp.Cert.Verify(x509.VerifyOptions{Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("client verify: %v", err)
	}
	if _, err := kp.Cert.Verify(x509.VerifyOptions{Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err == nil {
		t.Error("client certificate usable for serving")
	}
	if _, err := ca.IssueClient("", nil); err == nil {
		t.Error("issued a certificate without a user")
	}
}

func TestSignCSR(t *testing.T) {
	ca := newTestCA(t)
	csrPEM, key, err := NewCSR(pkix.Name{CommonName: "system:node:n1", Organization: []string{"system:nodes"}})
	if err != nil {
		t.Fatal(err)
	}
	csr, err := ParseCSR(csrPEM)
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckNodeClientCSR(csr, "n1"); err != nil {
		t.Fatal(err)
	}
	certPEM, err := ca.SignCSR(csr, x509.ExtKeyUsageClientAuth)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, err := EncodeKey(key)
	if err != nil {
		t.Fatal(err)
	}
	kp, err := ParseKeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatalf("signed certificate does not carry the request's key: %v", err)
	}
	if kp.Cert.Subject.CommonName != "system:node:n1" {
		t.Errorf("subject %v", kp.Cert.Subject)
	}
	if _, err := kp.Cert.Verify(x509.VerifyOptions{Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Error(err)
	}
	if _, err := ca.SignCSR(csr); !errors.Is(err, ErrBadCSR) {
		t.Errorf("no usages: err = %v", err)
	}
}

func TestParseCSRRejects(t *testing.T) {
	csrPEM, _, err := NewCSR(pkix.Name{CommonName: "x"})
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(csrPEM)
	tampered := slices.Clone(block.Bytes)
	tampered[len(tampered)-3] ^= 0xff // inside the signature
	tests := map[string][]byte{
		"empty":         nil,
		"garbage":       []byte("hello"),
		"wrong block":   pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: block.Bytes}),
		"bad DER":       pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: []byte{0x30, 0x03, 1, 2}}),
		"bad sig":       pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: tampered}),
		"truncated":     csrPEM[:len(csrPEM)/2],
		"truncated DER": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: block.Bytes[:len(block.Bytes)/2]}),
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := ParseCSR(in); !errors.Is(err, ErrBadCSR) {
				t.Fatalf("err = %v, want ErrBadCSR", err)
			}
		})
	}
}

func TestCheckNodeClientCSR(t *testing.T) {
	tests := []struct {
		name string
		csr  x509.CertificateRequest
		node string
		ok   bool
	}{
		{"ok", x509.CertificateRequest{Subject: pkix.Name{CommonName: "system:node:n1", Organization: []string{"system:nodes"}}}, "n1", true},
		{"other node", x509.CertificateRequest{Subject: pkix.Name{CommonName: "system:node:n2", Organization: []string{"system:nodes"}}}, "n1", false},
		{"masters too", x509.CertificateRequest{Subject: pkix.Name{CommonName: "system:node:n1", Organization: []string{"system:nodes", "system:masters"}}}, "n1", false},
		{"no group", x509.CertificateRequest{Subject: pkix.Name{CommonName: "system:node:n1"}}, "n1", false},
		{"with SAN", x509.CertificateRequest{Subject: pkix.Name{CommonName: "system:node:n1", Organization: []string{"system:nodes"}}, IPAddresses: []net.IP{net.IPv4(1, 2, 3, 4)}}, "n1", false},
		{"empty node", x509.CertificateRequest{Subject: pkix.Name{CommonName: "system:node:", Organization: []string{"system:nodes"}}}, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckNodeClientCSR(&tt.csr, tt.node)
			if (err == nil) != tt.ok {
				t.Fatalf("err = %v, want ok=%v", err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrBadCSR) {
				t.Fatalf("err %v is not ErrBadCSR", err)
			}
		})
	}
}

func TestParseKeyRejectsOtherCurves(t *testing.T) {
	if _, err := ParseKey([]byte("-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n")); err == nil {
		t.Fatal("accepted an RSA block")
	}
	if _, err := ParsePublicKey([]byte("garbage")); err == nil {
		t.Fatal("accepted garbage")
	}
}
