package kubelet

import (
	"os"
	"path/filepath"
	"testing"
)

func readVolumeFile(t *testing.T, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestWriteAtomic(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "vol")
	if err := writeAtomic(dir, map[string]file{"a": {[]byte("1"), 0o644}, "sub/b": {[]byte("2"), 0o600}}); err != nil {
		t.Fatal(err)
	}
	if got := readVolumeFile(t, dir, "a"); got != "1" {
		t.Errorf("a = %q", got)
	}
	if got := readVolumeFile(t, dir, "sub/b"); got != "2" {
		t.Errorf("sub/b = %q", got)
	}
	first, _ := os.Readlink(filepath.Join(dir, "..data"))

	// The same content again rewrites nothing.
	if err := writeAtomic(dir, map[string]file{"a": {[]byte("1"), 0o644}, "sub/b": {[]byte("2"), 0o600}}); err != nil {
		t.Fatal(err)
	}
	if again, _ := os.Readlink(filepath.Join(dir, "..data")); again != first {
		t.Errorf("unchanged content swapped ..data from %s to %s", first, again)
	}

	// New content swaps in whole: a changed key, a removed key, a new key; the old set goes.
	if err := writeAtomic(dir, map[string]file{"a": {[]byte("one"), 0o644}, "c": {[]byte("3"), 0o644}}); err != nil {
		t.Fatal(err)
	}
	if got := readVolumeFile(t, dir, "a"); got != "one" {
		t.Errorf("a = %q after the update", got)
	}
	if _, err := os.Lstat(filepath.Join(dir, "sub")); !os.IsNotExist(err) {
		t.Errorf("a key no longer there is still visible: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, first)); !os.IsNotExist(err) {
		t.Errorf("the old set %s is left behind", first)
	}
}

func TestWriteAtomicRefusesEscapes(t *testing.T) {
	for _, p := range []string{"../x", "/etc/x", "..data/x"} {
		if err := writeAtomic(t.TempDir(), map[string]file{p: {[]byte("x"), 0o644}}); err == nil {
			t.Errorf("path %q accepted", p)
		}
	}
}

func TestExpand(t *testing.T) {
	vars := map[string]string{"A": "1", "B": "two"}
	lookup := func(n string) (string, bool) { v, ok := vars[n]; return v, ok }
	tests := map[string]string{
		"$(A)":         "1",
		"x$(B)y":       "xtwoy",
		"$$(A)":        "$(A)",
		"$(MISSING)":   "$(MISSING)",
		"$(A":          "$(A",
		"plain $ sign": "plain $ sign",
	}
	for in, want := range tests {
		if got := expand(in, lookup); got != want {
			t.Errorf("expand(%q) = %q, want %q", in, got, want)
		}
	}
}
