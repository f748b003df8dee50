package quota

import (
	"bytes"
	"time"

	"github.com/tugboat-io/tug/plugins/internal/quantity"
	"github.com/tugboat-io/tug/sdk/go/jsonread"
)

// The decoders of the kinds quota reads. Each reads the fields its struct declares, under
// their Kubernetes JSON names, and skips the rest, as json.Unmarshal into the struct would
// (decode_test.go holds them to it) but without reflection: ResourceQuota admission decodes
// the created pod and every quota of its namespace on each create, and encoding/json's
// reflection is the slowest thing a Go guest does in wasm. Object keys are matched
// exactly, as Kubernetes writes them (encoding/json would also match them in another
// case).

// UnmarshalJSON decodes the fields quota reads of a pod.
func (p *Pod) UnmarshalJSON(b []byte) error { return decode(b, p.read) }

// UnmarshalJSON decodes the fields quota reads of a ResourceQuota.
func (q *ResourceQuota) UnmarshalJSON(b []byte) error { return decode(b, q.read) }

// UnmarshalJSON decodes the fields quota reads of a service.
func (s *Service) UnmarshalJSON(b []byte) error { return decode(b, s.read) }

// UnmarshalJSON decodes the fields quota reads of a persistent volume claim.
func (c *Claim) UnmarshalJSON(b []byte) error { return decode(b, c.read) }

// decode reads b with read, its strings cut from one copy of b (jsonread.NewShared).
func decode(b []byte, read func(*jsonread.Reader)) error {
	r := jsonread.NewShared(b)
	read(r)
	return r.End()
}

func (p *Pod) read(r *jsonread.Reader) {
	if !r.Begin('{') {
		return
	}
	for r.Next('}') {
		switch string(r.Key()) {
		case "metadata":
			p.readMeta(r)
		case "spec":
			p.readSpec(r)
		case "status":
			p.Status.Phase = r.StringMember("phase")
		default:
			r.Skip()
		}
	}
}

func (p *Pod) readMeta(r *jsonread.Reader) {
	if !r.Begin('{') {
		return
	}
	m := &p.Metadata
	for r.Next('}') {
		switch string(r.Key()) {
		case "name":
			m.Name = r.String()
		case "annotations":
			m.Annotations = r.StringMap()
		case "deletionTimestamp":
			m.DeletionTimestamp = readTime(r)
		case "deletionGracePeriodSeconds":
			m.DeletionGracePeriodSeconds = r.OptionalInt(64)
		default:
			r.Skip()
		}
	}
}

func (p *Pod) readSpec(r *jsonread.Reader) {
	if !r.Begin('{') {
		return
	}
	s := &p.Spec
	for r.Next('}') {
		switch string(r.Key()) {
		case "containers":
			s.Containers = jsonread.List(r, readContainer)
		case "initContainers":
			s.InitContainers = jsonread.List(r, readContainer)
		case "overhead":
			s.Overhead = quantity.ReadList(r)
		case "resources":
			s.Resources = jsonread.Optional(r, readResources)
		case "activeDeadlineSeconds":
			s.ActiveDeadlineSeconds = r.OptionalInt(64)
		case "priorityClassName":
			s.PriorityClassName = r.String()
		case "affinity":
			s.Affinity = jsonread.Optional(r, readAffinity)
		default:
			r.Skip()
		}
	}
}

func readContainer(r *jsonread.Reader, c *Container) {
	if !r.Begin('{') {
		return
	}
	for r.Next('}') {
		switch string(r.Key()) {
		case "name":
			c.Name = r.String()
		case "restartPolicy":
			c.RestartPolicy = r.String()
		case "resources":
			readResources(r, &c.Resources)
		default:
			r.Skip()
		}
	}
}

func readResources(r *jsonread.Reader, res *Resources) {
	if !r.Begin('{') {
		return
	}
	for r.Next('}') {
		switch string(r.Key()) {
		case "requests":
			res.Requests = quantity.ReadList(r)
		case "limits":
			res.Limits = quantity.ReadList(r)
		default:
			r.Skip()
		}
	}
}

func readAffinity(r *jsonread.Reader, a *affinity) {
	if !r.Begin('{') {
		return
	}
	for r.Next('}') {
		switch string(r.Key()) {
		case "podAffinity":
			a.PodAffinity = jsonread.Optional(r, readPodAffinity)
		case "podAntiAffinity":
			a.PodAntiAffinity = jsonread.Optional(r, readPodAffinity)
		default:
			r.Skip()
		}
	}
}

func readPodAffinity(r *jsonread.Reader, a *podAffinity) {
	if !r.Begin('{') {
		return
	}
	for r.Next('}') {
		switch string(r.Key()) {
		case "requiredDuringSchedulingIgnoredDuringExecution":
			a.Required = jsonread.List(r, readAffinityTerm)
		case "preferredDuringSchedulingIgnoredDuringExecution":
			a.Preferred = jsonread.List(r, func(r *jsonread.Reader, w *weightedTerm) {
				r.Member("podAffinityTerm", func(r *jsonread.Reader) { readAffinityTerm(r, &w.Term) })
			})
		default:
			r.Skip()
		}
	}
}

func readAffinityTerm(r *jsonread.Reader, t *affinityTerm) {
	if !r.Begin('{') {
		return
	}
	for r.Next('}') {
		switch string(r.Key()) {
		case "namespaces":
			t.Namespaces = r.Strings()
		case "namespaceSelector":
			// A label selector, which must be an object (or null: no selector). A copy: an
			// UnmarshalJSON may not keep its input.
			if t.NamespaceSelector = bytes.Clone(r.Raw()); t.NamespaceSelector != nil && t.NamespaceSelector[0] != '{' {
				r.Fail("namespaceSelector: want an object")
			}
		default:
			r.Skip()
		}
	}
}

func (q *ResourceQuota) read(r *jsonread.Reader) {
	if !r.Begin('{') {
		return
	}
	for r.Next('}') {
		switch string(r.Key()) {
		case "metadata":
			q.readMeta(r)
		case "spec":
			q.readSpec(r)
		case "status":
			readStatus(r, &q.Status)
		default:
			r.Skip()
		}
	}
}

func (q *ResourceQuota) readMeta(r *jsonread.Reader) {
	if !r.Begin('{') {
		return
	}
	m := &q.Metadata
	for r.Next('}') {
		switch string(r.Key()) {
		case "name":
			m.Name = r.String()
		case "namespace":
			m.Namespace = r.String()
		case "resourceVersion":
			m.ResourceVersion = r.String()
		default:
			r.Skip()
		}
	}
}

func (q *ResourceQuota) readSpec(r *jsonread.Reader) {
	if !r.Begin('{') {
		return
	}
	s := &q.Spec
	for r.Next('}') {
		switch string(r.Key()) {
		case "hard":
			s.Hard = quantity.ReadList(r)
		case "scopes":
			s.Scopes = r.Strings()
		case "scopeSelector":
			s.ScopeSelector = jsonread.Optional(r, readScopeSelector)
		default:
			r.Skip()
		}
	}
}

func readScopeSelector(r *jsonread.Reader, sel *ScopeSelector) {
	r.Member("matchExpressions", func(r *jsonread.Reader) { sel.MatchExpressions = jsonread.List(r, readScopeRequirement) })
}

func readScopeRequirement(r *jsonread.Reader, s *ScopeRequirement) {
	if !r.Begin('{') {
		return
	}
	for r.Next('}') {
		switch string(r.Key()) {
		case "scopeName":
			s.ScopeName = r.String()
		case "operator":
			s.Operator = r.String()
		case "values":
			s.Values = r.Strings()
		default:
			r.Skip()
		}
	}
}

func readStatus(r *jsonread.Reader, s *Status) {
	if !r.Begin('{') {
		return
	}
	for r.Next('}') {
		switch string(r.Key()) {
		case "hard":
			s.Hard = quantity.ReadList(r)
		case "used":
			s.Used = quantity.ReadList(r)
		default:
			r.Skip()
		}
	}
}

func (s *Service) read(r *jsonread.Reader) {
	if !r.Begin('{') {
		return
	}
	for r.Next('}') {
		switch string(r.Key()) {
		case "metadata":
			s.Metadata.Name = r.StringMember("name")
		case "spec":
			s.readSpec(r)
		default:
			r.Skip()
		}
	}
}

func (s *Service) readSpec(r *jsonread.Reader) {
	if !r.Begin('{') {
		return
	}
	for r.Next('}') {
		switch string(r.Key()) {
		case "type":
			s.Spec.Type = r.String()
		case "allocateLoadBalancerNodePorts":
			s.Spec.AllocateLoadBalancerNodePorts = r.OptionalBool()
		case "ports":
			s.Spec.Ports = jsonread.List(r, readServicePort)
		default:
			r.Skip()
		}
	}
}

func readServicePort(r *jsonread.Reader, p *ServicePort) {
	r.Member("nodePort", func(r *jsonread.Reader) { p.NodePort = int32(r.Int(32)) })
}

func (c *Claim) read(r *jsonread.Reader) {
	if !r.Begin('{') {
		return
	}
	for r.Next('}') {
		switch string(r.Key()) {
		case "metadata":
			c.readMeta(r)
		case "spec":
			c.readSpec(r)
		case "status":
			r.Member("allocatedResources", func(r *jsonread.Reader) { c.Status.AllocatedResources = quantity.ReadList(r) })
		default:
			r.Skip()
		}
	}
}

func (c *Claim) readMeta(r *jsonread.Reader) {
	if !r.Begin('{') {
		return
	}
	for r.Next('}') {
		switch string(r.Key()) {
		case "name":
			c.Metadata.Name = r.String()
		case "annotations":
			c.Metadata.Annotations = r.StringMap()
		default:
			r.Skip()
		}
	}
}

func (c *Claim) readSpec(r *jsonread.Reader) {
	if !r.Begin('{') {
		return
	}
	for r.Next('}') {
		switch string(r.Key()) {
		case "storageClassName":
			c.Spec.StorageClassName = jsonread.Optional(r, func(r *jsonread.Reader, name *string) { *name = r.String() })
		case "resources":
			r.Member("requests", func(r *jsonread.Reader) { c.Spec.Resources.Requests = quantity.ReadList(r) })
		default:
			r.Skip()
		}
	}
}

// readTime reads an optional time as time.Time's UnmarshalJSON does (RFC 3339): null is
// nil.
func readTime(r *jsonread.Reader) *time.Time {
	raw := r.Raw()
	if raw == nil {
		return nil
	}
	t := &time.Time{}
	if err := t.UnmarshalJSON(raw); err != nil {
		r.Fail(err.Error())
		return nil
	}
	return t
}
