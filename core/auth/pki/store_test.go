package pki

import (
	"crypto/x509"
	"errors"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/tugboat-io/tug/core/auth/user"
)

var testNames = ServingNames{
	IPs:         []netip.Addr{netip.MustParseAddr("192.168.1.10")},
	DNSNames:    []string{"tug.example.com"},
	ServiceCIDR: netip.MustParsePrefix("10.96.0.0/12"),
}

func load(t *testing.T, dir string, opts Options) *Bundle {
	t.Helper()
	b, err := LoadOrCreate(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestLoadOrCreateFirstRun(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	b := load(t, dir, Options{Serving: testNames})
	want := []string{CAKeyFile, CACertFile, KubeletServingCAKeyFile, KubeletServingCACertFile, ServingKeyFile, ServingCertFile, AdminKeyFile, AdminCertFile, KubeletClientKeyFile, KubeletClientCertFile, SAKeyFile, SAPubFile}
	if !slices.Equal(b.Written, want) {
		t.Fatalf("written %q, want %q", b.Written, want)
	}
	modes := map[string]fs.FileMode{
		CAKeyFile: 0o600, KubeletServingCAKeyFile: 0o600, ServingKeyFile: 0o600, AdminKeyFile: 0o600, KubeletClientKeyFile: 0o600, SAKeyFile: 0o600,
		CACertFile: 0o644, KubeletServingCACertFile: 0o644, ServingCertFile: 0o644, AdminCertFile: 0o644, KubeletClientCertFile: 0o644, SAPubFile: 0o644,
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(modes) {
		t.Fatalf("directory holds %d entries (temporary files left?), want %d", len(entries), len(modes))
	}
	for name, mode := range modes {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != mode {
			t.Errorf("%s mode %v, want %v", name, st.Mode().Perm(), mode)
		}
	}
	if st, _ := os.Stat(dir); st.Mode().Perm() != 0o700 {
		t.Errorf("directory mode %v", st.Mode().Perm())
	}
	if _, err := b.Serving.Cert.Verify(x509.VerifyOptions{DNSName: "tug.example.com", Roots: b.CA.Pool()}); err != nil {
		t.Errorf("serving cert: %v", err)
	}
	if _, err := b.Admin.Cert.Verify(x509.VerifyOptions{Roots: b.CA.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("admin cert: %v", err)
	}
	if !slices.Equal(b.Admin.Cert.Subject.Organization, []string{"system:masters"}) {
		t.Errorf("admin groups %q", b.Admin.Cert.Subject.Organization)
	}
	if _, err := b.KubeletClient.Cert.Verify(x509.VerifyOptions{Roots: b.CA.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("kubelet client cert: %v", err)
	}
	if k := b.KubeletServingCA.Cert; !k.IsCA || k.Subject.CommonName != KubeletServingCAName || k.Equal(b.CA.Cert) {
		t.Errorf("kubelet serving CA %q (CA %v): want a CA of its own named %q", k.Subject.CommonName, k.IsCA, KubeletServingCAName)
	}
	if again := load(t, dir, Options{Serving: testNames}); !again.KubeletServingCA.Cert.Equal(b.KubeletServingCA.Cert) || len(again.Written) != 0 {
		t.Errorf("a second load made another kubelet serving CA or wrote %q", again.Written)
	}
	if c := b.KubeletClient.Cert.Subject; c.CommonName != user.APIServerKubeletClient || len(c.Organization) != 0 {
		t.Errorf("kubelet client cert is for %q in %q, want %q in no group (RBAC binds it, not system:masters)", c.CommonName, c.Organization, user.APIServerKubeletClient)
	}
}

func TestLoadOrCreateKeepsWhatIsValid(t *testing.T) {
	dir := t.TempDir()
	first := load(t, dir, Options{Serving: testNames})
	second := load(t, dir, Options{Serving: testNames})
	if len(second.Written) != 0 {
		t.Fatalf("second run wrote %q", second.Written)
	}
	if !second.CA.Cert.Equal(first.CA.Cert) || !second.Serving.Cert.Equal(first.Serving.Cert) || !second.SAKey.Equal(first.SAKey) {
		t.Fatal("second run changed material")
	}
	// A subset of the names is still covered.
	if b := load(t, dir, Options{}); len(b.Written) != 0 {
		t.Fatalf("subset of names rewrote %q", b.Written)
	}
}

func TestLoadOrCreateReissues(t *testing.T) {
	tests := []struct {
		name   string
		change func(t *testing.T, dir string) Options
		want   []string
	}{
		{"new IP", func(*testing.T, string) Options {
			n := testNames
			n.IPs = append(slices.Clone(n.IPs), netip.MustParseAddr("10.0.0.5"))
			return Options{Serving: n}
		}, []string{ServingKeyFile, ServingCertFile}},
		{"new DNS name", func(*testing.T, string) Options {
			n := testNames
			n.DNSNames = []string{"api.example.org"}
			return Options{Serving: n}
		}, []string{ServingKeyFile, ServingCertFile}},
		{"other service range", func(*testing.T, string) Options {
			n := testNames
			n.ServiceCIDR = netip.MustParsePrefix("10.43.0.0/16")
			return Options{Serving: n}
		}, []string{ServingKeyFile, ServingCertFile}},
		{"leaves expire within 30 days", func(*testing.T, string) Options {
			return Options{Serving: testNames, Now: func() time.Time { return time.Now().Add(LeafValidity - 29*24*time.Hour) }}
		}, []string{ServingKeyFile, ServingCertFile, AdminKeyFile, AdminCertFile, KubeletClientKeyFile, KubeletClientCertFile}},
		{"leaves expire in 31 days", func(*testing.T, string) Options {
			return Options{Serving: testNames, Now: func() time.Time { return time.Now().Add(LeafValidity - 31*24*time.Hour) }}
		}, nil},
		{"damaged serving cert", func(t *testing.T, dir string) Options {
			writeFile(t, filepath.Join(dir, ServingCertFile), "garbage")
			return Options{Serving: testNames}
		}, []string{ServingKeyFile, ServingCertFile}},
		{"serving key lost", func(t *testing.T, dir string) Options {
			removeFile(t, filepath.Join(dir, ServingKeyFile))
			return Options{Serving: testNames}
		}, []string{ServingKeyFile, ServingCertFile}},
		{"sa.pub lost", func(t *testing.T, dir string) Options {
			removeFile(t, filepath.Join(dir, SAPubFile))
			return Options{Serving: testNames}
		}, []string{SAPubFile}},
		{"CA creation cut short", func(t *testing.T, dir string) Options {
			removeFile(t, filepath.Join(dir, CACertFile))
			return Options{Serving: testNames}
		}, []string{CAKeyFile, CACertFile, ServingKeyFile, ServingCertFile, AdminKeyFile, AdminCertFile, KubeletClientKeyFile, KubeletClientCertFile}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			first := load(t, dir, Options{Serving: testNames})
			opts := tt.change(t, dir)
			b := load(t, dir, opts)
			if !slices.Equal(b.Written, tt.want) {
				t.Fatalf("written %q, want %q", b.Written, tt.want)
			}
			if !slices.Contains(tt.want, CACertFile) && !b.CA.Cert.Equal(first.CA.Cert) {
				t.Fatal("CA replaced")
			}
			if _, err := b.Serving.Cert.Verify(x509.VerifyOptions{Roots: b.CA.Pool(), CurrentTime: b.CA.clock()}); err != nil {
				t.Fatalf("serving cert not from the CA: %v", err)
			}
			if !Covers(b.Serving.Cert, opts.Serving) {
				t.Fatal("serving cert does not cover the names")
			}
			if !b.SAKey.Equal(first.SAKey) {
				t.Fatal("service account key replaced")
			}
			if again := load(t, dir, opts); len(again.Written) != 0 {
				t.Fatalf("third run wrote %q", again.Written)
			}
		})
	}
}

func TestLoadOrCreateRefusesDamagedCA(t *testing.T) {
	tests := []struct {
		name   string
		damage func(t *testing.T, dir string)
		want   error
	}{
		{"CA key lost", func(t *testing.T, dir string) { removeFile(t, filepath.Join(dir, CAKeyFile)) }, ErrMissingKey},
		{"CA cert garbage", func(t *testing.T, dir string) { writeFile(t, filepath.Join(dir, CACertFile), "garbage") }, nil},
		{"CA key from elsewhere", func(t *testing.T, dir string) {
			other, err := NewCA(time.Now())
			if err != nil {
				t.Fatal(err)
			}
			writeFile(t, filepath.Join(dir, CAKeyFile), string(other.KeyPEM))
		}, ErrKeyMismatch},
		{"SA key garbage", func(t *testing.T, dir string) { writeFile(t, filepath.Join(dir, SAKeyFile), "garbage") }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			load(t, dir, Options{})
			tt.damage(t, dir)
			_, err := LoadOrCreate(dir, Options{})
			if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestWriteFileAtomicReplaces(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	for _, content := range []string{"one", "two"} {
		if err := WriteFileAtomic(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != content {
			t.Fatalf("read %q, %v; want %q", got, err, content)
		}
	}
	if err := WriteFileAtomic(filepath.Join(t.TempDir(), "missing", "f"), nil, 0o600); err == nil {
		t.Fatal("wrote into a missing directory")
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func removeFile(t *testing.T, path string) {
	t.Helper()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
}
