package csrsigner

import (
	"context"
	"fmt"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	certificatesclient "k8s.io/client-go/kubernetes/typed/certificates/v1"

	"github.com/tugboat-io/tug/core/auth/pki"
)

// Request creates a certificate signing request for csrPEM (whose key is keyPEM) and waits up
// to timeout for it to be signed. The issued certificate must be for that key and have the
// common name asked for; a denied or failed request is an error with the signer's message.
func Request(ctx context.Context, api certificatesclient.CertificateSigningRequestInterface, generateName, signer string,
	usages []certificatesv1.KeyUsage, csrPEM, keyPEM []byte, timeout time.Duration) ([]byte, error) {
	req, err := pki.ParseCSR(csrPEM)
	if err != nil {
		return nil, err
	}
	csr, err := api.Create(ctx, &certificatesv1.CertificateSigningRequest{
		ObjectMeta: metav1.ObjectMeta{GenerateName: generateName},
		Spec:       certificatesv1.CertificateSigningRequestSpec{Request: csrPEM, SignerName: signer, Usages: usages},
	}, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("create certificate request: %w", err)
	}
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		got, err := api.Get(wctx, csr.Name, metav1.GetOptions{})
		if err == nil && len(got.Status.Certificate) > 0 {
			kp, err := pki.ParseKeyPair(got.Status.Certificate, keyPEM)
			if err != nil {
				return nil, fmt.Errorf("certificate request %s: the issued certificate: %w", csr.Name, err)
			}
			if kp.Cert.Subject.CommonName != req.Subject.CommonName {
				return nil, fmt.Errorf("certificate request %s: issued for %q, not %q", csr.Name, kp.Cert.Subject.CommonName, req.Subject.CommonName)
			}
			return got.Status.Certificate, nil
		}
		if err == nil {
			for _, c := range got.Status.Conditions {
				if c.Type == certificatesv1.CertificateDenied || c.Type == certificatesv1.CertificateFailed {
					return nil, fmt.Errorf("certificate request %s %s: %s", csr.Name, c.Type, c.Message)
				}
			}
		}
		select {
		case <-wctx.Done():
			return nil, fmt.Errorf("certificate request %s not signed within %s (is the server running its signer?): %w", csr.Name, timeout, wctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
}
