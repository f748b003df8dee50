package main

import (
	"bytes"
	"encoding/base64"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/tugboat-io/tug/cmd/tug/internal/config"
	"github.com/tugboat-io/tug/core/store"
	"github.com/tugboat-io/tug/core/store/encrypt"
)

// transformerFor resolves the encryption flags in args as `tug up` does, for dataDir.
func transformerFor(t *testing.T, dataDir string, args ...string) (store.Transformer, error) {
	t.Helper()
	f := pflag.NewFlagSet("up", pflag.ContinueOnError)
	addEncryptionFlags(f)
	if err := f.Parse(args); err != nil {
		t.Fatal(err)
	}
	s, err := config.Load(f)
	if err != nil {
		t.Fatal(err)
	}
	a := &app{settings: s, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	return a.storeTransformer(dataDir)
}

const secretKey = "/core/secrets/default/db"

func TestEncryptionFlags(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, encrypt.KeyFileName)

	// Off by default, and no key file is made.
	if tr, err := transformerFor(t, dir); err != nil || tr != nil {
		t.Fatalf("no flags: %v, %v", tr, err)
	}
	if _, err := os.Stat(keyFile); !os.IsNotExist(err) {
		t.Fatalf("a key file exists without --encrypt-secrets: %v", err)
	}

	// --encrypt-secrets creates the key on first start and keeps it.
	tr, err := transformerFor(t, dir, "--encrypt-secrets")
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(keyFile)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, %v", st, err)
	}
	sealed, err := tr.ToStorage(secretKey, []byte("v"))
	if err != nil || !bytes.HasPrefix(sealed, []byte("k8s:enc:aesgcm:v1:datadir-")) {
		t.Fatalf("a Secret stored as %q, %v", sealed, err)
	}
	if plain, _ := tr.ToStorage("/core/configmaps/default/db", []byte("v")); string(plain) != "v" {
		t.Fatalf("a ConfigMap stored as %q", plain)
	}
	again, err := transformerFor(t, dir, "--encrypt-secrets")
	if err != nil {
		t.Fatal(err)
	}
	if v, _, err := again.FromStorage(secretKey, sealed); err != nil || string(v) != "v" {
		t.Fatalf("after a restart: %q, %v", v, err)
	}

	// Turned off with the key file left: written plain, encrypted ones still read.
	off, err := transformerFor(t, dir)
	if err != nil || off == nil {
		t.Fatalf("flag off with a key file: %v, %v", off, err)
	}
	if b, _ := off.ToStorage(secretKey, []byte("v")); string(b) != "v" {
		t.Fatalf("flag off: a Secret stored as %q", b)
	}
	if v, _, err := off.FromStorage(secretKey, sealed); err != nil || string(v) != "v" {
		t.Fatalf("flag off: an encrypted Secret reads %q, %v", v, err)
	}
}

func TestEncryptionProviderConfig(t *testing.T) {
	dir := t.TempDir()
	write := func(body string) string {
		p := filepath.Join(t.TempDir(), "enc.yaml")
		if err := os.WriteFile(p, []byte("apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\n"+body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	key := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{3}, 32))
	good := write("resources:\n- resources: [configmaps]\n  providers: [{aesgcm: {keys: [{name: k1, secret: " + key + "}]}}, {identity: {}}]\n")

	tr, err := transformerFor(t, dir, "--encryption-provider-config", good)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := tr.ToStorage("/core/configmaps/default/x", []byte("v")); !bytes.HasPrefix(b, []byte("k8s:enc:aesgcm:v1:k1:")) {
		t.Fatalf("a configured ConfigMap stored as %q", b)
	}
	if b, _ := tr.ToStorage(secretKey, []byte("v")); string(b) != "v" {
		t.Fatalf("a Secret the config does not name stored as %q", b)
	}
	if _, err := os.Stat(filepath.Join(dir, encrypt.KeyFileName)); !os.IsNotExist(err) {
		t.Fatalf("a config file run made a key file: %v", err)
	}

	cases := []struct {
		name string
		args []string
		want string
	}{
		{"both", []string{"--encrypt-secrets", "--encryption-provider-config", good}, "exclude each other"},
		{"missing file", []string{"--encryption-provider-config", filepath.Join(dir, "nope.yaml")}, "--encryption-provider-config: encryption config"},
		{"aescbc", []string{"--encryption-provider-config", write("resources:\n- resources: [secrets]\n  providers: [{aescbc: {keys: [{name: k, secret: " + key + "}]}}]\n")},
			"the aescbc provider is not supported by tug"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := transformerFor(t, dir, c.args...)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one with %q", err, c.want)
			}
		})
	}
}
