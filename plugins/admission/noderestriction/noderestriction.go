package noderestriction

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/tugboat-io/tug/plugins/admission/internal/policy"
	tug "github.com/tugboat-io/tug/sdk/go"
)

// Names kube gives what the policy checks.
const (
	nodeUserPrefix   = "system:node:"
	nodesGroup       = "system:nodes"
	mirrorAnnotation = "kubernetes.io/config.mirror"
	restrictedLabels = "node-restriction.kubernetes.io/"
	leaseNamespace   = "kube-node-lease"
	dnsNamespace     = "kube-system"
	dnsSlicePrefix   = "kube-dns-"
	defaultAccount   = "default"
)

// Admit applies the policy to requests of node users; anyone else is not its business.
func Admit(req *tug.AdmissionRequest) *tug.AdmissionResponse {
	node, ok := nodeName(req)
	if !ok {
		return tug.Allow()
	}
	switch r := req.Resource; {
	case r.Group == "" && r.Resource == "pods" && req.SubResource == "" && req.Operation == "CREATE":
		return admitPod(req, node)
	case r.Group == "" && r.Resource == "nodes" && req.SubResource == "" && (req.Operation == "CREATE" || req.Operation == "UPDATE"):
		return admitNode(req, node)
	case r.Group == "coordination.k8s.io" && r.Resource == "leases" && req.Operation == "CREATE":
		if req.Namespace != leaseNamespace || req.Name != node {
			return policy.Forbidden(req, "can only access node lease with the same name as the requesting node")
		}
	case r.Group == "discovery.k8s.io" && r.Resource == "endpointslices" && req.Operation == "CREATE":
		if req.Namespace != dnsNamespace || req.Name != dnsSlicePrefix+node {
			return policy.Forbidden(req, fmt.Sprintf("node %q can only create its own cluster DNS endpoint slice %s/%s%s", node, dnsNamespace, dnsSlicePrefix, node))
		}
	}
	return tug.Allow()
}

// nodeName is the requesting node's name, if the user is a node.
func nodeName(req *tug.AdmissionRequest) (string, bool) {
	name, ok := strings.CutPrefix(req.UserInfo.Username, nodeUserPrefix)
	if !ok || name == "" {
		return "", false
	}
	for _, g := range req.UserInfo.Groups {
		if g == nodesGroup {
			return name, true
		}
	}
	return "", false
}

type pod struct {
	Metadata struct {
		Annotations map[string]string `json:"annotations"`
	} `json:"metadata"`
	Spec struct {
		NodeName           string      `json:"nodeName"`
		ServiceAccountName string      `json:"serviceAccountName"`
		Volumes            []volume    `json:"volumes"`
		InitContainers     []container `json:"initContainers"`
		Containers         []container `json:"containers"`
	} `json:"spec"`
}

type volume struct {
	Secret                *json.RawMessage `json:"secret"`
	ConfigMap             *json.RawMessage `json:"configMap"`
	PersistentVolumeClaim *json.RawMessage `json:"persistentVolumeClaim"`
	Projected             *struct {
		Sources []struct {
			Secret              *json.RawMessage `json:"secret"`
			ConfigMap           *json.RawMessage `json:"configMap"`
			ServiceAccountToken *json.RawMessage `json:"serviceAccountToken"`
		} `json:"sources"`
	} `json:"projected"`
}

type container struct {
	EnvFrom []struct {
		SecretRef    *json.RawMessage `json:"secretRef"`
		ConfigMapRef *json.RawMessage `json:"configMapRef"`
	} `json:"envFrom"`
	Env []struct {
		ValueFrom *struct {
			SecretKeyRef    *json.RawMessage `json:"secretKeyRef"`
			ConfigMapKeyRef *json.RawMessage `json:"configMapKeyRef"`
		} `json:"valueFrom"`
	} `json:"env"`
}

// admitPod lets a node create only mirror pods bound to itself that reference nothing a
// node could use to read what is not its own. A node's own pods are rare (static pods), so
// encoding/json's cost here is no one's concern.
func admitPod(req *tug.AdmissionRequest, node string) *tug.AdmissionResponse {
	var p pod
	if err := json.Unmarshal(req.Object, &p); err != nil {
		return tug.DenyStatus(400, "BadRequest", fmt.Sprintf("decode pod: %v", err))
	}
	if _, ok := p.Metadata.Annotations[mirrorAnnotation]; !ok {
		return policy.Forbidden(req, fmt.Sprintf("pod does not have %q annotation, node %q can only create mirror pods", mirrorAnnotation, node))
	}
	if p.Spec.NodeName != node {
		return policy.Forbidden(req, fmt.Sprintf("node %q can only create pods with spec.nodeName set to itself", node))
	}
	if p.Spec.ServiceAccountName != "" && p.Spec.ServiceAccountName != defaultAccount {
		return policy.Forbidden(req, fmt.Sprintf("node %q can not create pods that reference a service account", node))
	}
	for _, v := range p.Spec.Volumes {
		switch {
		case v.Secret != nil:
			return refuses(req, node, "secrets")
		case v.ConfigMap != nil:
			return refuses(req, node, "configmaps")
		case v.PersistentVolumeClaim != nil:
			return refuses(req, node, "persistentvolumeclaims")
		case v.Projected != nil:
			for _, s := range v.Projected.Sources {
				switch {
				case s.Secret != nil:
					return refuses(req, node, "secrets")
				case s.ConfigMap != nil:
					return refuses(req, node, "configmaps")
				case s.ServiceAccountToken != nil:
					return policy.Forbidden(req, fmt.Sprintf("node %q can not create pods that reference a service account", node))
				}
			}
		}
	}
	for _, cs := range [][]container{p.Spec.InitContainers, p.Spec.Containers} {
		for _, c := range cs {
			for _, e := range c.EnvFrom {
				if e.SecretRef != nil {
					return refuses(req, node, "secrets")
				}
				if e.ConfigMapRef != nil {
					return refuses(req, node, "configmaps")
				}
			}
			for _, e := range c.Env {
				if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
					return refuses(req, node, "secrets")
				}
				if e.ValueFrom != nil && e.ValueFrom.ConfigMapKeyRef != nil {
					return refuses(req, node, "configmaps")
				}
			}
		}
	}
	return tug.Allow()
}

func refuses(req *tug.AdmissionRequest, node, what string) *tug.AdmissionResponse {
	return policy.Forbidden(req, fmt.Sprintf("node %q can not create pods that reference %s", node, what))
}

type nodeObject struct {
	Metadata struct {
		Name   string            `json:"name"`
		Labels map[string]string `json:"labels"`
	} `json:"metadata"`
}

// admitNode lets a node create and change only its own Node, and never the labels kept for
// administrators to place workloads by.
func admitNode(req *tug.AdmissionRequest, node string) *tug.AdmissionResponse {
	var n, old nodeObject
	if err := json.Unmarshal(req.Object, &n); err != nil {
		return tug.DenyStatus(400, "BadRequest", fmt.Sprintf("decode node: %v", err))
	}
	if n.Metadata.Name != node {
		return policy.Forbidden(req, fmt.Sprintf("node %q is not allowed to modify node %q", node, n.Metadata.Name))
	}
	if len(req.OldObject) > 0 {
		if err := json.Unmarshal(req.OldObject, &old); err != nil {
			return tug.DenyStatus(400, "BadRequest", fmt.Sprintf("decode node: %v", err))
		}
	}
	for k, v := range n.Metadata.Labels {
		if !strings.HasPrefix(k, restrictedLabels) && !strings.Contains(k, "."+restrictedLabels) {
			continue
		}
		if ov, had := old.Metadata.Labels[k]; !had || ov != v {
			return policy.Forbidden(req, fmt.Sprintf("is not allowed to modify labels: %s", k))
		}
	}
	for k := range old.Metadata.Labels {
		if _, kept := n.Metadata.Labels[k]; !kept && (strings.HasPrefix(k, restrictedLabels) || strings.Contains(k, "."+restrictedLabels)) {
			return policy.Forbidden(req, fmt.Sprintf("is not allowed to modify labels: %s", k))
		}
	}
	return tug.Allow()
}
