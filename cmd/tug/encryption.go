package main

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"

	"github.com/spf13/pflag"

	"github.com/tugboat-io/tug/core/store"
	"github.com/tugboat-io/tug/core/store/encrypt"
)

// addEncryptionFlags adds the flags of encryption at rest (docs/SECURITY.md).
func addEncryptionFlags(f *pflag.FlagSet) {
	f.Bool("encrypt-secrets", false, "encrypt Secrets in etcd with AES-GCM under a key kept in <data-dir>/"+encrypt.KeyFileName+" (created on first start; every server of a cluster needs the same file)")
	f.String("encryption-provider-config", "", "kube-apiserver EncryptionConfiguration file saying which resources are encrypted with which keys (aesgcm and identity providers); instead of --encrypt-secrets")
}

// storeTransformer returns what encrypts values at rest, or nil when nothing is: the
// --encryption-provider-config file if one is given, else the data dir's key for Secrets. A key
// file left from an earlier --encrypt-secrets is still used to read, so turning the flag off
// leaves encrypted Secrets readable while new writes are plain (kube's identity-first config).
func (a *app) storeTransformer(dataDir string) (store.Transformer, error) {
	log := a.logger("tug")
	on, err := a.settings.Bool("encrypt-secrets")
	if err != nil {
		return nil, err
	}
	if path := a.settings.String("encryption-provider-config"); path != "" {
		if on {
			return nil, errors.New("--encrypt-secrets and --encryption-provider-config exclude each other: the config file says what is encrypted")
		}
		tr, err := encrypt.Load(path)
		if err != nil {
			return nil, fmt.Errorf("--encryption-provider-config: %w", err)
		}
		log.Info("encryption at rest", "config", path, "providers", tr.Summary())
		return tr, nil
	}

	keyFile := filepath.Join(dataDir, encrypt.KeyFileName)
	var key []byte
	if on {
		var created bool
		if key, created, err = encrypt.LoadOrCreateKey(keyFile); err != nil {
			return nil, err
		}
		if created {
			log.Warn("created the encryption key: back it up with etcd's data, and copy it to every other server of this cluster before it starts",
				"file", keyFile)
		}
	} else {
		if key, err = encrypt.LoadKey(keyFile); errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		} else if err != nil {
			return nil, err
		}
		log.Info("--encrypt-secrets is off: Secrets are written unencrypted; ones encrypted earlier still read with the key file", "file", keyFile)
	}
	tr, err := encrypt.New(encrypt.SecretsConfig(key, on))
	if err != nil {
		return nil, fmt.Errorf("encryption key %s: %w", keyFile, err)
	}
	log.Info("encryption at rest", "key", keyFile, "providers", tr.Summary())
	return tr, nil
}
