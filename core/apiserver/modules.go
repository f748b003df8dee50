package apiserver

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	pluginsv1alpha1 "github.com/tugboat-io/tug/core/api/plugins/v1alpha1"
	"github.com/tugboat-io/tug/core/store"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
)

// Module bytes are kept in etcd, content-addressed by sha256, in chunks small enough for any
// etcd's request limit (1.5 MiB by default): chunk keys first, then a manifest that makes the
// module visible. Every API server on the same etcd can serve every module, a crash part-way
// leaves only unreferenced chunks, and uploading the same module twice writes nothing new.
const (
	moduleKeyPrefix = "/plugins.tug.dev/modules/"
	moduleChunkSize = 1 << 20
	// MaxModuleBytes bounds a module upload.
	MaxModuleBytes = 64 << 20
)

type moduleManifest struct {
	Size      int64 `json:"size"`
	Chunks    int   `json:"chunks"`
	ChunkSize int   `json:"chunkSize"`
}

func moduleKey(hexDigest string) string { return moduleKeyPrefix + hexDigest }

func chunkKey(hexDigest string, i int) string {
	return fmt.Sprintf("%s%s/%06d", moduleKeyPrefix, hexDigest, i)
}

// putModule streams r into the store under want ("sha256:…", which the uploader states, as
// with an OCI registry) and checks the bytes hash to it. Chunks are written as they arrive, so
// memory stays at one chunk whatever the module's size; on a mismatch they are removed again.
func (s *Server) putModule(ctx context.Context, r io.Reader, want string) (int64, error) {
	sum, ok := strings.CutPrefix(want, "sha256:")
	if !ok || len(sum) != 64 || strings.Trim(sum, "0123456789abcdef") != "" {
		return 0, badRequest("the digest query parameter must be sha256: and 64 lower-case hex digits, got %q", want)
	}
	if _, err := s.store.Get(ctx, moduleKey(sum)); err == nil {
		_, _ = io.Copy(io.Discard, r)
		return 0, nil // already stored: content addressing makes a second upload a no-op
	}
	h := sha256.New()
	var size int64
	written := 0
	ok = false
	defer func() {
		if !ok {
			for i := 0; i < written; i++ {
				_, _, _ = s.store.Delete(context.WithoutCancel(ctx), chunkKey(sum, i), 0)
			}
		}
	}()
	buf := make([]byte, moduleChunkSize)
	for {
		n, err := io.ReadFull(r, buf)
		if n > 0 {
			size += int64(n)
			if size > MaxModuleBytes {
				return 0, apierrors.NewRequestEntityTooLargeError(fmt.Sprintf("modules are limited to %d bytes", MaxModuleBytes))
			}
			h.Write(buf[:n])
			if _, err := s.store.Create(ctx, chunkKey(sum, written), buf[:n]); err != nil && !errors.Is(err, store.ErrExists) {
				return 0, err
			}
			written++
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			break
		}
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				return 0, apierrors.NewRequestEntityTooLargeError(fmt.Sprintf("modules are limited to %d bytes", MaxModuleBytes))
			}
			return 0, badRequest("reading module: %v", err)
		}
	}
	if size == 0 {
		return 0, badRequest("the module is empty")
	}
	if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != want {
		return 0, badRequest("digest mismatch: the module's bytes hash to %s, not %s", got, want)
	}
	m, _ := json.Marshal(moduleManifest{Size: size, Chunks: written, ChunkSize: moduleChunkSize})
	if _, err := s.store.Create(ctx, moduleKey(sum), m); err != nil && !errors.Is(err, store.ErrExists) {
		return 0, err
	}
	ok = true
	return size, nil
}

// getModule streams a stored module to w; ErrNotFound if the cluster does not hold it.
func (s *Server) getModule(ctx context.Context, digest string, w io.Writer) (int64, error) {
	sum := strings.TrimPrefix(digest, "sha256:")
	kv, err := s.store.Get(ctx, moduleKey(sum))
	if err != nil {
		return 0, err
	}
	var m moduleManifest
	if err := json.Unmarshal(kv.Value, &m); err != nil {
		return 0, fmt.Errorf("module %s: bad manifest: %w", digest, err)
	}
	h := sha256.New()
	var n int64
	for i := 0; i < m.Chunks; i++ {
		c, err := s.store.Get(ctx, chunkKey(sum, i))
		if err != nil {
			return n, fmt.Errorf("module %s: chunk %d: %w", digest, i, err)
		}
		h.Write(c.Value)
		k, err := w.Write(c.Value)
		n += int64(k)
		if err != nil {
			return n, err
		}
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != sum || n != m.Size {
		return n, fmt.Errorf("module %s: stored bytes hash to sha256:%s (%d bytes)", digest, got, n)
	}
	return n, nil
}

// serveModule is the wasmplugins/NAME/module subresource: PUT ?digest=sha256:… uploads the
// module's bytes (the body, up to MaxModuleBytes, streamed), checks them against the digest and
// points spec.module.digest at them; GET returns the module spec.module.digest names, checked
// against its digest before a byte is sent.
func (r *resource) serveModule(rc *reqCtx) error {
	ctx := rc.r.Context()
	switch rc.ri.Verb {
	case "get":
		obj, _, err := r.get(ctx, "", rc.ri.Name)
		if err != nil {
			return err
		}
		p := obj.(*pluginsv1alpha1.WasmPlugin)
		var buf bytes.Buffer
		if _, err := rc.s.getModule(ctx, p.Spec.Module.Digest, &buf); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return apierrors.NewNotFound(r.gr, rc.ri.Name+"/module "+p.Spec.Module.Digest)
			}
			return err
		}
		rc.w.Header().Set("Content-Type", "application/wasm")
		rc.w.Header().Set("Docker-Content-Digest", p.Spec.Module.Digest)
		rc.w.WriteHeader(http.StatusOK)
		_, err = rc.w.Write(buf.Bytes())
		return err
	case "update":
	default:
		return methodNotAllowed(rc.ri.Verb, r.gr)
	}
	opts, err := rc.writeOpts()
	if err != nil {
		return err
	}
	if _, _, err := r.get(ctx, "", rc.ri.Name); err != nil {
		return err
	}
	digest := rc.r.URL.Query().Get("digest")
	if _, err := rc.s.putModule(ctx, http.MaxBytesReader(rc.w, rc.r.Body, MaxModuleBytes+1), digest); err != nil {
		return err
	}
	out, _, err := r.update(ctx, "", rc.ri.Name, func(cur runtime.Object) (runtime.Object, error) {
		p := cur.(*pluginsv1alpha1.WasmPlugin)
		p.Spec.Module.Digest = digest
		p.ResourceVersion = ""
		return p, nil
	}, opts, nil)
	if err != nil {
		return err
	}
	return rc.respond(http.StatusOK, out)
}
