package kubelet

import (
	"context"
	"crypto/x509"
	"log/slog"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/tugboat-io/tug/core/auth/csrsigner"
	"github.com/tugboat-io/tug/core/auth/pki"
)

// TestServingCert asks for the serving certificate through a CSR the fake cluster signs at
// once, keeps it, and asks again only when the node's address changed.
func TestServingCert(t *testing.T) {
	ca, err := pki.NewKubeletServingCA(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	client := fake.NewSimpleClientset()
	requests := 0
	client.PrependReactor("create", "certificatesigningrequests", func(a k8stesting.Action) (bool, runtime.Object, error) {
		csr := a.(k8stesting.CreateAction).GetObject().(*certificatesv1.CertificateSigningRequest)
		requests++
		csr.Name = csr.GenerateName + string(rune('a'+requests))
		if csr.Spec.SignerName != csrsigner.KubeletServingSigner {
			t.Errorf("signer %q", csr.Spec.SignerName)
		}
		req, err := pki.ParseCSR(csr.Spec.Request)
		if err != nil {
			t.Fatal(err)
		}
		if csr.Status.Certificate, err = ca.SignCSR(req, x509.ExtKeyUsageServerAuth); err != nil {
			t.Fatal(err)
		}
		return false, nil, nil // the tracker stores it, signed
	})
	a := &Agent{cfg: Config{NodeName: "n1", NodeIP: netip.MustParseAddr("192.0.2.7"), RootDir: t.TempDir()},
		log: slog.New(slog.DiscardHandler), client: client}
	ctx := context.Background()
	kp, err := a.ensureServingCert(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kp.Cert.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: "192.0.2.7", KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		t.Errorf("serving certificate for the node's address: %v", err)
	}
	if _, err := kp.Cert.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: "n1", KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		t.Errorf("serving certificate for the node's name: %v", err)
	}
	if kp.Cert.Subject.CommonName != "system:node:n1" {
		t.Errorf("common name %q", kp.Cert.Subject.CommonName)
	}
	again, err := a.ensureServingCert(ctx)
	if err != nil || !again.Cert.Equal(kp.Cert) || requests != 1 {
		t.Errorf("a second start asked again (%d requests, %v): want the kept certificate", requests, err)
	}
	a.cfg.NodeIP = netip.MustParseAddr("192.0.2.8")
	moved, err := a.ensureServingCert(ctx)
	if err != nil || requests != 2 || moved.Cert.IPAddresses[0].String() != "192.0.2.8" {
		t.Errorf("after the address changed: %d requests, %v, %v", requests, moved.Cert.IPAddresses, err)
	}
	// A certificate of the cluster CA (as tug issued them before the kubelet serving CA
	// existed) is not kept, names and key alike.
	clusterCA, err := pki.NewCA(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	csrPEM, key, err := pki.NewServingCSR(moved.Cert.Subject, moved.Cert.DNSNames, moved.Cert.IPAddresses)
	if err != nil {
		t.Fatal(err)
	}
	req, err := pki.ParseCSR(csrPEM)
	if err != nil {
		t.Fatal(err)
	}
	old, err := clusterCA.SignCSR(req, x509.ExtKeyUsageServerAuth)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, err := pki.EncodeKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := pki.WriteFileAtomic(filepath.Join(a.pkiDir(), servingKeyFile), keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := pki.WriteFileAtomic(filepath.Join(a.pkiDir(), servingCertFile), old, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := a.keptServingCert(a.pkiDir(), moved.Cert.DNSNames, moved.Cert.IPAddresses); err == nil {
		t.Error("kept a serving certificate of the cluster CA")
	}
	if _, err := a.ensureServingCert(ctx); err != nil || requests != 3 {
		t.Errorf("a serving certificate of the cluster CA was not replaced: %d requests, %v", requests, err)
	}
}
