package imagelocality_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/tugboat-io/tug/plugins/scheduler/imagelocality"
	"github.com/tugboat-io/tug/plugins/scheduler/internal/testutil"
)

const mb = 1024 * 1024

func node(name string, images ...string) string {
	return `{"metadata":{"name":"` + name + `"},"status":{"images":[` + strings.Join(images, ",") + `]}}`
}

func image(name string, mib int64) string {
	return fmt.Sprintf(`{"names":[%q],"sizeBytes":%d}`, name, mib*mb)
}

// pod runs one container per image; an image prefixed "init:" runs in an init container.
func pod(images ...string) string {
	var init, app []string
	for i, img := range images {
		if s, ok := strings.CutPrefix(img, "init:"); ok {
			init = append(init, fmt.Sprintf(`{"name":"i%d","image":%q}`, i, s))
			continue
		}
		app = append(app, fmt.Sprintf(`{"name":"c%d","image":%q}`, i, img))
	}
	return `{"metadata":{"name":"p","namespace":"default"},"spec":{"initContainers":[` + strings.Join(init, ",") + `],"containers":[` + strings.Join(app, ",") + `]}}`
}

// score is kube-scheduler's: the sum in MiB between the thresholds (23 MiB, and 1000 MiB per
// container) mapped onto 0..100.
func score(sumMiB, containers int64) int64 {
	sumMiB = min(max(sumMiB, 23), 1000*containers)
	return 100 * (sumMiB - 23) / (1000*containers - 23)
}

func TestScore(t *testing.T) {
	two := pod("app:1.0", "sidecar:2")
	for _, c := range []struct {
		name  string
		nodes []string
		pod   string
		want  string
	}{
		// app:1.0 is on 2 of 4 nodes, sidecar:2 on 2 of 4: big sums 500×½ + 100×½ = 300 MiB;
		// small 50 MiB; tiny 5 MiB (under 23). Two containers: thresholds 23 and 2000 MiB.
		{"images weighed by their spread", []string{
			node("big", image("app:1.0", 500), image("sidecar:2", 100)), // both images
			node("small", image("sidecar:2", 100)),                      // only the sidecar
			node("none"),
			node("tiny", image("app:1.0", 10)), // the app, reported tiny: under the threshold
		}, two, fmt.Sprintf("big=%d small=%d none=0 tiny=0", score(300, 2), score(50, 2))},
		// An image becoming common raises its weight: now every node has the sidecar.
		// big 500×½ + 100 = 350; small, none 100; tiny 10×½ + 100 = 105.
		{"an image on every node weighs fully", []string{
			node("big", image("app:1.0", 500), image("sidecar:2", 100)),
			node("small", image("sidecar:2", 100)),
			node("none", image("sidecar:2", 100)),
			node("tiny", image("app:1.0", 10), image("sidecar:2", 100)),
		}, two, fmt.Sprintf("big=%d small=%d none=%d tiny=%d", score(350, 2), score(100, 2), score(100, 2), score(105, 2))},
		{"an untagged image is :latest", []string{node("a", image("nginx:latest", 200)), node("b")},
			pod("nginx"), fmt.Sprintf("a=%d b=0", score(100, 1))},
		{"another tag is another image", []string{node("a", image("nginx:1.27", 200)), node("b")}, pod("nginx"), "a=0 b=0"},
		// One init and one app container: thresholds 23 and 2000 MiB.
		{"init containers' images count", []string{node("a", image("migrate:1", 800)), node("b")},
			pod("init:migrate:1", "app:1.0"), fmt.Sprintf("a=%d b=0", score(400, 2))},
		{"the score saturates", []string{node("a", image("huge:1", 4000))}, pod("huge:1"), "a=100"},
	} {
		t.Run(c.name, func(t *testing.T) {
			testutil.Score(t, testutil.Cycle{Plugin: imagelocality.Name, Nodes: testutil.Nodes(c.nodes...), Pod: c.pod}, c.want)
		})
	}
}
