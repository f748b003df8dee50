// Package logdriver carries the small tug-log-driver program (cmd/tug-log-driver) inside the
// tug binary and writes it out where containerd's shims can run it. `make build` builds it
// into bin/ here before it builds tug; a plain `go build ./cmd/tug` embeds none, and the node
// then names tug itself (its hidden log-driver command) as the log driver, which works the
// same and costs more to start.
package logdriver

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

//go:embed bin
var files embed.FS

// Install writes the embedded driver into dir, unless an identical one is already there, and
// returns its path; ok is false when this build embeds none. The file name carries the
// content's hash, so a newer tug writes a new file beside the old one instead of rewriting a
// program that running shims may still be executing.
func Install(dir string) (path string, ok bool, err error) {
	b, err := files.ReadFile("bin/tug-log-driver")
	if err != nil || len(b) == 0 {
		return "", false, nil
	}
	path, err = install(dir, b)
	return path, true, err
}

func install(dir string, b []byte) (string, error) {
	sum := sha256.Sum256(b)
	path := filepath.Join(dir, "tug-log-driver-"+hex.EncodeToString(sum[:6]))
	if cur, err := os.ReadFile(path); err == nil && bytes.Equal(cur, b) {
		return path, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("install log driver: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".tug-log-driver-*")
	if err != nil {
		return "", fmt.Errorf("install log driver: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, werr := tmp.Write(b)
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr, os.Chmod(tmp.Name(), 0o755)); err != nil {
		return "", fmt.Errorf("install log driver: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", fmt.Errorf("install log driver: %w", err)
	}
	return path, nil
}
