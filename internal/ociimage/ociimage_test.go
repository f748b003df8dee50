package ociimage

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"io"
	"io/fs"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// entry is one file of a tar archive a test builds or takes apart.
type entry struct {
	name     string
	typeflag byte
	mode     int64
	data     []byte
	link     string
}

func buildTar(t *testing.T, entries []entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		typ := e.typeflag
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
		if _, err := tw.Write(e.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func readTar(t *testing.T, r io.Reader) []entry {
	t.Helper()
	var out []entry
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, entry{name: hdr.Name, typeflag: hdr.Typeflag, mode: hdr.Mode, data: data, link: hdr.Linkname})
	}
}

func write(t *testing.T, img Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, img); err != nil {
		t.Fatalf("Write: %v", err)
	}
	return buf.Bytes()
}

func read(t *testing.T, archive []byte) []Archived {
	t.Helper()
	images, err := Read(bytes.NewReader(archive), int64(len(archive)))
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	return images
}

// layerFiles reads a layer to its end (so its digests are checked) and returns its entries.
func layerFiles(t *testing.T, l Layer) []entry {
	t.Helper()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	entries := readTar(t, rc)
	if _, err := io.Copy(io.Discard, rc); err != nil {
		t.Fatalf("layer %s: %v", l.Digest, err)
	}
	if _, err := io.Copy(io.Discard, l.Open()); err != nil {
		t.Fatalf("layer %s as archived: %v", l.Digest, err)
	}
	return entries
}

func names(entries []entry) []string {
	var out []string
	for _, e := range entries {
		out = append(out, e.name)
	}
	return out
}

var wasmImage = Image{
	Name:         "tug.test/hello-http:v1",
	OS:           "wasip1",
	Architecture: "wasm",
	Entrypoint:   []string{"/app.wasm"},
	Cmd:          []string{"serve"},
	Env:          []string{"PORT=8080"},
	WorkingDir:   "/",
	ExposedPorts: []string{"8080/tcp"},
	Files: []File{
		{Path: "/app.wasm", Mode: 0o755, Data: []byte("\x00asm\x01\x00\x00\x00")},
		{Path: "/etc/hello/greeting", Mode: 0o644, Data: []byte("hi\n")},
		{Path: "/etc/hello/link", Mode: fs.ModeSymlink | 0o777, Data: []byte("greeting")},
		{Path: "/data", Mode: fs.ModeDir | 0o700},
	},
}

func TestWriteReadRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name      string
		gzip      bool
		mediaType string
	}{
		{name: "plain layers", mediaType: ocispec.MediaTypeImageLayer},
		{name: "gzip layers", gzip: true, mediaType: ocispec.MediaTypeImageLayerGzip},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img := wasmImage
			img.Gzip = tc.gzip
			img.Layers = [][]File{{{Path: "/etc/hello/.wh.greeting", Mode: 0o644}}}
			archive := write(t, img)

			images := read(t, archive)
			if len(images) != 1 {
				t.Fatalf("Read found %d images, want 1", len(images))
			}
			got := images[0]
			if want := []string{"tug.test/hello-http:v1"}; !slices.Equal(got.Names, want) {
				t.Errorf("Names = %q, want %q", got.Names, want)
			}
			if got.Digest != digest.FromBytes(got.ManifestJSON) || got.ConfigDigest != digest.FromBytes(got.ConfigJSON) {
				t.Errorf("digests %s, %s do not match the manifest and config bytes", got.Digest, got.ConfigDigest)
			}
			c := got.Config
			if c.OS != "wasip1" || c.Architecture != "wasm" {
				t.Errorf("platform = %s/%s, want wasip1/wasm", c.OS, c.Architecture)
			}
			if !slices.Equal(c.Config.Entrypoint, img.Entrypoint) || !slices.Equal(c.Config.Cmd, img.Cmd) ||
				!slices.Equal(c.Config.Env, img.Env) || c.Config.WorkingDir != "/" {
				t.Errorf("config = %+v, want the image's entrypoint, cmd, env and working dir", c.Config)
			}
			if _, ok := c.Config.ExposedPorts["8080/tcp"]; !ok || len(c.Config.ExposedPorts) != 1 {
				t.Errorf("ExposedPorts = %v, want 8080/tcp", c.Config.ExposedPorts)
			}
			if len(got.Layers) != 2 {
				t.Fatalf("%d layers, want 2", len(got.Layers))
			}
			for _, l := range got.Layers {
				if l.MediaType != tc.mediaType {
					t.Errorf("layer media type %s, want %s", l.MediaType, tc.mediaType)
				}
			}

			first := layerFiles(t, got.Layers[0])
			want := []string{"app.wasm", "etc/", "etc/hello/", "etc/hello/greeting", "etc/hello/link", "data/"}
			if !slices.Equal(names(first), want) {
				t.Errorf("first layer holds %q, want %q", names(first), want)
			}
			for _, e := range first {
				switch e.name {
				case "app.wasm":
					if e.mode != 0o755 || string(e.data) != "\x00asm\x01\x00\x00\x00" {
						t.Errorf("app.wasm: mode %o, data %q", e.mode, e.data)
					}
				case "etc/hello/link":
					if e.typeflag != tar.TypeSymlink || e.link != "greeting" {
						t.Errorf("link: type %c target %q, want a symlink to greeting", e.typeflag, e.link)
					}
				case "data/":
					if e.typeflag != tar.TypeDir || e.mode != 0o700 {
						t.Errorf("data: type %c mode %o, want a 0700 directory", e.typeflag, e.mode)
					}
				}
			}
			if second := names(layerFiles(t, got.Layers[1])); !slices.Equal(second, []string{"etc/", "etc/hello/", "etc/hello/.wh.greeting"}) {
				t.Errorf("second layer holds %q", second)
			}
		})
	}
}

func TestWriteIndexNamesImageForOCIAndContainerd(t *testing.T) {
	for _, tc := range []struct {
		name, tag, full string
	}{
		{name: "tug.test/hello-http:v1", tag: "v1", full: "tug.test/hello-http:v1"},
		{name: "hello", tag: "latest", full: "docker.io/library/hello:latest"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img := wasmImage
			img.Name = tc.name
			var index ocispec.Index
			for _, e := range readTar(t, bytes.NewReader(write(t, img))) {
				if e.name == "index.json" {
					if err := json.Unmarshal(e.data, &index); err != nil {
						t.Fatal(err)
					}
				}
			}
			if len(index.Manifests) != 1 {
				t.Fatalf("index.json lists %d manifests, want 1", len(index.Manifests))
			}
			a := index.Manifests[0].Annotations
			if a[ocispec.AnnotationRefName] != tc.tag || a[AnnotationContainerdImageName] != tc.full {
				t.Errorf("annotations = %v, want ref.name %q and containerd name %q", a, tc.tag, tc.full)
			}
		})
	}
}

func TestWriteSameImageSameBytes(t *testing.T) {
	if !bytes.Equal(write(t, wasmImage), write(t, wasmImage)) {
		t.Error("writing one image twice gave different archives")
	}
}

func TestWriteRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Image)
	}{
		{name: "no name", edit: func(i *Image) { i.Name = "" }},
		{name: "invalid name", edit: func(i *Image) { i.Name = "Hello" }},
		{name: "name with a digest", edit: func(i *Image) {
			i.Name = "tug.test/x@sha256:" + strings.Repeat("a", 64)
		}},
		{name: "no platform", edit: func(i *Image) { i.OS = "" }},
		{name: "device file", edit: func(i *Image) { i.Files = []File{{Path: "/dev/null", Mode: fs.ModeDevice}} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img := wasmImage
			tc.edit(&img)
			if err := Write(io.Discard, img); err == nil {
				t.Error("Write succeeded, want an error")
			}
		})
	}
}

// dockerSave builds a docker save archive of two images sharing their first layer, the
// second reaching it through a symlink as docker save writes it.
func dockerSave(t *testing.T, gzipSecond bool) []byte {
	t.Helper()
	base := buildTar(t, []entry{{name: "bin/", typeflag: tar.TypeDir, mode: 0o755}, {name: "bin/hello", mode: 0o755, data: []byte("#!hello")}})
	extra := buildTar(t, []entry{{name: "etc/", typeflag: tar.TypeDir, mode: 0o755}, {name: "etc/motd", data: []byte("welcome")}})
	extraBlob := extra
	if gzipSecond {
		var err error
		if extraBlob, err = gzipBytes(extra); err != nil {
			t.Fatal(err)
		}
	}
	config := func(cmd string, layers ...[]byte) []byte {
		c := ocispec.Image{
			Platform: ocispec.Platform{OS: "linux", Architecture: "amd64"},
			Config:   ocispec.ImageConfig{Cmd: []string{cmd}},
			RootFS:   ocispec.RootFS{Type: "layers"},
		}
		for _, l := range layers {
			c.RootFS.DiffIDs = append(c.RootFS.DiffIDs, digest.FromBytes(l))
		}
		b, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	c1, c2 := config("/bin/hello", base), config("/bin/hello motd", base, extra)
	id1, id2 := digest.FromBytes(c1).Encoded(), digest.FromBytes(c2).Encoded()
	manifest, err := json.Marshal([]dockerSaved{
		{Config: id1 + ".json", RepoTags: []string{"hello:latest"}, Layers: []string{"aaa/layer.tar"}},
		{Config: id2 + ".json", RepoTags: []string{"tug.test/motd:v2", "motd"}, Layers: []string{"bbb/layer.tar", "ccc/layer.tar"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return buildTar(t, []entry{
		{name: "aaa/", typeflag: tar.TypeDir, mode: 0o755},
		{name: "aaa/VERSION", data: []byte("1.0")},
		{name: "aaa/layer.tar", data: base},
		{name: "bbb/", typeflag: tar.TypeDir, mode: 0o755},
		{name: "bbb/layer.tar", typeflag: tar.TypeSymlink, link: "../aaa/layer.tar"},
		{name: "ccc/layer.tar", data: extraBlob},
		{name: id1 + ".json", data: c1},
		{name: id2 + ".json", data: c2},
		{name: "repositories", data: []byte("{}")},
		// docker save writes its table of contents last.
		{name: "manifest.json", data: manifest},
	})
}

func TestReadDockerSave(t *testing.T) {
	for _, tc := range []struct {
		name       string
		gzipSecond bool
		mediaType  string
	}{
		{name: "plain layers", mediaType: ocispec.MediaTypeImageLayer},
		{name: "gzip layer", gzipSecond: true, mediaType: ocispec.MediaTypeImageLayerGzip},
	} {
		t.Run(tc.name, func(t *testing.T) {
			images := read(t, dockerSave(t, tc.gzipSecond))
			if len(images) != 2 {
				t.Fatalf("Read found %d images, want 2", len(images))
			}
			hello, motd := images[0], images[1]
			if want := []string{"docker.io/library/hello:latest"}; !slices.Equal(hello.Names, want) {
				t.Errorf("first image names %q, want %q", hello.Names, want)
			}
			if want := []string{"docker.io/library/motd:latest", "tug.test/motd:v2"}; !slices.Equal(motd.Names, want) {
				t.Errorf("second image names %q, want %q", motd.Names, want)
			}
			var m ocispec.Manifest
			if err := json.Unmarshal(motd.ManifestJSON, &m); err != nil {
				t.Fatalf("made manifest: %v", err)
			}
			if motd.Digest != digest.FromBytes(motd.ManifestJSON) || m.Config.Digest != motd.ConfigDigest || len(m.Layers) != 2 {
				t.Errorf("made manifest %s does not describe the image: %+v", motd.Digest, m)
			}
			if motd.Layers[1].MediaType != tc.mediaType || m.Layers[1].MediaType != tc.mediaType {
				t.Errorf("second layer media type %s, want %s", motd.Layers[1].MediaType, tc.mediaType)
			}
			if got := names(layerFiles(t, motd.Layers[0])); !slices.Equal(got, []string{"bin/", "bin/hello"}) {
				t.Errorf("shared layer through a symlink holds %q", got)
			}
			if got := layerFiles(t, motd.Layers[1]); len(got) != 2 || string(got[1].data) != "welcome" {
				t.Errorf("second layer holds %+v", got)
			}
			if hello.Layers[0].Digest != motd.Layers[0].Digest {
				t.Errorf("shared layer has digests %s and %s", hello.Layers[0].Digest, motd.Layers[0].Digest)
			}
		})
	}
}

// relayout rewrites an OCI layout archive: edit changes its index and may return blobs to
// add.
func relayout(t *testing.T, archive []byte, edit func(ocispec.Index) (ocispec.Index, [][]byte)) []byte {
	t.Helper()
	var entries []entry
	var index ocispec.Index
	for _, e := range readTar(t, bytes.NewReader(archive)) {
		if e.name == "index.json" {
			if err := json.Unmarshal(e.data, &index); err != nil {
				t.Fatal(err)
			}
			continue
		}
		entries = append(entries, e)
	}
	index, blobs := edit(index)
	for _, b := range blobs {
		entries = append(entries, entry{name: "blobs/sha256/" + digest.FromBytes(b).Encoded(), data: b})
	}
	b, err := json.Marshal(index)
	if err != nil {
		t.Fatal(err)
	}
	return buildTar(t, append(entries, entry{name: "index.json", data: b}))
}

func TestReadNestedIndex(t *testing.T) {
	archive := relayout(t, write(t, wasmImage), func(top ocispec.Index) (ocispec.Index, [][]byte) {
		wasm := top.Manifests[0]
		wasm.Annotations = nil
		// The linux manifest's blob is not in the archive, as when docker saves one
		// platform of a multi-platform image.
		linux := ocispec.Descriptor{
			MediaType: ocispec.MediaTypeImageManifest,
			Digest:    digest.FromString("not here"),
			Size:      8,
			Platform:  &ocispec.Platform{OS: "linux", Architecture: "amd64"},
		}
		attestation := ocispec.Descriptor{
			MediaType:   ocispec.MediaTypeImageManifest,
			Digest:      digest.FromString("attestation"),
			Size:        11,
			Annotations: map[string]string{"vnd.docker.reference.type": "attestation-manifest"},
		}
		nested, err := json.Marshal(ocispec.Index{
			Versioned: specs.Versioned{SchemaVersion: 2},
			MediaType: ocispec.MediaTypeImageIndex,
			Manifests: []ocispec.Descriptor{linux, wasm, attestation},
		})
		if err != nil {
			t.Fatal(err)
		}
		top.Manifests = []ocispec.Descriptor{{
			MediaType:   ocispec.MediaTypeImageIndex,
			Digest:      digest.FromBytes(nested),
			Size:        int64(len(nested)),
			Annotations: map[string]string{ocispec.AnnotationRefName: "tug.test/multi:v3"},
		}}
		return top, [][]byte{nested}
	})

	images := read(t, archive)
	if len(images) != 1 {
		t.Fatalf("Read found %d images, want the one whose blobs are present", len(images))
	}
	if want := []string{"tug.test/multi:v3"}; !slices.Equal(images[0].Names, want) {
		t.Errorf("Names = %q, want the outer index's %q", images[0].Names, want)
	}
	if images[0].Config.OS != "wasip1" {
		t.Errorf("found the %s image, want wasip1", images[0].Config.OS)
	}
}

func TestReadDockerLayoutNamesFromManifestJSON(t *testing.T) {
	// Docker 25 and later save an OCI layout with a docker manifest.json beside it; when
	// the index does not name an image, manifest.json's RepoTags do.
	archive := relayout(t, write(t, wasmImage), func(idx ocispec.Index) (ocispec.Index, [][]byte) {
		idx.Manifests[0].Annotations = nil
		return idx, nil
	})
	images := read(t, archive)
	if len(images[0].Names) != 0 {
		t.Fatalf("unannotated index named the image %q", images[0].Names)
	}
	configPath := "blobs/sha256/" + images[0].ConfigDigest.Encoded()
	manifest, err := json.Marshal([]dockerSaved{{Config: configPath, RepoTags: []string{"hello:v9"}}})
	if err != nil {
		t.Fatal(err)
	}
	entries := append(readTar(t, bytes.NewReader(archive)), entry{name: "manifest.json", data: manifest})
	images = read(t, buildTar(t, entries))
	if want := []string{"docker.io/library/hello:v9"}; len(images) != 1 || !slices.Equal(images[0].Names, want) {
		t.Errorf("Read = %d images, first named %q; want one named %q", len(images), images[0].Names, want)
	}
}

func TestReadMergesManifestListedTwice(t *testing.T) {
	archive := relayout(t, write(t, wasmImage), func(idx ocispec.Index) (ocispec.Index, [][]byte) {
		again := idx.Manifests[0]
		again.Annotations = map[string]string{AnnotationContainerdImageName: "tug.test/hello-http:latest"}
		idx.Manifests = append(idx.Manifests, again)
		return idx, nil
	})
	images := read(t, archive)
	if want := []string{"tug.test/hello-http:latest", "tug.test/hello-http:v1"}; len(images) != 1 || !slices.Equal(images[0].Names, want) {
		t.Errorf("Read = %d images, first named %q; want one named %q", len(images), images[0].Names, want)
	}
}

func TestReadRefuses(t *testing.T) {
	good := write(t, wasmImage)
	for _, tc := range []struct {
		name    string
		archive []byte
	}{
		{name: "not a tar", archive: []byte("hello, world, this is not a tar archive at all")},
		{name: "tar without index", archive: buildTar(t, []entry{{name: "hello.txt", data: []byte("hi")}})},
		{name: "index without images", archive: relayout(t, good, func(idx ocispec.Index) (ocispec.Index, [][]byte) {
			idx.Manifests = nil
			return idx, nil
		})},
		{name: "index naming only a manifest the archive lacks", archive: relayout(t, good, func(idx ocispec.Index) (ocispec.Index, [][]byte) {
			idx.Manifests[0].Digest = digest.FromString("something else")
			return idx, nil
		})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Read(bytes.NewReader(tc.archive), int64(len(tc.archive))); err == nil {
				t.Error("Read succeeded, want an error")
			}
		})
	}
}

func TestReadCorruptManifestBlob(t *testing.T) {
	var entries []entry
	var index ocispec.Index
	for _, e := range readTar(t, bytes.NewReader(write(t, wasmImage))) {
		if e.name == "index.json" {
			if err := json.Unmarshal(e.data, &index); err != nil {
				t.Fatal(err)
			}
		}
		entries = append(entries, e)
	}
	for i, e := range entries {
		if e.name == "blobs/sha256/"+index.Manifests[0].Digest.Encoded() {
			entries[i].data = append(slices.Clone(e.data), ' ')
		}
	}
	archive := buildTar(t, entries)
	if _, err := Read(bytes.NewReader(archive), int64(len(archive))); err == nil {
		t.Error("Read of a manifest whose bytes do not match its digest succeeded")
	}
}

func TestLayerCorruptionDetected(t *testing.T) {
	for _, tc := range []struct {
		name string
		gzip bool
	}{
		{name: "plain layer"},
		{name: "gzip layer", gzip: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img := wasmImage
			img.Gzip = tc.gzip
			archive := write(t, img)
			images := read(t, archive)
			l := images[0].Layers[0]
			// Flip a byte near the blob's end, past any gzip header.
			archive[l.off+l.Size-5] ^= 0xff
			rc, err := l.Uncompressed()
			if err == nil {
				_, err = io.Copy(io.Discard, rc)
				rc.Close()
			}
			_, rawErr := io.Copy(io.Discard, l.Open())
			if err == nil || rawErr == nil {
				t.Errorf("reading a corrupted layer: uncompressed err %v, raw err %v; want both to fail", err, rawErr)
			}
		})
	}
}

func TestNormalizeName(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"hello", "docker.io/library/hello:latest"},
		{"hello:v1", "docker.io/library/hello:v1"},
		{"user/app", "docker.io/user/app:latest"},
		{"tug.test/hello-http:v1", "tug.test/hello-http:v1"},
		{"localhost:5000/app", "localhost:5000/app:latest"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := NormalizeName(tc.in)
			if err != nil || got != tc.want {
				t.Errorf("NormalizeName(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
		})
	}
	if _, err := NormalizeName("Hello"); err == nil {
		t.Error("NormalizeName accepted an upper-case repository")
	}
}
