package encrypt

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// KeyFileName is the data dir's key file, created by the first start with --encrypt-secrets.
const KeyFileName = "encryption.key"

// keySize is the size of a generated key: AES-256.
const keySize = 32

// LoadKey reads a key file: one line, the standard base64 of 32 bytes — what an
// EncryptionConfiguration's secret field takes, so the key can be moved into one to rotate it.
// A missing file is an error wrapping fs.ErrNotExist; a file others may read is refused.
func LoadKey(path string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("encryption key: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("encryption key %s is open to other users (mode %04o): chmod 600 it", path, st.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("encryption key: %w", err)
	}
	key, err := base64.StdEncoding.DecodeString(string(bytes.TrimSpace(b)))
	if err != nil || len(key) != keySize {
		return nil, fmt.Errorf("encryption key %s: want one line, the base64 of %d bytes", path, keySize)
	}
	return key, nil
}

// LoadOrCreateKey reads the key file at path, first creating it with a new random key (mode
// 0600) if it does not exist; created says it did.
func LoadOrCreateKey(path string) (key []byte, created bool, err error) {
	key, err = LoadKey(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return key, false, err
	}
	key = make([]byte, keySize)
	if _, err := rand.Read(key); err != nil {
		return nil, false, fmt.Errorf("encryption key: %w", err)
	}
	if err := writeKey(path, key); err != nil {
		return nil, false, err
	}
	return key, true, nil
}

// writeKey writes the key file whole or not at all: a crash must not leave a truncated key
// that a restart would refuse, or worse, one that differs from what encrypted the data.
func writeKey(path string, key []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+"-*") // created 0600
	if err != nil {
		return fmt.Errorf("encryption key: %w", err)
	}
	defer os.Remove(f.Name()) // after a successful rename there is nothing left to remove
	_, err = f.WriteString(base64.StdEncoding.EncodeToString(key) + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("encryption key: %w", err)
	}
	// The rename must be durable before anything is encrypted with the key: a power cut
	// that lost the file would leave values no key opens.
	d, err := os.Open(dir)
	if err == nil {
		err = d.Sync()
		d.Close()
	}
	if err != nil {
		return fmt.Errorf("encryption key: sync %s: %w", dir, err)
	}
	return nil
}
