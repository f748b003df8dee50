package admission

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/uuid"

	"github.com/tugboat-io/tug/core/api"
	pluginsv1alpha1 "github.com/tugboat-io/tug/core/api/plugins/v1alpha1"
	"github.com/tugboat-io/tug/core/apiserver"
	"github.com/tugboat-io/tug/hostabi"
	tugruntime "github.com/tugboat-io/tug/runtime"
)

// Plugin is a loaded admission plugin: a runtime slot.
type Plugin interface {
	Call(ctx context.Context, export string, input []byte) ([]byte, hostabi.Status, error)
}

// Reader reads what policies declare they read.
type Reader interface {
	// Namespace returns the namespace, nil when there is none.
	Namespace(ctx context.Context, name string) (*corev1.Namespace, error)
	// List returns the objects of a kind in a namespace, as JSON.
	List(ctx context.Context, apiVersion, kind, namespace string) ([]json.RawMessage, error)
}

// Config configures a Chain.
type Config struct {
	Reader Reader
	Logger *slog.Logger
	// ServiceAccountTokenVolume makes the built-in ServiceAccount policy, when created,
	// mount a service account token volume into pods (see Builtins).
	ServiceAccountTokenVolume bool
}

// Chain runs the admission policies. It implements apiserver.Admission.
type Chain struct {
	cfg      Config
	log      *slog.Logger
	policies atomic.Pointer[compiled]
	plug     atomic.Pointer[plugins]
	synced   chan struct{}
}

// plugins decide the policies: Builtin those that name no plugin (tug's default admission
// module), lookup the WasmPlugins the others name.
type plugins struct {
	set     bool
	builtin Plugin
	lookup  func(name string) (Plugin, bool)
}

// compiled is one immutable set of policies, in the order they run.
type compiled struct {
	mutating, validating []*policy
}

// New returns a chain with no policies: it admits everything until SetPolicies.
func New(cfg Config) *Chain {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	c := &Chain{cfg: cfg, log: log.With("component", "admission"), synced: make(chan struct{})}
	c.policies.Store(&compiled{})
	c.plug.Store(&plugins{})
	return c
}

// SetPolicies swaps in a new set of policies for the requests that start from now on. A
// policy that cannot be compiled (a selector that does not parse) is left out, with its
// error in the returned map.
func (c *Chain) SetPolicies(ps []pluginsv1alpha1.AdmissionPolicy) map[string]error {
	errs := map[string]error{}
	next := &compiled{}
	for i := range ps {
		p, err := compile(&ps[i])
		if err != nil {
			errs[ps[i].Name] = err
			continue
		}
		if p.mutating {
			next.mutating = append(next.mutating, p)
		} else {
			next.validating = append(next.validating, p)
		}
	}
	for _, list := range [][]*policy{next.mutating, next.validating} {
		slices.SortFunc(list, func(a, b *policy) int {
			if a.order != b.order {
				return int(a.order - b.order)
			}
			return strings.Compare(a.name, b.name)
		})
	}
	c.policies.Store(next)
	return errs
}

// Policies names the policies in effect, mutating then validating, in order.
func (c *Chain) Policies() []string {
	cur := c.policies.Load()
	var names []string
	for _, p := range append(slices.Clone(cur.mutating), cur.validating...) {
		names = append(names, p.name)
	}
	return names
}

// Mutate runs the mutating policies one after the other, each on the object as the ones
// before it left it; each may change req.Object.
func (c *Chain) Mutate(ctx context.Context, req *apiserver.AdmissionRequest) error {
	return c.run(ctx, req, c.policies.Load().mutating)
}

// Validate runs the validating policies. They see the same object and change nothing, so,
// as kube-apiserver calls validating webhooks, they are called at once; their answers are
// then taken in the policies' order, so the first refusal in that order is the one reported.
func (c *Chain) Validate(ctx context.Context, req *apiserver.AdmissionRequest) error {
	list := c.policies.Load().validating
	if len(list) == 0 {
		return nil
	}
	st := newCall(req)
	var invs []*invocation
	for _, p := range list {
		if ok, err := c.selects(ctx, p, st); err != nil || !ok {
			if err != nil {
				return err
			}
			continue
		}
		inv, err := c.prepare(ctx, p, st)
		if err != nil {
			return err
		}
		if inv != nil {
			invs = append(invs, inv)
		}
	}
	var wg sync.WaitGroup
	for _, inv := range invs {
		wg.Go(func() { inv.call(ctx) })
	}
	wg.Wait()
	for _, inv := range invs {
		if err := c.finish(ctx, inv, st); err != nil {
			return err
		}
	}
	req.EncodedOld, req.Encoded = st.oldObject, st.object
	return nil
}

func newCall(req *apiserver.AdmissionRequest) *call {
	st := &call{req: req, object: req.Encoded, oldObject: req.EncodedOld}
	if req.User != nil {
		st.user = hostabi.UserInfo{Username: req.User.Name, UID: req.User.UID, Groups: req.User.Groups, Extra: req.User.Extra}
	}
	return st
}

// call is the state of one request's pass through a list of policies: what is decoded or
// encoded once and shared by the policies that need it.
type call struct {
	req      *apiserver.AdmissionRequest
	nsLabels labels.Set
	nsLoaded bool
	object   json.RawMessage // req.Object encoded; nil until needed, replaced after a patch
	// patched means object is ahead of req.Object: decoding a patched object is the dearest
	// thing the host does for a policy, so it happens once, when req.Object is next read
	// (sync), not after every patch. original and patches are what sync needs if it fails.
	patched  bool
	original json.RawMessage
	patches  []appliedPatch
	// everPatched stays set once a patch applied in this pass, whatever sync did since.
	everPatched bool
	oldObject   json.RawMessage
	user        hostabi.UserInfo
	// namespace is the request's Namespace object encoded, read once for every policy
	// that reads it (NamespaceLifecycle and PodSecurity both do).
	namespace       json.RawMessage
	namespaceLoaded bool
}

func (c *Chain) run(ctx context.Context, req *apiserver.AdmissionRequest, list []*policy) error {
	if len(list) == 0 {
		return nil
	}
	st := newCall(req)
	for _, p := range list {
		if p.objSel != nil {
			// The selector reads req.Object's labels, which an earlier patch may change.
			if err := c.sync(st); err != nil {
				return err
			}
		}
		if ok, err := c.selects(ctx, p, st); err != nil || !ok {
			if err != nil {
				return err
			}
			continue
		}
		if err := c.apply(ctx, p, st); err != nil {
			return err
		}
	}
	if err := c.sync(st); err != nil {
		return err
	}
	// The next phase starts from these encodings. A patched object's JSON is not what
	// encoding its decoded form gives (a dropped unknown field, a quantity written another
	// way), and the next phase must see the object as it will be stored: it encodes again.
	req.EncodedOld = st.oldObject
	req.Encoded = nil
	if !st.everPatched {
		req.Encoded = st.object
	}
	return nil
}

// selects says whether the policy is to be called for the request: it matches, and its
// plugin is not a built-in module this build lacks (SetPlugins said so).
func (c *Chain) selects(ctx context.Context, p *policy, st *call) (bool, error) {
	ok, err := c.matches(ctx, p, st)
	if err != nil {
		return false, apierrors.NewInternalError(fmt.Errorf("admission policy %q: %w", p.name, err))
	}
	if pl := c.plug.Load(); !ok || (p.builtin && pl.set && pl.builtin == nil) {
		return false, nil
	}
	return true, nil
}

func (c *Chain) matches(ctx context.Context, p *policy, st *call) (bool, error) {
	req := st.req
	if !p.matchesRequest(req) {
		return false, nil
	}
	if len(p.groups) > 0 && (req.User == nil || !slices.ContainsFunc(p.groups, req.User.InGroup)) {
		return false, nil
	}
	if p.objSel != nil && !objectLabelsMatch(p.objSel, req.Object, req.OldObject) {
		return false, nil
	}
	if p.nsSel != nil {
		set, scoped, err := st.namespaceLabels(ctx, c.cfg.Reader)
		if err != nil {
			return false, err
		}
		if scoped && !p.nsSel.Matches(set) {
			return false, nil
		}
	}
	return true, nil
}

// namespaceLabels are the labels a namespaceSelector matches: the request's namespace's, or
// a Namespace's own. scoped is false for cluster-scoped objects, which every selector
// matches.
func (st *call) namespaceLabels(ctx context.Context, r Reader) (labels.Set, bool, error) {
	req := st.req
	if req.Resource.Group == "" && req.Resource.Resource == "namespaces" {
		obj := req.Object
		if obj == nil {
			obj = req.OldObject
		}
		if m, err := meta.Accessor(obj); err == nil {
			return m.GetLabels(), true, nil
		}
		return nil, true, nil
	}
	if req.Namespace == "" {
		return nil, false, nil
	}
	if !st.nsLoaded {
		ns, err := r.Namespace(ctx, req.Namespace)
		if err != nil {
			return nil, true, err
		}
		if ns != nil {
			st.nsLabels = ns.Labels
		}
		st.nsLoaded = true
	}
	return st.nsLabels, true, nil
}

func objectLabelsMatch(sel labels.Selector, objs ...runtime.Object) bool {
	for _, o := range objs {
		if o == nil || reflect.ValueOf(o).IsNil() {
			continue
		}
		if m, err := meta.Accessor(o); err == nil && sel.Matches(labels.Set(m.GetLabels())) {
			return true
		}
	}
	return false
}

// apply hands the request to one policy and carries out its answer.
func (c *Chain) apply(ctx context.Context, p *policy, st *call) error {
	inv, err := c.prepare(ctx, p, st)
	if err != nil || inv == nil {
		return err
	}
	inv.call(ctx)
	return c.finish(ctx, inv, st)
}

// invocation is one policy's call: its input, and once called its answer.
type invocation struct {
	p      *policy
	plugin Plugin
	in     []byte

	out    []byte
	status hostabi.Status
	err    error
}

// prepare gathers and encodes a policy's input. A nil invocation and nil error mean there is
// nothing to call: a required read found nothing, or the plugin is missing and the policy
// ignores failures.
func (c *Chain) prepare(ctx context.Context, p *policy, st *call) (*invocation, error) {
	related, skip, err := c.gather(ctx, p, st)
	if err != nil {
		return nil, apierrors.NewInternalError(fmt.Errorf("admission policy %q: reading what it reads: %w", p.name, err))
	}
	if skip {
		return nil, nil
	}
	plugin, ok := c.plugin(p)
	if !ok {
		return nil, c.failed(p, st.req, fmt.Errorf("plugin %q is not loaded", p.pluginName()))
	}
	in, err := st.encode(p, related)
	if err != nil {
		return nil, apierrors.NewInternalError(fmt.Errorf("admission policy %q: encoding the request: %w", p.name, err))
	}
	return &invocation{p: p, plugin: plugin, in: in}, nil
}

func (inv *invocation) call(ctx context.Context) {
	inv.out, inv.status, inv.err = inv.plugin.Call(tugruntime.WithCallDeadline(ctx, inv.p.timeout), hostabi.ExportAdmit, inv.in)
	if inv.err == nil && inv.status != hostabi.StatusOK {
		inv.err = fmt.Errorf("status %s: %s", inv.status, inv.out)
	}
}

// finish carries out a policy's answer.
func (c *Chain) finish(ctx context.Context, inv *invocation, st *call) error {
	p, req, out := inv.p, st.req, inv.out
	if inv.err != nil {
		return c.failed(p, req, inv.err)
	}
	var resp hostabi.AdmissionResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		return c.failed(p, req, fmt.Errorf("its answer is not an admission response: %w", err))
	}
	for _, w := range resp.Warnings {
		apiserver.AddWarning(ctx, p.name+": "+w)
	}
	if !resp.Allowed {
		return denial(p, req, resp.Result)
	}
	if len(resp.Patch) > 0 {
		if !p.mutating {
			return c.failed(p, req, errors.New("a validating policy answered with a patch"))
		}
		if err := st.patch(p, resp.Patch); err != nil {
			return c.failed(p, req, err)
		}
	}
	for _, raw := range resp.StatusUpdates {
		u, err := p.statusUpdate(raw, req)
		if err != nil {
			return c.failed(p, req, err)
		}
		req.StatusUpdates = append(req.StatusUpdates, u)
	}
	return nil
}

func (c *Chain) plugin(p *policy) (Plugin, bool) {
	if p.builtin {
		b := c.plug.Load().builtin
		return b, b != nil
	}
	return c.lookup(p.plugin)
}

func (c *Chain) lookup(name string) (Plugin, bool) {
	if l := c.plug.Load().lookup; l != nil {
		return l(name)
	}
	return nil, false
}

// failed applies the policy's failure policy to err: Ignore admits (and logs), Fail denies
// with an internal error naming the policy.
func (c *Chain) failed(p *policy, req *apiserver.AdmissionRequest, err error) error {
	if p.ignore {
		c.log.Warn("admission policy failed; ignored as its failurePolicy says", "policy", p.name, "plugin", p.pluginName(),
			"resource", req.Resource.Resource, "namespace", req.Namespace, "name", req.Name, "err", err)
		return nil
	}
	return apierrors.NewInternalError(fmt.Errorf("admission policy %q failed: %w", p.name, err))
}

// gather collects the objects the policy reads. skip is true when a required kind has none.
func (c *Chain) gather(ctx context.Context, p *policy, st *call) (map[string][]json.RawMessage, bool, error) {
	if len(p.reads) == 0 {
		return nil, false, nil
	}
	req := st.req
	related := make(map[string][]json.RawMessage, len(p.reads))
	for _, rd := range p.reads {
		var objs []json.RawMessage
		switch rd.Scope {
		case pluginsv1alpha1.ReadRequestNamespace:
			ns, err := st.namespaceObject(ctx, c.cfg.Reader)
			if err != nil {
				return nil, false, err
			}
			if ns != nil {
				objs = []json.RawMessage{ns}
			}
		default:
			if req.Namespace != "" {
				var err error
				if objs, err = c.cfg.Reader.List(ctx, rd.APIVersion, rd.Kind, req.Namespace); err != nil {
					return nil, false, err
				}
			}
		}
		if rd.Required && len(objs) == 0 {
			return nil, true, nil
		}
		related[rd.APIVersion+"/"+rd.Kind] = objs
	}
	return related, false, nil
}

// namespaceObject is the Namespace the request is in (or is about), encoded; nil when there
// is none.
func (st *call) namespaceObject(ctx context.Context, r Reader) (json.RawMessage, error) {
	if st.namespaceLoaded {
		return st.namespace, nil
	}
	req := st.req
	name := req.Namespace
	if req.Resource.Group == "" && req.Resource.Resource == "namespaces" {
		name = req.Name
	}
	if name != "" {
		ns, err := r.Namespace(ctx, name)
		if err != nil {
			return nil, err
		}
		if ns != nil {
			ns = ns.DeepCopy()
			ns.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Namespace"))
			if st.namespace, err = json.Marshal(ns); err != nil {
				return nil, err
			}
		}
	}
	st.namespaceLoaded = true
	return st.namespace, nil
}

// encode builds the policy's input (ABI.md §4.5).
func (st *call) encode(p *policy, related map[string][]json.RawMessage) ([]byte, error) {
	req := st.req
	var err error
	if st.object == nil && req.Object != nil {
		if st.object, err = encodeObject(req.Object, req.Kind); err != nil {
			return nil, err
		}
	}
	if st.oldObject == nil && req.OldObject != nil {
		if st.oldObject, err = encodeObject(req.OldObject, req.Kind); err != nil {
			return nil, err
		}
	}
	in := hostabi.AdmissionRequest{
		UID:         string(uuid.NewUUID()),
		Kind:        hostabi.GroupVersionKind{Group: req.Kind.Group, Version: req.Kind.Version, Kind: req.Kind.Kind},
		Resource:    hostabi.GroupVersionResource{Group: req.Resource.Group, Version: req.Resource.Version, Resource: req.Resource.Resource},
		SubResource: req.Subresource,
		Name:        req.Name,
		Namespace:   req.Namespace,
		Operation:   string(req.Operation),
		UserInfo:    st.user,
		Object:      st.object,
		OldObject:   st.oldObject,
		DryRun:      &req.DryRun,
		Policy:      p.logic,
		Config:      p.config,
		Related:     related,
	}
	return hostabi.AppendAdmissionRequest(make([]byte, 0, len(st.object)+len(st.oldObject)+1024), &in), nil
}

func encodeObject(obj runtime.Object, gvk schema.GroupVersionKind) (json.RawMessage, error) {
	if obj == nil || reflect.ValueOf(obj).IsNil() {
		return nil, nil
	}
	if obj.GetObjectKind().GroupVersionKind().Empty() {
		obj.GetObjectKind().SetGroupVersionKind(gvk)
	}
	return json.Marshal(obj)
}

// patch applies a mutating policy's JSON patch to the request's encoded object; sync carries
// the result over to req.Object.
func (st *call) patch(p *policy, ops []hostabi.PatchOperation) error {
	if st.original == nil {
		st.original = st.object
	}
	patched, err := applyPatch(st.object, ops)
	if err != nil {
		return err
	}
	st.object, st.patched, st.everPatched = patched, true, true
	st.patches = append(st.patches, appliedPatch{p, ops})
	return nil
}

func applyPatch(obj json.RawMessage, ops []hostabi.PatchOperation) (json.RawMessage, error) {
	raw, err := json.Marshal(ops)
	if err != nil {
		return nil, err
	}
	p, err := jsonpatch.DecodePatch(raw)
	if err != nil {
		return nil, fmt.Errorf("its patch does not decode: %w", err)
	}
	patched, err := p.Apply(obj)
	if err != nil {
		return nil, fmt.Errorf("its patch does not apply: %w", err)
	}
	return patched, nil
}

// appliedPatch is a mutating policy's patch, kept until sync in case the result does not
// decode and the policy at fault must be found.
type appliedPatch struct {
	p   *policy
	ops []hostabi.PatchOperation
}

// sync decodes the patched object into req.Object, in place: the server goes on with the
// object it handed to admission. A patched object that does not decode is the fault of one
// policy's patch — one that left a field the type cannot hold; only then are the patches
// applied again one at a time, decoding after each, to find it and apply its failure policy.
func (c *Chain) sync(st *call) error {
	if !st.patched {
		return nil
	}
	obj := st.req.Object
	fresh, err := decodeAs(obj, st.object)
	if err != nil {
		if fresh, err = c.replay(st); err != nil {
			return err
		}
	}
	gvk := obj.GetObjectKind().GroupVersionKind()
	reflect.ValueOf(obj).Elem().Set(reflect.ValueOf(fresh).Elem())
	obj.GetObjectKind().SetGroupVersionKind(gvk)
	st.patched, st.patches, st.original = false, nil, nil
	return nil
}

// decodeAs decodes raw into a new object of obj's type.
func decodeAs(obj runtime.Object, raw json.RawMessage) (any, error) {
	fresh := reflect.New(reflect.TypeOf(obj).Elem()).Interface()
	if err := json.Unmarshal(raw, fresh); err != nil {
		return nil, err
	}
	return fresh, nil
}

// replay applies the kept patches to the object as it was before them, one at a time,
// leaving out those of Ignore policies whose result does not decode; a Fail policy's fails
// the request.
func (c *Chain) replay(st *call) (any, error) {
	cur := st.original
	var last any
	for _, ap := range st.patches {
		next, err := applyPatch(cur, ap.ops)
		var fresh any
		if err == nil {
			if fresh, err = decodeAs(st.req.Object, next); err != nil {
				err = fmt.Errorf("the patched object does not decode: %w", err)
			}
		}
		if err != nil {
			if ferr := c.failed(ap.p, st.req, err); ferr != nil {
				return nil, ferr
			}
			continue // Ignore: as if the policy had not answered
		}
		cur, last = next, fresh
	}
	st.object = cur
	if last == nil {
		return decodeAs(st.req.Object, cur)
	}
	return last, nil
}

// denial turns a policy's refusal into the Status the client sees: the policy's code
// (Forbidden by default), and its message, naming the policy unless it is one of tug's own,
// whose messages are kube-apiserver's whole ("pods \"x\" is forbidden: exceeded quota: …")
// and are passed on as they are.
func denial(p *policy, req *apiserver.AdmissionRequest, st *hostabi.AdmissionStatus) error {
	code, msg := int32(403), ""
	if st != nil {
		if st.Code >= 400 && st.Code < 600 {
			code = st.Code
		}
		msg = st.Message
	}
	if msg == "" {
		msg = "denied the request"
	}
	if !p.builtin {
		msg = fmt.Sprintf("admission policy %q denied the request: %s", p.name, msg)
	}
	gr := schema.GroupResource{Group: req.Resource.Group, Resource: req.Resource.Resource}
	switch {
	case code == 403 && !p.builtin:
		return apierrors.NewForbidden(gr, req.Name, errors.New(msg))
	case code == 422 && !p.builtin:
		return &apierrors.StatusError{ErrStatus: metav1.Status{Status: metav1.StatusFailure, Code: 422, Reason: metav1.StatusReasonInvalid,
			Message: fmt.Sprintf("%s %q is invalid: %s", req.Kind.Kind, req.Name, msg),
			Details: &metav1.StatusDetails{Group: gr.Group, Kind: gr.Resource, Name: req.Name}}}
	}
	reason := metav1.StatusReasonForbidden
	switch code {
	case 422:
		reason = metav1.StatusReasonInvalid
	case 404:
		reason = metav1.StatusReasonNotFound
	case 409:
		reason = metav1.StatusReasonConflict
	case 400:
		reason = metav1.StatusReasonBadRequest
	case 429:
		reason = metav1.StatusReasonTooManyRequests
	default:
		if code >= 500 {
			reason = metav1.StatusReasonInternalError
		}
	}
	return &apierrors.StatusError{ErrStatus: metav1.Status{Status: metav1.StatusFailure, Code: code, Reason: reason, Message: msg,
		Details: &metav1.StatusDetails{Group: gr.Group, Kind: gr.Resource, Name: req.Name}}}
}

// statusUpdate checks one of a policy's status updates: of a kind it may write, in the
// request's namespace, naming an object and the resourceVersion it read.
func (p *policy) statusUpdate(raw json.RawMessage, req *apiserver.AdmissionRequest) (apiserver.StatusUpdate, error) {
	var u struct {
		APIVersion string            `json:"apiVersion"`
		Kind       string            `json:"kind"`
		Metadata   metav1.ObjectMeta `json:"metadata"`
		Status     json.RawMessage   `json:"status"`
	}
	if err := json.Unmarshal(raw, &u); err != nil {
		return apiserver.StatusUpdate{}, fmt.Errorf("a status update does not decode: %w", err)
	}
	key := u.APIVersion + "/" + u.Kind
	switch {
	case !p.writable[key]:
		return apiserver.StatusUpdate{}, fmt.Errorf("a status update of %s, which the policy may not write (spec.reads[].writeStatus)", key)
	case u.Metadata.Namespace != req.Namespace || req.Namespace == "":
		return apiserver.StatusUpdate{}, fmt.Errorf("a status update of %s %s/%s outside the request's namespace %q", key, u.Metadata.Namespace, u.Metadata.Name, req.Namespace)
	case u.Metadata.Name == "" || u.Metadata.ResourceVersion == "":
		return apiserver.StatusUpdate{}, fmt.Errorf("a status update of %s without metadata.name and metadata.resourceVersion", key)
	case len(u.Status) == 0 || u.Status[0] != '{':
		return apiserver.StatusUpdate{}, fmt.Errorf("a status update of %s %s without a status object", key, u.Metadata.Name)
	}
	return apiserver.StatusUpdate{APIVersion: u.APIVersion, Kind: u.Kind, Namespace: u.Metadata.Namespace, Name: u.Metadata.Name,
		ResourceVersion: u.Metadata.ResourceVersion, Status: u.Status}, nil
}

// policy is an AdmissionPolicy compiled for matching.
type policy struct {
	name     string
	logic    string // the request's policy field: the name, or a built-in's logic
	plugin   string
	builtin  bool
	mutating bool
	ignore   bool
	order    int32
	timeout  time.Duration
	config   json.RawMessage
	rules    []pluginsv1alpha1.RuleWithOperations
	nsSel    labels.Selector
	objSel   labels.Selector
	reads    []pluginsv1alpha1.AdmissionRead
	writable map[string]bool
	groups   []string // spec.matchUserGroups
}

func (p *policy) pluginName() string {
	if p.builtin {
		return "(built-in)"
	}
	return p.plugin
}

func compile(ap *pluginsv1alpha1.AdmissionPolicy) (*policy, error) {
	s := &ap.Spec
	p := &policy{name: ap.Name, logic: ap.Name, plugin: s.Plugin, builtin: s.Plugin == "", mutating: s.Type == pluginsv1alpha1.PolicyMutating,
		ignore: s.FailurePolicy == pluginsv1alpha1.FailurePolicyIgnore, order: api.DefaultAdmissionOrder,
		timeout: api.DefaultAdmissionTimeoutMilliseconds * time.Millisecond, rules: s.Rules, reads: s.Reads, writable: map[string]bool{}, groups: s.MatchUserGroups}
	if l, ok := builtinNames[ap.Name]; ok && p.builtin {
		p.logic = l
	}
	if s.Order != nil {
		p.order = *s.Order
	}
	if s.TimeoutMilliseconds != nil && *s.TimeoutMilliseconds > 0 {
		p.timeout = time.Duration(*s.TimeoutMilliseconds) * time.Millisecond
	}
	if s.Config != nil && len(s.Config.Raw) > 0 {
		p.config = s.Config.Raw
	}
	var err error
	if s.NamespaceSelector != nil {
		if p.nsSel, err = metav1.LabelSelectorAsSelector(s.NamespaceSelector); err != nil {
			return nil, fmt.Errorf("spec.namespaceSelector: %w", err)
		}
	}
	if s.ObjectSelector != nil {
		if p.objSel, err = metav1.LabelSelectorAsSelector(s.ObjectSelector); err != nil {
			return nil, fmt.Errorf("spec.objectSelector: %w", err)
		}
	}
	for i := range p.reads {
		if p.reads[i].Scope == "" {
			p.reads[i].Scope = pluginsv1alpha1.ReadNamespace
		}
		if p.reads[i].WriteStatus {
			p.writable[p.reads[i].APIVersion+"/"+p.reads[i].Kind] = true
		}
	}
	return p, nil
}

// matchesRequest reports whether any rule matches the request's operation, resource and
// scope, as admission webhooks' rules do.
func (p *policy) matchesRequest(req *apiserver.AdmissionRequest) bool {
	for _, r := range p.rules {
		if ruleMatches(r, req) {
			return true
		}
	}
	return false
}

func ruleMatches(r pluginsv1alpha1.RuleWithOperations, req *apiserver.AdmissionRequest) bool {
	if !listHas(r.Operations, string(req.Operation)) || !listHas(r.APIGroups, req.Resource.Group) || !listHas(r.APIVersions, req.Resource.Version) {
		return false
	}
	switch r.Scope {
	case "Cluster":
		if req.Namespace != "" {
			return false
		}
	case "Namespaced":
		if req.Namespace == "" && !(req.Resource.Group == "" && req.Resource.Resource == "namespaces") {
			return false
		}
	}
	for _, res := range r.Resources {
		name, sub, _ := strings.Cut(res, "/")
		if (name == "*" || name == req.Resource.Resource) && (sub == req.Subresource || sub == "*") {
			return true
		}
	}
	return false
}

func listHas(list []string, v string) bool {
	return slices.Contains(list, "*") || slices.Contains(list, v)
}
