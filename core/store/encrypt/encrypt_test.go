package encrypt_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tugboat-io/tug/core/store"
	"github.com/tugboat-io/tug/core/store/encrypt"
)

// The transformer is what the store calls.
var _ store.Transformer = (*encrypt.Transformer)(nil)

func secret(b byte, n int) string {
	return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{b}, n))
}

const head = "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\n"

func TestConfig(t *testing.T) {
	k32, k16 := secret(1, 32), secret(2, 16)
	cases := []struct {
		name, yaml string
		wantErr    string // "" for a valid config
	}{
		{"aesgcm then identity", head + `
resources:
- resources: [secrets, configmaps, widgets.example.com]
  providers:
  - aesgcm: {keys: [{name: key1, secret: ` + k32 + `}, {name: key2, secret: ` + k16 + `}]}
  - identity: {}
`, ""},
		{"wildcards after specific opt-outs", head + `
resources:
- resources: [events]
  providers: [{identity: {}}]
- resources: ['*.apps']
  providers: [{aesgcm: {keys: [{name: a, secret: ` + k32 + `}]}}]
- resources: ['*.']
  providers: [{aesgcm: {keys: [{name: b, secret: ` + k32 + `}]}}]
- resources: ['*.*']
  providers: [{aesgcm: {keys: [{name: c, secret: ` + k32 + `}]}}]
`, ""},
		{"wrong apiVersion", "apiVersion: v1\nkind: EncryptionConfig\nresources: []\n", "want apiVersion apiserver.config.k8s.io/v1"},
		{"unknown field", head + "resources: []\nextra: 1\n", "unknown field"},
		{"no resources", head + "resources: []\n", "resources: none listed"},
		{"aescbc refused", head + `
resources:
- resources: [secrets]
  providers: [{aescbc: {keys: [{name: k, secret: ` + k32 + `}]}}]
`, "the aescbc provider is not supported by tug (supported: aesgcm, identity)"},
		{"secretbox refused", head + `
resources:
- resources: [secrets]
  providers: [{secretbox: {keys: [{name: k, secret: ` + k32 + `}]}}]
`, "the secretbox provider is not supported"},
		{"kms refused", head + `
resources:
- resources: [secrets]
  providers: [{kms: {apiVersion: v2, name: vault, endpoint: unix:///kms.sock}}]
`, "the kms provider is not supported"},
		{"two providers in one entry", head + `
resources:
- resources: [secrets]
  providers: [{identity: {}, aesgcm: {keys: [{name: k, secret: ` + k32 + `}]}}]
`, "want exactly one provider, got 2"},
		{"no providers", head + "resources:\n- resources: [secrets]\n  providers: []\n", "providers: none listed"},
		{"no keys", head + "resources:\n- resources: [secrets]\n  providers: [{aesgcm: {keys: []}}]\n", "aesgcm.keys: none listed"},
		{"secret not base64", head + "resources:\n- resources: [secrets]\n  providers: [{aesgcm: {keys: [{name: k, secret: '!!'}]}}]\n", "secret is not base64"},
		{"secret of a wrong size", head + "resources:\n- resources: [secrets]\n  providers: [{aesgcm: {keys: [{name: k, secret: " + secret(1, 20) + "}]}}]\n", "secret is 20 bytes, want 16, 24 or 32"},
		{"key name twice", head + `
resources:
- resources: [secrets]
  providers:
  - aesgcm: {keys: [{name: k, secret: ` + k32 + `}]}
  - aesgcm: {keys: [{name: k, secret: ` + k16 + `}]}
`, `key name "k" used twice`},
		{"colon in a key name", head + "resources:\n- resources: [secrets]\n  providers: [{aesgcm: {keys: [{name: 'a:b', secret: " + k32 + "}]}}]\n", "no colons"},
		{"empty key name", head + "resources:\n- resources: [secrets]\n  providers: [{aesgcm: {keys: [{name: '', secret: " + k32 + "}]}}]\n", "name: empty"},
		{"bare star", head + "resources:\n- resources: ['*']\n  providers: [{identity: {}}]\n", `use "*.*"`},
		{"uppercase", head + "resources:\n- resources: [Secrets]\n  providers: [{identity: {}}]\n", "lowercase"},
		{"resource in every group", head + "resources:\n- resources: ['secrets.*']\n  providers: [{identity: {}}]\n", "use *.*"},
		{"specific after a wildcard", head + `
resources:
- resources: ['*.*']
  providers: [{identity: {}}]
- resources: [secrets]
  providers: [{aesgcm: {keys: [{name: k, secret: ` + k32 + `}]}}]
`, `"secrets" is already covered by "*.*"`},
		{"listed twice", head + "resources:\n- resources: [secrets, secrets]\n  providers: [{identity: {}}]\n", "already covered"},
		{"core wildcard masks core resource", head + "resources:\n- resources: ['*.', configmaps]\n  providers: [{identity: {}}]\n", `"configmaps" is already covered by "*."`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := encrypt.Parse([]byte(c.yaml))
			switch {
			case c.wantErr == "" && err != nil:
				t.Fatalf("valid config refused: %v", err)
			case c.wantErr != "" && err == nil:
				t.Fatalf("config accepted, want an error with %q", c.wantErr)
			case c.wantErr != "" && !strings.Contains(err.Error(), c.wantErr):
				t.Fatalf("error %q, want one with %q", err, c.wantErr)
			}
		})
	}
}

// build makes a transformer for resources with the providers written as YAML flow items.
func build(t *testing.T, resources string, providers ...string) *encrypt.Transformer {
	t.Helper()
	y := head + "resources:\n- resources: [" + resources + "]\n  providers:\n"
	for _, p := range providers {
		y += "  - " + p + "\n"
	}
	tr, err := encrypt.Parse([]byte(y))
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func gcm(keys ...string) string {
	var ks []string
	for _, k := range keys {
		name, b, _ := strings.Cut(k, "=")
		ks = append(ks, "{name: "+name+", secret: "+secret(b[0], 32)+"}")
	}
	return "{aesgcm: {keys: [" + strings.Join(ks, ", ") + "]}}"
}

const identity = "{identity: {}}"

const secretKey = "/core/secrets/default/db"

func seal(t *testing.T, tr *encrypt.Transformer, key, value string) []byte {
	t.Helper()
	b, err := tr.ToStorage(key, []byte(value))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestStoredForm(t *testing.T) {
	tr := build(t, "secrets", gcm("key1=a"), identity)
	const plain = `{"data":{"password":"aHVudGVyMg=="}}`
	a, b := seal(t, tr, secretKey, plain), seal(t, tr, secretKey, plain)
	if !bytes.HasPrefix(a, []byte("k8s:enc:aesgcm:v1:key1:")) {
		t.Fatalf("stored value %q lacks the aesgcm prefix", a)
	}
	if bytes.Contains(a, []byte("aHVudGVyMg==")) || bytes.Contains(a, []byte("password")) {
		t.Fatalf("stored value holds the plaintext: %q", a)
	}
	// prefix + 12-byte nonce + ciphertext + 16-byte tag.
	if want := len("k8s:enc:aesgcm:v1:key1:") + 12 + len(plain) + 16; len(a) != want {
		t.Fatalf("stored value is %d bytes, want %d", len(a), want)
	}
	if bytes.Equal(a, b) {
		t.Fatal("two writes of one value are identical: the nonce is not fresh")
	}
	got, stale, err := tr.FromStorage(secretKey, a)
	if err != nil || string(got) != plain || stale {
		t.Fatalf("read back %q stale=%v err=%v", got, stale, err)
	}
}

// Only keys of the configured resources are encrypted; the store's other keys pass as given.
func TestRouting(t *testing.T) {
	cases := []struct {
		resources string
		key       string
		encrypted bool
	}{
		{"secrets", "/core/secrets/default/db", true},
		{"secrets", "/core/secrets/kube-system/x", true},
		{"secrets", "/core/configmaps/default/db", false},
		{"secrets", "/example.com/secrets/default/db", false}, // another group's "secrets"
		{"secrets", "/ranges/serviceips/10.96.0.1", false},
		{"deployments.apps", "/apps/deployments/default/web", true},
		{"deployments.apps", "/apps/replicasets/default/web", false},
		{"'*.apps'", "/apps/statefulsets/default/db", true},
		{"'*.apps'", "/core/secrets/default/db", false},
		{"'*.'", "/core/configmaps/default/x", true},
		{"'*.'", "/apps/deployments/default/x", false},
		{"'*.*'", "/widgets.example.com/widgets/ns/w", true},
		{"'*.*'", "/plugins.tug.dev/modules/abc", true},
		{"widgets.example.com", "/example.com/widgets/ns/w", true},
		{"widgets.example.com", "/widgets.example.com/widgets/ns/w", false},
	}
	for _, c := range cases {
		t.Run(c.resources+" "+c.key, func(t *testing.T) {
			tr := build(t, c.resources, gcm("k=a"), identity)
			stored := seal(t, tr, c.key, "{}")
			if got := bytes.HasPrefix(stored, []byte("k8s:enc:")); got != c.encrypted {
				t.Fatalf("encrypted=%v, want %v (%q)", got, c.encrypted, stored)
			}
			back, _, err := tr.FromStorage(c.key, stored)
			if err != nil || string(back) != "{}" {
				t.Fatalf("read back %q, %v", back, err)
			}
		})
	}
}

// The first rule matching a key decides: a specific identity rule before a wildcard opts out.
func TestFirstRuleWins(t *testing.T) {
	tr, err := encrypt.Parse([]byte(head + `
resources:
- resources: [events]
  providers: [{identity: {}}]
- resources: ['*.*']
  providers: [` + gcm("k=a") + `]
`))
	if err != nil {
		t.Fatal(err)
	}
	if b := seal(t, tr, "/core/events/default/e", "{}"); string(b) != "{}" {
		t.Fatalf("an event was encrypted: %q", b)
	}
	if b := seal(t, tr, "/core/pods/default/p", "{}"); !bytes.HasPrefix(b, []byte("k8s:enc:aesgcm:v1:k:")) {
		t.Fatalf("a pod was not encrypted: %q", b)
	}
}

func TestRead(t *testing.T) {
	// Values as each configuration writes them, to be read by another.
	keyA := build(t, "secrets", gcm("key1=a"))
	keyB := build(t, "secrets", gcm("key2=b"))
	sealedA := seal(t, keyA, secretKey, "v1")
	sealedB := seal(t, keyB, secretKey, "v2")
	tampered := bytes.Clone(sealedA)
	tampered[len(tampered)-20] ^= 1
	// Same name, another secret: a key file regenerated after the old one was lost.
	sameNameOtherSecret := build(t, "secrets", gcm("key1=z"))

	cases := []struct {
		name      string
		tr        *encrypt.Transformer
		key       string
		stored    []byte
		want      string
		wantStale bool
		wantErr   error
	}{
		{"plain value where identity is listed", build(t, "secrets", gcm("key1=a"), identity), secretKey, []byte("plain"), "plain", true, nil},
		{"plain value with identity first", build(t, "secrets", identity, gcm("key1=a")), secretKey, []byte("plain"), "plain", false, nil},
		{"plain value without identity", keyA, secretKey, []byte("plain"), "", false, encrypt.ErrUnencrypted},
		{"current key", keyA, secretKey, sealedA, "v1", false, nil},
		{"after rotation: old key second", build(t, "secrets", gcm("key2=b", "key1=a")), secretKey, sealedA, "v1", true, nil},
		{"after rotation: new key", build(t, "secrets", gcm("key2=b", "key1=a")), secretKey, sealedB, "v2", false, nil},
		{"old key in a later provider", build(t, "secrets", gcm("key2=b"), identity, gcm("key1=a")), secretKey, sealedA, "v1", true, nil},
		{"encrypted, identity first", build(t, "secrets", identity, gcm("key1=a")), secretKey, sealedA, "v1", true, nil},
		{"key removed", keyB, secretKey, sealedA, "", false, encrypt.ErrUnknownKey},
		{"identity only", build(t, "secrets", identity), secretKey, sealedA, "", false, encrypt.ErrUnknownKey},
		{"resource no longer configured", build(t, "configmaps", gcm("key1=a")), secretKey, sealedA, "", false, encrypt.ErrUnknownKey},
		{"wrong secret under the name", sameNameOtherSecret, secretKey, sealedA, "", false, encrypt.ErrDecrypt},
		{"tampered ciphertext", keyA, secretKey, tampered, "", false, encrypt.ErrDecrypt},
		{"moved to another object", keyA, "/core/secrets/default/other", sealedA, "", false, encrypt.ErrDecrypt},
		{"moved to another namespace", keyA, "/core/secrets/prod/db", sealedA, "", false, encrypt.ErrDecrypt},
		{"truncated", keyA, secretKey, sealedA[:len("k8s:enc:aesgcm:v1:key1:")+5], "", false, encrypt.ErrDecrypt},
		{"prefix only", keyA, secretKey, []byte("k8s:enc:aesgcm:v1:key1:"), "", false, encrypt.ErrDecrypt},
		{"another provider's value", keyA, secretKey, []byte("k8s:enc:aescbc:v1:key1:xxxxxxxx"), "", false, encrypt.ErrUnknownKey},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, stale, err := c.tr.FromStorage(c.key, c.stored)
			if c.wantErr != nil {
				if !errors.Is(err, c.wantErr) {
					t.Fatalf("err %v, want %v", err, c.wantErr)
				}
				if got != nil {
					t.Fatalf("an error returned a value too: %q", got)
				}
				return
			}
			if err != nil || string(got) != c.want || stale != c.wantStale {
				t.Fatalf("got %q stale=%v err=%v, want %q stale=%v", got, stale, err, c.want, c.wantStale)
			}
		})
	}
}

// The errors say which key a value needs, so an operator knows what to put back.
func TestErrorNamesKey(t *testing.T) {
	sealed := seal(t, build(t, "secrets", gcm("old=a")), secretKey, "v")
	_, _, err := build(t, "secrets", gcm("new=b")).FromStorage(secretKey, sealed)
	if err == nil || !strings.Contains(err.Error(), `aesgcm v1 with key "old"`) {
		t.Fatalf("error %v does not name the key", err)
	}
	_, _, err = build(t, "secrets", gcm("old=b")).FromStorage(secretKey, sealed)
	if err == nil || !strings.Contains(err.Error(), `aesgcm key "old"`) {
		t.Fatalf("error %v does not name the key", err)
	}
}

func TestSecretsConfig(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	on, err := encrypt.New(encrypt.SecretsConfig(key, true))
	if err != nil {
		t.Fatal(err)
	}
	off, err := encrypt.New(encrypt.SecretsConfig(key, false))
	if err != nil {
		t.Fatal(err)
	}
	name := encrypt.DataDirKeyName(key)
	if !strings.HasPrefix(name, "datadir-") || len(name) != len("datadir-")+8 || name == encrypt.DataDirKeyName(bytes.Repeat([]byte{8}, 32)) {
		t.Fatalf("key name %q: want datadir- and 8 hex digits, differing between keys", name)
	}
	sealed := seal(t, on, secretKey, "v")
	if !bytes.HasPrefix(sealed, []byte("k8s:enc:aesgcm:v1:"+name+":")) {
		t.Fatalf("--encrypt-secrets wrote %q", sealed)
	}
	if v, stale, err := on.FromStorage(secretKey, []byte("plain")); err != nil || string(v) != "plain" || !stale {
		t.Fatalf("a Secret written before encryption: %q stale=%v %v", v, stale, err)
	}
	// Turned off again: written plain, and what was encrypted still reads.
	if b := seal(t, off, secretKey, "v"); string(b) != "v" {
		t.Fatalf("with encryption off a Secret was stored as %q", b)
	}
	if v, stale, err := off.FromStorage(secretKey, sealed); err != nil || string(v) != "v" || !stale {
		t.Fatalf("reading an encrypted Secret with encryption off: %q stale=%v %v", v, stale, err)
	}
	if s := on.Summary(); s != "secrets: aesgcm("+name+"), identity" {
		t.Fatalf("summary %q", s)
	}
	if s := off.Summary(); s != "secrets: identity, aesgcm("+name+")" {
		t.Fatalf("summary %q", s)
	}
}

func TestKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), encrypt.KeyFileName)
	if _, err := encrypt.LoadKey(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing key file: %v, want ErrNotExist", err)
	}
	key, created, err := encrypt.LoadOrCreateKey(path)
	if err != nil || !created || len(key) != 32 {
		t.Fatalf("first start: %d-byte key, created=%v, %v", len(key), created, err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %04o, want 0600", st.Mode().Perm())
	}
	// The file is what an EncryptionConfiguration's secret takes.
	b, _ := os.ReadFile(path)
	if raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b))); err != nil || !bytes.Equal(raw, key) {
		t.Fatalf("key file holds %q", b)
	}
	again, created, err := encrypt.LoadOrCreateKey(path)
	if err != nil || created || !bytes.Equal(again, key) {
		t.Fatalf("second start: created=%v, same key %v, %v", created, bytes.Equal(again, key), err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := encrypt.LoadOrCreateKey(path); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("a world-readable key file: %v", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("c2hvcnQ=\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := encrypt.LoadOrCreateKey(path); err == nil || !strings.Contains(err.Error(), "base64 of 32 bytes") {
		t.Fatalf("a short key: %v", err)
	}
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
		t.Fatalf("temporary files left beside the key: %v", entries)
	}
}

func TestLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "enc.yaml")
	if _, err := encrypt.Load(path); err == nil || !strings.Contains(err.Error(), "encryption config") {
		t.Fatalf("missing file: %v", err)
	}
	if err := os.WriteFile(path, []byte(head+"resources:\n- resources: [secrets]\n  providers: [{aescbc: {}}]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := encrypt.Load(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("a bad file: %v, want an error naming it", err)
	}
	if err := os.WriteFile(path, []byte(head+"resources:\n- resources: [secrets]\n  providers: ["+gcm("k=a")+"]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := encrypt.Load(path); err != nil {
		t.Fatal(err)
	}
}
