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
// image name, updated as nodes change.
type ImageLocality struct {
	spread map[string]int // image name → nodes holding it
	total  int            // resident nodes
	// The cycle's pod and its containers' image names, normalized once per cycle.
	pod    *tug.Pod
	images []string
}

// New returns the plugin.
func New() *ImageLocality {
	return &ImageLocality{spread: map[string]int{}}
}

// NodeChanged moves the image counts from a node's old state to its new one.
func (p *ImageLocality) NodeChanged(old, new *tug.NodeInfo) {
	if old != nil {
		p.count(old, -1)
		p.total--
	}
	if new != nil {
		p.count(new, 1)
		p.total++
	}
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
	p.imagesOf(pod)
	var sum int64
	n := len(p.images)
	if len(node.Node.Status.Images) > 0 {
		for _, name := range p.images {
			if size, ok := imageSize(node, name); ok {
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

// PreScore skips the score when no node holds any of the pod's images: every node would
// score 0.
func (p *ImageLocality) PreScore(_ *tug.CycleState, pod *tug.Pod) *tug.Status {
	p.imagesOf(pod)
	for _, name := range p.images {
		if p.spread[name] > 0 {
			return tug.Success
		}
	}
	return tug.Skip
}

// imagesOf normalizes the names of the pod's images, once per cycle.
func (p *ImageLocality) imagesOf(pod *tug.Pod) {
	if pod == p.pod {
		return
	}
	p.pod, p.images = pod, p.images[:0]
	for _, cs := range [2][]tug.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for _, c := range cs {
			p.images = append(p.images, normalized(c.Image))
		}
	}
}

// imageSize is the size of the node's image called name (a node lists tens of images, so a
// scan costs less than building a map per node).
func imageSize(node *tug.NodeInfo, name string) (int64, bool) {
	for _, img := range node.Node.Status.Images {
		for _, n := range img.Names {
			if n == name {
				return img.SizeBytes, true
			}
		}
	}
	return 0, false
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
