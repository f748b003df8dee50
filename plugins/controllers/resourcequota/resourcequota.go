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
// What each object is charged is package quota's (plugins/internal/quota), which the
// ResourceQuota admission policy charges creates with.
package resourcequota

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tugboat-io/tug/plugins/internal/quantity"
	"github.com/tugboat-io/tug/plugins/internal/quota"
	tug "github.com/tugboat-io/tug/sdk/go"
)

// Keys of the related objects this controller counts.
var (
	PodKey                   = quota.PodKey
	ServiceKey               = quota.ServiceKey
	ConfigMapKey             = quota.ConfigMapKey
	SecretKey                = quota.SecretKey
	PersistentVolumeClaimKey = quota.PersistentVolumeClaimKey
	ReplicationControllerKey = quota.ReplicationControllerKey
	ResourceQuotaKey         = quota.ResourceQuotaKey
)

// Status is the quota's status.
type Status = quota.Status

// Reconcile decides one ResourceQuota's status.
func Reconcile(req *tug.ReconcileRequest) (*tug.ReconcileResult, error) {
	var q quota.ResourceQuota
	if err := req.DecodeParent(&q); err != nil {
		return nil, err
	}
	scopes := q.Scopes()

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
	for _, c := range quota.Counted {
		if list, ok := req.Related[c.Key]; ok {
			n := len(list)
			if scoped {
				n = 0
			}
			for _, name := range c.Names {
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
		v, err := quota.Decode[T](raw)
		if err != nil {
			return nil, fmt.Errorf("decode %s: %w", what, err)
		}
		out = append(out, v)
	}
	slices.SortStableFunc(out, func(a, b *T) int { return strings.Compare(name(a), name(b)) })
	return out, nil
}

// pods charges the pods matching the scopes; it returns how long until a pod being
// deleted stops being charged, if one is.
func (u *usage) pods(list []json.RawMessage, scopes []quota.ScopeRequirement, now time.Time) (time.Duration, error) {
	u.zero(quota.TracksPod)
	pods, err := decode("pod", list, func(p *quota.Pod) string { return p.Metadata.Name })
	if err != nil {
		return 0, err
	}
	var wait time.Duration
	for _, p := range pods {
		if !p.MatchesAll(scopes) {
			continue
		}
		// count/pods counts every pod in storage, even finished ones.
		u.add(quantity.List{quota.ResCountPods: quota.One})
		charged, left := p.Charged(now)
		if left > 0 && (wait == 0 || left < wait) {
			wait = left
		}
		if !charged {
			continue
		}
		u.add(p.Usage())
	}
	return wait, nil
}

// services counts services, node ports and load balancers.
func (u *usage) services(list []json.RawMessage, scoped bool) error {
	u.zero(quota.TracksService)
	if scoped {
		return nil
	}
	svcs, err := decode("service", list, func(s *quota.Service) string { return s.Metadata.Name })
	if err != nil {
		return err
	}
	for _, s := range svcs {
		u.add(s.Usage())
	}
	return nil
}

// claims counts claims and the storage they request, in all and per storage class.
func (u *usage) claims(list []json.RawMessage, scoped bool) error {
	u.zero(quota.TracksClaim)
	if scoped {
		return nil
	}
	pvcs, err := decode("persistentvolumeclaim", list, func(c *quota.Claim) string { return c.Metadata.Name })
	if err != nil {
		return err
	}
	for _, c := range pvcs {
		u.add(c.Usage())
	}
	return nil
}
