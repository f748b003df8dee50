package ociimage

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Media types of Docker's image format, which OCI layouts written by Docker and docker save
// archives still carry.
const (
	mediaTypeDockerManifest     = "application/vnd.docker.distribution.manifest.v2+json"
	mediaTypeDockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
	mediaTypeDockerConfig       = "application/vnd.docker.container.image.v1+json"
)

// maxJSON bounds the index, manifest and config files read into memory, so a hostile
// archive cannot exhaust it; real ones are a few kilobytes.
const maxJSON = 8 << 20

// maxLinks bounds how many links in the archive are followed to find one file (docker save
// links layers shared by several images).
const maxLinks = 16

// Archived is one image manifest found in an archive.
type Archived struct {
	// Names are the image's full names ("docker.io/library/hello:latest"), sorted; empty
	// when the archive does not name the image.
	Names []string
	// Digest identifies the manifest. A docker save archive without OCI manifests gets
	// one made from its config and layers, as containerd's importer does.
	Digest digest.Digest
	// ManifestJSON is the manifest's bytes, whose digest is Digest.
	ManifestJSON []byte
	// ConfigDigest identifies the config: the image ID.
	ConfigDigest digest.Digest
	// ConfigJSON is the config's bytes, whose digest is ConfigDigest.
	ConfigJSON []byte
	// Config is ConfigJSON decoded.
	Config ocispec.Image
	// Layers are the image's layers, lowest first.
	Layers []Layer
}

// Layer is one layer blob of an archived image.
type Layer struct {
	// Digest and Size describe the blob as archived, compressed or not.
	Digest digest.Digest
	Size   int64
	// MediaType says how the blob is compressed.
	MediaType string
	// DiffID is the digest of the uncompressed tar.
	DiffID digest.Digest

	r   io.ReaderAt
	off int64
}

// Read reads the archive in r, of size bytes: an OCI image layout or a docker save archive.
// It returns every image manifest in it whose blobs are present, merged by manifest digest.
// Manifests of a multi-platform index whose blobs the archive lacks are left out (docker
// save of one platform writes such archives); an archive with no complete image is an
// error.
func Read(r io.ReaderAt, size int64) ([]Archived, error) {
	a, err := indexTar(r, size)
	if err != nil {
		return nil, err
	}
	var images []Archived
	switch {
	case a.has(ocispec.ImageIndexFile):
		images, err = a.readLayout()
	case a.has(dockerManifestFile):
		images, err = a.readDockerSave()
	default:
		return nil, errors.New("not an image archive: it has neither index.json nor manifest.json")
	}
	if err != nil {
		return nil, err
	}
	if len(images) == 0 {
		return nil, errors.New("archive holds no complete image")
	}
	return images, nil
}

// archive is the table of contents of a tar file: where each regular file's data lies, and
// where each link points.
type archive struct {
	r     io.ReaderAt
	files map[string]section
	links map[string]string
}

type section struct{ off, size int64 }

func indexTar(r io.ReaderAt, size int64) (*archive, error) {
	a := &archive{r: r, files: map[string]section{}, links: map[string]string{}}
	// The tar reader seeks past file data through the SectionReader, so indexing reads
	// only headers; the section's position after Next is where the entry's data starts.
	sr := io.NewSectionReader(r, 0, size)
	tr := tar.NewReader(sr)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read archive: %w", err)
		}
		name := cleanName(hdr.Name)
		switch hdr.Typeflag {
		case tar.TypeReg:
			off, err := sr.Seek(0, io.SeekCurrent)
			if err != nil {
				return nil, fmt.Errorf("read archive: %w", err)
			}
			a.files[name] = section{off: off, size: hdr.Size}
			delete(a.links, name)
		case tar.TypeSymlink:
			target := hdr.Linkname
			if !path.IsAbs(target) {
				target = path.Join(path.Dir(name), target)
			}
			a.links[name] = cleanName(target)
			delete(a.files, name)
		case tar.TypeLink:
			a.links[name] = cleanName(hdr.Linkname)
			delete(a.files, name)
		}
	}
	return a, nil
}

// cleanName turns an archive path into the form files are looked up by: "./blobs//x" and
// "/blobs/x" are both "blobs/x".
func cleanName(name string) string {
	return strings.TrimPrefix(path.Clean("/"+name), "/")
}

func (a *archive) find(name string) (section, bool) {
	name = cleanName(name)
	for range maxLinks {
		if s, ok := a.files[name]; ok {
			return s, true
		}
		target, ok := a.links[name]
		if !ok {
			return section{}, false
		}
		name = target
	}
	return section{}, false
}

func (a *archive) has(name string) bool {
	_, ok := a.find(name)
	return ok
}

// readSmall returns the bytes of a small file of the archive.
func (a *archive) readSmall(name string) ([]byte, error) {
	s, ok := a.find(name)
	if !ok {
		return nil, fmt.Errorf("%s: %w", name, errMissing)
	}
	if s.size > maxJSON {
		return nil, fmt.Errorf("%s: %d bytes is more than the %d a manifest or config may have", name, s.size, maxJSON)
	}
	b := make([]byte, s.size)
	// ReadAt may report io.EOF with a full buffer when the file ends the archive.
	if n, err := a.r.ReadAt(b, s.off); n < len(b) {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return b, nil
}

var errMissing = errors.New("not in the archive")

func blobPath(d digest.Digest) string {
	return path.Join(ocispec.ImageBlobsDir, d.Algorithm().String(), d.Encoded())
}

// readBlob returns the bytes of a small blob of an OCI layout, checked against desc.
func (a *archive) readBlob(desc ocispec.Descriptor) ([]byte, error) {
	if err := desc.Digest.Validate(); err != nil {
		return nil, fmt.Errorf("blob digest %q: %w", desc.Digest, err)
	}
	b, err := a.readSmall(blobPath(desc.Digest))
	if err != nil {
		return nil, err
	}
	if got := digest.FromBytes(b); got != desc.Digest {
		return nil, fmt.Errorf("blob %s has digest %s", desc.Digest, got)
	}
	return b, nil
}

// readLayout reads an OCI image layout, walking nested indexes down to the manifests.
func (a *archive) readLayout() ([]Archived, error) {
	b, err := a.readSmall(ocispec.ImageIndexFile)
	if err != nil {
		return nil, err
	}
	var index ocispec.Index
	if err := json.Unmarshal(b, &index); err != nil {
		return nil, fmt.Errorf("decode %s: %w", ocispec.ImageIndexFile, err)
	}
	found := &collected{byDigest: map[digest.Digest]*Archived{}}
	for _, desc := range index.Manifests {
		names, err := descriptorNames(desc)
		if err != nil {
			return nil, err
		}
		if err := a.walk(desc, names, found, 0); err != nil {
			return nil, err
		}
	}
	// Docker 25 and later write an OCI layout and a manifest.json side by side; an image
	// the index leaves unnamed may be named there.
	if a.has(dockerManifestFile) {
		saved, err := a.dockerManifest()
		if err != nil {
			return nil, err
		}
		for _, img := range found.list {
			if len(img.Names) > 0 {
				continue
			}
			for _, s := range saved {
				if b, err := a.readSmall(s.Config); err == nil && digest.FromBytes(b) == img.ConfigDigest {
					names, err := normalizeAll(s.RepoTags)
					if err != nil {
						return nil, err
					}
					img.Names = mergeNames(img.Names, names)
				}
			}
		}
	}
	out := make([]Archived, 0, len(found.list))
	for _, img := range found.list {
		out = append(out, *img)
	}
	return out, nil
}

// collected gathers manifests in the order first met, merging names of one met twice.
type collected struct {
	list     []*Archived
	byDigest map[digest.Digest]*Archived
}

// maxDepth bounds index nesting; real images nest one level (an index of manifests).
const maxDepth = 8

func (a *archive) walk(desc ocispec.Descriptor, names []string, found *collected, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("indexes nest more than %d deep", maxDepth)
	}
	// Attestations (SBOMs, provenance) ride in image indexes as manifests of their own;
	// they are not images.
	if desc.Annotations["vnd.docker.reference.type"] == "attestation-manifest" {
		return nil
	}
	switch desc.MediaType {
	case ocispec.MediaTypeImageIndex, mediaTypeDockerManifestList:
		b, err := a.readBlob(desc)
		if errors.Is(err, errMissing) {
			return nil
		}
		if err != nil {
			return err
		}
		var index ocispec.Index
		if err := json.Unmarshal(b, &index); err != nil {
			return fmt.Errorf("decode index %s: %w", desc.Digest, err)
		}
		for _, child := range index.Manifests {
			more, err := descriptorNames(child)
			if err != nil {
				return err
			}
			if err := a.walk(child, mergeNames(names, more), found, depth+1); err != nil {
				return err
			}
		}
		return nil
	case ocispec.MediaTypeImageManifest, mediaTypeDockerManifest:
		if img, ok := found.byDigest[desc.Digest]; ok {
			img.Names = mergeNames(img.Names, names)
			return nil
		}
		img, err := a.readManifest(desc)
		if errors.Is(err, errMissing) {
			return nil
		}
		if err != nil || img == nil {
			return err
		}
		img.Names = mergeNames(nil, names)
		found.byDigest[desc.Digest] = img
		found.list = append(found.list, img)
		return nil
	default:
		return nil
	}
}

// readManifest reads one image manifest of an OCI layout, its config and its layers'
// places. It returns nil for a manifest that is not an image (an artifact).
func (a *archive) readManifest(desc ocispec.Descriptor) (*Archived, error) {
	b, err := a.readBlob(desc)
	if err != nil {
		return nil, err
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("decode manifest %s: %w", desc.Digest, err)
	}
	switch m.Config.MediaType {
	case ocispec.MediaTypeImageConfig, mediaTypeDockerConfig:
	default:
		return nil, nil
	}
	configJSON, err := a.readBlob(m.Config)
	if err != nil {
		return nil, fmt.Errorf("manifest %s: config: %w", desc.Digest, err)
	}
	img := &Archived{Digest: desc.Digest, ManifestJSON: b, ConfigDigest: m.Config.Digest, ConfigJSON: configJSON}
	if err := json.Unmarshal(configJSON, &img.Config); err != nil {
		return nil, fmt.Errorf("decode config %s: %w", m.Config.Digest, err)
	}
	if n, want := len(m.Layers), len(img.Config.RootFS.DiffIDs); n != want {
		return nil, fmt.Errorf("manifest %s has %d layers, its config %d diff ids", desc.Digest, n, want)
	}
	for i, l := range m.Layers {
		if err := l.Digest.Validate(); err != nil {
			return nil, fmt.Errorf("manifest %s: layer digest %q: %w", desc.Digest, l.Digest, err)
		}
		s, ok := a.find(blobPath(l.Digest))
		if !ok {
			return nil, fmt.Errorf("manifest %s: layer %s: %w", desc.Digest, l.Digest, errMissing)
		}
		if s.size != l.Size {
			return nil, fmt.Errorf("manifest %s: layer %s is %d bytes, the manifest says %d", desc.Digest, l.Digest, s.size, l.Size)
		}
		img.Layers = append(img.Layers, Layer{
			Digest: l.Digest, Size: l.Size, MediaType: l.MediaType, DiffID: img.Config.RootFS.DiffIDs[i],
			r: a.r, off: s.off,
		})
	}
	return img, nil
}

// descriptorNames returns the full names an index descriptor's annotations give its
// target. containerd's annotation holds a full name; the OCI ref.name annotation may hold
// one too ("example.com/app:v1") or, as the spec's own examples do, only a tag ("v1"),
// which names nothing without a repository and is ignored.
func descriptorNames(desc ocispec.Descriptor) ([]string, error) {
	var names []string
	if n := desc.Annotations[AnnotationContainerdImageName]; n != "" {
		names = append(names, n)
	} else if n := desc.Annotations[ocispec.AnnotationRefName]; strings.ContainsAny(n, "/:@") {
		names = append(names, n)
	}
	return normalizeAll(names)
}

func normalizeAll(names []string) ([]string, error) {
	out := make([]string, 0, len(names))
	for _, n := range names {
		full, err := NormalizeName(n)
		if err != nil {
			return nil, err
		}
		out = append(out, full)
	}
	return out, nil
}

func mergeNames(a, b []string) []string {
	out := slices.Concat(a, b)
	slices.Sort(out)
	return slices.Compact(out)
}

// dockerManifestFile is the table of contents of a docker save archive.
const dockerManifestFile = "manifest.json"

type dockerSaved struct {
	Config   string
	RepoTags []string
	Layers   []string
}

func (a *archive) dockerManifest() ([]dockerSaved, error) {
	b, err := a.readSmall(dockerManifestFile)
	if err != nil {
		return nil, err
	}
	var saved []dockerSaved
	if err := json.Unmarshal(b, &saved); err != nil {
		return nil, fmt.Errorf("decode %s: %w", dockerManifestFile, err)
	}
	return saved, nil
}

// readDockerSave reads a docker save archive, making an OCI manifest for each image.
func (a *archive) readDockerSave() ([]Archived, error) {
	saved, err := a.dockerManifest()
	if err != nil {
		return nil, err
	}
	found := &collected{byDigest: map[digest.Digest]*Archived{}}
	for _, s := range saved {
		names, err := normalizeAll(s.RepoTags)
		if err != nil {
			return nil, err
		}
		img, err := a.readSaved(s)
		if err != nil {
			return nil, err
		}
		if prev, ok := found.byDigest[img.Digest]; ok {
			prev.Names = mergeNames(prev.Names, names)
			continue
		}
		img.Names = mergeNames(nil, names)
		found.byDigest[img.Digest] = img
		found.list = append(found.list, img)
	}
	out := make([]Archived, 0, len(found.list))
	for _, img := range found.list {
		out = append(out, *img)
	}
	return out, nil
}

func (a *archive) readSaved(s dockerSaved) (*Archived, error) {
	configJSON, err := a.readSmall(s.Config)
	if err != nil {
		return nil, fmt.Errorf("%s: config: %w", dockerManifestFile, err)
	}
	img := &Archived{ConfigDigest: digest.FromBytes(configJSON), ConfigJSON: configJSON}
	if err := json.Unmarshal(configJSON, &img.Config); err != nil {
		return nil, fmt.Errorf("decode config %s: %w", s.Config, err)
	}
	if n, want := len(s.Layers), len(img.Config.RootFS.DiffIDs); n != want {
		return nil, fmt.Errorf("%s: image %s has %d layers, its config %d diff ids", dockerManifestFile, s.Config, n, want)
	}
	m := ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageManifest,
		Config:    ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: img.ConfigDigest, Size: int64(len(configJSON))},
	}
	for i, name := range s.Layers {
		sec, ok := a.find(name)
		if !ok {
			return nil, fmt.Errorf("%s: layer %s: %w", dockerManifestFile, name, errMissing)
		}
		// docker save names layers by path, not digest, so the digest comes from reading
		// the blob; its compression comes from its first bytes.
		l := Layer{Size: sec.size, DiffID: img.Config.RootFS.DiffIDs[i], r: a.r, off: sec.off}
		d, compressed, err := l.scan()
		if err != nil {
			return nil, fmt.Errorf("layer %s: %w", name, err)
		}
		l.Digest = d
		l.MediaType = ocispec.MediaTypeImageLayer
		if compressed {
			l.MediaType = ocispec.MediaTypeImageLayerGzip
		}
		img.Layers = append(img.Layers, l)
		m.Layers = append(m.Layers, ocispec.Descriptor{MediaType: l.MediaType, Digest: l.Digest, Size: l.Size})
	}
	img.ManifestJSON, err = json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode manifest: %w", err)
	}
	img.Digest = digest.FromBytes(img.ManifestJSON)
	return img, nil
}
