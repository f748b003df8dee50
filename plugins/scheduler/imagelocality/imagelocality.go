// Package imagelocality is the ImageLocality score: nodes that already hold the pod's images
// score higher, by the images' sizes, discounted for images that are on few nodes (so pods do
// not pile onto the one node that has pulled an image).
package imagelocality

import (
	"strings"

	tug "github.com/tugboat-io/tug/sdk/go"
)

// Name is the plugin's name in profiles.
const Name = "ImageLocality"

// kube-scheduler's thresholds: below 23 MB an image is not worth preferring a node for; the
// score saturates at 1000 MB per container.
const (
	mb                    = 1024 * 1024
	minThreshold          = 23 * mb
	maxContainerThreshold = 1000 * mb
)

// ImageLocality is the score. It keeps, across cycles, how many resident nodes hold each
// image name, updated only when the resident nodes change.
type ImageLocality struct {
	gen     uint64
	counted map[uint32]*tug.NodeInfo // the node states the counts include
	spread  map[string]int           // image name → nodes holding it
	total   int
}

// New returns the plugin.
func New() *ImageLocality {
	return &ImageLocality{counted: map[uint32]*tug.NodeInfo{}, spread: map[string]int{}}
}

// PreFilter brings the image counts up to date with the resident nodes.
func (p *ImageLocality) PreFilter(*tug.CycleState, *tug.Pod) *tug.Status {
	if g := tug.NodesGeneration(); g != p.gen || p.gen == 0 {
		p.recount()
		p.gen = g
	}
	return tug.Success
}

func (p *ImageLocality) recount() {
	seen := make(map[uint32]bool, len(p.counted))
	for ni := range tug.Nodes() {
		seen[ni.ID] = true
		if old := p.counted[ni.ID]; old != ni {
			if old != nil {
				p.count(old, -1)
			}
			p.count(ni, 1)
			p.counted[ni.ID] = ni
		}
	}
	for id, old := range p.counted {
		if !seen[id] {
			p.count(old, -1)
			delete(p.counted, id)
		}
	}
	p.total = len(p.counted)
}

func (p *ImageLocality) count(ni *tug.NodeInfo, d int) {
	for _, img := range ni.Node.Status.Images {
		for _, name := range img.Names {
			p.spread[name] += d
			if p.spread[name] <= 0 {
				delete(p.spread, name)
			}
		}
	}
}

// Score sums, over the pod's containers whose image the node holds, the image's size times
// the share of nodes holding it, and maps the sum between the thresholds onto 0..100.
func (p *ImageLocality) Score(_ *tug.CycleState, pod *tug.Pod, node *tug.NodeInfo) (int64, *tug.Status) {
	if p.total == 0 {
		return 0, tug.Success
	}
	sizes := map[string]int64{}
	for _, img := range node.Node.Status.Images {
		for _, name := range img.Names {
			sizes[name] = img.SizeBytes
		}
	}
	var sum int64
	n := 0
	for _, cs := range [][]tug.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for _, c := range cs {
			n++
			name := normalized(c.Image)
			if size, ok := sizes[name]; ok {
				sum += int64(float64(size) * float64(p.spread[name]) / float64(p.total))
			}
		}
	}
	maxThreshold := int64(maxContainerThreshold * n)
	sum = min(max(sum, minThreshold), maxThreshold)
	if maxThreshold <= minThreshold {
		return 0, tug.Success
	}
	return tug.MaxNodeScore * (sum - minThreshold) / (maxThreshold - minThreshold), tug.Success
}

// normalized names an image as nodes report it: with ":latest" when it has neither a tag nor
// a digest.
func normalized(image string) string {
	if strings.Contains(image, "@") {
		return image
	}
	if i := strings.LastIndex(image, ":"); i > strings.LastIndex(image, "/") {
		return image
	}
	return image + ":latest"
}
