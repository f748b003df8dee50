package tug

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/tugboat-io/tug/sdk/go/jsonread"
)

// The decoders of the objects the scheduling hot path reads, without reflection (see
// package jsonread for why). Each reads exactly the fields its struct declares, under their
// Kubernetes JSON names, and skips the rest; the result is what encoding/json would give
// for the same input (decode_test.go checks it).

// DecodePod decodes a pod's Kubernetes JSON; Raw keeps the bytes (not a copy of them).
func DecodePod(raw []byte) (*Pod, error) {
	p := &Pod{}
	if err := decodeTop(raw, jsonread.New, func(r *jsonread.Reader) { readPod(r, p) }); err != nil {
		return nil, fmt.Errorf("decode pod: %w", err)
	}
	p.Raw = raw
	return p, nil
}

// DecodeNode decodes a node's Kubernetes JSON; Raw keeps the bytes (not a copy of them).
func DecodeNode(raw []byte) (*Node, error) {
	n := &Node{}
	if err := decodeTop(raw, jsonread.New, func(r *jsonread.Reader) { readNode(r, n) }); err != nil {
		return nil, fmt.Errorf("decode node: %w", err)
	}
	n.Raw = raw
	return n, nil
}

// decodeReconcileRequest decodes a reconcile's input without reflection: the objects stay
// raw, slices of the input (every tug_alloc is a fresh region, so they stay valid). A
// parent with a thousand children is several megabytes of JSON, which encoding/json would
// scan and copy once more than the plugin's own decoding of the objects it reads.
func decodeReconcileRequest(in []byte) (*ReconcileRequest, error) {
	req := &ReconcileRequest{}
	err := decodeTop(in, jsonread.New, func(r *jsonread.Reader) {
		if !r.Begin('{') {
			return
		}
		for r.Next('}') {
			switch string(r.Key()) {
			case "parent":
				req.Parent = r.Raw()
			case "children":
				req.Children = readRawLists(r)
			case "related":
				req.Related = readRawLists(r)
			case "now":
				req.Now = r.String()
			default:
				r.Skip()
			}
		}
	})
	if err != nil {
		return nil, err
	}
	return req, nil
}

// decodeAdmissionRequest decodes tug_admit's input without reflection, for the same reason
// (a pod create runs through every policy of the chain, each a call that decodes the
// request): the objects stay raw slices of the input, each policy decoding only the fields
// it reads. Its strings (names, kinds, the operation) are cut from one copy of the input
// (jsonread.NewShared), kept as long as any of them is, as the input is by the raw
// objects.
func decodeAdmissionRequest(in []byte) (*AdmissionRequest, error) {
	req := &AdmissionRequest{}
	a := &req.AdmissionRequest
	err := decodeTop(in, jsonread.NewShared, func(r *jsonread.Reader) {
		if !r.Begin('{') {
			return
		}
		for r.Next('}') {
			switch string(r.Key()) {
			case "uid":
				a.UID = r.String()
			case "kind":
				readGVK(r, &a.Kind)
			case "resource":
				readGVR(r, &a.Resource)
			case "subResource":
				a.SubResource = r.String()
			case "requestKind":
				if !r.Null() {
					a.RequestKind = &GroupVersionKind{}
					readGVK(r, a.RequestKind)
				}
			case "requestResource":
				if !r.Null() {
					a.RequestResource = &GroupVersionResource{}
					readGVR(r, a.RequestResource)
				}
			case "requestSubResource":
				a.RequestSubResource = r.String()
			case "name":
				a.Name = r.String()
			case "namespace":
				a.Namespace = r.String()
			case "operation":
				a.Operation = r.String()
			case "userInfo":
				readUserInfo(r, &a.UserInfo)
			// Raw values keep a null as the bytes "null", as encoding/json's RawMessage does.
			case "object":
				a.Object = r.Skip()
			case "oldObject":
				a.OldObject = r.Skip()
			case "dryRun":
				if !r.Null() {
					b := r.Bool()
					a.DryRun = &b
				}
			case "options":
				a.Options = r.Skip()
			case "policy":
				a.Policy = r.String()
			case "config":
				a.Config = r.Skip()
			case "related":
				a.Related = readRawLists(r)
			default:
				r.Skip()
			}
		}
	})
	if err != nil {
		return nil, err
	}
	return req, nil
}

func readGVK(r *jsonread.Reader, k *GroupVersionKind) {
	if !r.Begin('{') {
		return
	}
	for r.Next('}') {
		switch string(r.Key()) {
		case "group":
			k.Group = r.String()
		case "version":
			k.Version = r.String()
		case "kind":
			k.Kind = r.String()
		default:
			r.Skip()
		}
	}
}

func readGVR(r *jsonread.Reader, k *GroupVersionResource) {
	if !r.Begin('{') {
		return
	}
	for r.Next('}') {
		switch string(r.Key()) {
		case "group":
			k.Group = r.String()
		case "version":
			k.Version = r.String()
		case "resource":
			k.Resource = r.String()
		default:
			r.Skip()
		}
	}
}

func readUserInfo(r *jsonread.Reader, u *UserInfo) {
	if !r.Begin('{') {
		return
	}
	for r.Next('}') {
		switch string(r.Key()) {
		case "username":
			u.Username = r.String()
		case "uid":
			u.UID = r.String()
		case "groups":
			u.Groups = r.Strings()
		case "extra":
			if r.Begin('{') {
				u.Extra = map[string][]string{}
				for r.Next('}') {
					k := r.KeyString()
					u.Extra[k] = r.Strings()
				}
			}
		default:
			r.Skip()
		}
	}
}

// readRawLists reads an object of arrays of objects, keeping each object raw.
func readRawLists(r *jsonread.Reader) map[string][]json.RawMessage {
	if !r.Begin('{') {
		return nil
	}
	m := map[string][]json.RawMessage{}
	for r.Next('}') {
		k := r.KeyString()
		var list []json.RawMessage
		if r.Begin('[') {
			list = []json.RawMessage{}
			for r.Next(']') {
				list = append(list, r.Skip())
			}
		}
		m[k] = list
	}
	return m
}

// decodeTop reads one JSON object with read, through a Reader newReader makes of it,
// refusing null and anything else that is not an object.
func decodeTop(raw []byte, newReader func([]byte) *jsonread.Reader, read func(*jsonread.Reader)) error {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || t[0] != '{' {
		return fmt.Errorf("not a JSON object")
	}
	r := newReader(raw)
	read(r)
	return r.End()
}

func readPod(r *jsonread.Reader, p *Pod) {
	if !r.Begin('{') {
		return
	}
	for r.Next('}') {
		switch string(r.Key()) {
		case "apiVersion":
			p.APIVersion = r.String()
		case "kind":
			p.Kind = r.String()
		case "metadata":
			readMeta(r, &p.ObjectMeta)
		case "spec":
			readPodSpec(r, &p.Spec)
		case "status":
			readPodStatus(r, &p.Status)
		default:
			r.Skip()
		}
	}
}

func readMeta(r *jsonread.Reader, m *ObjectMeta) {
	if !r.Begin('{') {
		return
	}
	for r.Next('}') {
		switch string(r.Key()) {
		case "name":
			m.Name = r.String()
		case "namespace":
			m.Namespace = r.String()
		case "uid":
			m.UID = r.String()
		case "labels":
			m.Labels = r.StringMap()
		case "annotations":
			m.Annotations = r.StringMap()
		case "ownerReferences":
			m.OwnerReferences = jsonread.List(r, readOwner)
		default:
			r.Skip()
		}
	}
}

func readOwner(r *jsonread.Reader, o *OwnerReference) {
	if !r.Begin('{') {
		return
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
			o.Controller = nil
			if !r.Null() {
				b := r.Bool()
				o.Controller = &b
			}
		default:
			r.Skip()
		}
	}
}

func readPodSpec(r *jsonread.Reader, s *PodSpec) {
	if !r.Begin('{') {
		return
	}
	for r.Next('}') {
		switch string(r.Key()) {
		case "nodeName":
			s.NodeName = r.String()
		case "nodeSelector":
			s.NodeSelector = r.StringMap()
		case "tolerations":
			s.Tolerations = jsonread.List(r, readToleration)
		case "affinity":
			s.Affinity = r.Raw()
		case "topologySpreadConstraints":
			s.TopologySpreadConstraints = r.Raw()
		case "containers":
			s.Containers = readContainers(r)
		case "initContainers":
			s.InitContainers = readContainers(r)
		case "overhead":
			s.Overhead = readResources(r)
		case "schedulerName":
			s.SchedulerName = r.String()
		case "priorityClassName":
			s.PriorityClassName = r.String()
		case "priority":
			s.Priority = nil
			if !r.Null() {
				v := int32(r.Int(32))
				s.Priority = &v
			}
		case "serviceAccountName":
			s.ServiceAccountName = r.String()
		case "hostNetwork":
			s.HostNetwork = r.Bool()
		default:
			r.Skip()
		}
	}
}

func readToleration(r *jsonread.Reader, t *Toleration) {
	if !r.Begin('{') {
		return
	}
	for r.Next('}') {
		switch string(r.Key()) {
		case "key":
			t.Key = r.String()
		case "operator":
			t.Operator = r.String()
		case "value":
			t.Value = r.String()
		case "effect":
			t.Effect = r.String()
		case "tolerationSeconds":
			t.TolerationSeconds = nil
			if !r.Null() {
				v := r.Int(64)
				t.TolerationSeconds = &v
			}
		default:
			r.Skip()
		}
	}
}

func readContainers(r *jsonread.Reader) []Container { return jsonread.List(r, readContainer) }

func readContainer(r *jsonread.Reader, c *Container) {
	if !r.Begin('{') {
		return
	}
	for r.Next('}') {
		switch string(r.Key()) {
		case "name":
			c.Name = r.String()
		case "image":
			c.Image = r.String()
		case "resources":
			readRequirements(r, &c.Resources)
		case "ports":
			c.Ports = jsonread.List(r, readPort)
		case "restartPolicy":
			c.RestartPolicy = r.String()
		default:
			r.Skip()
		}
	}
}

func readRequirements(r *jsonread.Reader, rr *ResourceRequirements) {
	if !r.Begin('{') {
		return
	}
	for r.Next('}') {
		switch string(r.Key()) {
		case "limits":
			rr.Limits = readResources(r)
		case "requests":
			rr.Requests = readResources(r)
		default:
			r.Skip()
		}
	}
}

func readPort(r *jsonread.Reader, p *ContainerPort) {
	if !r.Begin('{') {
		return
	}
	for r.Next('}') {
		switch string(r.Key()) {
		case "name":
			p.Name = r.String()
		case "hostPort":
			p.HostPort = int32(r.Int(32))
		case "containerPort":
			p.ContainerPort = int32(r.Int(32))
		case "protocol":
			p.Protocol = r.String()
		case "hostIP":
			p.HostIP = r.String()
		default:
			r.Skip()
		}
	}
}

// readResources reads a ResourceList: quantities are strings or numbers, as in Kubernetes.
func readResources(r *jsonread.Reader) ResourceList {
	if !r.Begin('{') {
		return nil
	}
	l := ResourceList{}
	for r.Next('}') {
		k := string(r.Key())
		l[k] = readQuantity(r)
	}
	return l
}

func readQuantity(r *jsonread.Reader) Quantity {
	if r.Null() {
		return ""
	}
	if b := r.Skip(); len(b) > 0 {
		switch c := b[0]; {
		case c == '"':
			return Quantity(jsonread.New(b).String())
		case c == '-' || (c >= '0' && c <= '9'):
			return Quantity(b)
		}
	}
	if r.Err() == nil {
		r.Fail("quantity: want a string or a number")
	}
	return ""
}

func readPodStatus(r *jsonread.Reader, s *PodStatus) {
	if !r.Begin('{') {
		return
	}
	for r.Next('}') {
		switch string(r.Key()) {
		case "phase":
			s.Phase = r.String()
		case "nominatedNodeName":
			s.NominatedNodeName = r.String()
		case "startTime":
			s.StartTime = r.String()
		default:
			r.Skip()
		}
	}
}

func readNode(r *jsonread.Reader, n *Node) {
	if !r.Begin('{') {
		return
	}
	for r.Next('}') {
		switch string(r.Key()) {
		case "apiVersion":
			n.APIVersion = r.String()
		case "kind":
			n.Kind = r.String()
		case "metadata":
			readMeta(r, &n.ObjectMeta)
		case "spec":
			readNodeSpec(r, &n.Spec)
		case "status":
			readNodeStatus(r, &n.Status)
		default:
			r.Skip()
		}
	}
}

func readNodeSpec(r *jsonread.Reader, s *NodeSpec) {
	if !r.Begin('{') {
		return
	}
	for r.Next('}') {
		switch string(r.Key()) {
		case "unschedulable":
			s.Unschedulable = r.Bool()
		case "taints":
			s.Taints = jsonread.List(r, readTaint)
		default:
			r.Skip()
		}
	}
}

func readTaint(r *jsonread.Reader, t *Taint) {
	if !r.Begin('{') {
		return
	}
	for r.Next('}') {
		switch string(r.Key()) {
		case "key":
			t.Key = r.String()
		case "value":
			t.Value = r.String()
		case "effect":
			t.Effect = r.String()
		default:
			r.Skip()
		}
	}
}

func readNodeStatus(r *jsonread.Reader, s *NodeStatus) {
	if !r.Begin('{') {
		return
	}
	for r.Next('}') {
		switch string(r.Key()) {
		case "capacity":
			s.Capacity = readResources(r)
		case "allocatable":
			s.Allocatable = readResources(r)
		case "images":
			s.Images = jsonread.List(r, readImage)
		case "conditions":
			s.Conditions = jsonread.List(r, readCondition)
		default:
			r.Skip()
		}
	}
}

func readImage(r *jsonread.Reader, img *ContainerImage) {
	if !r.Begin('{') {
		return
	}
	for r.Next('}') {
		switch string(r.Key()) {
		case "names":
			img.Names = r.Strings()
		case "sizeBytes":
			img.SizeBytes = r.Int(64)
		default:
			r.Skip()
		}
	}
}

func readCondition(r *jsonread.Reader, c *NodeCondition) {
	if !r.Begin('{') {
		return
	}
	for r.Next('}') {
		switch string(r.Key()) {
		case "type":
			c.Type = r.String()
		case "status":
			c.Status = r.String()
		default:
			r.Skip()
		}
	}
}

// decodeObject decodes a JSON object into v with encoding/json (for the kinds off the
// scheduling hot path), refusing null and anything else that is not an object.
func decodeObject(raw []byte, v any) error {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || t[0] != '{' {
		return fmt.Errorf("not a JSON object")
	}
	return json.Unmarshal(raw, v)
}
