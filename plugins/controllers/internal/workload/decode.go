package workload

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	tug "github.com/tugboat-io/tug/sdk/go"
	"github.com/tugboat-io/tug/sdk/go/jsonread"
)

// DecodePod decodes a pod as json.Unmarshal into a Pod would, without reflection: a
// ReplicaSet of a thousand pods hands its reconcile over a megabyte of them, and
// encoding/json spent nine tenths of that reconcile (a third of a second in wasm) scanning
// fields no controller reads.
func DecodePod(raw []byte) (*Pod, error) {
	if t := bytes.TrimSpace(raw); len(t) == 0 || t[0] != '{' {
		return nil, errors.New("decode pod: not a JSON object")
	}
	p := &Pod{}
	r := jsonread.New(raw)
	if r.Begin('{') {
		for r.Next('}') {
			switch string(r.Key()) {
			case "metadata":
				readMeta(r, &p.Metadata)
			case "spec":
				if r.Begin('{') {
					for r.Next('}') {
						if string(r.Key()) == "nodeName" {
							p.Spec.NodeName = r.String()
						} else {
							r.Skip()
						}
					}
				}
			case "status":
				readPodStatus(r, p)
			default:
				r.Skip()
			}
		}
	}
	if err := r.End(); err != nil {
		return nil, fmt.Errorf("decode pod: %w", err)
	}
	return p, nil
}

func readMeta(r *jsonread.Reader, m *Meta) {
	if !r.Begin('{') {
		return
	}
	for r.Next('}') {
		switch string(r.Key()) {
		case "name":
			m.Name = r.String()
		case "generateName":
			m.GenerateName = r.String()
		case "namespace":
			m.Namespace = r.String()
		case "uid":
			m.UID = r.String()
		case "resourceVersion":
			m.ResourceVersion = r.String()
		case "generation":
			if !r.Null() {
				m.Generation = r.Int(64)
			}
		case "creationTimestamp":
			m.CreationTimestamp = readTime(r)
		case "deletionTimestamp":
			if !r.Null() {
				t := readTime(r)
				m.DeletionTimestamp = &t
			}
		case "labels":
			m.Labels = r.StringMap()
		case "annotations":
			m.Annotations = r.StringMap()
		case "ownerReferences":
			m.OwnerReferences = nil
			if r.Begin('[') {
				m.OwnerReferences = []tug.OwnerReference{}
				for r.Next(']') {
					m.OwnerReferences = append(m.OwnerReferences, readOwner(r))
				}
			}
		default:
			r.Skip()
		}
	}
}

func readOwner(r *jsonread.Reader) tug.OwnerReference {
	var o tug.OwnerReference
	if !r.Begin('{') {
		return o
	}
	for r.Next('}') {
		switch string(r.Key()) {
		case "apiVersion":
			o.APIVersion = r.String()
		case "kind":
			o.Kind = r.String()
		case "name":
			o.Name = r.String()
		case "uid":
			o.UID = r.String()
		case "controller":
			if !r.Null() {
				c := r.Bool()
				o.Controller = &c
			}
		default:
			r.Skip()
		}
	}
	return o
}

func readPodStatus(r *jsonread.Reader, p *Pod) {
	if !r.Begin('{') {
		return
	}
	for r.Next('}') {
		switch string(r.Key()) {
		case "phase":
			p.Status.Phase = r.String()
		case "conditions":
			p.Status.Conditions = nil
			if r.Begin('[') {
				p.Status.Conditions = []Condition{}
				for r.Next(']') {
					p.Status.Conditions = append(p.Status.Conditions, readCondition(r))
				}
			}
		case "containerStatuses":
			p.Status.ContainerStatuses = nil
			if r.Begin('[') {
				p.Status.ContainerStatuses = []struct {
					RestartCount int32 `json:"restartCount"`
				}{}
				for r.Next(']') {
					var restarts int32
					if r.Begin('{') {
						for r.Next('}') {
							switch {
							case string(r.Key()) != "restartCount":
								r.Skip()
							case !r.Null():
								restarts = int32(r.Int(32))
							}
						}
					}
					p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, struct {
						RestartCount int32 `json:"restartCount"`
					}{restarts})
				}
			}
		default:
			r.Skip()
		}
	}
}

func readCondition(r *jsonread.Reader) Condition {
	var c Condition
	if !r.Begin('{') {
		return c
	}
	for r.Next('}') {
		switch string(r.Key()) {
		case "type":
			c.Type = r.String()
		case "status":
			c.Status = r.String()
		case "lastUpdateTime":
			c.LastUpdateTime = readTime(r)
		case "lastTransitionTime":
			c.LastTransitionTime = readTime(r)
		case "reason":
			c.Reason = r.String()
		case "message":
			c.Message = r.String()
		default:
			r.Skip()
		}
	}
	return c
}

// readTime reads an RFC 3339 time as time.Time's UnmarshalJSON does (null: the zero time).
func readTime(r *jsonread.Reader) time.Time {
	if r.Null() {
		return time.Time{}
	}
	s := r.String()
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		r.Fail(fmt.Sprintf("time %q: %v", s, err))
	}
	return t
}
