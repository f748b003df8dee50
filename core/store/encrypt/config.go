package encrypt

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"sigs.k8s.io/yaml"
)

// The API version and kind of kube-apiserver's --encryption-provider-config file.
const (
	ConfigAPIVersion = "apiserver.config.k8s.io/v1"
	ConfigKind       = "EncryptionConfiguration"
)

// Config is kube-apiserver's EncryptionConfiguration: for each list of resources, the
// providers that encrypt them, the first one writing and all of them reading.
type Config struct {
	APIVersion string           `json:"apiVersion"`
	Kind       string           `json:"kind"`
	Resources  []ResourceConfig `json:"resources"`
}

// ResourceConfig is one entry of Config.Resources.
type ResourceConfig struct {
	// Resources are "resource" (core group), "resource.group", "*.group", "*." or "*.*".
	Resources []string         `json:"resources"`
	Providers []ProviderConfig `json:"providers"`
}

// ProviderConfig sets exactly one provider.
type ProviderConfig struct {
	AESGCM   *KeysConfig `json:"aesgcm,omitempty"`
	Identity *struct{}   `json:"identity,omitempty"`
	// Providers kube-apiserver has and tug does not: named so that a config using them is
	// refused with a reason rather than as an unknown field.
	AESCBC    json.RawMessage `json:"aescbc,omitempty"`
	Secretbox json.RawMessage `json:"secretbox,omitempty"`
	KMS       json.RawMessage `json:"kms,omitempty"`
}

// KeysConfig lists a provider's keys: the first encrypts, every one decrypts.
type KeysConfig struct {
	Keys []KeyConfig `json:"keys"`
}

// KeyConfig is a named key; Secret is the key's bytes in standard base64.
type KeyConfig struct {
	Name   string `json:"name"`
	Secret string `json:"secret"`
}

// Load builds the transformer of an EncryptionConfiguration file.
func Load(path string) (*Transformer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("encryption config: %w", err)
	}
	t, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("encryption config %s: %w", path, err)
	}
	return t, nil
}

// Parse builds the transformer of an EncryptionConfiguration (YAML or JSON).
func Parse(data []byte) (*Transformer, error) {
	cfg, err := ParseConfig(data)
	if err != nil {
		return nil, err
	}
	return New(cfg)
}

// ParseConfig decodes an EncryptionConfiguration (YAML or JSON), refusing unknown fields.
// New checks the rest.
func ParseConfig(data []byte) (Config, error) {
	var cfg Config
	if err := yaml.UnmarshalStrict(data, &cfg); err != nil {
		return Config{}, err
	}
	if cfg.APIVersion != ConfigAPIVersion || cfg.Kind != ConfigKind {
		return Config{}, fmt.Errorf("want apiVersion %s, kind %s; got %q, %q", ConfigAPIVersion, ConfigKind, cfg.APIVersion, cfg.Kind)
	}
	return cfg, nil
}

// DataDirKeyName names a data dir's key in the values it encrypts: "datadir-" and 8 hex digits
// of the key's SHA-256 (32 bits of a hash of a 256-bit random key tell an attacker nothing).
// Each key file so has a name of its own: a value written with another server's key file, or
// with one since lost, fails as "key datadir-… is not configured", naming the file it needs,
// rather than as a wrong key; and a config written later can list several side by side.
func DataDirKeyName(key []byte) string {
	sum := sha256.Sum256(key)
	return "datadir-" + hex.EncodeToString(sum[:4])
}

// SecretsConfig is the configuration of --encrypt-secrets: Secrets encrypted with key, the data
// dir's, and Secrets written before encryption was on still read. With encrypt false Secrets
// are written plain, and ones encrypted while it was on still read.
func SecretsConfig(key []byte, encrypt bool) Config {
	gcm := ProviderConfig{AESGCM: &KeysConfig{Keys: []KeyConfig{{Name: DataDirKeyName(key), Secret: base64.StdEncoding.EncodeToString(key)}}}}
	identity := ProviderConfig{Identity: &struct{}{}}
	providers := []ProviderConfig{gcm, identity}
	if !encrypt {
		providers = []ProviderConfig{identity, gcm}
	}
	return Config{APIVersion: ConfigAPIVersion, Kind: ConfigKind,
		Resources: []ResourceConfig{{Resources: []string{"secrets"}, Providers: providers}}}
}

// pattern is a parsed resource name; "*" in either part matches anything.
type pattern struct {
	text            string
	group, resource string
}

func (p pattern) covers(q pattern) bool {
	return (p.group == "*" || p.group == q.group) && (p.resource == "*" || p.resource == q.resource)
}

// parsePattern reads "secrets", "deployments.apps", "*.apps", "*." or "*.*".
func parsePattern(s string) (pattern, error) {
	if s == "" {
		return pattern{}, errors.New("empty resource name")
	}
	if s != strings.ToLower(s) {
		return pattern{}, fmt.Errorf("%q: resource names are lowercase", s)
	}
	resource, group, _ := strings.Cut(s, ".")
	switch {
	case s == "*":
		return pattern{}, errors.New(`"*": use "*.*" for every resource, or "*." for every core one`)
	case resource == "":
		return pattern{}, fmt.Errorf("%q: no resource name before the group", s)
	case strings.Contains(resource, "*") && resource != "*":
		return pattern{}, fmt.Errorf("%q: a wildcard stands for a whole resource name", s)
	case strings.Contains(group, "*") && group != "*":
		return pattern{}, fmt.Errorf("%q: a wildcard stands for a whole group", s)
	case group == "*" && resource != "*":
		return pattern{}, fmt.Errorf("%q: a resource in every group is not supported; use *.*", s)
	}
	return pattern{text: s, group: group, resource: resource}, nil
}
