package imagestore

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
)

// OCI whiteouts: an entry ".wh.name" deletes name from the layers below; ".wh..wh..opq" in a
// directory hides everything the layers below put in it.
const (
	whiteoutPrefix = ".wh."
	opaqueMarker   = ".wh..wh..opq"
)

// maxSymlinks bounds the links followed to resolve one path in a rootfs, as SYMLOOP_MAX
// does in the kernel.
const maxSymlinks = 40

// errEscapes is returned for a layer entry whose path leads out of the rootfs.
var errEscapes = errors.New("path escapes the image root")

// applyLayer applies one uncompressed layer tar to the rootfs opened as root, the way
// containerd's applier does: entries replace what lower layers left at their path,
// whiteouts delete, opaque markers empty a directory of what lower layers put there.
//
// Paths are resolved inside the rootfs as if it were chrooted: a symlink a lower layer left
// on the way — even an absolute one, "/lib" → "/usr/lib" — is followed within the rootfs,
// never out of it, and the final component of an entry is never followed. An entry whose
// own path climbs out ("../x") is refused. Device nodes and fifos are skipped: the rootfs
// serves an in-process runtime that has no use for them and the agent may not be allowed to
// make them. Files keep their permission bits but lose setuid, setgid and sticky: the tree
// sits on the host's filesystem, where a setuid file would be a hazard. Directories are
// kept writable by their owner so later layers, and removal, can work in them.
func applyLayer(ctx context.Context, root *os.Root, r io.Reader) error {
	tr := tar.NewReader(r)
	// written holds each path this layer created and its parents, which an opaque
	// marker in the same layer must keep.
	written := map[string]bool{}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read layer: %w", err)
		}
		name, err := entryPath(hdr.Name)
		if err != nil {
			return err
		}
		if name == "." {
			continue
		}
		dir, base := path.Split(name)

		if strings.HasPrefix(base, whiteoutPrefix) {
			// A whiteout of something no lower layer made deletes nothing, and must
			// not make the directories leading to it either.
			parent, err := resolveDir(root, dir, false)
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				return fmt.Errorf("%s: %w", hdr.Name, err)
			}
			switch hidden := strings.TrimPrefix(base, whiteoutPrefix); {
			case base == opaqueMarker:
				err = emptyOpaque(root, parent, written)
			case hidden == "" || hidden == "." || hidden == "..":
				err = fmt.Errorf("whiteout names no file")
			default:
				err = root.RemoveAll(path.Join(parent, hidden))
			}
			if err != nil {
				return fmt.Errorf("%s: %w", hdr.Name, err)
			}
			continue
		}

		parent, err := resolveDir(root, dir, true)
		if err != nil {
			return fmt.Errorf("%s: %w", hdr.Name, err)
		}
		target := path.Join(parent, base)

		if err := applyEntry(root, tr, hdr, target); err != nil {
			return fmt.Errorf("%s: %w", hdr.Name, err)
		}
		for p := target; p != "."; p = path.Dir(p) {
			written[p] = true
		}
	}
}

func applyEntry(root *os.Root, tr *tar.Reader, hdr *tar.Header, target string) error {
	existing, err := root.Lstat(target)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	exists := err == nil
	// replace clears the path for a new entry; a directory that meets a directory is
	// kept, so a layer adds to what the layers below put in it.
	replace := func() error {
		if exists {
			return root.RemoveAll(target)
		}
		return nil
	}
	perm := hdr.FileInfo().Mode().Perm()

	switch hdr.Typeflag {
	case tar.TypeDir:
		if exists && existing.IsDir() {
			return root.Chmod(target, perm|0o700)
		}
		if err := replace(); err != nil {
			return err
		}
		if err := root.Mkdir(target, perm|0o700); err != nil {
			return err
		}
		// Mkdir's mode passes through the umask; Chmod sets what the layer says.
		return root.Chmod(target, perm|0o700)
	case tar.TypeReg:
		if err := replace(); err != nil {
			return err
		}
		f, err := root.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
		if err != nil {
			return err
		}
		_, err = io.Copy(f, tr)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		return root.Chmod(target, perm)
	case tar.TypeSymlink:
		if err := replace(); err != nil {
			return err
		}
		// The target is kept as written: it is resolved when the link is used, and
		// this package resolves it inside the rootfs.
		return root.Symlink(hdr.Linkname, target)
	case tar.TypeLink:
		name, err := entryPath(hdr.Linkname)
		if err != nil {
			return err
		}
		dir, base := path.Split(name)
		parent, err := resolveDir(root, dir, false)
		if err != nil {
			return err
		}
		old := path.Join(parent, base)
		if old == target {
			return nil
		}
		if err := replace(); err != nil {
			return err
		}
		return root.Link(old, target)
	default:
		// Device nodes, fifos and kinds this package does not know are skipped; see
		// applyLayer.
		return nil
	}
}

// entryPath returns a layer entry's path relative to the rootfs, cleaned; "." is the root.
// A path that climbs out of the root is refused rather than clamped, since no honest
// image has one.
func entryPath(name string) (string, error) {
	p := path.Clean(strings.TrimPrefix(name, "/"))
	if p == ".." || strings.HasPrefix(p, "../") {
		return "", fmt.Errorf("entry %q: %w", name, errEscapes)
	}
	return p, nil
}

// resolveDir returns the path, free of symlinks, that directory dir of the rootfs leads to
// when symlinks are followed inside the rootfs. With create it makes the directories that
// are missing; without, a missing one is an fs.ErrNotExist error. A ".." at the root stays
// at the root, as in a chroot.
func resolveDir(root *os.Root, dir string, create bool) (string, error) {
	rest := strings.Split(dir, "/")
	var cur []string
	links := 0
	for len(rest) > 0 {
		c := rest[0]
		rest = rest[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(cur) > 0 {
				cur = cur[:len(cur)-1]
			}
			continue
		}
		next := path.Join(path.Join(cur...), c)
		fi, err := root.Lstat(next)
		switch {
		case errors.Is(err, fs.ErrNotExist) && create:
			cur = append(cur, c)
		case err != nil:
			return "", err
		case fi.Mode()&fs.ModeSymlink != 0:
			if links++; links > maxSymlinks {
				return "", fmt.Errorf("resolve %s: too many levels of symbolic links", dir)
			}
			target, err := root.Readlink(next)
			if err != nil {
				return "", err
			}
			if path.IsAbs(target) {
				cur = nil
			}
			rest = append(strings.Split(target, "/"), rest...)
		case fi.IsDir():
			cur = append(cur, c)
		default:
			return "", fmt.Errorf("resolve %s: %s is not a directory", dir, next)
		}
	}
	p := path.Join(cur...)
	if p == "" {
		return ".", nil
	}
	if err := root.MkdirAll(p, 0o755); err != nil {
		return "", err
	}
	return p, nil
}

// emptyOpaque removes from dir everything this layer did not write: what the layers below
// put there. Directories this layer wrote into are kept but emptied the same way.
func emptyOpaque(root *os.Root, dir string, written map[string]bool) error {
	f, err := root.Open(dir)
	if err != nil {
		return err
	}
	entries, err := f.ReadDir(-1)
	f.Close()
	if err != nil {
		return err
	}
	for _, e := range entries {
		p := path.Join(dir, e.Name())
		switch {
		case !written[p]:
			if err := root.RemoveAll(p); err != nil {
				return err
			}
		case e.IsDir():
			if err := emptyOpaque(root, p, written); err != nil {
				return err
			}
		}
	}
	return nil
}
