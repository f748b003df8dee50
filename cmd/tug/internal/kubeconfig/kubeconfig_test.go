package kubeconfig

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/client-go/tools/clientcmd"
)

func TestServerURL(t *testing.T) {
	tests := []struct {
		listen, want string
		wantErr      bool
	}{
		{listen: "127.0.0.1:6443", want: "http://127.0.0.1:6443"},
		{listen: "0.0.0.0:6443", want: "http://127.0.0.1:6443"},
		{listen: ":7443", want: "http://127.0.0.1:7443"},
		{listen: "[::]:6443", want: "http://[::1]:6443"},
		{listen: "[::1]:6443", want: "http://[::1]:6443"},
		{listen: "tug.example:6443", want: "http://tug.example:6443"},
		{listen: "127.0.0.1", wantErr: true},
	}
	for _, tt := range tests {
		got, err := ServerURL(tt.listen, false)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ServerURL(%q) = %q, %v; want %q, error %v", tt.listen, got, err, tt.want, tt.wantErr)
		}
		if tt.wantErr {
			continue
		}
		if got, _ := ServerURL(tt.listen, true); got != "https://"+strings.TrimPrefix(tt.want, "http://") {
			t.Errorf("ServerURL(%q, secure) = %q", tt.listen, got)
		}
	}
}

// TestWriteLoadsWithClientcmd reads the file back with client-go, the way kubectl does.
func TestWriteLoadsWithClientcmd(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, []byte("stale"), 0o644); err != nil {
		t.Fatal(err)
	}
	creds := Credentials{CAPEM: []byte("ca"), CertPEM: []byte("cert"), KeyPEM: []byte("key")}
	if err := Write(path, "http://127.0.0.1:6443", creds); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v, want 0600", fi.Mode().Perm())
	}
	cfg, err := clientcmd.LoadFromFile(path)
	if err != nil {
		t.Fatalf("clientcmd.LoadFromFile: %v", err)
	}
	if cfg.CurrentContext != "tug" {
		t.Errorf("current-context = %q, want tug", cfg.CurrentContext)
	}
	ctx := cfg.Contexts["tug"]
	if ctx == nil || ctx.Cluster != "tug" || ctx.AuthInfo != "admin" {
		t.Fatalf("context tug = %+v", ctx)
	}
	if c := cfg.Clusters["tug"]; c == nil || c.Server != "http://127.0.0.1:6443" {
		t.Errorf("cluster tug = %+v", c)
	}
	if c := cfg.Clusters["tug"]; c == nil || string(c.CertificateAuthorityData) != "ca" {
		t.Errorf("cluster tug's CA = %+v", c)
	}
	if u, ok := cfg.AuthInfos["admin"]; !ok || string(u.ClientCertificateData) != "cert" || string(u.ClientKeyData) != "key" {
		t.Errorf("user admin = %+v", u)
	}
	rest, err := clientcmd.NewDefaultClientConfig(*cfg, nil).ClientConfig()
	if err != nil {
		t.Fatalf("building a client config: %v", err)
	}
	if rest.Host != "http://127.0.0.1:6443" {
		t.Errorf("rest host = %q", rest.Host)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("temp files left behind: %v", entries)
	}
}
