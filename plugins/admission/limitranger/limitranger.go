package limitranger

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/tugboat-io/tug/plugins/admission/internal/policy"
	"github.com/tugboat-io/tug/plugins/internal/quantity"
	"github.com/tugboat-io/tug/plugins/internal/quota"
	tug "github.com/tugboat-io/tug/sdk/go"
	"github.com/tugboat-io/tug/sdk/go/jsonread"
)

// LimitRangeKey is the related objects' key of the namespace's LimitRanges.
var LimitRangeKey = tug.ObjectKey("v1", "LimitRange")

// Annotation records on a pod which defaults the policy set, as kube's does.
const Annotation = "kubernetes.io/limit-ranger"

// limitRange is what the policy reads of a LimitRange: its items.
type limitRange struct {
	Limits []item
}

type item struct {
	Type                 string
	Max                  quantity.List
	Min                  quantity.List
	Default              quantity.List
	DefaultRequest       quantity.List
	MaxLimitRequestRatio quantity.List
}

// UnmarshalJSON decodes the LimitRange's spec.limits without reflection, as quota's
// decoders do (the policy reads every LimitRange of the namespace on each pod create).
func (lr *limitRange) UnmarshalJSON(b []byte) error {
	r := jsonread.NewShared(b)
	r.Member("spec", func(r *jsonread.Reader) {
		r.Member("limits", func(r *jsonread.Reader) { lr.Limits = jsonread.List(r, readItem) })
	})
	return r.End()
}

func readItem(r *jsonread.Reader, it *item) {
	if !r.Begin('{') {
		return
	}
	for r.Next('}') {
		switch string(r.Key()) {
		case "type":
			it.Type = r.String()
		case "max":
			it.Max = quantity.ReadList(r)
		case "min":
			it.Min = quantity.ReadList(r)
		case "default":
			it.Default = quantity.ReadList(r)
		case "defaultRequest":
			it.DefaultRequest = quantity.ReadList(r)
		case "maxLimitRequestRatio":
			it.MaxLimitRequestRatio = quantity.ReadList(r)
		default:
			r.Skip()
		}
	}
}

// decoded are the items of the LimitRanges decoded last, by their place in the request:
// they rarely change (see policy.Memo), and a pod create reads them all.
var decoded []policy.Memo[[]item]

// decodeItems decodes a LimitRange's items, with their defaults.
func decodeItems(raw []byte) ([]item, error) {
	lr, err := quota.Decode[limitRange](raw)
	if err != nil {
		return nil, err
	}
	items := make([]item, len(lr.Limits))
	for i, it := range lr.Limits {
		items[i] = it.withDefaults()
	}
	return items, nil
}

// withDefaults is the item as kube's API stores it: a Container item's default limit
// falls back to its max, its default request to the default limit, then to the min.
func (it item) withDefaults() item {
	if it.Type != "Container" {
		return it
	}
	it.Default, it.DefaultRequest = it.Default.Clone(), it.DefaultRequest.Clone()
	fill := func(dst, src quantity.List) {
		for k, v := range src {
			if _, ok := dst[k]; !ok {
				dst[k] = v
			}
		}
	}
	fill(it.Default, it.Max)
	fill(it.DefaultRequest, it.Default)
	fill(it.DefaultRequest, it.Min)
	return it
}

// Admit applies the policy.
func Admit(req *tug.AdmissionRequest) *tug.AdmissionResponse {
	if req.SubResource != "" || req.Resource.Group != "" || (req.Operation != "CREATE" && req.Operation != "UPDATE") {
		return tug.Allow()
	}
	isPod := req.Resource.Resource == "pods"
	if !(isPod && req.Operation == "CREATE") && req.Resource.Resource != "persistentvolumeclaims" {
		return tug.Allow()
	}
	raws := req.RelatedObjects(LimitRangeKey)
	if len(raws) == 0 {
		return tug.Allow()
	}
	for len(decoded) < len(raws) {
		decoded = append(decoded, policy.Memo[[]item]{})
	}
	var items []item
	for i, raw := range raws {
		its, err := decoded[i].Get(raw, decodeItems)
		if err != nil {
			return tug.DenyStatus(500, "InternalError", fmt.Sprintf("decode limit range: %v", err))
		}
		items = append(items, its...)
	}
	if isPod {
		return admitPod(req, items)
	}
	return admitClaim(req, items)
}

func admitPod(req *tug.AdmissionRequest, items []item) *tug.AdmissionResponse {
	p, err := quota.Decode[quota.Pod](req.Object)
	if err != nil {
		return tug.DenyStatus(400, "BadRequest", fmt.Sprintf("decode pod: %v", err))
	}
	var annotations []string
	resp := tug.Allow()
	// Defaults: later LimitRanges' Container items override earlier ones', as kube merges.
	defLim, defReq := quantity.List{}, quantity.List{}
	for _, it := range items {
		if it.Type == "Container" {
			for k, v := range it.DefaultRequest {
				defReq[k] = v
			}
			for k, v := range it.Default {
				defLim[k] = v
			}
		}
	}
	merge := func(field, what string, cs []quota.Container) {
		for i := range cs {
			c := &cs[i]
			base := tug.JSONPointer("spec", field, strconv.Itoa(i), "resources")
			// Without either list the container may have no resources object at all.
			have := c.Resources.Limits != nil || c.Resources.Requests != nil
			setLim := fill(resp, base, "limits", &c.Resources.Limits, defLim, &have)
			setReq := fill(resp, base, "requests", &c.Resources.Requests, defReq, &have)
			if len(setReq) > 0 {
				annotations = append(annotations, strings.Join(setReq, ", ")+" request for "+what+" "+c.Name)
			}
			if len(setLim) > 0 {
				annotations = append(annotations, strings.Join(setLim, ", ")+" limit for "+what+" "+c.Name)
			}
		}
	}
	merge("containers", "container", p.Spec.Containers)
	merge("initContainers", "init container", p.Spec.InitContainers)
	if len(annotations) > 0 {
		v := "LimitRanger plugin set: " + strings.Join(annotations, "; ")
		if p.Metadata.Annotations == nil {
			resp.Add("/metadata/annotations", map[string]string{Annotation: v})
		} else {
			resp.Add(tug.JSONPointer("metadata", "annotations", Annotation), v)
		}
	}

	var errs []string
	for _, it := range items {
		switch it.Type {
		case "Container":
			for _, cs := range [][]quota.Container{p.Spec.Containers, p.Spec.InitContainers} {
				for i := range cs {
					errs = check(errs, it, &cs[i].Resources.Requests, &cs[i].Resources.Limits)
				}
			}
		case "Pod":
			reqs, lims := p.Requests(), p.Limits()
			errs = check(errs, it, &reqs, &lims)
		}
	}
	if len(errs) > 0 {
		return policy.Forbidden(req, aggregate(errs))
	}
	return resp
}

// fill sets the defaults a container's list lacks and adds the patch that does; it answers
// the names it set, sorted. have says whether the resources object is known to exist; if
// not, the list is added inside a new one.
func fill(resp *tug.AdmissionResponse, base, list string, l *quantity.List, defaults quantity.List, have *bool) []string {
	var set []string
	for k := range defaults {
		if _, ok := (*l)[k]; !ok {
			set = append(set, k)
		}
	}
	if len(set) == 0 {
		return nil
	}
	slices.Sort(set)
	existed := *l != nil
	if !existed {
		*l = quantity.List{}
	}
	for _, k := range set {
		(*l)[k] = defaults[k]
	}
	switch {
	case !existed && !*have:
		resp.Add(base, map[string]any{list: *l})
		*have = true
	case !existed:
		resp.Add(base+"/"+list, *l)
	default:
		for _, k := range set {
			resp.Add(base+"/"+list+tug.JSONPointer(k), defaults[k])
		}
	}
	return set
}

// check adds the violations of an item's min, max and ratio by the requests and limits,
// with kube's messages, in resource name order.
func check(errs []string, it item, reqs, lims *quantity.List) []string {
	for _, k := range sortedKeys(it.Min) {
		errs = appendErr(errs, minConstraint(it.Type, k, it.Min[k], *reqs, *lims))
	}
	for _, k := range sortedKeys(it.Max) {
		errs = appendErr(errs, maxConstraint(it.Type, k, it.Max[k], *reqs, *lims))
	}
	for _, k := range sortedKeys(it.MaxLimitRequestRatio) {
		errs = appendErr(errs, ratioConstraint(it.Type, k, it.MaxLimitRequestRatio[k], *reqs, *lims))
	}
	return errs
}

func admitClaim(req *tug.AdmissionRequest, items []item) *tug.AdmissionResponse {
	c, err := quota.Decode[quota.Claim](req.Object)
	if err != nil {
		return tug.DenyStatus(400, "BadRequest", fmt.Sprintf("decode persistentvolumeclaim: %v", err))
	}
	reqs := c.Spec.Resources.Requests
	var errs []string
	for _, it := range items {
		if it.Type != "PersistentVolumeClaim" {
			continue
		}
		for _, k := range sortedKeys(it.Min) {
			errs = appendErr(errs, minConstraint(it.Type, k, it.Min[k], reqs, nil))
		}
		// A claim's max is enforced against what it requests: claims have no limits.
		for _, k := range sortedKeys(it.Max) {
			enforced := it.Max[k]
			r, ok := reqs[k]
			switch {
			case !ok:
				errs = appendErr(errs, fmt.Sprintf("maximum %s usage per %s is %s.  No request is specified", k, it.Type, enforced))
			case cmp(r, enforced) > 0:
				errs = appendErr(errs, fmt.Sprintf("maximum %s usage per %s is %s, but request is %s", k, it.Type, enforced, r))
			}
		}
	}
	if len(errs) > 0 {
		return policy.Forbidden(req, aggregate(errs))
	}
	return tug.Allow()
}

func minConstraint(typ, k string, enforced quantity.Quantity, reqs, lims quantity.List) string {
	r, rok := reqs[k]
	l, lok := lims[k]
	switch {
	case !rok:
		return fmt.Sprintf("minimum %s usage per %s is %s.  No request is specified", k, typ, enforced)
	case cmp(r, enforced) < 0:
		return fmt.Sprintf("minimum %s usage per %s is %s, but request is %s", k, typ, enforced, r)
	case lok && cmp(l, enforced) < 0:
		return fmt.Sprintf("minimum %s usage per %s is %s, but limit is %s", k, typ, enforced, l)
	}
	return ""
}

func maxConstraint(typ, k string, enforced quantity.Quantity, reqs, lims quantity.List) string {
	r, rok := reqs[k]
	l, lok := lims[k]
	switch {
	case !lok:
		return fmt.Sprintf("maximum %s usage per %s is %s.  No limit is specified", k, typ, enforced)
	case cmp(l, enforced) > 0:
		return fmt.Sprintf("maximum %s usage per %s is %s, but limit is %s", k, typ, enforced, l)
	case rok && cmp(r, enforced) > 0:
		return fmt.Sprintf("maximum %s usage per %s is %s, but request is %s", k, typ, enforced, r)
	}
	return ""
}

func ratioConstraint(typ, k string, enforced quantity.Quantity, reqs, lims quantity.List) string {
	r, rok := reqs[k]
	l, lok := lims[k]
	rm, _ := r.MilliValue()
	lm, _ := l.MilliValue()
	if !rok || rm == 0 {
		return fmt.Sprintf("%s max limit to request ratio per %s is %s, but no request is specified or request is 0", k, typ, enforced)
	}
	if !lok || lm == 0 {
		return fmt.Sprintf("%s max limit to request ratio per %s is %s, but no limit is specified or limit is 0", k, typ, enforced)
	}
	observed := float64(lm) / float64(rm)
	em, _ := enforced.MilliValue()
	if observed*1000 > float64(em) {
		return fmt.Sprintf("%s max limit to request ratio per %s is %s, but provided ratio is %f", k, typ, enforced, observed)
	}
	return ""
}

// cmp compares as kube does: in thousandths where they fit (so a value finer than that
// rounds up before comparing), exactly otherwise.
func cmp(a, b quantity.Quantity) int {
	am, aok := a.MilliValue()
	bm, bok := b.MilliValue()
	if !aok || !bok {
		return a.Cmp(b)
	}
	switch {
	case am < bm:
		return -1
	case am > bm:
		return 1
	}
	return 0
}

func appendErr(errs []string, msg string) []string {
	if msg == "" || slices.Contains(errs, msg) {
		return errs
	}
	return append(errs, msg)
}

// aggregate joins messages as kube's error aggregate does: one alone, several in brackets.
func aggregate(errs []string) string {
	if len(errs) == 1 {
		return errs[0]
	}
	return "[" + strings.Join(errs, ", ") + "]"
}

func sortedKeys(l quantity.List) []string {
	keys := make([]string, 0, len(l))
	for k := range l {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
