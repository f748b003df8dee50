package pki

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// Validity periods, as kubeadm's: the CA outlives everything it signs, leaf certificates are
// renewed yearly.
const (
	CAValidity      = 10 * 365 * 24 * time.Hour
	LeafValidity    = 365 * 24 * time.Hour
	RenewBefore     = 30 * 24 * time.Hour
	backdate        = 5 * time.Minute // tolerate a little clock skew between machines
	caCommonName    = "tug-ca"
	servingCommonCN = "tug-apiserver"
	// KubeletServingCAName is the common name of the CA that signs node agents' serving
	// certificates, which a node agent looks for in the issuer of the one it keeps.
	KubeletServingCAName = "tug-kubelet-serving-ca"
)

// Errors callers can test for.
var (
	ErrBadCSR       = errors.New("invalid certificate request")
	ErrKeyMismatch  = errors.New("key does not match certificate")
	ErrNotCA        = errors.New("certificate is not a CA")
	ErrMissingKey   = errors.New("certificate present without its key")
	ErrNotECDSAP256 = errors.New("key is not ECDSA P-256")
)

// DefaultDNSNames are the names every API server serving certificate carries: the loopback
// name and the in-cluster names of the kubernetes service, so pods reach the server by name.
var DefaultDNSNames = []string{
	"localhost",
	"kubernetes",
	"kubernetes.default",
	"kubernetes.default.svc",
	"kubernetes.default.svc.cluster.local",
}

// DefaultIPs are the loopback addresses every serving certificate carries.
var DefaultIPs = []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("::1")}

// KeyPair is a certificate with its private key, in parsed and PEM form.
type KeyPair struct {
	Cert    *x509.Certificate
	Key     *ecdsa.PrivateKey
	CertPEM []byte
	KeyPEM  []byte
}

// TLSCertificate is the pair for a tls.Config.
func (k *KeyPair) TLSCertificate() (tls.Certificate, error) {
	c, err := tls.X509KeyPair(k.CertPEM, k.KeyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("tls key pair: %w", err)
	}
	return c, nil
}

// CA is the cluster certificate authority.
type CA struct {
	KeyPair
	now func() time.Time
}

// NewCA creates a self-signed CA valid for CAValidity from now.
func NewCA(now time.Time) (*CA, error) { return newCA(now, caCommonName) }

// NewKubeletServingCA creates the CA of node agents' serving certificates. It is not the
// cluster CA: clients trust the cluster CA for the API server, and a node chooses the
// addresses in its own status, so a serving certificate from the cluster CA could be one
// for the API server's address.
func NewKubeletServingCA(now time.Time) (*CA, error) { return newCA(now, KubeletServingCAName) }

func newCA(now time.Time, commonName string) (*CA, error) {
	key, err := newKey()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: commonName},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(CAValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
		SubjectKeyId:          keyID(&key.PublicKey),
	}
	kp, err := sign(tmpl, &key.PublicKey, tmpl, key)
	if err != nil {
		return nil, fmt.Errorf("self-sign ca: %w", err)
	}
	kp.Key = key
	if kp.KeyPEM, err = EncodeKey(key); err != nil {
		return nil, err
	}
	return &CA{KeyPair: *kp}, nil
}

// ParseCA reads a CA from PEM. The key must match the certificate, which must be a CA.
func ParseCA(certPEM, keyPEM []byte) (*CA, error) {
	kp, err := ParseKeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, err
	}
	if !kp.Cert.IsCA {
		return nil, ErrNotCA
	}
	return &CA{KeyPair: *kp}, nil
}

// Pool is a cert pool holding only this CA, for verifying clients and for clients verifying
// the server.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

func (ca *CA) clock() time.Time {
	if ca.now != nil {
		return ca.now()
	}
	return time.Now()
}

// ServingNames are the names a serving certificate is for. Extra names are added to the
// defaults (DefaultIPs, DefaultDNSNames and the first address of the service range).
type ServingNames struct {
	IPs      []netip.Addr
	DNSNames []string
	// ServiceCIDR is the cluster's service range; its first address is the kubernetes
	// service's cluster IP, which pods dial. Zero means none.
	ServiceCIDR netip.Prefix
}

// all returns every IP and DNS name the certificate must carry, sorted and without repeats.
func (n ServingNames) all() ([]netip.Addr, []string, error) {
	ips := append(slices.Clone(DefaultIPs), n.IPs...)
	if n.ServiceCIDR.IsValid() {
		ip, err := FirstServiceIP(n.ServiceCIDR)
		if err != nil {
			return nil, nil, err
		}
		ips = append(ips, ip)
	}
	for i := range ips {
		ips[i] = ips[i].Unmap()
	}
	slices.SortFunc(ips, netip.Addr.Compare)
	ips = slices.Compact(ips)
	dns := append(slices.Clone(DefaultDNSNames), n.DNSNames...)
	for i := range dns {
		dns[i] = strings.ToLower(dns[i])
	}
	slices.Sort(dns)
	return ips, slices.Compact(dns), nil
}

// FirstServiceIP is the first usable address of a service range (10.96.0.0/12 → 10.96.0.1),
// which Kubernetes gives to the kubernetes service.
func FirstServiceIP(cidr netip.Prefix) (netip.Addr, error) {
	ip := cidr.Masked().Addr().Next()
	if !ip.IsValid() || !cidr.Contains(ip) {
		return netip.Addr{}, fmt.Errorf("service range %s has no usable address", cidr)
	}
	return ip, nil
}

// IssueServing issues a serving certificate for the API server, valid for LeafValidity.
func (ca *CA) IssueServing(names ServingNames) (*KeyPair, error) {
	ips, dns, err := names.all()
	if err != nil {
		return nil, err
	}
	tmpl := ca.leafTemplate(pkix.Name{CommonName: servingCommonCN}, x509.ExtKeyUsageServerAuth)
	tmpl.DNSNames = dns
	for _, ip := range ips {
		tmpl.IPAddresses = append(tmpl.IPAddresses, net.IP(ip.AsSlice()))
	}
	return ca.issue(tmpl)
}

// IssueClient issues a client certificate for a user: Kubernetes reads the user name from the
// subject's common name and the groups from its organizations.
func (ca *CA) IssueClient(userName string, groups []string) (*KeyPair, error) {
	if userName == "" {
		return nil, errors.New("client certificate needs a user name")
	}
	subject := pkix.Name{CommonName: userName, Organization: slices.Clone(groups)}
	return ca.issue(ca.leafTemplate(subject, x509.ExtKeyUsageClientAuth))
}

func (ca *CA) leafTemplate(subject pkix.Name, usage ...x509.ExtKeyUsage) *x509.Certificate {
	now := ca.clock()
	return &x509.Certificate{
		Subject:               subject,
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(LeafValidity),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           usage,
		BasicConstraintsValid: true,
	}
}

func (ca *CA) issue(tmpl *x509.Certificate) (*KeyPair, error) {
	key, err := newKey()
	if err != nil {
		return nil, err
	}
	kp, err := sign(tmpl, &key.PublicKey, ca.Cert, ca.Key)
	if err != nil {
		return nil, fmt.Errorf("sign %q: %w", tmpl.Subject.CommonName, err)
	}
	kp.Key = key
	if kp.KeyPEM, err = EncodeKey(key); err != nil {
		return nil, err
	}
	return kp, nil
}

// ParseCSR reads a PEM certificate request and checks its self-signature, which proves the
// requester holds the key.
func ParseCSR(csrPEM []byte) (*x509.CertificateRequest, error) {
	block, _ := pem.Decode(csrPEM)
	if block == nil || block.Type != "CERTIFICATE REQUEST" {
		return nil, fmt.Errorf("%w: no CERTIFICATE REQUEST block", ErrBadCSR)
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadCSR, err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("%w: signature: %w", ErrBadCSR, err)
	}
	return csr, nil
}

// SignCSR issues a certificate for a checked request (see ParseCSR) with the given extended key
// usages, valid for LeafValidity. The subject and SANs are the request's; deciding whether the
// requester may have them is the caller's job (CheckNodeClientCSR for nodes). Returns the PEM.
func (ca *CA) SignCSR(csr *x509.CertificateRequest, usages ...x509.ExtKeyUsage) ([]byte, error) {
	if len(usages) == 0 {
		return nil, fmt.Errorf("%w: no key usage requested", ErrBadCSR)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("%w: signature: %w", ErrBadCSR, err)
	}
	tmpl := ca.leafTemplate(csr.Subject, usages...)
	tmpl.DNSNames = csr.DNSNames
	tmpl.IPAddresses = csr.IPAddresses
	kp, err := sign(tmpl, csr.PublicKey, ca.Cert, ca.Key)
	if err != nil {
		return nil, fmt.Errorf("sign %q: %w", csr.Subject.CommonName, err)
	}
	return kp.CertPEM, nil
}

// CheckNodeClientCSR applies kube's rule for a node's client certificate request: subject
// CN=system:node:<nodeName>, O=system:nodes and nothing else, no SANs. It keeps a join token
// from buying a certificate for another node or for a more powerful group.
func CheckNodeClientCSR(csr *x509.CertificateRequest, nodeName string) error {
	if err := checkNodeSubject(csr, nodeName); err != nil {
		return err
	}
	if len(csr.DNSNames)+len(csr.IPAddresses)+len(csr.EmailAddresses)+len(csr.URIs) > 0 {
		return fmt.Errorf("%w: a client certificate request carries no subject alternative names", ErrBadCSR)
	}
	return nil
}

// checkNodeSubject checks a request's subject is node nodeName's: CN=system:node:<nodeName>,
// O=system:nodes and nothing else.
func checkNodeSubject(csr *x509.CertificateRequest, nodeName string) error {
	const nodesGroup, nodePrefix = "system:nodes", "system:node:"
	switch {
	case nodeName == "":
		return fmt.Errorf("%w: empty node name", ErrBadCSR)
	case csr.Subject.CommonName != nodePrefix+nodeName:
		return fmt.Errorf("%w: common name %q, want %q", ErrBadCSR, csr.Subject.CommonName, nodePrefix+nodeName)
	case !slices.Equal(csr.Subject.Organization, []string{nodesGroup}):
		return fmt.Errorf("%w: organizations %q, want [%q]", ErrBadCSR, csr.Subject.Organization, nodesGroup)
	}
	return nil
}

// CheckNodeServingCSR applies kube's kubernetes.io/kubelet-serving rules to a node's
// serving certificate request: subject CN=system:node:<nodeName>, O=system:nodes, DNS and IP
// subject alternative names only, at least one. Whether the names are the node's own is the
// approver's question.
func CheckNodeServingCSR(csr *x509.CertificateRequest, nodeName string) error {
	if err := checkNodeSubject(csr, nodeName); err != nil {
		return err
	}
	switch {
	case len(csr.EmailAddresses)+len(csr.URIs) > 0:
		return fmt.Errorf("%w: a serving certificate request carries no email or URI names", ErrBadCSR)
	case len(csr.DNSNames)+len(csr.IPAddresses) == 0:
		return fmt.Errorf("%w: a serving certificate request names a DNS name or IP address", ErrBadCSR)
	}
	return nil
}

// NewServingCSR makes a key and a PEM certificate request for subject with the given
// subject alternative names (a node's serving certificate).
func NewServingCSR(subject pkix.Name, dnsNames []string, ips []net.IP) (csrPEM []byte, key *ecdsa.PrivateKey, err error) {
	if key, err = newKey(); err != nil {
		return nil, nil, err
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: subject, DNSNames: dnsNames, IPAddresses: ips}, key)
	if err != nil {
		return nil, nil, fmt.Errorf("create certificate request: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), key, nil
}

// NewCSR makes a key and a PEM certificate request for subject (the node side of a join).
func NewCSR(subject pkix.Name) (csrPEM []byte, key *ecdsa.PrivateKey, err error) {
	return NewServingCSR(subject, nil, nil)
}

// Covers says whether cert carries every IP and DNS name the names ask for.
func Covers(cert *x509.Certificate, names ServingNames) bool {
	ips, dns, err := names.all()
	if err != nil {
		return false
	}
	for _, ip := range ips {
		if !slices.ContainsFunc(cert.IPAddresses, func(c net.IP) bool { return c.Equal(net.IP(ip.AsSlice())) }) {
			return false
		}
	}
	for _, d := range dns {
		if !slices.ContainsFunc(cert.DNSNames, func(c string) bool { return strings.EqualFold(c, d) }) {
			return false
		}
	}
	return true
}

// NewSigningKey makes a key for signing service account tokens.
func NewSigningKey() (*ecdsa.PrivateKey, error) { return newKey() }

func newKey() (*ecdsa.PrivateKey, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	return k, nil
}

func sign(tmpl *x509.Certificate, pub crypto.PublicKey, parent *x509.Certificate, signer crypto.Signer) (*KeyPair, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("serial number: %w", err)
	}
	tmpl.SerialNumber = serial.Add(serial, big.NewInt(1)) // never zero
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &KeyPair{Cert: cert, CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}, nil
}

// keyID is the SHA-1 of the public key, the conventional subject key id.
func keyID(pub *ecdsa.PublicKey) []byte {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil
	}
	sum := sha1.Sum(der)
	return sum[:]
}

// EncodeKey is the PEM (EC PRIVATE KEY, as kubeadm writes) of key.
func EncodeKey(key *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("marshal key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), nil
}

// EncodePublicKey is the PEM (PUBLIC KEY, PKIX) of pub.
func EncodePublicKey(pub *ecdsa.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("marshal public key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// ParseKey reads an ECDSA P-256 private key in SEC 1 (EC PRIVATE KEY) or PKCS #8 PEM.
func ParseKey(keyPEM []byte) (*ecdsa.PrivateKey, error) {
	block, _ := pem.Decode(keyPEM)
	if block == nil {
		return nil, errors.New("no PEM block in key")
	}
	var key any
	var err error
	switch block.Type {
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("unexpected PEM block %q in key", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("parse key: %w", err)
	}
	ec, ok := key.(*ecdsa.PrivateKey)
	if !ok || ec.Curve != elliptic.P256() {
		return nil, ErrNotECDSAP256
	}
	return ec, nil
}

// ParsePublicKey reads a PKIX PUBLIC KEY PEM holding an ECDSA P-256 key.
func ParsePublicKey(pubPEM []byte) (*ecdsa.PublicKey, error) {
	block, _ := pem.Decode(pubPEM)
	if block == nil || block.Type != "PUBLIC KEY" {
		return nil, errors.New("no PUBLIC KEY PEM block")
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse public key: %w", err)
	}
	ec, ok := pub.(*ecdsa.PublicKey)
	if !ok || ec.Curve != elliptic.P256() {
		return nil, ErrNotECDSAP256
	}
	return ec, nil
}

// ParseCert reads the first CERTIFICATE block of certPEM.
func ParseCert(certPEM []byte) (*x509.Certificate, error) {
	block, _ := pem.Decode(certPEM)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("no CERTIFICATE PEM block")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse certificate: %w", err)
	}
	return cert, nil
}

// ParseKeyPair reads a certificate and its key and checks that they belong together.
func ParseKeyPair(certPEM, keyPEM []byte) (*KeyPair, error) {
	cert, err := ParseCert(certPEM)
	if err != nil {
		return nil, err
	}
	key, err := ParseKey(keyPEM)
	if err != nil {
		return nil, err
	}
	pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
	if !ok || !pub.Equal(&key.PublicKey) {
		return nil, ErrKeyMismatch
	}
	return &KeyPair{Cert: cert, Key: key, CertPEM: certPEM, KeyPEM: keyPEM}, nil
}

// signedBy says whether cert was issued by ca (same issuer and a valid signature), so a leaf
// left over from an earlier CA is reissued rather than served.
func signedBy(cert *x509.Certificate, ca *x509.Certificate) bool {
	return bytes.Equal(cert.RawIssuer, ca.RawSubject) && cert.CheckSignatureFrom(ca) == nil
}
