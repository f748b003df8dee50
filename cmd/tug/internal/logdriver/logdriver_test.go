package logdriver

import (
	"os"
	"path/filepath"
	"testing"
)

func TestInstall(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "bin")
	v1 := []byte("#!/bin/sh\necho v1\n")
	p1, err := install(dir, v1)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(p1)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o755 {
		t.Errorf("mode = %v, want 0755", st.Mode().Perm())
	}
	if b, _ := os.ReadFile(p1); string(b) != string(v1) {
		t.Errorf("content = %q, want %q", b, v1)
	}

	// Installing the same again keeps the file (a running shim may be executing it).
	before := st.ModTime()
	if p, err := install(dir, v1); err != nil || p != p1 {
		t.Fatalf("second install = %q, %v; want %q", p, err, p1)
	}
	if st2, _ := os.Stat(p1); !st2.ModTime().Equal(before) {
		t.Error("an identical driver was rewritten")
	}

	// A different driver goes to a new file; the old one stays for the shims using it.
	p2, err := install(dir, []byte("#!/bin/sh\necho v2\n"))
	if err != nil {
		t.Fatal(err)
	}
	if p2 == p1 {
		t.Fatalf("a new driver replaced the old one at %s", p1)
	}
	if _, err := os.Stat(p1); err != nil {
		t.Errorf("old driver removed: %v", err)
	}

	// A damaged file under the right name is replaced.
	if err := os.WriteFile(p2, []byte("torn"), 0o755); err != nil {
		t.Fatal(err)
	}
	if p, err := install(dir, []byte("#!/bin/sh\necho v2\n")); err != nil || p != p2 {
		t.Fatalf("repair install = %q, %v", p, err)
	}
	if b, _ := os.ReadFile(p2); string(b) != "#!/bin/sh\necho v2\n" {
		t.Errorf("damaged driver not replaced: %q", b)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("dir holds %d files, want 2 (no temporary files left)", len(entries))
	}
}
