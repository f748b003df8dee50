package authn

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/tugboat-io/tug/core/auth/user"
)

// X509 authenticates TLS client certificates issued by the cluster CA: the user is the
// subject's common name, the groups its organizations (how kubectl, kubelets and kubeadm
// certificates name their holder).
type X509 struct {
	// Roots are the CAs trusted to issue client certificates.
	Roots *x509.CertPool
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Authenticate verifies the peer's certificate chain. The TLS listener is expected to request
// but not require client certificates (tls.RequestClientCert or VerifyClientCertIfGiven), so
// verification happens here, where a failure becomes a 401 with a logged reason instead of a
// failed handshake.
func (a *X509) Authenticate(r *http.Request) (*user.Info, bool, error) {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return nil, false, nil
	}
	leaf := r.TLS.PeerCertificates[0]
	if leaf == nil || len(leaf.Raw) == 0 {
		return nil, false, fmt.Errorf("%w: client certificate is empty", ErrInvalidCredential)
	}
	opts := x509.VerifyOptions{
		Roots:         a.Roots,
		Intermediates: x509.NewCertPool(),
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if a.Now != nil {
		opts.CurrentTime = a.Now()
	}
	for _, c := range r.TLS.PeerCertificates[1:] {
		if c != nil && len(c.Raw) > 0 {
			opts.Intermediates.AddCert(c)
		}
	}
	if _, err := leaf.Verify(opts); err != nil {
		return nil, false, fmt.Errorf("%w: client certificate %q (serial %s): %w", ErrInvalidCredential, leaf.Subject.CommonName, leaf.SerialNumber, err)
	}
	if leaf.Subject.CommonName == "" {
		return nil, false, fmt.Errorf("%w: client certificate has an empty common name", ErrInvalidCredential)
	}
	sum := sha256.Sum256(leaf.Raw)
	return &user.Info{
		Name:   leaf.Subject.CommonName,
		Groups: slices.Clone(leaf.Subject.Organization),
		// kube's credential id for certificates, so audit logs can tell two certificates of
		// one user apart.
		Extra: map[string][]string{user.ExtraCredentialID: {"X509SHA256=" + hex.EncodeToString(sum[:])}},
	}, true, nil
}
