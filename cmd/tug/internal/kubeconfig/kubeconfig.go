package kubeconfig

import (
	"fmt"
	"net"
	"os"
	"path/filepath"

	"sigs.k8s.io/yaml"
)

// Names used in the generated file.
const (
	ClusterName = "tug"
	UserName    = "admin"
	ContextName = "tug"
)

// The subset of clientcmd/api/v1.Config tug writes.
type config struct {
	APIVersion     string         `json:"apiVersion"`
	Kind           string         `json:"kind"`
	Clusters       []namedCluster `json:"clusters"`
	Users          []namedUser    `json:"users"`
	Contexts       []namedContext `json:"contexts"`
	CurrentContext string         `json:"current-context"`
	Preferences    struct{}       `json:"preferences"`
}

type namedCluster struct {
	Name    string  `json:"name"`
	Cluster cluster `json:"cluster"`
}

type cluster struct {
	Server                   string `json:"server"`
	CertificateAuthorityData []byte `json:"certificate-authority-data,omitempty"`
}

type namedUser struct {
	Name string `json:"name"`
	User user   `json:"user"`
}

type user struct {
	ClientCertificateData []byte `json:"client-certificate-data,omitempty"`
	ClientKeyData         []byte `json:"client-key-data,omitempty"`
}

// Credentials are how a kubeconfig's user reaches the server: the CA that signed the
// server's certificate, and a client certificate. All empty is a plain-HTTP server that does
// not authenticate (tug up --secure=false).
type Credentials struct {
	CAPEM   []byte
	CertPEM []byte
	KeyPEM  []byte
}

type namedContext struct {
	Name    string  `json:"name"`
	Context context `json:"context"`
}

type context struct {
	Cluster string `json:"cluster"`
	User    string `json:"user"`
}

// ServerURL is the URL a client on this machine uses to reach an API server listening on
// listen (HOST:PORT), over HTTPS when secure. A wildcard host (0.0.0.0, ::, empty) becomes the
// matching loopback address.
func ServerURL(listen string, secure bool) (string, error) {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "", fmt.Errorf("listen address %q: %w", listen, err)
	}
	switch ip := net.ParseIP(host); {
	case host == "":
		host = "127.0.0.1"
	case ip != nil && ip.IsUnspecified() && ip.To4() != nil:
		host = "127.0.0.1"
	case ip != nil && ip.IsUnspecified():
		host = "::1"
	}
	scheme := "http://"
	if secure {
		scheme = "https://"
	}
	return scheme + net.JoinHostPort(host, port), nil
}

// Marshal returns the kubeconfig YAML for an API server at serverURL.
func Marshal(serverURL string, creds Credentials) ([]byte, error) {
	c := config{
		APIVersion:     "v1",
		Kind:           "Config",
		Clusters:       []namedCluster{{Name: ClusterName, Cluster: cluster{Server: serverURL, CertificateAuthorityData: creds.CAPEM}}},
		Users:          []namedUser{{Name: UserName, User: user{ClientCertificateData: creds.CertPEM, ClientKeyData: creds.KeyPEM}}},
		Contexts:       []namedContext{{Name: ContextName, Context: context{Cluster: ClusterName, User: UserName}}},
		CurrentContext: ContextName,
	}
	return yaml.Marshal(c)
}

// Write writes the kubeconfig for serverURL to path atomically (a reader sees the old file or
// the new one, never a partial one) with mode 0600: it holds the admin's key.
func Write(path, serverURL string, creds Credentials) error {
	data, err := Marshal(serverURL, creds)
	if err != nil {
		return fmt.Errorf("encode kubeconfig: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".kubeconfig-*")
	if err != nil {
		return fmt.Errorf("write kubeconfig: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write kubeconfig: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write kubeconfig: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write kubeconfig: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write kubeconfig: %w", err)
	}
	return nil
}
