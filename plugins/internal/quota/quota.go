package quota

import (
	"encoding/json"
	"slices"
	"strings"

	"github.com/tugboat-io/tug/plugins/internal/quantity"
	tug "github.com/tugboat-io/tug/sdk/go"
)

// Keys of the related objects quota counts.
var (
	PodKey                   = tug.ObjectKey("v1", "Pod")
	ServiceKey               = tug.ObjectKey("v1", "Service")
	ConfigMapKey             = tug.ObjectKey("v1", "ConfigMap")
	SecretKey                = tug.ObjectKey("v1", "Secret")
	PersistentVolumeClaimKey = tug.ObjectKey("v1", "PersistentVolumeClaim")
	ReplicationControllerKey = tug.ObjectKey("v1", "ReplicationController")
	ResourceQuotaKey         = tug.ObjectKey("v1", "ResourceQuota")
)

// Counted are the kinds whose objects are only counted, by the names their count goes by:
// the legacy name where there is one, and count/<resource>[.<group>].
var Counted = []struct {
	Key   string
	Names []string
}{
	{ConfigMapKey, []string{"configmaps", "count/configmaps"}},
	{SecretKey, []string{"secrets", "count/secrets"}},
	{ReplicationControllerKey, []string{"replicationcontrollers", "count/replicationcontrollers"}},
	{ResourceQuotaKey, []string{"resourcequotas", "count/resourcequotas"}},
	{tug.ObjectKey("apps/v1", "Deployment"), []string{"count/deployments.apps"}},
	{tug.ObjectKey("apps/v1", "ReplicaSet"), []string{"count/replicasets.apps"}},
	{tug.ObjectKey("apps/v1", "StatefulSet"), []string{"count/statefulsets.apps"}},
	{tug.ObjectKey("apps/v1", "DaemonSet"), []string{"count/daemonsets.apps"}},
	{tug.ObjectKey("batch/v1", "Job"), []string{"count/jobs.batch"}},
	{tug.ObjectKey("batch/v1", "CronJob"), []string{"count/cronjobs.batch"}},
}

// ResourceQuota is what quota reads of a ResourceQuota.
type ResourceQuota struct {
	Metadata struct {
		Name            string `json:"name"`
		Namespace       string `json:"namespace,omitempty"`
		ResourceVersion string `json:"resourceVersion,omitempty"`
	} `json:"metadata"`
	Spec struct {
		Hard          quantity.List  `json:"hard,omitempty"`
		Scopes        []string       `json:"scopes,omitempty"`
		ScopeSelector *ScopeSelector `json:"scopeSelector,omitempty"`
	} `json:"spec"`
	Status Status `json:"status"`
}

// ScopeSelector selects the pods a quota charges by their scopes.
type ScopeSelector struct {
	MatchExpressions []ScopeRequirement `json:"matchExpressions,omitempty"`
}

// ScopeRequirement is a scope selector's expression; a spec.scopes entry is one with
// operator Exists.
type ScopeRequirement struct {
	ScopeName string   `json:"scopeName"`
	Operator  string   `json:"operator"`
	Values    []string `json:"values,omitempty"`
}

// Status is the quota's status.
type Status struct {
	Hard quantity.List `json:"hard,omitempty"`
	Used quantity.List `json:"used,omitempty"`
}

// MarshalJSON writes the status as encoding/json would, without reflection: ResourceQuota
// admission writes one back on every create it charges.
func (s Status) MarshalJSON() ([]byte, error) { return s.AppendJSON(make([]byte, 0, 256)), nil }

// AppendJSON appends the status as MarshalJSON writes it.
func (s Status) AppendJSON(b []byte) []byte {
	b = append(b, '{')
	if len(s.Hard) > 0 {
		b = s.Hard.AppendJSON(append(b, `"hard":`...))
	}
	if len(s.Used) > 0 {
		if len(s.Hard) > 0 {
			b = append(b, ',')
		}
		b = s.Used.AppendJSON(append(b, `"used":`...))
	}
	return append(b, '}')
}

// Scopes are the quota's scopes and scope selector's expressions together: a pod is
// charged only when it is in every one.
func (q *ResourceQuota) Scopes() []ScopeRequirement {
	scopes := make([]ScopeRequirement, 0, len(q.Spec.Scopes))
	for _, s := range q.Spec.Scopes {
		scopes = append(scopes, ScopeRequirement{ScopeName: s, Operator: "Exists"})
	}
	if q.Spec.ScopeSelector != nil {
		scopes = append(scopes, q.Spec.ScopeSelector.MatchExpressions...)
	}
	return scopes
}

// One is a count of one.
var One = quantity.New(1, quantity.DecimalSI)

// Pods' resource names.
const (
	ResPods         = "pods"
	ResCountPods    = "count/pods"
	RequestsPrefix  = "requests."
	LimitsPrefix    = "limits."
	HugePagesPrefix = "hugepages-"
)

// ComputeNames are the compute resources quota tracks under their own name, requests.<name>
// and limits.<name>.
var ComputeNames = []string{"cpu", "memory", "ephemeral-storage"}

// computeQuotaNames are each of ComputeNames with its requests. and limits. names, made
// once rather than on every pod charged.
var computeQuotaNames = func() []struct{ name, requests, limits string } {
	names := make([]struct{ name, requests, limits string }, len(ComputeNames))
	for i, c := range ComputeNames {
		names[i].name, names[i].requests, names[i].limits = c, RequestsPrefix+c, LimitsPrefix+c
	}
	return names
}()

// TracksPod reports whether name is a resource the pod evaluator tracks.
func TracksPod(name string) bool {
	switch name {
	case ResPods, ResCountPods:
		return true
	}
	// A compute resource under its own name, requests.<name> or limits.<name>.
	compute, ok := strings.CutPrefix(name, RequestsPrefix)
	if !ok {
		compute, _ = strings.CutPrefix(name, LimitsPrefix)
	}
	if slices.Contains(ComputeNames, compute) {
		return true
	}
	if strings.HasPrefix(name, HugePagesPrefix) || strings.HasPrefix(name, RequestsPrefix+HugePagesPrefix) {
		return true
	}
	// Extended resources are limited by their requests only.
	r, ok := strings.CutPrefix(name, RequestsPrefix)
	return ok && IsExtended(r)
}

// IsExtended reports whether name is an extended resource ("example.com/gpu"): one with a
// domain other than kubernetes.io's, which kube quotas by requests only.
func IsExtended(name string) bool {
	domain, _, ok := strings.Cut(name, "/")
	if !ok || strings.HasPrefix(name, RequestsPrefix) {
		return false
	}
	return domain != "kubernetes.io" && !strings.HasSuffix(domain, ".kubernetes.io")
}

// ServiceNames are the resources the service evaluator tracks.
var ServiceNames = []string{"services", "count/services", "services.nodeports", "services.loadbalancers"}

// TracksService reports whether name is a resource the service evaluator tracks.
func TracksService(name string) bool { return slices.Contains(ServiceNames, name) }

// Service is what quota reads of a service.
type Service struct {
	Metadata struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec struct {
		Type                          string        `json:"type,omitempty"`
		AllocateLoadBalancerNodePorts *bool         `json:"allocateLoadBalancerNodePorts,omitempty"`
		Ports                         []ServicePort `json:"ports,omitempty"`
	} `json:"spec"`
}

// ServicePort is what quota reads of a service's port.
type ServicePort struct {
	NodePort int32 `json:"nodePort,omitempty"`
}

// Usage is what the service uses: a service, and its node ports and load balancer.
func (s *Service) Usage() quantity.List {
	l := quantity.List{"services": One, "count/services": One}
	switch s.Spec.Type {
	case "NodePort":
		l["services.nodeports"] = quantity.New(int64(len(s.Spec.Ports)), quantity.DecimalSI)
	case "LoadBalancer":
		l["services.loadbalancers"] = One
		// A load balancer that asks for no node ports is charged only those it has.
		n := len(s.Spec.Ports)
		if s.Spec.AllocateLoadBalancerNodePorts != nil && !*s.Spec.AllocateLoadBalancerNodePorts {
			n = 0
			for _, p := range s.Spec.Ports {
				if p.NodePort != 0 {
					n++
				}
			}
		}
		l["services.nodeports"] = quantity.New(int64(n), quantity.DecimalSI)
	}
	return l
}

// Storage class resource names: <class>.storageclass.storage.k8s.io/<resource>.
const (
	StorageClassSuffix  = ".storageclass.storage.k8s.io/"
	ResClaims           = "persistentvolumeclaims"
	ResCountClaims      = "count/persistentvolumeclaims"
	ResRequestsStorage  = "requests.storage"
	betaStorageClassAnn = "volume.beta.kubernetes.io/storage-class"
)

// TracksClaim reports whether name is a resource the claim evaluator tracks.
func TracksClaim(name string) bool {
	if name == ResClaims || name == ResCountClaims || name == ResRequestsStorage {
		return true
	}
	_, r, ok := strings.Cut(name, StorageClassSuffix)
	return ok && (r == ResClaims || r == ResRequestsStorage)
}

// Claim is what quota reads of a persistent volume claim.
type Claim struct {
	Metadata struct {
		Name        string            `json:"name"`
		Annotations map[string]string `json:"annotations,omitempty"`
	} `json:"metadata"`
	Spec struct {
		StorageClassName *string `json:"storageClassName,omitempty"`
		Resources        struct {
			Requests quantity.List `json:"requests,omitempty"`
		} `json:"resources"`
	} `json:"spec"`
	Status struct {
		AllocatedResources quantity.List `json:"allocatedResources,omitempty"`
	} `json:"status"`
}

// Usage is what the claim uses: a claim and the storage it requests, in all and in its
// storage class.
func (c *Claim) Usage() quantity.List {
	l := quantity.List{ResClaims: One, ResCountClaims: One}
	class := c.Metadata.Annotations[betaStorageClassAnn]
	if class == "" && c.Spec.StorageClassName != nil {
		class = *c.Spec.StorageClassName
	}
	if class != "" {
		l[class+StorageClassSuffix+ResClaims] = One
	}
	if req, ok := c.Spec.Resources.Requests["storage"]; ok {
		// A claim whose expansion was allocated more than it now asks for is charged
		// the allocation; storage is charged in whole bytes.
		if alloc, ok := c.Status.AllocatedResources["storage"]; ok && alloc.Cmp(req) > 0 {
			req = alloc
		}
		req = req.RoundUp()
		l[ResRequestsStorage] = req
		if class != "" {
			l[class+StorageClassSuffix+ResRequestsStorage] = req
		}
	}
	return l
}

// Decode decodes a raw object into a new T. The kinds quota reads decode themselves
// without reflection (decode.go), and Decode calls their decoder directly: json.Unmarshal
// would first scan the whole object once more to check it, which the decoder does as it
// reads.
func Decode[T any](raw json.RawMessage) (*T, error) {
	v := new(T)
	var err error
	if u, ok := any(v).(json.Unmarshaler); ok {
		err = u.UnmarshalJSON(raw)
	} else {
		err = json.Unmarshal(raw, v)
	}
	if err != nil {
		return nil, err
	}
	return v, nil
}
