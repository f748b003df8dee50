package resourcequota

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tugboat-io/tug/plugins/admission/internal/policy"
	"github.com/tugboat-io/tug/plugins/internal/quantity"
	"github.com/tugboat-io/tug/plugins/internal/quota"
	tug "github.com/tugboat-io/tug/sdk/go"
	"github.com/tugboat-io/tug/sdk/go/jsonwrite"
)

// Admit applies the policy: on a create, what the object consumes is charged to every
// quota of the namespace that covers it, or the create is refused.
func Admit(req *tug.AdmissionRequest) *tug.AdmissionResponse {
	// Updates and deletes change usage too, but the controller recalculates from the
	// objects themselves; only creates can push a namespace past its limit at once.
	if req.Operation != "CREATE" || req.Namespace == "" || req.SubResource != "" {
		return tug.Allow()
	}
	raws := req.RelatedObjects(quota.ResourceQuotaKey)
	if len(raws) == 0 {
		return tug.Allow()
	}
	ev, err := evaluatorFor(req)
	if err != nil {
		return tug.DenyStatus(400, "BadRequest", err.Error())
	}
	quotas := make([]*quota.ResourceQuota, 0, len(raws))
	for _, raw := range raws {
		q, err := quota.Decode[quota.ResourceQuota](raw)
		if err != nil {
			return tug.DenyStatus(500, "InternalError", fmt.Sprintf("decode resource quota: %v", err))
		}
		quotas = append(quotas, q)
	}
	// kube reads quotas from a lister, in name order; the first to refuse is the one named.
	slices.SortFunc(quotas, func(a, b *quota.ResourceQuota) int { return strings.Compare(a.Metadata.Name, b.Metadata.Name) })

	var covering []*quota.ResourceQuota
	for _, q := range quotas {
		scopes := q.Scopes()
		if !ev.matches(scopes) {
			continue
		}
		var limited []string
		for name := range q.Spec.Hard {
			if ev.tracks(name) {
				limited = append(limited, name)
			}
		}
		if len(limited) == 0 {
			continue
		}
		if msg := ev.constraints(limited); msg != "" {
			return policy.Forbidden(req, fmt.Sprintf("failed quota: %s: %s", q.Metadata.Name, msg))
		}
		covering = append(covering, q)
	}
	if len(covering) == 0 {
		return tug.Allow()
	}
	delta := ev.usage()
	for name, v := range delta {
		if v.IsZero() {
			delete(delta, name)
		}
	}
	if len(delta) == 0 {
		return tug.Allow()
	}

	resp := tug.Allow()
	for _, q := range covering {
		requested := quantity.List{}
		for name, v := range delta {
			if _, ok := q.Spec.Hard[name]; ok {
				requested[name] = v
			}
		}
		if len(requested) == 0 {
			continue
		}
		// A quota the controller has not processed yet has no usage: it counts from 0.
		used := quantity.List{}
		for name, v := range q.Status.Used {
			if _, ok := q.Spec.Hard[name]; ok {
				used[name] = v
			}
		}
		var exceeded []string
		for name, v := range requested {
			n := used[name].Add(v)
			used[name] = n
			if n.Cmp(q.Spec.Hard[name]) > 0 {
				exceeded = append(exceeded, name)
			}
		}
		if len(exceeded) > 0 {
			slices.Sort(exceeded)
			return policy.Forbidden(req, fmt.Sprintf("exceeded quota: %s, requested: %s, used: %s, limited: %s",
				q.Metadata.Name, pretty(requested, exceeded), pretty(q.Status.Used, exceeded), pretty(q.Spec.Hard, exceeded)))
		}
		resp.UpdateStatus(statusUpdate(req.Namespace, q, used))
	}
	return resp
}

// statusUpdate is a quota as the host takes it back — which one, at which resourceVersion,
// with what status — written as JSON directly: through encoding/json (or even the SDK's
// writer of maps) it was a fifth of the policy's time in wasm.
func statusUpdate(namespace string, q *quota.ResourceQuota, used quantity.List) json.RawMessage {
	b := append(make([]byte, 0, 512), `{"apiVersion":"v1","kind":"ResourceQuota","metadata":{"namespace":`...)
	b = jsonwrite.AppendString(b, namespace)
	b = jsonwrite.AppendString(append(b, `,"name":`...), q.Metadata.Name)
	if v := q.Metadata.ResourceVersion; v != "" {
		b = jsonwrite.AppendString(append(b, `,"resourceVersion":`...), v)
	}
	b = quota.Status{Hard: q.Spec.Hard, Used: used}.AppendJSON(append(b, `},"status":`...))
	return append(b, '}')
}

// pretty writes the named resources of l as kube's quota messages do: "a=1,b=2", sorted.
func pretty(l quantity.List, names []string) string {
	parts := make([]string, 0, len(names))
	for _, n := range names {
		v, ok := l[n]
		if !ok {
			v = quantity.Quantity{}
		}
		parts = append(parts, n+"="+v.String())
	}
	return strings.Join(parts, ",")
}

// evaluator is what quota knows of one kind of object: which resources it tracks, whether a
// quota's scopes cover it, what it must specify, and what it consumes.
type evaluator struct {
	tracks      func(name string) bool
	matches     func(scopes []quota.ScopeRequirement) bool
	constraints func(limited []string) string
	usage       func() quantity.List
}

// noScope is the scope check of every kind but pods: a scoped quota covers none of them.
func noScope(scopes []quota.ScopeRequirement) bool { return len(scopes) == 0 }

func noConstraints([]string) string { return "" }

func evaluatorFor(req *tug.AdmissionRequest) (*evaluator, error) {
	gr := req.Resource
	if gr.Group == "" {
		switch gr.Resource {
		case "pods":
			return podEvaluator(req)
		case "services":
			s, err := quota.Decode[quota.Service](req.Object)
			if err != nil {
				return nil, fmt.Errorf("decode service: %w", err)
			}
			return &evaluator{tracks: quota.TracksService, matches: noScope, constraints: noConstraints, usage: s.Usage}, nil
		case "persistentvolumeclaims":
			c, err := quota.Decode[quota.Claim](req.Object)
			if err != nil {
				return nil, fmt.Errorf("decode persistentvolumeclaim: %w", err)
			}
			return &evaluator{tracks: quota.TracksClaim, matches: noScope, constraints: noConstraints, usage: c.Usage}, nil
		}
	}
	// Every other kind is counted, under count/<resource>[.<group>] and, for the kinds
	// quota counted before that form existed, their bare resource name.
	names := []string{"count/" + gr.Resource}
	if gr.Group != "" {
		names[0] += "." + gr.Group
	} else {
		for _, c := range quota.Counted {
			if slices.Contains(c.Names, names[0]) {
				names = c.Names
			}
		}
	}
	return &evaluator{
		tracks:      func(n string) bool { return slices.Contains(names, n) },
		matches:     noScope,
		constraints: noConstraints,
		usage: func() quantity.List {
			l := quantity.List{}
			for _, n := range names {
				l[n] = quota.One
			}
			return l
		},
	}, nil
}

// computeRequired are the resources a pod's every container must set when a quota
// limits them: kube's backward-compatible rule from before QoS classes, kept for cpu and
// memory only.
var computeRequired = []string{"cpu", "memory", "requests.cpu", "requests.memory", "limits.cpu", "limits.memory"}

func podEvaluator(req *tug.AdmissionRequest) (*evaluator, error) {
	p, err := quota.Decode[quota.Pod](req.Object)
	if err != nil {
		return nil, fmt.Errorf("decode pod: %w", err)
	}
	return &evaluator{
		tracks:  quota.TracksPod,
		matches: p.MatchesAll,
		constraints: func(limited []string) string {
			var missing map[string][]string // made on the first container that misses one
			check := func(cs []quota.Container) {
				for i := range cs {
					c := &cs[i]
					for _, name := range limited {
						if !slices.Contains(computeRequired, name) {
							continue
						}
						if !setsResource(&c.Resources, name) && !slices.Contains(missing[name], c.Name) {
							if missing == nil {
								missing = map[string][]string{}
							}
							missing[name] = append(missing[name], c.Name)
						}
					}
				}
			}
			check(p.Spec.Containers)
			check(p.Spec.InitContainers)
			if len(missing) == 0 {
				return ""
			}
			names := make([]string, 0, len(missing))
			for n := range missing {
				names = append(names, n)
			}
			slices.Sort(names)
			parts := make([]string, 0, len(names))
			for _, n := range names {
				cs := missing[n]
				slices.Sort(cs)
				parts = append(parts, n+" for: "+strings.Join(cs, ","))
			}
			return "must specify " + strings.Join(parts, "; ")
		},
		usage: func() quantity.List {
			u := quantity.List{quota.ResCountPods: quota.One}
			// A pod being created is neither finished nor being deleted: always charged.
			if ok, _ := p.Charged(time.Time{}); ok {
				u.Add(p.Usage())
			}
			return u
		},
	}, nil
}

// setsResource reports whether a container's own requests and limits give the quota
// resource name a value: cpu and requests.cpu come from the request, limits.cpu from the
// limit.
func setsResource(r *quota.Resources, name string) bool {
	if n, ok := strings.CutPrefix(name, quota.LimitsPrefix); ok {
		_, set := r.Limits[n]
		return set
	}
	n := strings.TrimPrefix(name, quota.RequestsPrefix)
	_, set := r.Requests[n]
	return set
}
