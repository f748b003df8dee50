package kubelet

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"

	"github.com/tugboat-io/tug/core/auth/csrsigner"
	"github.com/tugboat-io/tug/core/auth/pki"
	"github.com/tugboat-io/tug/core/auth/user"
)

// The kubelet API's serving certificate is signed by the kubelet serving CA, which only the
// API server trusts (not the cluster CA clients trust for the API server): the agent asks for it
// with a certificate signing request to kubernetes.io/kubelet-serving (CN system:node:<name>,
// O system:nodes, for the node's name and InternalIP) once its Node is registered — the
// signer checks the names against the Node's addresses —, keeps it in
// <root>/pki/kubelet-server.{crt,key} and asks again before it expires. Until the first one
// arrives, TLS handshakes fail. kube's kubelet does the same with
// --rotate-server-certificates; without that flag it signs one itself, which the API server
// cannot check.

// Files of the serving certificate under <root>/pki.
const (
	servingCertFile = "kubelet-server.crt"
	servingKeyFile  = "kubelet-server.key"
)

func (a *Agent) pkiDir() string { return filepath.Join(a.cfg.RootDir, "pki") }

// getCertificate is the TLS server's certificate: the current serving certificate.
func (a *Agent) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	if c := a.serving.Load(); c != nil {
		return c, nil
	}
	return nil, errors.New("kubelet: the serving certificate has not been issued yet")
}

// keepServingCert makes sure the agent has a good serving certificate until ctx ends: the
// kept one while it is good, else a new one from the cluster, renewed RenewBefore its expiry.
// Failures are retried with a growing wait.
func (a *Agent) keepServingCert(ctx context.Context) {
	retry := 5 * time.Second
	for {
		kp, err := a.ensureServingCert(ctx)
		wait := retry
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			a.log.Warn("kubelet API: no serving certificate", "err", err, "retry-in", retry)
			retry = min(2*retry, 5*time.Minute)
		} else if cert, err := kp.TLSCertificate(); err != nil {
			// Kept trying: an agent that gave up here would never renew again.
			a.log.Error("kubelet API: serving certificate", "err", err, "retry-in", retry)
			retry = min(2*retry, 5*time.Minute)
		} else {
			a.serving.Store(&cert)
			retry = 5 * time.Second
			// Never sooner than a retry: a certificate issued with less than RenewBefore
			// left would otherwise be asked for again in a loop.
			wait = max(time.Until(kp.Cert.NotAfter.Add(-pki.RenewBefore)), retry)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// servingNames are the names the serving certificate is for: the node's name, which is its
// Hostname address, and its InternalIP, which the API server dials.
func (a *Agent) servingNames() ([]string, []net.IP) {
	return []string{a.cfg.NodeName}, []net.IP{net.IP(a.cfg.NodeIP.Unmap().AsSlice())}
}

// ensureServingCert returns the kept serving certificate when it is still good — issued by
// the kubelet serving CA for this node and its names, and not due for renewal —, else asks the cluster
// for a new one and keeps it.
func (a *Agent) ensureServingCert(ctx context.Context) (*pki.KeyPair, error) {
	dns, ips := a.servingNames()
	dir := a.pkiDir()
	if kp, err := a.keptServingCert(dir, dns, ips); err == nil {
		return kp, nil
	}
	subject := pkix.Name{CommonName: user.NodeUser(a.cfg.NodeName), Organization: []string{user.NodesGroup}}
	csrPEM, key, err := pki.NewServingCSR(subject, dns, ips)
	if err != nil {
		return nil, err
	}
	keyPEM, err := pki.EncodeKey(key)
	if err != nil {
		return nil, err
	}
	certPEM, err := csrsigner.Request(ctx, a.client.CertificatesV1().CertificateSigningRequests(), "kubelet-serving-", csrsigner.KubeletServingSigner,
		[]certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageServerAuth}, csrPEM, keyPEM, 2*time.Minute)
	if err != nil {
		return nil, err
	}
	kp, err := pki.ParseKeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("kubelet: %w", err)
	}
	// The key first: a crash between the two leaves a certificate that does not match it,
	// which the next start throws away.
	if err := pki.WriteFileAtomic(filepath.Join(dir, servingKeyFile), keyPEM, 0o600); err != nil {
		return nil, err
	}
	if err := pki.WriteFileAtomic(filepath.Join(dir, servingCertFile), certPEM, 0o644); err != nil {
		return nil, err
	}
	a.log.Info("kubelet API: serving certificate issued", "names", dns, "ips", ips, "expires", kp.Cert.NotAfter)
	return kp, nil
}

// keptServingCert reads the certificate kept in dir and checks it is still good.
func (a *Agent) keptServingCert(dir string, dns []string, ips []net.IP) (*pki.KeyPair, error) {
	certPEM, err := os.ReadFile(filepath.Join(dir, servingCertFile))
	if err != nil {
		return nil, err
	}
	keyPEM, err := os.ReadFile(filepath.Join(dir, servingKeyFile))
	if err != nil {
		return nil, err
	}
	kp, err := pki.ParseKeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, err
	}
	c := kp.Cert
	if c.Subject.CommonName != user.NodeUser(a.cfg.NodeName) || !slices.Equal(c.DNSNames, dns) || !slices.EqualFunc(c.IPAddresses, ips, net.IP.Equal) {
		return nil, errors.New("kept serving certificate is for other names or addresses")
	}
	if time.Until(c.NotAfter) < pki.RenewBefore {
		return nil, errors.New("kept serving certificate is due for renewal")
	}
	// The agent does not hold the kubelet serving CA (only the API server trusts it), so it
	// goes by the issuer's name: a certificate the cluster CA signed, as tug did before the
	// serving CA existed, is replaced.
	if c.Issuer.CommonName != pki.KubeletServingCAName || !slices.Contains(c.ExtKeyUsage, x509.ExtKeyUsageServerAuth) {
		return nil, fmt.Errorf("kept serving certificate is from %q, not the kubelet serving CA", c.Issuer.CommonName)
	}
	return kp, nil
}
