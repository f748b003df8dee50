package encrypt

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors for values that cannot be read; callers test with errors.Is.
var (
	// ErrDecrypt: the named key did not authenticate the value — the key's secret is not the
	// one it was written with, or the value was modified or copied from another object.
	ErrDecrypt = errors.New("cannot decrypt: wrong key, or the value was modified or moved from another object")
	// ErrUnknownKey: the value was encrypted by a provider or key the configuration does not
	// list for its resource (a key removed too early, or a lost configuration).
	ErrUnknownKey = errors.New("encrypted with a key that is not configured")
	// ErrUnencrypted: the value is plain but its resource's providers do not include identity.
	ErrUnencrypted = errors.New("not encrypted, and the identity provider is not listed")
)

// encPrefix starts every encrypted value, whatever the provider: kube-apiserver's marker.
var encPrefix = []byte("k8s:enc:")

// Transformer encrypts and decrypts values by their store key; it implements
// store.Transformer. It is safe for concurrent use.
type Transformer struct {
	rules []rule
}

// rule is one configured resource pattern and its providers; the first provider writes.
type rule struct {
	pattern pattern
	// keys are the aesgcm keys in configuration order; identityAt is the index of the identity
	// provider among providers, -1 if it is not listed.
	keys       []aesKey
	identityAt int
	// writeIdentity: identity is the first provider, so values are written plain.
	writeIdentity bool
	// desc lists the providers in order, for Summary.
	desc []string
}

// aesKey is one aesgcm key and the prefix of the values it writes.
type aesKey struct {
	name   string
	prefix []byte
	aead   cipher.AEAD
}

// New checks cfg and builds its transformer. Only the aesgcm and identity providers are
// supported; a config naming another is refused.
func New(cfg Config) (*Transformer, error) {
	if len(cfg.Resources) == 0 {
		return nil, errors.New("resources: none listed")
	}
	t := &Transformer{}
	var seen []pattern
	for i, rc := range cfg.Resources {
		at := fmt.Sprintf("resources[%d]", i)
		if len(rc.Resources) == 0 {
			return nil, fmt.Errorf("%s.resources: none listed", at)
		}
		providers, err := buildProviders(at, rc.Providers)
		if err != nil {
			return nil, err
		}
		for j, name := range rc.Resources {
			p, err := parsePattern(name)
			if err != nil {
				return nil, fmt.Errorf("%s.resources[%d]: %w", at, j, err)
			}
			// The first matching rule decides, so one an earlier rule covers would never
			// apply: refuse it, as kube-apiserver does, rather than ignore part of the file.
			for _, q := range seen {
				if q.covers(p) {
					return nil, fmt.Errorf("%s.resources[%d]: %q is already covered by %q listed before it", at, j, p.text, q.text)
				}
			}
			seen = append(seen, p)
			r := providers
			r.pattern = p
			t.rules = append(t.rules, r)
		}
	}
	return t, nil
}

// buildProviders checks one entry's providers and builds the rule they make (without its
// pattern).
func buildProviders(at string, providers []ProviderConfig) (rule, error) {
	if len(providers) == 0 {
		return rule{}, fmt.Errorf("%s.providers: none listed", at)
	}
	r := rule{identityAt: -1}
	names := map[string]bool{}
	for i, pc := range providers {
		pat := fmt.Sprintf("%s.providers[%d]", at, i)
		set := pc.set()
		if len(set) != 1 {
			return rule{}, fmt.Errorf("%s: want exactly one provider, got %d (%s)", pat, len(set), strings.Join(set, ", "))
		}
		switch set[0] {
		case "identity":
			if r.identityAt >= 0 {
				return rule{}, fmt.Errorf("%s: identity listed twice", pat)
			}
			r.identityAt = i
			r.writeIdentity = i == 0
			r.desc = append(r.desc, "identity")
		case "aesgcm":
			if len(pc.AESGCM.Keys) == 0 {
				return rule{}, fmt.Errorf("%s.aesgcm.keys: none listed", pat)
			}
			for j, kc := range pc.AESGCM.Keys {
				k, err := newAESKey(kc)
				if err != nil {
					return rule{}, fmt.Errorf("%s.aesgcm.keys[%d]: %w", pat, j, err)
				}
				// The name is all a stored value says of its key: two keys with one name
				// would make values ambiguous.
				if names[kc.Name] {
					return rule{}, fmt.Errorf("%s.aesgcm.keys[%d]: key name %q used twice", pat, j, kc.Name)
				}
				names[kc.Name] = true
				r.keys = append(r.keys, k)
			}
			r.desc = append(r.desc, "aesgcm("+keyNames(r.keys[len(r.keys)-len(pc.AESGCM.Keys):])+")")
		default:
			return rule{}, fmt.Errorf("%s: the %s provider is not supported by tug (supported: aesgcm, identity)", pat, set[0])
		}
	}
	return r, nil
}

// set names the providers pc sets.
func (pc ProviderConfig) set() []string {
	var out []string
	if pc.AESGCM != nil {
		out = append(out, "aesgcm")
	}
	if pc.Identity != nil {
		out = append(out, "identity")
	}
	if pc.AESCBC != nil {
		out = append(out, "aescbc")
	}
	if pc.Secretbox != nil {
		out = append(out, "secretbox")
	}
	if pc.KMS != nil {
		out = append(out, "kms")
	}
	return out
}

func newAESKey(kc KeyConfig) (aesKey, error) {
	if kc.Name == "" {
		return aesKey{}, errors.New("name: empty")
	}
	// The name ends the prefix at the next colon, so a colon in it would make it ambiguous.
	if strings.ContainsAny(kc.Name, ": \t\n") {
		return aesKey{}, fmt.Errorf("name %q: no colons or spaces allowed", kc.Name)
	}
	secret, err := base64.StdEncoding.DecodeString(kc.Secret)
	if err != nil {
		return aesKey{}, fmt.Errorf("key %q: secret is not base64: %w", kc.Name, err)
	}
	if n := len(secret); n != 16 && n != 24 && n != 32 {
		return aesKey{}, fmt.Errorf("key %q: secret is %d bytes, want 16, 24 or 32 (32 recommended: head -c 32 /dev/urandom | base64)", kc.Name, n)
	}
	block, err := aes.NewCipher(secret)
	if err != nil {
		return aesKey{}, fmt.Errorf("key %q: %w", kc.Name, err)
	}
	// Every write draws a fresh random 96-bit nonce, stored in front of the ciphertext (the
	// standard library's GCM with random nonces; kube-apiserver's aesgcm does the same).
	// A nonce repeated under one key would break GCM, so NIST SP 800-38D limits a key to 2^32
	// random-nonce encryptions: far beyond a cluster's Secret writes, and rotation starts the
	// count again. A counter nonce would need state shared by every server writing with the
	// key (several tug servers, restarts), which is exactly what a random nonce avoids.
	aead, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		return aesKey{}, fmt.Errorf("key %q: %w", kc.Name, err)
	}
	return aesKey{name: kc.Name, prefix: []byte("k8s:enc:aesgcm:v1:" + kc.Name + ":"), aead: aead}, nil
}

func (k aesKey) seal(key string, value []byte) []byte {
	out := make([]byte, len(k.prefix), len(k.prefix)+len(value)+k.aead.Overhead())
	copy(out, k.prefix)
	return k.aead.Seal(out, nil, value, []byte(key))
}

func (k aesKey) open(key string, sealed []byte) ([]byte, error) {
	// Open checks the length too; the check here only makes a truncated value's error clear.
	if len(sealed) < k.aead.Overhead() {
		return nil, fmt.Errorf("aesgcm key %q: value truncated (%d bytes): %w", k.name, len(sealed), ErrDecrypt)
	}
	v, err := k.aead.Open(nil, nil, sealed, []byte(key))
	if err != nil {
		return nil, fmt.Errorf("aesgcm key %q: %w", k.name, ErrDecrypt)
	}
	return v, nil
}

// match returns the rule for a store key /<group>/<resource>/…, or nil.
func (t *Transformer) match(key string) *rule {
	group, rest, _ := strings.Cut(strings.TrimPrefix(key, "/"), "/")
	resource, _, _ := strings.Cut(rest, "/")
	if group == "core" {
		group = ""
	}
	q := pattern{group: group, resource: resource}
	for i := range t.rules {
		if t.rules[i].pattern.covers(q) {
			return &t.rules[i]
		}
	}
	return nil
}

// ToStorage encrypts value with the first key of key's rule, or returns it as it is when the
// rule writes with identity or no rule matches.
func (t *Transformer) ToStorage(key string, value []byte) ([]byte, error) {
	r := t.match(key)
	if r == nil || r.writeIdentity {
		return value, nil
	}
	return r.keys[0].seal(key, value), nil
}

// FromStorage decrypts a value with the key its prefix names. stale is true unless the value
// is in the form ToStorage writes now.
func (t *Transformer) FromStorage(key string, stored []byte) ([]byte, bool, error) {
	r := t.match(key)
	encrypted := bytes.HasPrefix(stored, encPrefix)
	if r == nil {
		if encrypted {
			return nil, false, fmt.Errorf("%w: the value is %s, and nothing is configured for its resource", ErrUnknownKey, describe(stored))
		}
		return stored, false, nil
	}
	if !encrypted {
		if r.identityAt < 0 {
			return nil, false, fmt.Errorf("%w for %s", ErrUnencrypted, r.pattern.text)
		}
		return stored, !r.writeIdentity, nil
	}
	for i, k := range r.keys {
		if bytes.HasPrefix(stored, k.prefix) {
			v, err := k.open(key, stored[len(k.prefix):])
			return v, r.writeIdentity || i > 0, err
		}
	}
	return nil, false, fmt.Errorf("%w: the value is %s, which the configuration for %s does not list", ErrUnknownKey, describe(stored), r.pattern.text)
}

// describe names the provider and key of an encrypted value from its prefix,
// k8s:enc:<provider>:<version>:<key>:, for error messages.
func describe(stored []byte) string {
	head := stored[len(encPrefix):min(len(stored), len(encPrefix)+200)]
	parts := strings.SplitN(string(head), ":", 4)
	if len(parts) < 4 {
		return "encrypted in a form tug does not know"
	}
	return fmt.Sprintf("encrypted by %s %s with key %q", parts[0], parts[1], parts[2])
}

func keyNames(keys []aesKey) string {
	names := make([]string, len(keys))
	for i, k := range keys {
		names[i] = k.name
	}
	return strings.Join(names, ",")
}

// Summary describes the rules for a log line, e.g. "secrets: aesgcm(key2,key1), identity".
func (t *Transformer) Summary() string {
	out := make([]string, len(t.rules))
	for i, r := range t.rules {
		out[i] = r.pattern.text + ": " + strings.Join(r.desc, ", ")
	}
	return strings.Join(out, "; ")
}
