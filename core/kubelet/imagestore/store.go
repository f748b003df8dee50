package imagestore

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"

	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/tugboat-io/tug/internal/ociimage"
)

// ErrNotFound is returned by Resolve and Remove for an image the store does not hold.
var ErrNotFound = errors.New("image not found")

// ErrInvalidName is returned for an image reference that does not parse, which Kubernetes
// reports as InvalidImageName rather than as a missing image.
var ErrInvalidName = errors.New("invalid image name")

// Image is an image in the store.
type Image struct {
	// Name is the full name the image was found by or is listed under,
	// "docker.io/library/hello:latest"; empty for an image that lost its last name.
	Name string
	// Digest identifies the image's manifest.
	Digest digest.Digest
	// ID identifies the image's config, as containerd's image IDs do; images with one ID
	// share a root filesystem.
	ID digest.Digest
	// Config is what the image says to run: entrypoint, cmd, env, working dir, ports.
	Config ocispec.ImageConfig
	// Platform is the OS and architecture the image is for; wasip1/wasm for a WASI module.
	Platform ocispec.Platform
	// RootFS is the directory holding the image's unpacked files. It stays until the image
	// is removed; the caller must not change it.
	RootFS string
	// Size is the bytes of the image's blobs, as the Node's status.images reports it.
	Size int64
}

// Store is a node's image store in a directory. Its methods are safe for concurrent use.
type Store struct {
	dir string

	// mu guards idx, images.json and pins, and orders commits against removals.
	mu  sync.RWMutex
	idx index
	// pins counts, per blob digest (and config digest, for a root filesystem), the
	// imports in flight that need it, so a concurrent Remove leaves it alone.
	pins map[digest.Digest]int
}

// indexVersion is the format of images.json this package writes; Open refuses a newer one
// rather than misread it.
const indexVersion = 1

// index is images.json.
type index struct {
	Version int `json:"version"`
	// Names maps a full image name to its manifest digest.
	Names map[string]digest.Digest `json:"names"`
	// Images holds each image by manifest digest, named or not.
	Images map[digest.Digest]record `json:"images"`
}

type record struct {
	ID       digest.Digest       `json:"id"`
	Platform ocispec.Platform    `json:"platform"`
	Config   ocispec.ImageConfig `json:"config"`
	Layers   []digest.Digest     `json:"layers"`
	Size     int64               `json:"size"`
}

func (x index) clone() index {
	return index{Version: indexVersion, Names: maps.Clone(x.Names), Images: maps.Clone(x.Images)}
}

const indexFile = "images.json"

// Open opens the store in dir, creating it if needed. It empties tmp/ and removes blobs
// and root filesystems no image refers to, which only a crash during an import or a
// removal leaves behind.
func Open(dir string) (*Store, error) {
	s := &Store{dir: dir, pins: map[digest.Digest]int{}}
	if err := os.RemoveAll(s.tmpDir()); err != nil {
		return nil, fmt.Errorf("clear image store temp dir: %w", err)
	}
	for _, d := range []string{s.tmpDir(), filepath.Join(dir, "blobs"), filepath.Join(dir, "rootfs")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("create image store: %w", err)
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, indexFile))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		s.idx = index{Names: map[string]digest.Digest{}, Images: map[digest.Digest]record{}}
	case err != nil:
		return nil, fmt.Errorf("read image store index: %w", err)
	default:
		if err := json.Unmarshal(b, &s.idx); err != nil {
			return nil, fmt.Errorf("decode image store index %s: %w", filepath.Join(dir, indexFile), err)
		}
		if s.idx.Version > indexVersion {
			return nil, fmt.Errorf("image store index %s has format %d; this tug reads up to %d", filepath.Join(dir, indexFile), s.idx.Version, indexVersion)
		}
		if s.idx.Names == nil {
			s.idx.Names = map[string]digest.Digest{}
		}
		if s.idx.Images == nil {
			s.idx.Images = map[digest.Digest]record{}
		}
	}
	if err := s.collectStrays(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Store) tmpDir() string { return filepath.Join(s.dir, "tmp") }

func (s *Store) blobPath(d digest.Digest) string {
	return filepath.Join(s.dir, "blobs", d.Algorithm().String(), d.Encoded())
}

func (s *Store) rootfsPath(id digest.Digest) string {
	return filepath.Join(s.dir, "rootfs", id.Algorithm().String(), id.Encoded())
}

// collectStrays removes blobs and root filesystems no image refers to. It runs from Open,
// before any import can be in flight.
func (s *Store) collectStrays() error {
	used := map[string]bool{}
	for d, rec := range s.idx.Images {
		used[s.blobPath(d)] = true
		used[s.blobPath(rec.ID)] = true
		used[s.rootfsPath(rec.ID)] = true
		for _, l := range rec.Layers {
			used[s.blobPath(l)] = true
		}
	}
	for _, kind := range []string{"blobs", "rootfs"} {
		algs, err := os.ReadDir(filepath.Join(s.dir, kind))
		if err != nil {
			return fmt.Errorf("scan image store: %w", err)
		}
		for _, alg := range algs {
			entries, err := os.ReadDir(filepath.Join(s.dir, kind, alg.Name()))
			if err != nil {
				return fmt.Errorf("scan image store: %w", err)
			}
			for _, e := range entries {
				p := filepath.Join(s.dir, kind, alg.Name(), e.Name())
				if !used[p] {
					if err := os.RemoveAll(p); err != nil {
						return fmt.Errorf("remove stray %s: %w", p, err)
					}
				}
			}
		}
	}
	return nil
}

// Import reads an image archive from r — an OCI image layout or a docker save archive —
// and stores every image in it that has a name, returning those names in full form,
// sorted. When one name covers several platforms (a multi-platform index), the store keeps
// one: wasip1/wasm, which the in-process runtime runs, else linux on this machine's
// architecture, else the first. An archive that names no image is an error. A name the
// store already had now refers to the imported image.
func (s *Store) Import(ctx context.Context, r io.Reader) ([]string, error) {
	// Archives are read at random (docker save puts its table of contents last), so the
	// stream goes to a file first.
	spool, err := os.CreateTemp(s.tmpDir(), "import-*.tar")
	if err != nil {
		return nil, fmt.Errorf("spool image archive: %w", err)
	}
	defer os.Remove(spool.Name())
	defer spool.Close()
	size, err := io.Copy(spool, ctxReader{ctx, r})
	if err != nil {
		return nil, fmt.Errorf("spool image archive: %w", err)
	}
	archived, err := ociimage.Read(spool, size)
	if err != nil {
		return nil, fmt.Errorf("read image archive: %w", err)
	}

	chosen := choose(archived)
	if len(chosen) == 0 {
		return nil, errors.New("read image archive: it names no image")
	}
	names := slices.Sorted(maps.Keys(chosen))
	var images []*ociimage.Archived
	for _, name := range names {
		if img := chosen[name]; !slices.Contains(images, img) {
			images = append(images, img)
		}
	}

	var pinned []digest.Digest
	for _, img := range images {
		pinned = append(pinned, img.Digest, img.ConfigDigest)
		for _, l := range img.Layers {
			pinned = append(pinned, l.Digest)
		}
	}
	s.pin(pinned)
	defer s.unpin(pinned)

	for _, img := range images {
		if err := s.storeImage(ctx, img); err != nil {
			return nil, fmt.Errorf("import %s: %w", img.Digest, err)
		}
	}
	// Everything the new index will name must be on disk before it does.
	for _, d := range []string{filepath.Join(s.dir, "blobs", "sha256"), filepath.Join(s.dir, "rootfs", "sha256")} {
		if err := syncDir(d); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("import: %w", err)
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	next := s.idx.clone()
	for _, img := range images {
		size := int64(len(img.ManifestJSON) + len(img.ConfigJSON))
		rec := record{
			ID:       img.ConfigDigest,
			Platform: img.Config.Platform,
			Config:   img.Config.Config,
		}
		for _, l := range img.Layers {
			rec.Layers = append(rec.Layers, l.Digest)
			size += l.Size
		}
		rec.Size = size
		next.Images[img.Digest] = rec
	}
	for name, img := range chosen {
		next.Names[name] = img.Digest
	}
	if err := s.save(next); err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	s.idx = next
	return names, nil
}

// choose picks the image each name of the archive refers to.
func choose(archived []ociimage.Archived) map[string]*ociimage.Archived {
	chosen := map[string]*ociimage.Archived{}
	for i := range archived {
		img := &archived[i]
		for _, name := range img.Names {
			if prev, ok := chosen[name]; !ok || platformRank(img.Config.Platform) < platformRank(prev.Config.Platform) {
				chosen[name] = img
			}
		}
	}
	return chosen
}

// platformRank orders platforms by how well this node runs them; lower is better.
func platformRank(p ocispec.Platform) int {
	switch {
	case p.OS == "wasip1" && p.Architecture == "wasm":
		return 0
	case p.OS == "linux" && p.Architecture == runtime.GOARCH:
		return 1
	default:
		return 2
	}
}

// storeImage writes an image's blobs and unpacks its root filesystem, skipping what the
// store has already.
func (s *Store) storeImage(ctx context.Context, img *ociimage.Archived) error {
	if err := s.writeBlob(ctx, img.Digest, bytes.NewReader(img.ManifestJSON)); err != nil {
		return fmt.Errorf("store manifest: %w", err)
	}
	if err := s.writeBlob(ctx, img.ConfigDigest, bytes.NewReader(img.ConfigJSON)); err != nil {
		return fmt.Errorf("store config: %w", err)
	}
	for _, l := range img.Layers {
		if err := s.writeBlob(ctx, l.Digest, l.Open()); err != nil {
			return fmt.Errorf("store layer %s: %w", l.Digest, err)
		}
	}
	return s.unpack(ctx, img)
}

// writeBlob stores the blob r yields under digest d, unless the store has it already (a
// stored blob was checked when it was written). Bytes that do not match d are refused.
func (s *Store) writeBlob(ctx context.Context, d digest.Digest, r io.Reader) error {
	final := s.blobPath(d)
	if _, err := os.Stat(final); err == nil {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(final), 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(s.tmpDir(), "blob-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	v := d.Verifier()
	_, err = io.Copy(io.MultiWriter(f, v), ctxReader{ctx, r})
	if err == nil && !v.Verified() {
		err = fmt.Errorf("content does not match digest %s", d)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(f.Name(), final)
}

// unpack applies the image's layers, in order, into a new directory and moves it into
// place as the image's root filesystem. An image whose config the store already unpacked
// is left as it is: the config names the layers' uncompressed digests, so the trees would
// be the same.
func (s *Store) unpack(ctx context.Context, img *ociimage.Archived) error {
	final := s.rootfsPath(img.ConfigDigest)
	if _, err := os.Stat(final); err == nil {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(final), 0o700); err != nil {
		return err
	}
	dir, err := os.MkdirTemp(s.tmpDir(), "rootfs-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o755); err != nil {
		return err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	for _, l := range img.Layers {
		if err := applyFrom(ctx, root, l); err != nil {
			return fmt.Errorf("unpack layer %s: %w", l.Digest, err)
		}
	}
	if err := os.Rename(dir, final); err != nil {
		// Another import of the same image got there first; its tree is as good.
		if _, serr := os.Stat(final); serr == nil {
			return nil
		}
		return err
	}
	return nil
}

func applyFrom(ctx context.Context, root *os.Root, l ociimage.Layer) error {
	rc, err := l.Uncompressed()
	if err != nil {
		return err
	}
	defer rc.Close()
	if err := applyLayer(ctx, root, rc); err != nil {
		return err
	}
	// The tar ends before the stream does; reading the rest runs the digest checks.
	_, err = io.Copy(io.Discard, rc)
	return err
}

// Resolve returns the image ref names: a name ("hello", "hello:v1",
// "tug.test/hello-http:v1"; no tag means :latest), a name with a digest
// ("hello@sha256:…", found by digest), or a bare manifest or config digest ("sha256:…").
// It returns an error wrapping ErrNotFound when the store does not hold it, and one
// wrapping ErrInvalidName when ref is not an image reference.
func (s *Store) Resolve(ref string) (Image, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	d, rec, name, err := s.lookup(ref)
	if err != nil {
		return Image{}, err
	}
	return s.image(name, d, rec), nil
}

// lookup finds ref in the index; name is the name it was found by, or for a digest the
// image's first name. Callers hold mu.
func (s *Store) lookup(ref string) (digest.Digest, record, string, error) {
	if d, err := digest.Parse(ref); err == nil {
		for md, rec := range s.idx.Images {
			if md == d || rec.ID == d {
				return md, rec, s.firstName(md), nil
			}
		}
		return "", record{}, "", fmt.Errorf("image %s: %w", ref, ErrNotFound)
	}
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return "", record{}, "", fmt.Errorf("%w %q: %w", ErrInvalidName, ref, err)
	}
	if c, ok := named.(reference.Canonical); ok {
		if rec, ok := s.idx.Images[c.Digest()]; ok {
			return c.Digest(), rec, s.firstName(c.Digest()), nil
		}
		return "", record{}, "", fmt.Errorf("image %s: %w", ref, ErrNotFound)
	}
	name := reference.TagNameOnly(named).String()
	md, ok := s.idx.Names[name]
	if !ok {
		return "", record{}, "", fmt.Errorf("image %s: %w", ref, ErrNotFound)
	}
	return md, s.idx.Images[md], name, nil
}

func (s *Store) firstName(md digest.Digest) string {
	var names []string
	for name, d := range s.idx.Names {
		if d == md {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return ""
	}
	return slices.Min(names)
}

func (s *Store) image(name string, md digest.Digest, rec record) Image {
	return Image{
		Name:     name,
		Digest:   md,
		ID:       rec.ID,
		Config:   rec.Config,
		Platform: rec.Platform,
		RootFS:   s.rootfsPath(rec.ID),
		Size:     rec.Size,
	}
}

// List returns every image in the store: one entry per name, sorted by name, then one
// with an empty Name for each image that has no name left, sorted by digest.
func (s *Store) List() ([]Image, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []Image
	named := map[digest.Digest]bool{}
	for name, md := range s.idx.Names {
		out = append(out, s.image(name, md, s.idx.Images[md]))
		named[md] = true
	}
	for md, rec := range s.idx.Images {
		if !named[md] {
			out = append(out, s.image("", md, rec))
		}
	}
	slices.SortFunc(out, func(a, b Image) int {
		if (a.Name == "") != (b.Name == "") {
			if a.Name == "" {
				return 1
			}
			return -1
		}
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Digest, b.Digest))
	})
	return out, nil
}

// Remove removes ref from the store. A name is removed alone, and the image goes with it
// when that was its last name; a digest removes the image and every name it has. The
// files of a removed image are deleted unless another image shares them, so the caller
// must not remove an image a running container uses.
func (s *Store) Remove(ref string) error {
	s.mu.Lock()
	md, _, _, err := s.lookup(ref)
	if err != nil {
		s.mu.Unlock()
		return err
	}
	next := s.idx.clone()
	if _, isDigest := digestOf(ref); isDigest {
		for name, d := range next.Names {
			if d == md {
				delete(next.Names, name)
			}
		}
	} else {
		named, _ := reference.ParseNormalizedNamed(ref)
		delete(next.Names, reference.TagNameOnly(named).String())
	}
	if !slices.Contains(slices.Collect(maps.Values(next.Names)), md) {
		delete(next.Images, md)
	}
	if err := s.save(next); err != nil {
		s.mu.Unlock()
		return fmt.Errorf("remove %s: %w", ref, err)
	}
	removed := s.idx.Images[md]
	_, kept := next.Images[md]
	s.idx = next
	var trash string
	if !kept {
		trash, err = s.dropContent(md, removed)
	}
	s.mu.Unlock()
	if trash != "" {
		// The tree was moved aside under the lock; deleting it can take a while and
		// needs no lock.
		if rerr := os.RemoveAll(trash); err == nil && rerr != nil {
			err = rerr
		}
	}
	if err != nil {
		return fmt.Errorf("remove %s: %w", ref, err)
	}
	return nil
}

// digestOf reports whether ref names an image by digest, alone or after a name.
func digestOf(ref string) (digest.Digest, bool) {
	if d, err := digest.Parse(ref); err == nil {
		return d, true
	}
	if named, err := reference.ParseNormalizedNamed(ref); err == nil {
		if c, ok := named.(reference.Canonical); ok {
			return c.Digest(), true
		}
	}
	return "", false
}

// dropContent deletes the blobs of a removed image that no remaining image and no import
// in flight needs, and moves its root filesystem, when unshared, into tmp/ for the caller
// to delete. Callers hold mu.
func (s *Store) dropContent(md digest.Digest, rec record) (trash string, err error) {
	used := map[digest.Digest]bool{}
	for d, r := range s.idx.Images {
		used[d], used[r.ID] = true, true
		for _, l := range r.Layers {
			used[l] = true
		}
	}
	for _, d := range append([]digest.Digest{md, rec.ID}, rec.Layers...) {
		if used[d] || s.pins[d] > 0 {
			continue
		}
		if rerr := os.Remove(s.blobPath(d)); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) && err == nil {
			err = rerr
		}
	}
	if used[rec.ID] || s.pins[rec.ID] > 0 {
		return "", err
	}
	trash, terr := os.MkdirTemp(s.tmpDir(), "removed-*")
	if terr != nil {
		return "", cmp.Or(err, terr)
	}
	if rerr := os.Rename(s.rootfsPath(rec.ID), filepath.Join(trash, "rootfs")); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) && err == nil {
		err = rerr
	}
	return trash, err
}

func (s *Store) pin(ds []digest.Digest) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range ds {
		s.pins[d]++
	}
}

func (s *Store) unpin(ds []digest.Digest) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range ds {
		if s.pins[d]--; s.pins[d] <= 0 {
			delete(s.pins, d)
		}
	}
}

// save replaces images.json with x: written whole to a temporary file, synced, renamed
// over the old one. Callers hold mu.
func (s *Store) save(x index) error {
	b, err := json.MarshalIndent(x, "", "  ")
	if err != nil {
		return fmt.Errorf("encode image store index: %w", err)
	}
	f, err := os.CreateTemp(s.dir, indexFile+".*")
	if err != nil {
		return fmt.Errorf("write image store index: %w", err)
	}
	defer os.Remove(f.Name())
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), filepath.Join(s.dir, indexFile))
	}
	if err == nil {
		err = syncDir(s.dir)
	}
	if err != nil {
		return fmt.Errorf("write image store index: %w", err)
	}
	return nil
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// ctxReader stops a copy when its context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
