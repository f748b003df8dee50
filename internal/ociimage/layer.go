package ociimage

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"

	"github.com/opencontainers/go-digest"
)

// Magic numbers that start compressed streams. Layers are told apart by them rather than by
// media type: docker save archives carry no media types, and a hand-made archive's media type
// may be wrong.
var (
	gzipMagic = []byte{0x1f, 0x8b}
	zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

// Open returns the layer blob as archived. Reading it to io.EOF checks it against Digest: a
// blob that does not match ends with an error instead of io.EOF.
func (l Layer) Open() io.Reader {
	return &verifier{r: io.NewSectionReader(l.r, l.off, l.Size), want: l.Digest, v: l.Digest.Verifier()}
}

// Uncompressed returns the layer's tar stream, decompressed if the blob is compressed.
// Reading it to io.EOF checks both the blob against Digest and the tar against DiffID; a tar
// reader stops at the archive's end marker, so drain what it leaves for the checks to run.
func (l Layer) Uncompressed() (io.ReadCloser, error) {
	if err := l.DiffID.Validate(); err != nil {
		return nil, fmt.Errorf("layer %s: diff id %q: %w", l.Digest, l.DiffID, err)
	}
	br := bufio.NewReader(l.Open())
	head, err := br.Peek(len(zstdMagic))
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("layer %s: %w", l.Digest, err)
	}
	switch {
	case bytes.HasPrefix(head, gzipMagic):
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("layer %s: %w", l.Digest, err)
		}
		return &verifier{r: zr, c: zr, want: l.DiffID, v: l.DiffID.Verifier()}, nil
	case bytes.HasPrefix(head, zstdMagic):
		return nil, fmt.Errorf("layer %s is zstd-compressed, which is not supported", l.Digest)
	default:
		return &verifier{r: br, want: l.DiffID, v: l.DiffID.Verifier()}, nil
	}
}

// scan reads the whole blob once, returning its digest and whether it is gzip-compressed.
func (l Layer) scan() (digest.Digest, bool, error) {
	r := io.NewSectionReader(l.r, l.off, l.Size)
	head := make([]byte, len(gzipMagic))
	n, _ := io.ReadFull(r, head)
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return "", false, err
	}
	d, err := digest.Canonical.FromReader(r)
	if err != nil {
		return "", false, fmt.Errorf("read: %w", err)
	}
	return d, bytes.Equal(head[:n], gzipMagic), nil
}

// verifier passes a stream through, turning its io.EOF into an error when the stream's
// digest is not the one wanted.
type verifier struct {
	r    io.Reader
	c    io.Closer
	want digest.Digest
	v    digest.Verifier
}

func (v *verifier) Read(p []byte) (int, error) {
	n, err := v.r.Read(p)
	v.v.Write(p[:n])
	if err == io.EOF && !v.v.Verified() {
		return n, fmt.Errorf("content does not match digest %s", v.want)
	}
	return n, err
}

func (v *verifier) Close() error {
	if v.c != nil {
		return v.c.Close()
	}
	return nil
}
