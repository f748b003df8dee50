package quota

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/tugboat-io/tug/plugins/internal/quantity"
	"github.com/tugboat-io/tug/sdk/go/labels"
)

// Pod is what quota reads of a pod.
type Pod struct {
	Metadata struct {
		Name                       string            `json:"name"`
		Annotations                map[string]string `json:"annotations,omitempty"`
		DeletionTimestamp          *time.Time        `json:"deletionTimestamp,omitempty"`
		DeletionGracePeriodSeconds *int64            `json:"deletionGracePeriodSeconds,omitempty"`
	} `json:"metadata"`
	Spec struct {
		Containers            []Container   `json:"containers,omitempty"`
		InitContainers        []Container   `json:"initContainers,omitempty"`
		Overhead              quantity.List `json:"overhead,omitempty"`
		Resources             *Resources    `json:"resources,omitempty"`
		ActiveDeadlineSeconds *int64        `json:"activeDeadlineSeconds,omitempty"`
		PriorityClassName     string        `json:"priorityClassName,omitempty"`
		Affinity              *affinity     `json:"affinity,omitempty"`
	} `json:"spec"`
	Status struct {
		Phase string `json:"phase,omitempty"`
	} `json:"status"`
}

// Container is what quota reads of a container.
type Container struct {
	Name          string    `json:"name"`
	RestartPolicy string    `json:"restartPolicy,omitempty"`
	Resources     Resources `json:"resources"`
}

// Resources are a container's (or the pod's) requests and limits.
type Resources struct {
	Requests quantity.List `json:"requests,omitempty"`
	Limits   quantity.List `json:"limits,omitempty"`
}

type affinity struct {
	PodAffinity     *podAffinity `json:"podAffinity,omitempty"`
	PodAntiAffinity *podAffinity `json:"podAntiAffinity,omitempty"`
}

// podAffinity is the part of pod (anti-)affinity the CrossNamespacePodAffinity scope reads:
// whether any term reaches beyond the pod's namespace.
type podAffinity struct {
	Required  []affinityTerm `json:"requiredDuringSchedulingIgnoredDuringExecution,omitempty"`
	Preferred []weightedTerm `json:"preferredDuringSchedulingIgnoredDuringExecution,omitempty"`
}

type weightedTerm struct {
	Term affinityTerm `json:"podAffinityTerm"`
}

type affinityTerm struct {
	Namespaces []string `json:"namespaces,omitempty"`
	// NamespaceSelector is the selector as it was written, nil when it is not set: only
	// whether it is set matters.
	NamespaceSelector json.RawMessage `json:"namespaceSelector,omitempty"`
}

func (t *affinityTerm) crossNamespace() bool {
	return len(t.Namespaces) > 0 || t.NamespaceSelector != nil
}

// Charged reports whether the pod is charged compute resources: not finished, and not
// stuck terminating past its grace period (a lost node's pods must not block their
// replacements). For a pod still within its grace, it also says how long until it is not.
func (p *Pod) Charged(now time.Time) (bool, time.Duration) {
	if p.Status.Phase == "Succeeded" || p.Status.Phase == "Failed" {
		return false, 0
	}
	if d, g := p.Metadata.DeletionTimestamp, p.Metadata.DeletionGracePeriodSeconds; d != nil && g != nil {
		end := d.Add(time.Duration(*g) * time.Second)
		if now.After(end) {
			return false, 0
		}
		// A deadline needs a clock: a host without one (zero now) is not asked to wait.
		if !now.IsZero() {
			// Charged until strictly after the end, as kube compares: come back just then.
			return true, end.Sub(now) + time.Millisecond
		}
	}
	return true, 0
}

// Usage is what a charged pod uses: a pod, and its requests and limits under their quota
// names.
func (p *Pod) Usage() quantity.List {
	reqs, lims := p.Requests(), p.Limits()
	u := quantity.List{ResPods: One}
	for _, c := range computeQuotaNames {
		if v, ok := reqs[c.name]; ok {
			u[c.name] = v
			u[c.requests] = v
		}
		if v, ok := lims[c.name]; ok {
			u[c.limits] = v
		}
	}
	for name, v := range reqs {
		switch {
		case strings.HasPrefix(name, HugePagesPrefix):
			u[name] = v
			u[RequestsPrefix+name] = v
		case IsExtended(name):
			u[RequestsPrefix+name] = v
		}
	}
	return u
}

// Requests are the pod's effective requests: per resource the larger of what its
// containers run with together and what its largest init container needs (with the
// sidecars started before it), pod-level requests where set, plus the overhead.
func (p *Pod) Requests() quantity.List {
	l := p.aggregate(func(r *Resources) quantity.List { return r.Requests })
	if p.Spec.Resources != nil {
		podLevel(l, p.Spec.Resources.Requests)
	}
	l.Add(p.Spec.Overhead)
	return l
}

// Limits are the pod's effective limits, aggregated as requests are; the overhead adds
// only to resources that have a limit (an unlimited resource stays unlimited).
func (p *Pod) Limits() quantity.List {
	l := p.aggregate(func(r *Resources) quantity.List { return r.Limits })
	if p.Spec.Resources != nil {
		podLevel(l, p.Spec.Resources.Limits)
	}
	for name, v := range p.Spec.Overhead {
		if cur, ok := l[name]; ok {
			l[name] = cur.Add(v)
		}
	}
	return l
}

// podLevel lets pod-level resources (spec.resources) stand for the containers' in the
// resources kube allows there.
func podLevel(l, pod quantity.List) {
	for _, name := range []string{"cpu", "memory"} {
		if v, ok := pod[name]; ok {
			l[name] = v
		}
	}
}

func (p *Pod) aggregate(of func(*Resources) quantity.List) quantity.List {
	sum := quantity.List{}
	for i := range p.Spec.Containers {
		sum.Add(of(&p.Spec.Containers[i].Resources))
	}
	if len(p.Spec.InitContainers) == 0 {
		return sum // most pods: no lists to make for init containers
	}
	sidecars, init := quantity.List{}, quantity.List{}
	for i := range p.Spec.InitContainers {
		c := &p.Spec.InitContainers[i]
		var need quantity.List
		if c.RestartPolicy == "Always" {
			// A sidecar runs alongside everything after it, the app containers included.
			sum.Add(of(&c.Resources))
			sidecars.Add(of(&c.Resources))
			need = sidecars
		} else {
			need = of(&c.Resources).Clone()
			need.Add(sidecars)
		}
		init.Max(need)
	}
	sum.Max(init)
	return sum
}

// BestEffort reports whether the pod's QoS class is BestEffort: no container (nor the pod)
// requests or limits any cpu or memory.
func (p *Pod) BestEffort() bool {
	positive := func(l quantity.List) bool {
		return l["cpu"].Sign() > 0 || l["memory"].Sign() > 0
	}
	all := append(append([]Container(nil), p.Spec.Containers...), p.Spec.InitContainers...)
	for _, c := range all {
		if positive(c.Resources.Requests) || positive(c.Resources.Limits) {
			return false
		}
	}
	return p.Spec.Resources == nil || (!positive(p.Spec.Resources.Requests) && !positive(p.Spec.Resources.Limits))
}

func (p *Pod) crossNamespaceAffinity() bool {
	if p.Spec.Affinity == nil {
		return false
	}
	for _, a := range []*podAffinity{p.Spec.Affinity.PodAffinity, p.Spec.Affinity.PodAntiAffinity} {
		if a == nil {
			continue
		}
		for i := range a.Required {
			if a.Required[i].crossNamespace() {
				return true
			}
		}
		for i := range a.Preferred {
			if a.Preferred[i].Term.crossNamespace() {
				return true
			}
		}
	}
	return false
}

// MatchesAll reports whether the pod is in every scope.
func (p *Pod) MatchesAll(scopes []ScopeRequirement) bool {
	for _, s := range scopes {
		if !p.Matches(s) {
			return false
		}
	}
	return true
}

// Matches reports whether the pod is in one scope; an unknown scope holds no pod.
func (p *Pod) Matches(s ScopeRequirement) bool {
	terminating := p.Spec.ActiveDeadlineSeconds != nil && *p.Spec.ActiveDeadlineSeconds >= 0
	switch s.ScopeName {
	case "Terminating":
		return terminating
	case "NotTerminating":
		return !terminating
	case "BestEffort":
		return p.BestEffort()
	case "NotBestEffort":
		return !p.BestEffort()
	case "CrossNamespacePodAffinity":
		return p.crossNamespaceAffinity()
	case "PriorityClass":
		if s.Operator == "Exists" {
			return p.Spec.PriorityClassName != ""
		}
		// As a label selector on {PriorityClass: <name>}: the key is always there, so
		// DoesNotExist holds no pod and NotIn holds pods without a class — as in kube.
		sel := &labels.Selector{MatchExpressions: []labels.Requirement{{Key: s.ScopeName, Operator: s.Operator, Values: s.Values}}}
		return sel.Matches(map[string]string{s.ScopeName: p.Spec.PriorityClassName})
	}
	return false
}
