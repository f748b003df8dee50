package ociimage

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"path/filepath"
	"strings"

	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// AnnotationContainerdImageName is the index annotation containerd's importer reads for an
// image's full name (`ctr images import`, client.Import). The OCI ref.name annotation holds
// only the tag, so without this containerd would need a --base-name to name the image.
const AnnotationContainerdImageName = "io.containerd.image.name"

// Image is an image to write: its name, platform, runtime config and the files of its layers.
type Image struct {
	// Name is the image reference, "tug.test/hello-http:v1"; a short name such as "hello"
	// is written in its normalised form, "docker.io/library/hello:latest".
	Name string
	// OS and Architecture are the image's platform: "linux"/"amd64", or "wasip1"/"wasm"
	// for a WASI module.
	OS, Architecture string
	// Entrypoint, Cmd, Env and WorkingDir become the config's fields of the same name.
	Entrypoint, Cmd, Env []string
	WorkingDir           string
	// ExposedPorts are "8080/tcp"-style ports.
	ExposedPorts []string
	// Files are the first layer's entries, written in this order. Directories leading to
	// a file are added when not listed.
	Files []File
	// Layers are further layers, each applied over those before it. A File named
	// "dir/.wh.name" in one of them is an OCI whiteout that deletes dir/name from the
	// layers below; "dir/.wh..wh..opq" makes dir opaque.
	Layers [][]File
	// Gzip compresses every layer blob; otherwise layers are stored as plain tar.
	Gzip bool
}

// File is one entry of a layer.
type File struct {
	// Path is where the entry goes in the image's filesystem, "/app.wasm". It is written
	// as given, without its leading slash — even when it escapes the root ("../x") — so
	// tests can build hostile layers.
	Path string
	// Mode holds the permission bits and the kind: fs.ModeDir for a directory,
	// fs.ModeSymlink for a symbolic link (whose target is Data), a regular file otherwise.
	Mode fs.FileMode
	// Data is a regular file's contents or a symlink's target.
	Data []byte
}

// NormalizeName returns the full form of an image reference, the form stores key images
// by: "hello" becomes "docker.io/library/hello:latest", a name without tag or digest gets
// ":latest".
func NormalizeName(name string) (string, error) {
	named, err := reference.ParseNormalizedNamed(name)
	if err != nil {
		return "", fmt.Errorf("image name %q: %w", name, err)
	}
	return reference.TagNameOnly(named).String(), nil
}

// Write writes img to w as an OCI image layout tar archive. The output depends only on img,
// so writing the same image twice gives the same bytes and digests.
func Write(w io.Writer, img Image) error {
	if img.Name == "" {
		return errors.New("image has no name")
	}
	named, err := reference.ParseNormalizedNamed(img.Name)
	if err != nil {
		return fmt.Errorf("image name %q: %w", img.Name, err)
	}
	named = reference.TagNameOnly(named)
	tagged, ok := named.(reference.Tagged)
	if !ok {
		return fmt.Errorf("image name %q: a name with a digest cannot be written", img.Name)
	}
	if img.OS == "" || img.Architecture == "" {
		return fmt.Errorf("image %q: os and architecture are required", img.Name)
	}

	out := tar.NewWriter(w)
	if err := writeDir(out, "blobs/"); err != nil {
		return err
	}
	if err := writeDir(out, "blobs/sha256/"); err != nil {
		return err
	}
	writeBlob := func(mediaType string, b []byte) (ocispec.Descriptor, error) {
		d := ocispec.Descriptor{MediaType: mediaType, Digest: digest.FromBytes(b), Size: int64(len(b))}
		return d, writeFile(out, "blobs/sha256/"+d.Digest.Encoded(), b)
	}

	layerType := ocispec.MediaTypeImageLayer
	if img.Gzip {
		layerType = ocispec.MediaTypeImageLayerGzip
	}
	var layers []ocispec.Descriptor
	var diffIDs []digest.Digest
	for i, files := range append([][]File{img.Files}, img.Layers...) {
		plain, err := layerTar(files)
		if err != nil {
			return fmt.Errorf("layer %d: %w", i, err)
		}
		diffIDs = append(diffIDs, digest.FromBytes(plain))
		blob := plain
		if img.Gzip {
			if blob, err = gzipBytes(plain); err != nil {
				return fmt.Errorf("compress layer %d: %w", i, err)
			}
		}
		d, err := writeBlob(layerType, blob)
		if err != nil {
			return err
		}
		layers = append(layers, d)
	}

	platform := ocispec.Platform{OS: img.OS, Architecture: img.Architecture}
	config := ocispec.Image{
		Platform: platform,
		Config: ocispec.ImageConfig{
			Entrypoint: img.Entrypoint,
			Cmd:        img.Cmd,
			Env:        img.Env,
			WorkingDir: img.WorkingDir,
		},
		RootFS: ocispec.RootFS{Type: "layers", DiffIDs: diffIDs},
	}
	if len(img.ExposedPorts) > 0 {
		config.Config.ExposedPorts = make(map[string]struct{}, len(img.ExposedPorts))
		for _, p := range img.ExposedPorts {
			config.Config.ExposedPorts[p] = struct{}{}
		}
	}
	configJSON, err := json.Marshal(config)
	if err != nil {
		return fmt.Errorf("encode config: %w", err)
	}
	configDesc, err := writeBlob(ocispec.MediaTypeImageConfig, configJSON)
	if err != nil {
		return err
	}

	manifestJSON, err := json.Marshal(ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageManifest,
		Config:    configDesc,
		Layers:    layers,
	})
	if err != nil {
		return fmt.Errorf("encode manifest: %w", err)
	}
	manifestDesc, err := writeBlob(ocispec.MediaTypeImageManifest, manifestJSON)
	if err != nil {
		return err
	}
	manifestDesc.Platform = &platform
	manifestDesc.Annotations = map[string]string{
		ocispec.AnnotationRefName:     tagged.Tag(),
		AnnotationContainerdImageName: named.String(),
	}

	indexJSON, err := json.Marshal(ocispec.Index{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageIndex,
		Manifests: []ocispec.Descriptor{manifestDesc},
	})
	if err != nil {
		return fmt.Errorf("encode index: %w", err)
	}
	layoutJSON, err := json.Marshal(ocispec.ImageLayout{Version: ocispec.ImageLayoutVersion})
	if err != nil {
		return fmt.Errorf("encode oci-layout: %w", err)
	}
	if err := writeFile(out, ocispec.ImageLayoutFile, layoutJSON); err != nil {
		return err
	}
	if err := writeFile(out, ocispec.ImageIndexFile, indexJSON); err != nil {
		return err
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("finish archive: %w", err)
	}
	return nil
}

// layerTar returns the tar of one layer's files, with a directory entry for each parent
// directory the files do not list themselves.
func layerTar(files []File) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	seen := map[string]bool{}
	for _, f := range files {
		name := strings.TrimPrefix(f.Path, "/")
		if name == "" {
			return nil, fmt.Errorf("file %q: empty path", f.Path)
		}
		// Parents are only added for paths that stay inside the root: an escaping path
		// is written as the caller gave it and nothing else.
		if filepath.IsLocal(name) {
			name = path.Clean(name)
			var parents []string
			for dir := path.Dir(name); dir != "."; dir = path.Dir(dir) {
				parents = append(parents, dir)
			}
			for i := len(parents) - 1; i >= 0; i-- {
				if seen[parents[i]] {
					continue
				}
				seen[parents[i]] = true
				if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: parents[i] + "/", Mode: 0o755}); err != nil {
					return nil, fmt.Errorf("write %s: %w", parents[i], err)
				}
			}
		}
		seen[name] = true
		hdr := &tar.Header{Name: name, Mode: tarMode(f.Mode)}
		var data []byte
		switch {
		case f.Mode.IsDir():
			hdr.Typeflag = tar.TypeDir
			hdr.Name += "/"
		case f.Mode&fs.ModeSymlink != 0:
			hdr.Typeflag = tar.TypeSymlink
			hdr.Linkname = string(f.Data)
		case f.Mode.IsRegular():
			hdr.Typeflag = tar.TypeReg
			hdr.Size = int64(len(f.Data))
			data = f.Data
		default:
			return nil, fmt.Errorf("file %q: mode %v is not a file, directory or symlink", f.Path, f.Mode)
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, fmt.Errorf("write %s: %w", f.Path, err)
		}
		if _, err := tw.Write(data); err != nil {
			return nil, fmt.Errorf("write %s: %w", f.Path, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("finish layer: %w", err)
	}
	return buf.Bytes(), nil
}

// tarMode turns an fs.FileMode's permission and special bits into tar's (Unix) mode bits.
func tarMode(m fs.FileMode) int64 {
	mode := int64(m.Perm())
	if m&fs.ModeSetuid != 0 {
		mode |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		mode |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		mode |= 0o1000
	}
	return mode
}

func gzipBytes(b []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func writeDir(tw *tar.Writer, name string) error {
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: 0o755}); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}

func writeFile(tw *tar.Writer, name string, b []byte) error {
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(b))}); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if _, err := tw.Write(b); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}
