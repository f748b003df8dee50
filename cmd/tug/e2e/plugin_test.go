package e2e

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// tug runs the tug binary's client verbs against s and returns what it printed.
func (s *server) tug(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, tugBin, append(args, "--kubeconfig", s.Kubeconfig())...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestPluginPushLargeModule: `tug plugin push` streams a module bigger than etcd's default
// request limit (1.5 MiB) and than the API's 3 MiB body limit; it comes back byte for byte, a
// second push is a no-op, and rm removes the plugin.
func TestPluginPushLargeModule(t *testing.T) {
	t.Parallel()
	s := shared(t)
	module := make([]byte, 9<<20)
	if _, err := rand.Read(module); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "big.wasm")
	if err := os.WriteFile(file, module, 0o600); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(module)
	digest := "sha256:" + hex.EncodeToString(sum[:])

	if out, err := s.tug(t, "plugin", "push", "big-module", file); err == nil || !strings.Contains(out, "--kind") {
		t.Fatalf("push of a new plugin without --kind: err=%v\n%s", err, out)
	}
	out, err := s.tug(t, "plugin", "push", "big-module", file, "--kind", "admission", "--plugin-config", `{"mode":"strict"}`)
	if err != nil || !strings.Contains(out, digest) {
		t.Fatalf("push: err=%v\n%s", err, out)
	}
	if out, err = s.tug(t, "plugin", "ls"); err != nil || !strings.Contains(out, "big-module") || !strings.Contains(out, hex.EncodeToString(sum[:])[:12]) {
		t.Fatalf("ls: err=%v\n%s", err, out)
	}
	if out, err = s.tug(t, "plugin", "inspect", "big-module"); err != nil || !strings.Contains(out, "# module: 9437184 bytes, "+digest) || !strings.Contains(out, "mode: strict") {
		t.Fatalf("inspect: err=%v\n%s", err, out)
	}
	got := s.kubectl(t, "1.33", "get", "--raw", "/apis/plugins.tug.dev/v1alpha1/wasmplugins/big-module/module")
	if got.err != nil || got.stdout != string(module) {
		t.Fatalf("module read back through the API differs (%d bytes, err %v)", len(got.stdout), got.err)
	}
	if out, err = s.tug(t, "plugin", "push", "big-module", file); err != nil {
		t.Fatalf("second push: err=%v\n%s", err, out)
	}
	if out, err = s.tug(t, "plugin", "rm", "big-module"); err != nil {
		t.Fatalf("rm: err=%v\n%s", err, out)
	}
	if r := s.kubectl(t, "1.33", "get", "wasmplugin", "big-module"); r.err == nil || !strings.Contains(r.stderr, "NotFound") {
		t.Fatalf("plugin still there after rm: %s", r)
	}
}

// TestPluginBuildPushActivates: a Go plugin built with `tug plugin build` and pushed with
// `tug plugin push` is loaded by the running cluster and reported Active in its status.
func TestPluginBuildPushActivates(t *testing.T) {
	t.Parallel()
	s := shared(t)
	wasm := filepath.Join(t.TempDir(), "nodelabel.wasm")
	if out, err := s.tug(t, "plugin", "build", filepath.Join("..", "..", "..", "sdk", "go", "examples", "nodelabel"), "-o", wasm); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	if out, err := s.tug(t, "plugin", "push", "e2e-zone", wasm, "--kind", "scheduler-filter",
		"--plugin-config", `{"label":"zone","values":["a"]}`); err != nil {
		t.Fatalf("push: %v\n%s", err, out)
	}
	jp := `-o=jsonpath={.status.conditions[?(@.type=="Active")].status} {.status.activeDigest}`
	deadline := time.Now().Add(60 * time.Second)
	for {
		r := s.kubectl(t, "1.33", "get", "wasmplugin", "e2e-zone", jp)
		if r.err == nil && strings.HasPrefix(r.stdout, "True sha256:") {
			break
		}
		if time.Now().After(deadline) {
			full := s.kubectl(t, "1.33", "get", "wasmplugin", "e2e-zone", "-o", "yaml")
			t.Fatalf("plugin never became active: %s\n%s", r, full.stdout)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if out, err := s.tug(t, "plugin", "ls"); err != nil || !strings.Contains(out, "e2e-zone") || !strings.Contains(out, "True") {
		t.Fatalf("ls after activation: %v\n%s", err, out)
	}
}
