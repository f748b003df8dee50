package imagestore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"sync"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/tugboat-io/tug/internal/ociimage"
)

var (
	wasmImage = ociimage.Image{
		Name:         "tug.test/hello-http:v1",
		OS:           "wasip1",
		Architecture: "wasm",
		Entrypoint:   []string{"/app.wasm"},
		Env:          []string{"PORT=8080"},
		Files:        []ociimage.File{{Path: "/app.wasm", Mode: 0o755, Data: []byte("\x00asm\x01\x00\x00\x00")}},
	}
	linuxImage = ociimage.Image{
		Name:         "hello",
		OS:           "linux",
		Architecture: "amd64",
		Entrypoint:   []string{"/bin/hello"},
		Cmd:          []string{"serve"},
		WorkingDir:   "/srv",
		Gzip:         true,
		Files: []ociimage.File{
			{Path: "/bin/hello", Mode: 0o755, Data: []byte("\x7fELF")},
			{Path: "/srv", Mode: fs.ModeDir | 0o755},
		},
	}
)

func archive(t *testing.T, img ociimage.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := ociimage.Write(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func open(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(dir)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func importImage(t *testing.T, s *Store, img ociimage.Image) []string {
	t.Helper()
	names, err := s.Import(context.Background(), bytes.NewReader(archive(t, img)))
	if err != nil {
		t.Fatalf("Import %s: %v", img.Name, err)
	}
	return names
}

func resolve(t *testing.T, s *Store, ref string) Image {
	t.Helper()
	img, err := s.Resolve(ref)
	if err != nil {
		t.Fatalf("Resolve(%q): %v", ref, err)
	}
	return img
}

// tmpEntries lists what the store's tmp/ holds, which must be nothing between operations.
func tmpEntries(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(dir, "tmp"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestImportWasmAndLinuxImages(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	if got := importImage(t, s, wasmImage); !slices.Equal(got, []string{"tug.test/hello-http:v1"}) {
		t.Errorf("Import of the wasm image = %q", got)
	}
	if got := importImage(t, s, linuxImage); !slices.Equal(got, []string{"docker.io/library/hello:latest"}) {
		t.Errorf("Import of the linux image = %q", got)
	}

	wasm := resolve(t, s, "tug.test/hello-http:v1")
	if wasm.Platform.OS != "wasip1" || wasm.Platform.Architecture != "wasm" {
		t.Errorf("wasm image platform %s/%s", wasm.Platform.OS, wasm.Platform.Architecture)
	}
	if !slices.Equal(wasm.Config.Entrypoint, []string{"/app.wasm"}) || !slices.Equal(wasm.Config.Env, []string{"PORT=8080"}) {
		t.Errorf("wasm image config %+v", wasm.Config)
	}
	checkTree(t, wasm.RootFS, map[string]want{"app.wasm": {data: "\x00asm\x01\x00\x00\x00", perm: 0o755}})

	linux := resolve(t, s, "hello")
	if linux.Platform.OS != "linux" || linux.Config.WorkingDir != "/srv" || !slices.Equal(linux.Config.Cmd, []string{"serve"}) {
		t.Errorf("linux image %+v", linux)
	}
	checkTree(t, linux.RootFS, map[string]want{"bin/hello": {data: "\x7fELF", perm: 0o755}, "srv": {dir: true}})
	if linux.RootFS == wasm.RootFS {
		t.Error("two images share one root filesystem")
	}
	if linux.Size <= 0 {
		t.Errorf("linux image size %d, want its blobs' bytes", linux.Size)
	}
	if got := tmpEntries(t, dir); len(got) != 0 {
		t.Errorf("tmp/ holds %q after imports", got)
	}
}

func TestResolve(t *testing.T) {
	s := open(t, t.TempDir())
	importImage(t, s, wasmImage)
	importImage(t, s, linuxImage)
	wasm := resolve(t, s, "tug.test/hello-http:v1")
	linux := resolve(t, s, "docker.io/library/hello:latest")

	for _, tc := range []struct {
		ref      string
		wantName string
		wantErr  error
	}{
		{ref: "hello", wantName: "docker.io/library/hello:latest"},
		{ref: "hello:latest", wantName: "docker.io/library/hello:latest"},
		{ref: "library/hello", wantName: "docker.io/library/hello:latest"},
		{ref: "docker.io/library/hello", wantName: "docker.io/library/hello:latest"},
		{ref: "tug.test/hello-http:v1", wantName: "tug.test/hello-http:v1"},
		{ref: string(linux.Digest), wantName: "docker.io/library/hello:latest"},
		{ref: string(linux.ID), wantName: "docker.io/library/hello:latest"},
		{ref: "tug.test/hello-http@" + string(wasm.Digest), wantName: "tug.test/hello-http:v1"},
		{ref: "hello:v2", wantErr: ErrNotFound},
		{ref: "tug.test/hello-http", wantErr: ErrNotFound},
		{ref: "other", wantErr: ErrNotFound},
		{ref: "sha256:" + fmt.Sprintf("%064d", 0), wantErr: ErrNotFound},
		{ref: "Hello", wantErr: ErrInvalidName},
		{ref: "hello:", wantErr: ErrInvalidName},
	} {
		t.Run(tc.ref, func(t *testing.T) {
			got, err := s.Resolve(tc.ref)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Errorf("Resolve = %+v, %v; want %v", got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got.Name != tc.wantName {
				t.Errorf("Resolve = %q, %v; want %q", got.Name, err, tc.wantName)
			}
		})
	}
}

func TestImportAppliesWhiteouts(t *testing.T) {
	s := open(t, t.TempDir())
	img := linuxImage
	img.Name = "tug.test/layered:v1"
	img.Files = []ociimage.File{
		{Path: "/etc/keep", Mode: 0o644, Data: []byte("keep")},
		{Path: "/etc/gone", Mode: 0o644, Data: []byte("gone")},
		{Path: "/var/cache/old", Mode: 0o644, Data: []byte("old")},
	}
	img.Layers = [][]ociimage.File{
		{{Path: "/etc/.wh.gone", Mode: 0o644}},
		{{Path: "/var/cache/.wh..wh..opq", Mode: 0o644}, {Path: "/var/cache/new", Mode: 0o644, Data: []byte("new")}},
	}
	importImage(t, s, img)
	checkTree(t, resolve(t, s, img.Name).RootFS, map[string]want{
		"etc/keep": {data: "keep"}, "etc/gone": {absent: true}, "etc/.wh.gone": {absent: true},
		"var/cache/old": {absent: true}, "var/cache/new": {data: "new"},
	})
}

func TestImportRefusesEscapingLayer(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	img := linuxImage
	img.Name = "tug.test/evil:v1"
	img.Files = []ociimage.File{{Path: "../x", Mode: 0o644, Data: []byte("out")}}
	_, err := s.Import(context.Background(), bytes.NewReader(archive(t, img)))
	if !errors.Is(err, errEscapes) {
		t.Fatalf("Import = %v, want %v", err, errEscapes)
	}
	if _, err := s.Resolve(img.Name); !errors.Is(err, ErrNotFound) {
		t.Errorf("Resolve after a refused import = %v, want ErrNotFound", err)
	}
	if got := tmpEntries(t, dir); len(got) != 0 {
		t.Errorf("tmp/ holds %q after a refused import", got)
	}
	for _, p := range []string{filepath.Join(dir, "x"), filepath.Join(dir, "tmp", "x"), filepath.Join(dir, "rootfs", "x")} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s was written", p)
		}
	}
}

func TestImportRefuses(t *testing.T) {
	good := archive(t, wasmImage)
	for _, tc := range []struct {
		name    string
		archive []byte
	}{
		{name: "not an archive", archive: []byte("not a tar file, certainly not an image")},
		{name: "truncated archive", archive: good[:len(good)/2]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s := open(t, dir)
			if _, err := s.Import(context.Background(), bytes.NewReader(tc.archive)); err == nil {
				t.Fatal("Import succeeded")
			}
			if images, _ := s.List(); len(images) != 0 {
				t.Errorf("List after a failed import = %+v", images)
			}
			if got := tmpEntries(t, dir); len(got) != 0 {
				t.Errorf("tmp/ holds %q after a failed import", got)
			}
		})
	}
}

func TestImportStopsWithContext(t *testing.T) {
	s := open(t, t.TempDir())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Import(ctx, bytes.NewReader(archive(t, wasmImage))); !errors.Is(err, context.Canceled) {
		t.Errorf("Import with an ended context = %v, want context.Canceled", err)
	}
}

func TestReimportReplacesName(t *testing.T) {
	s := open(t, t.TempDir())
	importImage(t, s, wasmImage)
	old := resolve(t, s, wasmImage.Name)

	v2 := wasmImage
	v2.Files = []ociimage.File{{Path: "/app.wasm", Mode: 0o755, Data: []byte("\x00asm\x01\x00\x00\x00 v2")}}
	importImage(t, s, v2)
	cur := resolve(t, s, wasmImage.Name)
	if cur.Digest == old.Digest {
		t.Fatal("the name still refers to the first image")
	}
	checkTree(t, cur.RootFS, map[string]want{"app.wasm": {data: "\x00asm\x01\x00\x00\x00 v2"}})

	// The replaced image stays, nameless, for pods that may still run from it.
	checkTree(t, old.RootFS, map[string]want{"app.wasm": {data: "\x00asm\x01\x00\x00\x00"}})
	images, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(images) != 2 || images[0].Digest != cur.Digest || images[1].Name != "" || images[1].Digest != old.Digest {
		t.Errorf("List = %+v, want the named image then the replaced one without a name", images)
	}

	if err := s.Remove(string(old.Digest)); err != nil {
		t.Fatalf("Remove by digest: %v", err)
	}
	checkTree(t, old.RootFS, map[string]want{".": {absent: true}})
	checkTree(t, cur.RootFS, map[string]want{"app.wasm": {data: "\x00asm\x01\x00\x00\x00 v2"}})
}

func TestReimportSameImage(t *testing.T) {
	s := open(t, t.TempDir())
	importImage(t, s, wasmImage)
	first := resolve(t, s, wasmImage.Name)
	importImage(t, s, wasmImage)
	if again := resolve(t, s, wasmImage.Name); !reflect.DeepEqual(again, first) {
		t.Errorf("re-import of the same archive changed the image: %+v, was %+v", again, first)
	}
	if images, _ := s.List(); len(images) != 1 {
		t.Errorf("List after importing one image twice = %+v", images)
	}
}

func TestList(t *testing.T) {
	s := open(t, t.TempDir())
	if images, err := s.List(); err != nil || len(images) != 0 {
		t.Fatalf("List of an empty store = %+v, %v", images, err)
	}
	importImage(t, s, wasmImage)
	importImage(t, s, linuxImage)
	alias := wasmImage
	alias.Name = "tug.test/hello-http:latest"
	importImage(t, s, alias)

	images, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, img := range images {
		names = append(names, img.Name)
		if img.Size <= 0 || img.RootFS == "" || img.Digest == "" || img.ID == "" {
			t.Errorf("listed image %+v lacks size, rootfs or digests", img)
		}
	}
	want := []string{"docker.io/library/hello:latest", "tug.test/hello-http:latest", "tug.test/hello-http:v1"}
	if !slices.Equal(names, want) {
		t.Errorf("List names = %q, want %q", names, want)
	}
	if images[1].Digest != images[2].Digest {
		t.Error("one image imported under two names is listed as two images")
	}
}

func TestRemove(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	importImage(t, s, wasmImage)
	alias := wasmImage
	alias.Name = "tug.test/hello-http:latest"
	importImage(t, s, alias)
	img := resolve(t, s, wasmImage.Name)

	if err := s.Remove("tug.test/hello-http:v1"); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	if _, err := s.Resolve("tug.test/hello-http:v1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Resolve of a removed name = %v, want ErrNotFound", err)
	}
	// The other name keeps the image and its files.
	checkTree(t, resolve(t, s, "tug.test/hello-http:latest").RootFS, map[string]want{"app.wasm": {data: "\x00asm\x01\x00\x00\x00"}})

	if err := s.Remove("tug.test/hello-http"); err != nil {
		t.Fatalf("Remove of the last name: %v", err)
	}
	checkTree(t, img.RootFS, map[string]want{".": {absent: true}})
	for _, d := range []digest.Digest{img.Digest, img.ID} {
		if _, err := os.Stat(s.blobPath(d)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("blob %s of the removed image is still there (%v)", d, err)
		}
	}
	if err := s.Remove("tug.test/hello-http"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Remove of a name already removed = %v, want ErrNotFound", err)
	}
	if got := tmpEntries(t, dir); len(got) != 0 {
		t.Errorf("tmp/ holds %q after removals", got)
	}
}

func TestRemoveKeepsSharedRootFS(t *testing.T) {
	// One config under two manifests (the same layers, plain and gzip) gives one image
	// ID and one root filesystem.
	s := open(t, t.TempDir())
	plain := wasmImage
	gz := wasmImage
	gz.Name, gz.Gzip = "tug.test/hello-http:gz", true
	importImage(t, s, plain)
	importImage(t, s, gz)
	a, b := resolve(t, s, plain.Name), resolve(t, s, gz.Name)
	if a.Digest == b.Digest || a.ID != b.ID || a.RootFS != b.RootFS {
		t.Fatalf("images %+v and %+v should differ in manifest only", a, b)
	}
	if err := s.Remove(plain.Name); err != nil {
		t.Fatal(err)
	}
	checkTree(t, b.RootFS, map[string]want{"app.wasm": {data: "\x00asm\x01\x00\x00\x00"}})
}

func TestOpenKeepsImagesAndDropsStrays(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	importImage(t, s, wasmImage)
	img := resolve(t, s, wasmImage.Name)

	// What a crash in the middle of an import leaves behind.
	strays := []string{
		filepath.Join(dir, "tmp", "rootfs-123", "half"),
		filepath.Join(dir, "rootfs", "sha256", fmt.Sprintf("%064d", 1), "file"),
		filepath.Join(dir, "blobs", "sha256", fmt.Sprintf("%064d", 2)),
	}
	for _, p := range strays {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("stray"), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	s = open(t, dir)
	if again := resolve(t, s, wasmImage.Name); !reflect.DeepEqual(again, img) {
		t.Errorf("after Open the image is %+v, was %+v", again, img)
	}
	checkTree(t, img.RootFS, map[string]want{"app.wasm": {data: "\x00asm\x01\x00\x00\x00"}})
	for _, p := range strays {
		if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("stray %s survived Open (%v)", p, err)
		}
	}
}

func TestOpenRefusesNewerIndex(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, indexFile), []byte(`{"version": 99}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir); err == nil {
		t.Error("Open read an index of a format newer than it knows")
	}
}

func TestConcurrentImportsAndResolves(t *testing.T) {
	s := open(t, t.TempDir())
	importImage(t, s, linuxImage)
	const n = 8
	archives := make([][]byte, n)
	for i := range archives {
		img := wasmImage
		img.Name = fmt.Sprintf("tug.test/app-%d:v1", i)
		// Half the images share their content, so imports race on the same blobs and
		// root filesystem too.
		if i%2 == 1 {
			img.Files = []ociimage.File{{Path: "/app.wasm", Mode: 0o755, Data: fmt.Appendf(nil, "module %d", i)}}
		}
		archives[i] = archive(t, img)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 3*n)
	for i := range n {
		wg.Go(func() {
			if _, err := s.Import(context.Background(), bytes.NewReader(archives[i])); err != nil {
				errs <- err
			}
		})
		wg.Go(func() {
			if _, err := s.Resolve("hello"); err != nil {
				errs <- err
			}
			if _, err := s.List(); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for i := range n {
		img := resolve(t, s, fmt.Sprintf("tug.test/app-%d:v1", i))
		if _, err := os.Stat(filepath.Join(img.RootFS, "app.wasm")); err != nil {
			t.Errorf("image %d: %v", i, err)
		}
	}
}

func TestChoosePrefersWasmThenThisMachine(t *testing.T) {
	img := func(os, arch string) ociimage.Archived {
		a := ociimage.Archived{Names: []string{"tug.test/multi:v1"}}
		a.Config.Platform = ocispec.Platform{OS: os, Architecture: arch}
		return a
	}
	here := runtime.GOARCH
	for _, tc := range []struct {
		name     string
		archived []ociimage.Archived
		want     ocispec.Platform
	}{
		{
			name:     "wasm over linux",
			archived: []ociimage.Archived{img("linux", here), img("wasip1", "wasm")},
			want:     ocispec.Platform{OS: "wasip1", Architecture: "wasm"},
		},
		{
			name:     "this machine's architecture over another",
			archived: []ociimage.Archived{img("linux", "ppc64"), img("linux", here)},
			want:     ocispec.Platform{OS: "linux", Architecture: here},
		},
		{
			name:     "the first when none fits",
			archived: []ociimage.Archived{img("windows", "ppc64"), img("plan9", "ppc64")},
			want:     ocispec.Platform{OS: "windows", Architecture: "ppc64"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := choose(tc.archived)["tug.test/multi:v1"].Config.Platform
			if got.OS != tc.want.OS || got.Architecture != tc.want.Architecture {
				t.Errorf("chose %s/%s, want %s/%s", got.OS, got.Architecture, tc.want.OS, tc.want.Architecture)
			}
		})
	}
}
