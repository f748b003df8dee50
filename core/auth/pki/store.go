package pki

import (
	"crypto/ecdsa"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/tugboat-io/tug/core/auth/user"
)

// File names in the PKI directory, as kubeadm names the same things.
const (
	CACertFile      = "ca.crt"
	CAKeyFile       = "ca.key"
	ServingCertFile = "apiserver.crt"
	ServingKeyFile  = "apiserver.key"
	AdminCertFile   = "admin.crt"
	AdminKeyFile    = "admin.key"
	// The API server's client certificate for node agents' APIs.
	KubeletClientCertFile = "apiserver-kubelet-client.crt"
	KubeletClientKeyFile  = "apiserver-kubelet-client.key"
	SAKeyFile             = "sa.key"
	SAPubFile             = "sa.pub"
	// The CA of node agents' serving certificates (kube's --cluster-signing-kubelet-serving-*).
	KubeletServingCACertFile = "kubelet-serving-ca.crt"
	KubeletServingCAKeyFile  = "kubelet-serving-ca.key"
)

// AdminUser is the user of the admin client certificate LoadOrCreate keeps (for the kubeconfig
// tug up writes); its group, system:masters, may do anything.
const AdminUser = "tug:admin"

// Options say what LoadOrCreate must make sure exists.
type Options struct {
	// Serving are the names the API server's certificate must cover.
	Serving ServingNames
	// Now is the clock; nil means time.Now. Tests move it to exercise renewal.
	Now func() time.Time
}

// Bundle is the cluster's PKI material.
type Bundle struct {
	Dir     string
	CA      *CA
	Serving *KeyPair
	Admin   *KeyPair
	// KubeletClient is the API server's client certificate for node agents' APIs, for user
	// user.APIServerKubeletClient in no group: RBAC grants it system:kubelet-api-admin.
	KubeletClient *KeyPair
	// KubeletServingCA signs node agents' serving certificates; only the API server's
	// client for node agents trusts it.
	KubeletServingCA *CA
	// SAKey signs service account tokens; its public half is in sa.pub for other servers.
	SAKey *ecdsa.PrivateKey
	// Written lists the files this call (re)wrote, for the caller to log.
	Written []string
}

// LoadOrCreate reads the PKI in dir, creating what is missing. The CA and the service account
// key are created once and then only read: replacing either would invalidate every certificate
// or token already handed out, so a damaged one is an error for a human to look at, not
// something to paper over. Leaf certificates (serving, admin) are reissued from the same CA
// when missing, damaged, issued by another CA, expiring within RenewBefore, or — for the
// serving certificate — not covering opts.Serving.
//
// Files are written atomically (temporary file, fsync, rename), keys with mode 0600, so a crash
// never leaves half a key behind; the directory is created 0700.
func LoadOrCreate(dir string, opts Options) (*Bundle, error) {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("pki directory: %w", err)
	}
	b := &Bundle{Dir: dir}
	var err error
	if b.CA, err = b.loadOrCreateCA(CACertFile, CAKeyFile, now(), NewCA); err != nil {
		return nil, err
	}
	b.CA.now = now
	if b.KubeletServingCA, err = b.loadOrCreateCA(KubeletServingCACertFile, KubeletServingCAKeyFile, now(), NewKubeletServingCA); err != nil {
		return nil, err
	}
	b.KubeletServingCA.now = now
	b.Serving, err = b.leaf(ServingCertFile, ServingKeyFile, now(),
		func(kp *KeyPair) bool { return Covers(kp.Cert, opts.Serving) },
		func() (*KeyPair, error) { return b.CA.IssueServing(opts.Serving) })
	if err != nil {
		return nil, err
	}
	b.Admin, err = b.leaf(AdminCertFile, AdminKeyFile, now(), nil,
		func() (*KeyPair, error) { return b.CA.IssueClient(AdminUser, []string{"system:masters"}) })
	if err != nil {
		return nil, err
	}
	b.KubeletClient, err = b.leaf(KubeletClientCertFile, KubeletClientKeyFile, now(), nil,
		func() (*KeyPair, error) { return b.CA.IssueClient(user.APIServerKubeletClient, nil) })
	if err != nil {
		return nil, err
	}
	if b.SAKey, err = b.loadOrCreateSAKey(); err != nil {
		return nil, err
	}
	return b, nil
}

func (b *Bundle) path(name string) string { return filepath.Join(b.Dir, name) }

func (b *Bundle) loadOrCreateCA(certFile, keyFile string, now time.Time, create func(time.Time) (*CA, error)) (*CA, error) {
	certPEM, certErr := os.ReadFile(b.path(certFile))
	keyPEM, keyErr := os.ReadFile(b.path(keyFile))
	switch {
	case errors.Is(certErr, fs.ErrNotExist):
		// No CA certificate means nothing was ever issued from this directory (the key is
		// written first, so a lone key is a creation cut short): start afresh.
		ca, err := create(now)
		if err != nil {
			return nil, err
		}
		if err := b.write(keyFile, ca.KeyPEM, 0o600); err != nil {
			return nil, err
		}
		if err := b.write(certFile, ca.CertPEM, 0o644); err != nil {
			return nil, err
		}
		return ca, nil
	case certErr != nil:
		return nil, fmt.Errorf("read %s: %w", certFile, certErr)
	case errors.Is(keyErr, fs.ErrNotExist):
		return nil, fmt.Errorf("%s: %w", b.path(keyFile), ErrMissingKey)
	case keyErr != nil:
		return nil, fmt.Errorf("read %s: %w", keyFile, keyErr)
	}
	ca, err := ParseCA(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("%s in %s: %w", certFile, b.Dir, err)
	}
	return ca, nil
}

// leaf loads a CA-issued key pair and reissues it when it is unusable or stale.
func (b *Bundle) leaf(certFile, keyFile string, now time.Time, fits func(*KeyPair) bool, issue func() (*KeyPair, error)) (*KeyPair, error) {
	if kp, err := b.readPair(certFile, keyFile); err == nil &&
		signedBy(kp.Cert, b.CA.Cert) &&
		now.Add(RenewBefore).Before(kp.Cert.NotAfter) &&
		(fits == nil || fits(kp)) {
		return kp, nil
	}
	kp, err := issue()
	if err != nil {
		return nil, fmt.Errorf("issue %s: %w", certFile, err)
	}
	// Key first: a crash between the two leaves a mismatched pair, which the next start
	// reissues, never a certificate whose key is lost.
	if err := b.write(keyFile, kp.KeyPEM, 0o600); err != nil {
		return nil, err
	}
	if err := b.write(certFile, kp.CertPEM, 0o644); err != nil {
		return nil, err
	}
	return kp, nil
}

func (b *Bundle) readPair(certFile, keyFile string) (*KeyPair, error) {
	certPEM, err := os.ReadFile(b.path(certFile))
	if err != nil {
		return nil, err
	}
	keyPEM, err := os.ReadFile(b.path(keyFile))
	if err != nil {
		return nil, err
	}
	return ParseKeyPair(certPEM, keyPEM)
}

func (b *Bundle) loadOrCreateSAKey() (*ecdsa.PrivateKey, error) {
	keyPEM, err := os.ReadFile(b.path(SAKeyFile))
	var key *ecdsa.PrivateKey
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if key, err = NewSigningKey(); err != nil {
			return nil, err
		}
		if keyPEM, err = EncodeKey(key); err != nil {
			return nil, err
		}
		if err := b.write(SAKeyFile, keyPEM, 0o600); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, fmt.Errorf("read %s: %w", SAKeyFile, err)
	default:
		if key, err = ParseKey(keyPEM); err != nil {
			return nil, fmt.Errorf("service account key %s: %w", b.path(SAKeyFile), err)
		}
	}
	// sa.pub is derived, so it is rewritten whenever it does not match the key.
	if pubPEM, err := os.ReadFile(b.path(SAPubFile)); err == nil {
		if pub, err := ParsePublicKey(pubPEM); err == nil && pub.Equal(&key.PublicKey) {
			return key, nil
		}
	}
	pubPEM, err := EncodePublicKey(&key.PublicKey)
	if err != nil {
		return nil, err
	}
	if err := b.write(SAPubFile, pubPEM, 0o644); err != nil {
		return nil, err
	}
	return key, nil
}

func (b *Bundle) write(name string, data []byte, perm fs.FileMode) error {
	if err := WriteFileAtomic(b.path(name), data, perm); err != nil {
		return err
	}
	b.Written = append(b.Written, name)
	return nil
}

// WriteFileAtomic replaces path with data: a temporary file in the same directory, created with
// perm (so a key is never readable by others, not even briefly), synced and renamed over path,
// then the directory synced so the rename survives a crash.
func WriteFileAtomic(path string, data []byte, perm fs.FileMode) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()
	if err = f.Chmod(perm); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err = f.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if d, derr := os.Open(dir); derr == nil {
		_ = d.Sync() // best effort: not every filesystem syncs directories
		_ = d.Close()
	}
	return nil
}
