package imagelocality

import "testing"

// normalized is a pure function of the image name: it is tested directly; TestScore
// checks it through the module.
func TestNormalized(t *testing.T) {
	for in, want := range map[string]string{
		"nginx": "nginx:latest", "nginx:1.27": "nginx:1.27", "registry:5000/app": "registry:5000/app:latest",
		"registry:5000/app:v1": "registry:5000/app:v1", "app@sha256:abc": "app@sha256:abc",
	} {
		if got := normalized(in); got != want {
			t.Errorf("normalized(%q) = %q, want %q", in, got, want)
		}
	}
}
