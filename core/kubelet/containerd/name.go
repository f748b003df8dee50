package containerd

import (
	"fmt"

	"github.com/distribution/reference"
)

// normalize turns an image name as pods write it ("nginx", "tug.test/app:v1") into the full
// reference containerd stores images under ("docker.io/library/nginx:latest").
func normalize(name string) (string, error) {
	ref, err := reference.ParseDockerRef(name)
	if err != nil {
		return "", fmt.Errorf("invalid image name %q: %w", name, err)
	}
	return ref.String(), nil
}
