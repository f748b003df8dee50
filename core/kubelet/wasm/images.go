package wasm

import (
	"context"
	"errors"
	"fmt"

	"github.com/tugboat-io/tug/core/kubelet/container"
	"github.com/tugboat-io/tug/core/kubelet/imagestore"
)

// StoreImages serves the runtime's images from a node's local image store.
func StoreImages(s *imagestore.Store) Images { return storeImages{s} }

type storeImages struct{ s *imagestore.Store }

func (si storeImages) Resolve(_ context.Context, name string) (Image, error) {
	img, err := si.s.Resolve(name)
	if err != nil {
		if errors.Is(err, imagestore.ErrNotFound) || errors.Is(err, imagestore.ErrInvalidName) {
			return Image{}, fmt.Errorf("%w: %w", ErrNoImage, err)
		}
		return Image{}, err
	}
	return convert(img), nil
}

func (si storeImages) List(context.Context) ([]Image, error) {
	list, err := si.s.List()
	if err != nil {
		return nil, err
	}
	out := make([]Image, 0, len(list))
	for _, img := range list {
		out = append(out, convert(img))
	}
	return out, nil
}

// IsWasm says an image's platform is a WASI module's: os wasip1 (or wasi) and arch wasm, as
// runwasi recognises them.
func IsWasm(os, arch string) bool {
	return arch == "wasm" || os == "wasip1" || os == "wasi"
}

func convert(img imagestore.Image) Image {
	var names []string
	if img.Name != "" {
		names = []string{img.Name}
	}
	return Image{
		Image: container.Image{
			Ref: img.Digest.String(), Names: names, Size: img.Size,
			Entrypoint: img.Config.Entrypoint, Cmd: img.Config.Cmd, Env: img.Config.Env, WorkingDir: img.Config.WorkingDir,
		},
		RootFS: img.RootFS,
		Wasm:   IsWasm(img.Platform.OS, img.Platform.Architecture),
	}
}
