package imagestore

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// tarEntry is one entry of a layer a test builds by hand, for the kinds ociimage.Write
// will not write (devices, hard links).
type tarEntry struct {
	name string
	typ  byte
	mode int64
	data string
	link string
}

func layerTar(t *testing.T, entries ...tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		typ := e.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		mode := e.mode
		if mode == 0 {
			mode = 0o644
		}
		hdr := &tar.Header{Name: e.name, Typeflag: typ, Mode: mode, Linkname: e.link}
		if typ == tar.TypeReg {
			hdr.Size = int64(len(e.data))
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(e.data)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// want is what a path in an unpacked tree should be: absent, a file with data and
// permissions, a directory, or a symlink to a target.
type want struct {
	absent bool
	data   string
	perm   fs.FileMode
	dir    bool
	link   string
}

func checkTree(t *testing.T, dir string, wants map[string]want) {
	t.Helper()
	for p, w := range wants {
		full := filepath.Join(dir, p)
		fi, err := os.Lstat(full)
		if w.absent {
			if !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("%s exists (err %v), want it absent", p, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		switch {
		case w.link != "":
			got, err := os.Readlink(full)
			if err != nil || got != w.link {
				t.Errorf("%s links to %q (%v), want %q", p, got, err, w.link)
			}
		case w.dir:
			if !fi.IsDir() {
				t.Errorf("%s is %v, want a directory", p, fi.Mode())
			}
		default:
			b, err := os.ReadFile(full)
			if err != nil || string(b) != w.data || !fi.Mode().IsRegular() {
				t.Errorf("%s = %q (%v, mode %v), want a file holding %q", p, b, err, fi.Mode(), w.data)
			}
			if w.perm != 0 && fi.Mode() != w.perm {
				t.Errorf("%s has mode %v, want %v", p, fi.Mode(), w.perm)
			}
		}
	}
}

func TestApplyLayer(t *testing.T) {
	dir := func(name string) tarEntry { return tarEntry{name: name, typ: tar.TypeDir, mode: 0o755} }
	file := func(name, data string) tarEntry { return tarEntry{name: name, data: data} }
	base := []tarEntry{
		dir("a/"), file("a/keep", "keep"), file("a/gone", "gone"),
		dir("opq/"), file("opq/old", "old"), dir("opq/sub/"), file("opq/sub/old", "old"),
		dir("usr/"), dir("usr/lib/"), {name: "lib", typ: tar.TypeSymlink, link: "usr/lib"},
		{name: "abs", typ: tar.TypeSymlink, link: "/a"},
		{name: "up", typ: tar.TypeSymlink, link: "../../../.."},
		file("f", "file"),
	}
	for _, tc := range []struct {
		name   string
		layers [][]tarEntry
		want   map[string]want
	}{
		{
			name:   "files, directories and symlinks of one layer",
			layers: [][]tarEntry{base},
			want: map[string]want{
				"a/keep": {data: "keep"}, "opq/sub/old": {data: "old"},
				"lib": {link: "usr/lib"}, "abs": {link: "/a"},
			},
		},
		{
			name:   "whiteout deletes a lower layer's file and leaves its siblings",
			layers: [][]tarEntry{base, {file("a/.wh.gone", "")}},
			want:   map[string]want{"a/gone": {absent: true}, "a/.wh.gone": {absent: true}, "a/keep": {data: "keep"}},
		},
		{
			name:   "whiteout deletes a directory with its contents",
			layers: [][]tarEntry{base, {file(".wh.opq", "")}},
			want:   map[string]want{"opq": {absent: true}, "a/keep": {data: "keep"}},
		},
		{
			name:   "whiteout of a symlink deletes the link, not its target",
			layers: [][]tarEntry{base, {file(".wh.abs", "")}},
			want:   map[string]want{"abs": {absent: true}, "a/keep": {data: "keep"}},
		},
		{
			name:   "whiteout of what no layer made creates nothing",
			layers: [][]tarEntry{base, {file("nothing/here/.wh.x", "")}},
			want:   map[string]want{"nothing": {absent: true}},
		},
		{
			name: "opaque directory hides lower contents and keeps its own layer's",
			layers: [][]tarEntry{base, {
				file("opq/sub/new", "new"),
				file("opq/.wh..wh..opq", ""),
				file("opq/after", "after"),
			}},
			want: map[string]want{
				"opq/old": {absent: true}, "opq/sub/old": {absent: true}, "opq/.wh..wh..opq": {absent: true},
				"opq/sub/new": {data: "new"}, "opq/after": {data: "after"}, "a/keep": {data: "keep"},
			},
		},
		{
			name:   "a file replaces a lower directory and a directory a lower file",
			layers: [][]tarEntry{base, {file("opq", "now a file"), dir("f/"), file("f/inside", "in")}},
			want:   map[string]want{"opq": {data: "now a file"}, "f": {dir: true}, "f/inside": {data: "in"}},
		},
		{
			name:   "a file replaces a lower symlink instead of writing through it",
			layers: [][]tarEntry{base, {file("abs", "plain")}},
			want:   map[string]want{"abs": {data: "plain"}, "a/keep": {data: "keep"}},
		},
		{
			name:   "relative symlink on the way is followed",
			layers: [][]tarEntry{base, {file("lib/libc.so", "libc")}},
			want:   map[string]want{"usr/lib/libc.so": {data: "libc"}, "lib": {link: "usr/lib"}},
		},
		{
			name:   "absolute symlink on the way is followed inside the rootfs",
			layers: [][]tarEntry{base, {file("abs/via", "via")}},
			want:   map[string]want{"a/via": {data: "via"}},
		},
		{
			name:   "symlink climbing out is followed no further than the root",
			layers: [][]tarEntry{base, {file("up/x", "x")}},
			want:   map[string]want{"x": {data: "x"}},
		},
		{
			name:   "leading slash and dot are the root",
			layers: [][]tarEntry{{dir("./"), file("/abs-path", "1"), file("./dot-path", "2")}},
			want:   map[string]want{"abs-path": {data: "1"}, "dot-path": {data: "2"}},
		},
		{
			name:   "hard link shares the file",
			layers: [][]tarEntry{base, {{name: "a/hard", typ: tar.TypeLink, link: "a/keep"}}},
			want:   map[string]want{"a/hard": {data: "keep"}},
		},
		{
			name: "device nodes and fifos are skipped",
			layers: [][]tarEntry{{
				{name: "dev-null", typ: tar.TypeChar}, {name: "sda", typ: tar.TypeBlock},
				{name: "pipe", typ: tar.TypeFifo}, file("after", "after"),
			}},
			want: map[string]want{"dev-null": {absent: true}, "sda": {absent: true}, "pipe": {absent: true}, "after": {data: "after"}},
		},
		{
			name:   "permission bits kept, setuid and setgid dropped",
			layers: [][]tarEntry{{{name: "suid", mode: 0o4755, data: "s"}, {name: "ro", mode: 0o400, data: "r"}}},
			want:   map[string]want{"suid": {data: "s", perm: 0o755}, "ro": {data: "r", perm: 0o400}},
		},
		{
			name:   "missing parent directories are made",
			layers: [][]tarEntry{{file("deep/er/file", "d")}},
			want:   map[string]want{"deep/er": {dir: true}, "deep/er/file": {data: "d"}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			root, err := os.OpenRoot(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer root.Close()
			for i, l := range tc.layers {
				if err := applyLayer(context.Background(), root, bytes.NewReader(layerTar(t, l...))); err != nil {
					t.Fatalf("layer %d: %v", i, err)
				}
			}
			checkTree(t, dir, tc.want)
		})
	}
}

func TestApplyLayerRefusesEscape(t *testing.T) {
	for _, tc := range []struct {
		name  string
		entry tarEntry
	}{
		{name: "dot-dot path", entry: tarEntry{name: "../x", data: "x"}},
		{name: "dot-dot after a directory", entry: tarEntry{name: "a/../../x", data: "x"}},
		{name: "whiteout outside", entry: tarEntry{name: "../.wh.x"}},
		{name: "hard link to outside", entry: tarEntry{name: "x", typ: tar.TypeLink, link: "../outside"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			parent := t.TempDir()
			dir := filepath.Join(parent, "rootfs")
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(parent, "outside"), []byte("o"), 0o644); err != nil {
				t.Fatal(err)
			}
			root, err := os.OpenRoot(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer root.Close()
			err = applyLayer(context.Background(), root, bytes.NewReader(layerTar(t, tc.entry)))
			if !errors.Is(err, errEscapes) {
				t.Errorf("applyLayer = %v, want %v", err, errEscapes)
			}
			checkTree(t, parent, map[string]want{"x": {absent: true}, "rootfs/x": {absent: true}, "outside": {data: "o"}})
		})
	}
}

func TestApplyLayerStopsWithContext(t *testing.T) {
	root, err := os.OpenRoot(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err = applyLayer(ctx, root, bytes.NewReader(layerTar(t, tarEntry{name: "x", data: "x"})))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("applyLayer with an ended context = %v, want context.Canceled", err)
	}
}

func TestApplyLayerRefusesWhiteoutOfNothing(t *testing.T) {
	for _, name := range []string{"a/.wh.", "a/.wh..", "a/.wh..."} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			root, err := os.OpenRoot(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer root.Close()
			layer := layerTar(t, tarEntry{name: "a/keep", data: "keep"}, tarEntry{name: name})
			if err := applyLayer(context.Background(), root, bytes.NewReader(layer)); err == nil {
				t.Errorf("applyLayer accepted the whiteout %q", name)
			}
			checkTree(t, dir, map[string]want{"a/keep": {data: "keep"}})
		})
	}
}
