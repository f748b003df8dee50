package authn

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"sync"
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

	// verified remembers chains already verified: a client sends the same certificate with
	// every request, and verifying its signature (ECDSA) costs more than the rest of
	// authentication and authorization together. An entry holds only until the earliest
	// expiry in its chain, and the roots never change, so it gives the answer Verify would.
	mu       sync.Mutex
	verified map[[sha256.Size]byte]verifiedChain
}

type verifiedChain struct {
	info             *user.Info
	notBefore, until time.Time
}

// maxVerified bounds the cache; when full it starts again (certificates in use come back at
// their next request).
const maxVerified = 4096

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
	now := time.Now()
	if a.Now != nil {
		now = a.Now()
	}
	key := chainKey(r.TLS.PeerCertificates)
	a.mu.Lock()
	v, ok := a.verified[key]
	a.mu.Unlock()
	if ok && !now.Before(v.notBefore) && now.Before(v.until) {
		return v.info.Clone(), true, nil
	}
	opts := x509.VerifyOptions{
		Roots:         a.Roots,
		Intermediates: x509.NewCertPool(),
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		CurrentTime:   now,
	}
	for _, c := range r.TLS.PeerCertificates[1:] {
		if c != nil && len(c.Raw) > 0 {
			opts.Intermediates.AddCert(c)
		}
	}
	chains, err := leaf.Verify(opts)
	if err != nil {
		return nil, false, fmt.Errorf("%w: client certificate %q (serial %s): %w", ErrInvalidCredential, leaf.Subject.CommonName, leaf.SerialNumber, err)
	}
	if leaf.Subject.CommonName == "" {
		return nil, false, fmt.Errorf("%w: client certificate has an empty common name", ErrInvalidCredential)
	}
	sum := sha256.Sum256(leaf.Raw)
	info := &user.Info{
		Name:   leaf.Subject.CommonName,
		Groups: slices.Clone(leaf.Subject.Organization),
		// kube's credential id for certificates, so audit logs can tell two certificates of
		// one user apart.
		Extra: map[string][]string{user.ExtraCredentialID: {"X509SHA256=" + hex.EncodeToString(sum[:])}},
	}
	// The chain is valid from the latest NotBefore to the earliest NotAfter of its certificates.
	v = verifiedChain{info: info.Clone(), notBefore: leaf.NotBefore, until: leaf.NotAfter}
	for _, c := range chains[0] {
		if c.NotBefore.After(v.notBefore) {
			v.notBefore = c.NotBefore
		}
		if c.NotAfter.Before(v.until) {
			v.until = c.NotAfter
		}
	}
	a.mu.Lock()
	if a.verified == nil || len(a.verified) >= maxVerified {
		a.verified = map[[sha256.Size]byte]verifiedChain{}
	}
	a.verified[key] = v
	a.mu.Unlock()
	return info, true, nil
}

// chainKey names the certificates a client presented, in order.
func chainKey(certs []*x509.Certificate) [sha256.Size]byte {
	h := sha256.New()
	for _, c := range certs {
		if c == nil {
			continue
		}
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(c.Raw)))
		h.Write(n[:])
		h.Write(c.Raw)
	}
	var k [sha256.Size]byte
	h.Sum(k[:0])
	return k
}
