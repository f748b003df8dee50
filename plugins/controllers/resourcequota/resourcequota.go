// Package resourcequota is the ResourceQuota controller's decision: the quota's status —
// hard as the spec says, and what the namespace's objects use of each resource the spec
// limits — as kube-controller-manager's resourcequota controller computes it.
//
// The host hands it the namespace's pods, services, configmaps, secrets, claims,
// replication controllers and quotas as related objects. A resource is recalculated only
// when the objects it counts were handed over; any other keeps the used value the status
// already had (kube's quota admission records usage there too), and a resource no longer
// in spec.hard is dropped.
//
// Pods are charged as kube charges them: compute resources for pods that are neither
// finished nor past their deletion grace period, the larger of the containers' sum and
// the largest init container (with the sidecars started before it), plus the pod's
// overhead; count/pods counts every pod. Scopes (spec.scopes and spec.scopeSelector)
// choose the pods charged; other objects are counted only by quotas without scopes.
package resourcequota

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tugboat-io/tug/plugins/controllers/internal/quantity"
	"github.com/tugboat-io/tug/plugins/controllers/internal/workload"
	tug "github.com/tugboat-io/tug/sdk/go"
)

// Keys of the related objects this controller counts.
var (
	PodKey                   = tug.ObjectKey("v1", "Pod")
	ServiceKey               = tug.ObjectKey("v1", "Service")
	ConfigMapKey             = tug.ObjectKey("v1", "ConfigMap")
	SecretKey                = tug.ObjectKey("v1", "Secret")
	PersistentVolumeClaimKey = tug.ObjectKey("v1", "PersistentVolumeClaim")
	ReplicationControllerKey = tug.ObjectKey("v1", "ReplicationController")
	ResourceQuotaKey         = tug.ObjectKey("v1", "ResourceQuota")
)

// counted are the kinds whose objects are only counted, by the names their count goes by:
// the legacy name where there is one, and count/<resource>[.<group>].
var counted = []struct {
	key   string
	names []string
}{
	{ConfigMapKey, []string{"configmaps", "count/configmaps"}},
	{SecretKey, []string{"secrets", "count/secrets"}},
	{ReplicationControllerKey, []string{"replicationcontrollers", "count/replicationcontrollers"}},
	{ResourceQuotaKey, []string{"resourcequotas", "count/resourcequotas"}},
	// Counted when the host hands them over.
	{tug.ObjectKey("apps/v1", "Deployment"), []string{"count/deployments.apps"}},
	{tug.ObjectKey("apps/v1", "ReplicaSet"), []string{"count/replicasets.apps"}},
	{tug.ObjectKey("apps/v1", "StatefulSet"), []string{"count/statefulsets.apps"}},
	{tug.ObjectKey("apps/v1", "DaemonSet"), []string{"count/daemonsets.apps"}},
	{tug.ObjectKey("batch/v1", "Job"), []string{"count/jobs.batch"}},
	{tug.ObjectKey("batch/v1", "CronJob"), []string{"count/cronjobs.batch"}},
}

type resourceQuota struct {
	Metadata workload.Meta `json:"metadata"`
	Spec     struct {
		Hard          quantity.List `json:"hard,omitempty"`
		Scopes        []string      `json:"scopes,omitempty"`
		ScopeSelector *struct {
			MatchExpressions []ScopeRequirement `json:"matchExpressions,omitempty"`
		} `json:"scopeSelector,omitempty"`
	} `json:"spec"`
	Status Status `json:"status"`
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

// Reconcile decides one ResourceQuota's status.
func Reconcile(req *tug.ReconcileRequest) (*tug.ReconcileResult, error) {
	var q resourceQuota
	if err := req.DecodeParent(&q); err != nil {
		return nil, err
	}
	scopes := make([]ScopeRequirement, 0, len(q.Spec.Scopes))
	for _, s := range q.Spec.Scopes {
		scopes = append(scopes, ScopeRequirement{ScopeName: s, Operator: "Exists"})
	}
	if q.Spec.ScopeSelector != nil {
		scopes = append(scopes, q.Spec.ScopeSelector.MatchExpressions...)
	}

	res := &tug.ReconcileResult{}
	u := usage{hard: q.Spec.Hard, used: quantity.List{}}
	if list, ok := req.Related[PodKey]; ok {
		wait, err := u.pods(list, scopes, req.Time())
		if err != nil {
			return nil, err
		}
		if wait > 0 {
			res.RequeueAfter(wait)
		}
	}
	// Only pods have scopes: a scoped quota counts no other object (kube's other evaluators
	// match no scope), so their usage is zero.
	scoped := len(scopes) > 0
	if list, ok := req.Related[ServiceKey]; ok {
		if err := u.services(list, scoped); err != nil {
			return nil, err
		}
	}
	if list, ok := req.Related[PersistentVolumeClaimKey]; ok {
		if err := u.claims(list, scoped); err != nil {
			return nil, err
		}
	}
	for _, c := range counted {
		if list, ok := req.Related[c.key]; ok {
			n := len(list)
			if scoped {
				n = 0
			}
			for _, name := range c.names {
				u.set(name, quantity.New(int64(n), quantity.DecimalSI))
			}
		}
	}

	// What was not recalculated keeps its last value; what is no longer limited goes.
	used := quantity.List{}
	for name, v := range q.Status.Used {
		if _, ok := q.Spec.Hard[name]; ok {
			used[name] = v
		}
	}
	for name, v := range u.used {
		used[name] = v
	}
	if err := res.SetStatus(Status{Hard: q.Spec.Hard, Used: used}); err != nil {
		return nil, err
	}
	return res, nil
}

// usage collects the used amounts of the resources the quota limits.
type usage struct {
	hard quantity.List
	used quantity.List
}

// limited reports whether the quota has a hard limit on name.
func (u *usage) limited(name string) bool {
	_, ok := u.hard[name]
	return ok
}

// zero records 0 for each limited resource an evaluator tracks before it adds what its
// objects use: a resource nothing uses shows as used "0", as in kube.
func (u *usage) zero(tracks func(string) bool) {
	for name := range u.hard {
		if tracks(name) {
			u.used[name] = quantity.Quantity{}
		}
	}
}

func (u *usage) set(name string, v quantity.Quantity) {
	if u.limited(name) {
		u.used[name] = v
	}
}

// add adds each limited resource of l to the usage.
func (u *usage) add(l quantity.List) {
	for name, v := range l {
		if u.limited(name) {
			u.used[name] = u.used[name].Add(v)
		}
	}
}

// decode decodes each raw object into a new T, sorted by name so that sums (written in
// their first term's format) do not depend on the order the host listed the objects in.
func decode[T any](what string, list []json.RawMessage, name func(*T) string) ([]*T, error) {
	out := make([]*T, 0, len(list))
	for _, raw := range list {
		v := new(T)
		if err := json.Unmarshal(raw, v); err != nil {
			return nil, fmt.Errorf("decode %s: %w", what, err)
		}
		out = append(out, v)
	}
	slices.SortStableFunc(out, func(a, b *T) int { return strings.Compare(name(a), name(b)) })
	return out, nil
}

// Pods' resource names.
const (
	resPods        = "pods"
	resCountPods   = "count/pods"
	requestsPrefix = "requests."
	limitsPrefix   = "limits."
	hugePagesPref  = "hugepages-"
)

// computeNames are the compute resources quota tracks under their own name, requests.<name>
// and limits.<name>.
var computeNames = []string{"cpu", "memory", "ephemeral-storage"}

// tracksPod reports whether name is a resource the pod evaluator tracks.
func tracksPod(name string) bool {
	switch name {
	case resPods, resCountPods:
		return true
	}
	for _, c := range computeNames {
		if name == c || name == requestsPrefix+c || name == limitsPrefix+c {
			return true
		}
	}
	if strings.HasPrefix(name, hugePagesPref) || strings.HasPrefix(name, requestsPrefix+hugePagesPref) {
		return true
	}
	// Extended resources are limited by their requests only.
	r, ok := strings.CutPrefix(name, requestsPrefix)
	return ok && isExtended(r)
}

// isExtended reports whether name is an extended resource ("example.com/gpu"): one with a
// domain other than kubernetes.io's, which kube quotas by requests only.
func isExtended(name string) bool {
	domain, _, ok := strings.Cut(name, "/")
	if !ok || strings.HasPrefix(name, requestsPrefix) {
		return false
	}
	return domain != "kubernetes.io" && !strings.HasSuffix(domain, ".kubernetes.io")
}

// pods charges the pods matching the scopes; it returns how long until a pod being
// deleted stops being charged, if one is.
func (u *usage) pods(list []json.RawMessage, scopes []ScopeRequirement, now time.Time) (time.Duration, error) {
	u.zero(tracksPod)
	pods, err := decode("pod", list, func(p *pod) string { return p.Metadata.Name })
	if err != nil {
		return 0, err
	}
	var wait time.Duration
	for _, p := range pods {
		if !p.matchesAll(scopes) {
			continue
		}
		// count/pods counts every pod in storage, even finished ones.
		u.add(quantity.List{resCountPods: quantity.New(1, quantity.DecimalSI)})
		charged, left := p.charged(now)
		if left > 0 && (wait == 0 || left < wait) {
			wait = left
		}
		if !charged {
			continue
		}
		u.add(p.usage())
	}
	return wait, nil
}

// services counts services, node ports and load balancers.
func (u *usage) services(list []json.RawMessage, scoped bool) error {
	names := []string{"services", "count/services", "services.nodeports", "services.loadbalancers"}
	u.zero(func(n string) bool { return slices.Contains(names, n) })
	if scoped {
		return nil
	}
	svcs, err := decode("service", list, func(s *service) string { return s.Metadata.Name })
	if err != nil {
		return err
	}
	for _, s := range svcs {
		l := quantity.List{"services": one, "count/services": one}
		switch s.Spec.Type {
		case "NodePort":
			l["services.nodeports"] = quantity.New(int64(len(s.Spec.Ports)), quantity.DecimalSI)
		case "LoadBalancer":
			l["services.loadbalancers"] = one
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
		u.add(l)
	}
	return nil
}

var one = quantity.New(1, quantity.DecimalSI)

type service struct {
	Metadata workload.Meta `json:"metadata"`
	Spec     struct {
		Type                          string `json:"type,omitempty"`
		AllocateLoadBalancerNodePorts *bool  `json:"allocateLoadBalancerNodePorts,omitempty"`
		Ports                         []struct {
			NodePort int32 `json:"nodePort,omitempty"`
		} `json:"ports,omitempty"`
	} `json:"spec"`
}

// Storage class resource names: <class>.storageclass.storage.k8s.io/<resource>.
const (
	storageClassSuffix  = ".storageclass.storage.k8s.io/"
	resClaims           = "persistentvolumeclaims"
	resRequestsStorage  = "requests.storage"
	betaStorageClassAnn = "volume.beta.kubernetes.io/storage-class"
)

// claims counts claims and the storage they request, in all and per storage class.
func (u *usage) claims(list []json.RawMessage, scoped bool) error {
	u.zero(func(n string) bool {
		if n == resClaims || n == "count/persistentvolumeclaims" || n == resRequestsStorage {
			return true
		}
		_, r, ok := strings.Cut(n, storageClassSuffix)
		return ok && (r == resClaims || r == resRequestsStorage)
	})
	if scoped {
		return nil
	}
	pvcs, err := decode("persistentvolumeclaim", list, func(c *claim) string { return c.Metadata.Name })
	if err != nil {
		return err
	}
	for _, c := range pvcs {
		l := quantity.List{resClaims: one, "count/persistentvolumeclaims": one}
		class := c.Metadata.Annotations[betaStorageClassAnn]
		if class == "" && c.Spec.StorageClassName != nil {
			class = *c.Spec.StorageClassName
		}
		if class != "" {
			l[class+storageClassSuffix+resClaims] = one
		}
		if req, ok := c.Spec.Resources.Requests["storage"]; ok {
			// A claim whose expansion was allocated more than it now asks for is charged
			// the allocation; storage is charged in whole bytes.
			if alloc, ok := c.Status.AllocatedResources["storage"]; ok && alloc.Cmp(req) > 0 {
				req = alloc
			}
			req = req.RoundUp()
			l[resRequestsStorage] = req
			if class != "" {
				l[class+storageClassSuffix+resRequestsStorage] = req
			}
		}
		u.add(l)
	}
	return nil
}

type claim struct {
	Metadata workload.Meta `json:"metadata"`
	Spec     struct {
		StorageClassName *string `json:"storageClassName,omitempty"`
		Resources        struct {
			Requests quantity.List `json:"requests,omitempty"`
		} `json:"resources"`
	} `json:"spec"`
	Status struct {
		AllocatedResources quantity.List `json:"allocatedResources,omitempty"`
	} `json:"status"`
}
