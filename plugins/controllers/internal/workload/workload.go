// Package workload decodes the parts of workload objects (pods, ReplicaSets, Deployments)
// that the controllers decide on, and holds the helpers they share: pod readiness and
// availability, int-or-percent values, pod templates and their hashes. Objects keep their
// raw JSON, so what a controller writes back carries every field it did not look at.
package workload

import (
	"bytes"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"maps"
	"math"
	"strconv"
	"strings"
	"time"

	tug "github.com/tugboat-io/tug/sdk/go"
)

// Meta is the part of metadata controllers read.
type Meta struct {
	Name              string               `json:"name,omitempty"`
	GenerateName      string               `json:"generateName,omitempty"`
	Namespace         string               `json:"namespace,omitempty"`
	UID               string               `json:"uid,omitempty"`
	ResourceVersion   string               `json:"resourceVersion,omitempty"`
	Generation        int64                `json:"generation,omitempty"`
	CreationTimestamp time.Time            `json:"creationTimestamp,omitzero"`
	DeletionTimestamp *time.Time           `json:"deletionTimestamp,omitempty"`
	Labels            map[string]string    `json:"labels,omitempty"`
	Annotations       map[string]string    `json:"annotations,omitempty"`
	OwnerReferences   []tug.OwnerReference `json:"ownerReferences,omitempty"`
}

// Condition is a status condition of a pod or a workload.
type Condition struct {
	Type               string    `json:"type"`
	Status             string    `json:"status"`
	LastUpdateTime     time.Time `json:"lastUpdateTime,omitzero"`
	LastTransitionTime time.Time `json:"lastTransitionTime,omitzero"`
	Reason             string    `json:"reason,omitempty"`
	Message            string    `json:"message,omitempty"`
}

// Pod is what controllers read of a pod.
type Pod struct {
	Metadata Meta `json:"metadata"`
	Spec     struct {
		NodeName string `json:"nodeName,omitempty"`
	} `json:"spec"`
	Status struct {
		Phase             string      `json:"phase,omitempty"`
		Conditions        []Condition `json:"conditions,omitempty"`
		ContainerStatuses []struct {
			RestartCount int32 `json:"restartCount"`
		} `json:"containerStatuses,omitempty"`
	} `json:"status"`
}

// Pod phases.
const (
	PodPending   = "Pending"
	PodRunning   = "Running"
	PodSucceeded = "Succeeded"
	PodFailed    = "Failed"
	PodUnknown   = "Unknown"
)

// Active reports whether the pod counts towards a workload's replicas: not finished and not
// being deleted.
func (p *Pod) Active() bool {
	return p.Status.Phase != PodSucceeded && p.Status.Phase != PodFailed && p.Metadata.DeletionTimestamp == nil
}

// readyCondition is the pod's Ready condition, if it has one.
func (p *Pod) readyCondition() *Condition {
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == "Ready" {
			return &p.Status.Conditions[i]
		}
	}
	return nil
}

// Ready reports whether the pod's Ready condition is True.
func (p *Pod) Ready() bool {
	c := p.readyCondition()
	return c != nil && c.Status == "True"
}

// ReadySince is when the pod last became ready (zero when it is not).
func (p *Pod) ReadySince() time.Time {
	if c := p.readyCondition(); c != nil && c.Status == "True" {
		return c.LastTransitionTime
	}
	return time.Time{}
}

// Available reports whether the pod has been ready for minReady at now, and if it is ready
// but not yet available, how long until it is.
func (p *Pod) Available(minReady time.Duration, now time.Time) (bool, time.Duration) {
	if !p.Ready() {
		return false, 0
	}
	if minReady <= 0 {
		return true, 0
	}
	since := p.ReadySince()
	if since.IsZero() || !since.Add(minReady).After(now) {
		return true, 0
	}
	return false, since.Add(minReady).Sub(now)
}

// Restarts is the sum of the pod's containers' restart counts.
func (p *Pod) Restarts() int32 {
	var n int32
	for _, c := range p.Status.ContainerStatuses {
		n += c.RestartCount
	}
	return n
}

// IntOrString is an intstr.IntOrString: a count or a percentage like "25%".
type IntOrString struct {
	Int    int32
	Str    string
	IsText bool
}

// UnmarshalJSON accepts a number or a string.
func (v *IntOrString) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		v.IsText = true
		return json.Unmarshal(b, &v.Str)
	}
	v.IsText = false
	return json.Unmarshal(b, &v.Int)
}

// MarshalJSON writes the number or the string.
func (v IntOrString) MarshalJSON() ([]byte, error) {
	if v.IsText {
		return json.Marshal(v.Str)
	}
	return json.Marshal(v.Int)
}

// Scaled resolves v against total: a count as is, a percentage of total rounded up or down.
func (v *IntOrString) Scaled(total int32, roundUp bool) (int32, error) {
	if v == nil {
		return 0, nil
	}
	if !v.IsText {
		return v.Int, nil
	}
	s, ok := strings.CutSuffix(v.Str, "%")
	if !ok {
		// A plain number in a string is what intstr accepts too.
		n, err := strconv.Atoi(v.Str)
		if err != nil {
			return 0, fmt.Errorf("invalid value %q: must be an integer or a percentage", v.Str)
		}
		return int32(n), nil
	}
	pct, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("invalid value %q: must be an integer or a percentage", v.Str)
	}
	f := float64(pct) * float64(total) / 100
	if roundUp {
		return int32(math.Ceil(f)), nil
	}
	return int32(math.Floor(f)), nil
}

// Template is a pod template, kept as a generic JSON value so that every field survives
// into the pods made from it.
type Template map[string]any

// DecodeTemplate decodes a pod template; a missing one is empty.
func DecodeTemplate(raw json.RawMessage) (Template, error) {
	t := Template{}
	if len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null" {
		return t, nil
	}
	if err := json.Unmarshal(raw, &t); err != nil {
		return nil, fmt.Errorf("pod template: %w", err)
	}
	return t, nil
}

// Labels are the template's labels.
func (t Template) Labels() map[string]string { return stringMap(t.meta()["labels"]) }

func (t Template) meta() map[string]any {
	m, _ := t["metadata"].(map[string]any)
	return m
}

// WithLabel returns a copy of the template with one more label (the copy shares everything
// but the metadata).
func (t Template) WithLabel(key, value string) Template {
	labels := map[string]any{}
	for k, v := range t.Labels() {
		labels[k] = v
	}
	labels[key] = value
	return t.withMeta("labels", labels)
}

// WithAnnotation returns a copy of the template with one more annotation (the copy shares
// everything but the metadata).
func (t Template) WithAnnotation(key, value string) Template {
	annotations := map[string]any{}
	old, _ := t.meta()["annotations"].(map[string]any)
	maps.Copy(annotations, old)
	annotations[key] = value
	return t.withMeta("annotations", annotations)
}

// withMeta returns a copy of the template with one metadata field set.
func (t Template) withMeta(field string, value any) Template {
	c := Template{}
	maps.Copy(c, t)
	meta := map[string]any{}
	maps.Copy(meta, t.meta())
	meta[field] = value
	c["metadata"] = meta
	return c
}

// Spec is a deep copy of the template's spec, for a child made from it to change; empty
// when the template has none.
func (t Template) Spec() map[string]any {
	spec, _ := DeepCopy(t["spec"]).(map[string]any)
	if spec == nil {
		spec = map[string]any{}
	}
	return spec
}

// WithoutLabel returns a copy of the template without the label.
func (t Template) WithoutLabel(key string) Template {
	if _, ok := t.Labels()[key]; !ok {
		return t
	}
	c := t.WithLabel(key, "")
	delete(c.meta()["labels"].(map[string]any), key)
	return c
}

// Pod returns a pod made from the template: its metadata (labels, annotations and the rest)
// with generateName, and its spec, verbatim.
func (t Template) Pod(generateName string) map[string]any {
	meta := map[string]any{}
	for k, v := range t.meta() {
		meta[k] = v
	}
	delete(meta, "name")
	delete(meta, "namespace")
	delete(meta, "uid")
	delete(meta, "resourceVersion")
	delete(meta, "creationTimestamp")
	meta["generateName"] = generateName
	pod := map[string]any{"apiVersion": "v1", "kind": "Pod", "metadata": meta}
	if spec, ok := t["spec"]; ok {
		pod["spec"] = spec
	}
	return pod
}

// Hash is the template's hash as a short name-safe string, the pod-template-hash of the
// ReplicaSet made from it: FNV-32a over the canonical JSON, encoded with
// kube's alphabet of consonants and digits that cannot spell words.
func (t Template) Hash() string {
	b, _ := json.Marshal(map[string]any(t)) // maps encode with sorted keys
	h := fnv.New32a()
	h.Write(b)
	return safeEncode(strconv.FormatUint(uint64(h.Sum32()), 10))
}

// safeEncode maps each byte of s onto "bcdfghjklmnpqrstvwxz2456789", as apimachinery's
// rand.SafeEncodeString does.
func safeEncode(s string) string {
	const alphabet = "bcdfghjklmnpqrstvwxz2456789"
	r := make([]byte, len(s))
	for i := 0; i < len(s); i++ {
		r[i] = alphabet[int(s[i])%len(alphabet)]
	}
	return string(r)
}

// Equal reports whether two templates are the same value.
func (t Template) Equal(o Template) bool {
	a, _ := json.Marshal(map[string]any(t))
	b, _ := json.Marshal(map[string]any(o))
	return bytes.Equal(a, b)
}

func stringMap(v any) map[string]string {
	m, _ := v.(map[string]any)
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		if s, ok := v.(string); ok {
			out[k] = s
		}
	}
	return out
}

// Object is a child as a generic JSON value, for writing back with a few fields changed.
type Object map[string]any

// DecodeObject decodes raw JSON into an Object.
func DecodeObject(raw json.RawMessage) (Object, error) {
	var o Object
	if err := json.Unmarshal(raw, &o); err != nil {
		return nil, err
	}
	return o, nil
}

// Set sets the value at path, creating maps on the way.
func (o Object) Set(value any, path ...string) {
	m := map[string]any(o)
	for _, k := range path[:len(path)-1] {
		next, ok := m[k].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[k] = next
		}
		m = next
	}
	m[path[len(path)-1]] = value
}
