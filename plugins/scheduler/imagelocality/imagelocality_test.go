package imagelocality

import (
	"fmt"
	"strings"
	"testing"

	tug "github.com/tugboat-io/tug/sdk/go"
	"github.com/tugboat-io/tug/sdk/go/sdktest"
)

var plugin = New()

func init() { tug.RegisterScore(plugin) }

func node(name string, images ...string) string {
	return `{"metadata":{"name":"` + name + `"},"status":{"images":[` + strings.Join(images, ",") + `]}}`
}

func image(name string, mib int64) string {
	return fmt.Sprintf(`{"names":[%q],"sizeBytes":%d}`, name, mib*mb)
}

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

// Scores through the SDK's fake host, so the plugin sees the resident nodes as in wasm.
func TestScore(t *testing.T) {
	nodes := []any{
		node("big", image("app:1.0", 500), image("sidecar:2", 100)), // both images
		node("small", image("sidecar:2", 100)),                      // only the sidecar
		node("none"),
		node("tiny", image("app:1.0", 10)), // the app, reported tiny: under the threshold
	}
	pod := `{"metadata":{"name":"p"},"spec":{"containers":[{"name":"a","image":"app:1.0"},{"name":"s","image":"sidecar:2"}]}}`
	got := sdktest.Score(t, pod, nodes...)
	// app:1.0 is on 2 of 4 nodes, sidecar:2 on 2 of 4: big sums 500×½ + 100×½ = 300 MiB;
	// small 50 MiB; tiny 5 MiB (under 23). Two containers: thresholds 23 and 2000 MiB.
	want := map[string]int64{
		"big":   100 * (300 - 23) / (2000 - 23),
		"small": 100 * (50 - 23) / (2000 - 23),
		"none":  0,
		"tiny":  0,
	}
	for n, w := range want {
		if got[n] != w {
			t.Errorf("%s scored %d, want %d (all: %v)", n, got[n], w, got)
		}
	}
	// An image becoming common raises its weight: now every node has the sidecar.
	nodes[2] = node("none", image("sidecar:2", 100))
	nodes[3] = node("tiny", image("app:1.0", 10), image("sidecar:2", 100))
	got = sdktest.Score(t, pod, nodes...)
	if w := int64(100 * (100 - 23) / (2000 - 23)); got["small"] != w {
		t.Errorf("small scored %d after the sidecar spread, want %d", got["small"], w)
	}
}
