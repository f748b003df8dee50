package main

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/tugboat-io/tug/core/auth/authn"
	"github.com/tugboat-io/tug/core/auth/csrsigner"
	"github.com/tugboat-io/tug/core/auth/pki"
	"github.com/tugboat-io/tug/core/auth/user"
)

// newTokenCmd is `tug token create`: a join token for `tug node`.
func newTokenCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{Use: "token", Short: "Manage the join tokens nodes join the cluster with"}
	create := &cobra.Command{
		Use:   "create",
		Short: "Create a join token and print the tug node command that uses it",
		Long: `Create a join token (stored as kube's bootstrap tokens are: a Secret bootstrap-token-<id> of
type bootstrap.kubernetes.io/token in kube-system) and print the command that joins a node
with it. The node authenticates with the token only to ask for its own client certificate,
which the cluster signs for CN=system:node:<name>; from then on it uses the certificate.`,
		Example: `  tug token create
  tug token create --ttl 1h`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			kc, _ := cmd.Flags().GetString("kubeconfig")
			ttl, _ := cmd.Flags().GetDuration("ttl")
			cfg, err := clientConfig(kc)
			if err != nil {
				return err
			}
			client, err := kubernetes.NewForConfig(cfg)
			if err != nil {
				return err
			}
			token, err := authn.NewJoinToken()
			if err != nil {
				return err
			}
			id, secret, _ := authn.ParseJoinToken(token)
			ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Second)
			defer cancel()
			if _, err := client.CoreV1().Secrets(metav1.NamespaceSystem).Create(ctx, joinTokenSecret(id, secret, ttl, time.Now()), metav1.CreateOptions{}); err != nil {
				return fmt.Errorf("store the join token: %w", err)
			}
			join := fmt.Sprintf("tug node --server %s --token %s", cfg.Host, token)
			if ca := cfg.TLSClientConfig.CAData; len(ca) > 0 {
				hash, err := caCertHash(ca)
				if err != nil {
					return err
				}
				join += " --ca-cert-hash " + hash
			}
			fmt.Fprintln(a.stdout, join)
			return nil
		},
	}
	create.Flags().String("kubeconfig", "", "kubeconfig of an administrator (default $KUBECONFIG, else ./.tug/kubeconfig)")
	create.Flags().Duration("ttl", 24*time.Hour, "how long the token works (0: forever)")
	cmd.AddCommand(create)
	return cmd
}

// caCertHash is kubeadm's pin of a CA: sha256 of its public key info.
func caCertHash(caPEM []byte) (string, error) {
	block, _ := pem.Decode(caPEM)
	if block == nil {
		return "", errors.New("the kubeconfig's CA is not PEM")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return "", fmt.Errorf("the kubeconfig's CA: %w", err)
	}
	return spkiHash(cert), nil
}

func spkiHash(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// Files of a node's credentials in <data-dir>/pki.
const (
	nodeCertFile = "node.crt"
	nodeKeyFile  = "node.key"
	nodeCAFile   = "ca.crt"
)

// nodeCredentials returns the rest config `tug node` reaches the server with:
//   - the client certificate it holds from an earlier join, if it is still good for this
//     node and server;
//   - else, with a join token: its own certificate, asked for with the token (and kept);
//   - else the token as a bearer token (a static token from --token-auth-file).
//
// The server's certificate is checked against --certificate-authority, a CA pinned by
// --ca-cert-hash, or the CA kept from the join.
func (a *app) nodeCredentials(ctx context.Context, server, dataDir string) (*rest.Config, error) {
	s := a.settings
	cfg := &rest.Config{Host: server, ContentConfig: componentContent} // newAgent sets the agent's rate limits
	u, err := url.Parse(server)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("--server %q is not a URL", server)
	}
	token := s.String("token")
	if u.Scheme != "https" {
		cfg.BearerToken = token
		return cfg, nil
	}
	dir := filepath.Join(dataDir, "pki")
	nodeName := s.String("node-name")
	if kp, ca, err := loadNodeCert(dir, nodeName); err == nil {
		cfg.TLSClientConfig = rest.TLSClientConfig{CAData: ca, CertData: kp.CertPEM, KeyData: kp.KeyPEM}
		return cfg, nil
	}
	caPEM, err := a.serverCA(ctx, u, dir)
	if err != nil {
		return nil, err
	}
	cfg.TLSClientConfig.CAData = caPEM
	if _, _, err := authn.ParseJoinToken(token); err != nil {
		cfg.BearerToken = token
		return cfg, nil
	}
	boot := rest.CopyConfig(cfg)
	boot.BearerToken = token
	certPEM, keyPEM, err := requestNodeCert(ctx, boot, nodeName)
	if err != nil {
		return nil, fmt.Errorf("join with the token: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("node credentials: %w", err)
	}
	for _, f := range []struct {
		name string
		data []byte
		perm os.FileMode
	}{{nodeKeyFile, keyPEM, 0o600}, {nodeCertFile, certPEM, 0o644}, {nodeCAFile, caPEM, 0o644}} {
		if err := pki.WriteFileAtomic(filepath.Join(dir, f.name), f.data, f.perm); err != nil {
			return nil, err
		}
	}
	a.logger("kubelet").Info("joined the cluster: client certificate kept", "node", nodeName, "dir", dir)
	cfg.TLSClientConfig.CertData, cfg.TLSClientConfig.KeyData = certPEM, keyPEM
	return cfg, nil
}

// loadNodeCert reads the certificate kept from a join, if it is for this node and not expiring
// within a day.
func loadNodeCert(dir, nodeName string) (*pki.KeyPair, []byte, error) {
	certPEM, err := os.ReadFile(filepath.Join(dir, nodeCertFile))
	if err != nil {
		return nil, nil, err
	}
	keyPEM, err := os.ReadFile(filepath.Join(dir, nodeKeyFile))
	if err != nil {
		return nil, nil, err
	}
	ca, err := os.ReadFile(filepath.Join(dir, nodeCAFile))
	if err != nil {
		return nil, nil, err
	}
	kp, err := pki.ParseKeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, nil, err
	}
	if kp.Cert.Subject.CommonName != user.NodeUser(nodeName) || time.Until(kp.Cert.NotAfter) < 24*time.Hour {
		return nil, nil, errors.New("kept certificate is for another node or expiring")
	}
	return kp, ca, nil
}

// serverCA is the CA the server's certificate must chain to: --certificate-authority, else
// the one the server presents whose key matches --ca-cert-hash, else the one kept from an
// earlier join. Without any, the node refuses: sending a token to an unchecked server gives
// it away.
func (a *app) serverCA(ctx context.Context, server *url.URL, dir string) ([]byte, error) {
	s := a.settings
	if f := s.String("certificate-authority"); f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("--certificate-authority: %w", err)
		}
		return b, nil
	}
	pin := s.String("ca-cert-hash")
	if pin == "" {
		if b, err := os.ReadFile(filepath.Join(dir, nodeCAFile)); err == nil {
			return b, nil
		}
		return nil, errors.New("an https server needs --ca-cert-hash (as tug token create prints) or --certificate-authority, so the node can tell it is the real one")
	}
	return fetchPinnedCA(ctx, server.Host, pin)
}

// fetchPinnedCA connects to the server, finds the CA in the chain it presents whose public
// key hashes to pin, and checks the server's certificate against it — kubeadm's discovery by
// CA hash, without the anonymous cluster-info read.
func fetchPinnedCA(ctx context.Context, hostport, pin string) ([]byte, error) {
	if !strings.HasPrefix(pin, "sha256:") {
		return nil, fmt.Errorf("--ca-cert-hash %q: want sha256:<hex>", pin)
	}
	var found *x509.Certificate
	d := tls.Dialer{Config: &tls.Config{
		MinVersion: tls.VersionTLS12,
		// Verification is done below against the pinned CA instead of the system's roots.
		InsecureSkipVerify: true,
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			var certs []*x509.Certificate
			for _, r := range raw {
				c, err := x509.ParseCertificate(r)
				if err != nil {
					return err
				}
				certs = append(certs, c)
				if c.IsCA && spkiHash(c) == strings.ToLower(pin) {
					found = c
				}
			}
			if found == nil || len(certs) == 0 {
				return fmt.Errorf("the server presents no CA matching --ca-cert-hash %s", pin)
			}
			roots := x509.NewCertPool()
			roots.AddCert(found)
			_, err := certs[0].Verify(x509.VerifyOptions{Roots: roots})
			return err
		},
	}}
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := d.DialContext(dctx, "tcp", hostport)
	if err != nil {
		return nil, fmt.Errorf("check the server's CA: %w", err)
	}
	_ = conn.Close()
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: found.Raw}), nil
}

// requestNodeCert asks for the node's client certificate with the join token and waits for
// the cluster to sign it.
func requestNodeCert(ctx context.Context, cfg *rest.Config, nodeName string) (certPEM, keyPEM []byte, err error) {
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, nil, err
	}
	req, key, err := pki.NewCSR(pkix.Name{CommonName: user.NodeUser(nodeName), Organization: []string{user.NodesGroup}})
	if err != nil {
		return nil, nil, err
	}
	if keyPEM, err = pki.EncodeKey(key); err != nil {
		return nil, nil, err
	}
	certPEM, err = csrsigner.Request(ctx, client.CertificatesV1().CertificateSigningRequests(), "node-csr-", csrsigner.KubeletClientSigner,
		[]certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth}, req, keyPEM, 2*time.Minute)
	if err != nil {
		return nil, nil, err
	}
	return certPEM, keyPEM, nil
}
