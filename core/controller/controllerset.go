package controller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	pluginsv1alpha1 "github.com/tugboat-io/tug/core/api/plugins/v1alpha1"
	"github.com/tugboat-io/tug/hostabi"
)

// ControllerObjects are the Controller objects defining what runs.
var ControllerObjects = Kind{Group: pluginsv1alpha1.GroupName, Version: "v1alpha1", Resource: "controllers", Kind: "Controller"}

// controllerSet keeps a runner per Controller object in step with the object: a new object
// starts one; a changed parent, children, related kinds or workers replace it; a changed
// plugin is swapped into the running one, which keeps its queue and its record of pending
// writes, so the new plugin takes over without duplicate children. A spec that cannot run
// (a kind not served, a plugin not loaded) leaves the previous runner running and says why
// in the object's Active condition — a bad change never stops a working controller.
type controllerSet struct {
	m      *Manager
	t      *term
	log    *slog.Logger
	store  cache.Store
	queue  workqueue.TypedRateLimitingInterface[string]
	mapper meta.ResettableRESTMapper

	mu      sync.Mutex
	running map[string]*active
}

type active struct {
	def    Definition
	plugin string // the WasmPlugin deciding, or "" for the built-in
	r      *runner
}

// WasmPlugins are the plugins a Controller may name: a new version of one makes its
// controllers decide every parent again.
var WasmPlugins = Kind{Group: pluginsv1alpha1.GroupName, Version: "v1alpha1", Resource: "wasmplugins", Kind: "WasmPlugin"}

// specPoll is how soon a Controller that cannot run yet (its plugin still loading, its
// kinds not served yet) is looked at again.
const specPoll = 2 * time.Second

func (m *Manager) newControllerSet(t *term) (*controllerSet, error) {
	inf, err := t.informerFor(ControllerObjects)
	if err != nil {
		return nil, err
	}
	cs := &controllerSet{m: m, t: t, log: m.log, store: inf.GetStore(), running: map[string]*active{},
		mapper: restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(m.client.Discovery())),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "controllers"})}
	enqueue := func(obj any) {
		if u, ok := unstructuredOf(obj); ok {
			cs.queue.Add(u.GetName())
		}
	}
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: enqueue, UpdateFunc: func(_, obj any) { enqueue(obj) }, DeleteFunc: enqueue,
	}); err != nil {
		return nil, err
	}
	plugins, err := t.informerFor(WasmPlugins)
	if err != nil {
		return nil, err
	}
	if _, err := plugins.AddEventHandler(cache.ResourceEventHandlerFuncs{
		// A plugin that comes or goes changes whether its Controllers can run.
		AddFunc:    func(obj any) { cs.pluginComesOrGoes(obj) },
		DeleteFunc: func(obj any) { cs.pluginComesOrGoes(obj) },
		UpdateFunc: func(old, obj any) {
			o, _ := unstructuredOf(old)
			n, ok := unstructuredOf(obj)
			if !ok || o == nil {
				return
			}
			// A new module (its digest) or a new configuration of it (the generation the
			// plugin manager reports having loaded); a refused version changes neither.
			wasDigest, _, _ := unstructured.NestedString(o.Object, "status", "activeDigest")
			digest, _, _ := unstructured.NestedString(n.Object, "status", "activeDigest")
			wasGen, _, _ := unstructured.NestedInt64(o.Object, "status", "observedGeneration")
			gen, _, _ := unstructured.NestedInt64(n.Object, "status", "observedGeneration")
			if wasDigest != digest || wasGen != gen {
				cs.pluginChanged(n.GetName())
			}
		},
	}); err != nil {
		return nil, err
	}
	return cs, nil
}

// pluginChanged has the controllers a WasmPlugin decides reconcile every parent again: the
// plugin manager reports a version it swapped in through the plugin's status, and the new
// version's answers may differ where nothing in the cluster changed. The status may come
// from another server's plugin manager, ahead of this one's swap: the parents are decided
// once more a little later.
func (cs *controllerSet) pluginChanged(name string) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	for _, a := range cs.running {
		if a.plugin == name {
			a.r.requeueAll()
			a.r.requeueAllAfter(pluginSettle)
		}
	}
}

// pluginSettle is how long after a WasmPlugin's status changes its controllers decide every
// parent a second time.
const pluginSettle = 3 * time.Second

// pluginComesOrGoes looks again at the Controllers naming a WasmPlugin made or deleted.
func (cs *controllerSet) pluginComesOrGoes(obj any) {
	u, ok := unstructuredOf(obj)
	if !ok {
		return
	}
	for _, o := range cs.store.List() {
		c := o.(*unstructured.Unstructured)
		if p, _, _ := unstructured.NestedString(c.Object, "spec", "plugin"); p == u.GetName() {
			cs.queue.Add(c.GetName())
		}
	}
}

// stopAll stops every runner, at the end of a term.
func (cs *controllerSet) stopAll() {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	for name, a := range cs.running {
		a.r.stop()
		delete(cs.running, name)
	}
}

// sync brings the runner of one Controller object in step with it, and asks to look again
// soon when it cannot run yet.
func (cs *controllerSet) sync(ctx context.Context, name string) (time.Duration, error) {
	obj, exists, err := cs.store.GetByKey(name)
	if err != nil {
		return 0, err
	}
	cs.mu.Lock()
	cur := cs.running[name]
	cs.mu.Unlock()
	if !exists {
		if cur != nil {
			cur.r.stop()
			cs.mu.Lock()
			delete(cs.running, name)
			cs.mu.Unlock()
			cs.log.Info("controller stopped", "controller", name)
		}
		return 0, nil
	}
	u := obj.(*unstructured.Unstructured)
	var c pluginsv1alpha1.Controller
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &c); err != nil {
		return 0, fmt.Errorf("decode controller %s: %w", name, err)
	}
	def, err := cs.definition(&c)
	if err != nil {
		cs.setActive(ctx, u, metav1.ConditionFalse, pluginsv1alpha1.ReasonKindNotFound, err.Error())
		return specPoll, nil
	}
	plugin, err := cs.plugin(&c)
	if err != nil {
		cs.setActive(ctx, u, metav1.ConditionFalse, pluginsv1alpha1.ReasonPluginNotFound, err.Error())
		return specPoll, nil
	}
	if other := cs.conflicting(name, def); other != "" {
		// Two controllers writing the same children of the same parents would each create
		// what the other's pending writes hold, and undo each other: the first one keeps
		// them.
		cs.setActive(ctx, u, metav1.ConditionFalse, pluginsv1alpha1.ReasonConflict,
			fmt.Sprintf("controller %s already reconciles %s with children of the same kinds; change its spec.plugin instead", other, def.Parent.Key()))
		return specPoll, nil
	}
	switch {
	case cur != nil && reflect.DeepEqual(cur.def, def):
		if cur.plugin != c.Spec.Plugin {
			cur.r.setPlugin(plugin)
			cs.mu.Lock()
			cur.plugin = c.Spec.Plugin
			cs.mu.Unlock()
			cur.r.requeueAll()
			cs.log.Info("controller plugin swapped", "controller", name, "plugin", pluginName(&c))
		}
	default:
		r, err := cs.m.newRunner(Controller{Definition: def, Plugin: plugin}, cs.t.informerFor)
		if err != nil {
			return 0, fmt.Errorf("controller %s: %w", name, err)
		}
		if cur != nil && cur.def.Parent == def.Parent {
			// The same parents: the writes the old runner has in flight stay expected,
			// so the new one does not make those children again.
			r.pending, r.encoded = cur.r.pending, cur.r.encoded
		}
		if err := cs.t.sync(informerSyncTimeout); err != nil {
			r.stop()
			return 0, err
		}
		if cur != nil {
			cur.r.stop()
		}
		r.start(ctx)
		cs.mu.Lock()
		cs.running[name] = &active{def: def, plugin: c.Spec.Plugin, r: r}
		cs.mu.Unlock()
		cs.log.Info("controller started", "controller", name, "parent", def.Parent.Key(), "plugin", pluginName(&c))
	}
	cs.setActive(ctx, u, metav1.ConditionTrue, pluginsv1alpha1.ReasonRunning, "reconciling "+def.Parent.Key()+" with "+pluginName(&c))
	return 0, nil
}

// informerSyncTimeout bounds the wait for a new controller's informers: a kind that lists
// but never syncs must not hold every other Controller change up.
const informerSyncTimeout = 30 * time.Second

// conflicting names a running controller, other than name, over the same parent kind with a
// child kind in common with def (or with none, both writing only the parents' status).
func (cs *controllerSet) conflicting(name string, def Definition) string {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	for other, a := range cs.running {
		if other == name || a.def.Parent != def.Parent {
			continue
		}
		if len(a.def.Children) == 0 && len(def.Children) == 0 {
			return other
		}
		for _, k := range def.Children {
			if slices.Contains(a.def.Children, k) {
				return other
			}
		}
	}
	return ""
}

func pluginName(c *pluginsv1alpha1.Controller) string {
	if c.Spec.Plugin == "" {
		return "the built-in plugin"
	}
	return "WasmPlugin " + c.Spec.Plugin
}

// definition resolves a Controller's kinds through discovery.
func (cs *controllerSet) definition(c *pluginsv1alpha1.Controller) (Definition, error) {
	def := Definition{Name: c.Name, Workers: int(c.Spec.Workers), Claims: c.Spec.Claims, Fresh: c.Spec.Fresh}
	var err error
	if def.Parent, err = cs.kind(c.Spec.Parent); err != nil {
		return def, err
	}
	for _, ref := range c.Spec.Children {
		k, err := cs.kind(ref)
		if err != nil {
			return def, err
		}
		def.Children = append(def.Children, k)
	}
	for _, rel := range c.Spec.Related {
		k, err := cs.kind(rel.KindReference)
		if err != nil {
			return def, err
		}
		r := Relation{Kind: k, Namespace: rel.Namespace, Deletable: rel.Deletable, Creatable: rel.Creatable, IgnoreStatus: rel.IgnoreStatus}
		if rel.Coalesce != nil {
			r.Coalesce = rel.Coalesce.Duration
		}
		if rel.Selector != "" {
			r.Selector = strings.Split(rel.Selector, ".")
		}
		for sc, n := range scopeNames {
			if n == rel.Scope {
				r.Scope = sc
			}
		}
		def.Related = append(def.Related, r)
	}
	return def, nil
}

// kind maps an apiVersion and kind to the resource serving it; a kind discovery does not
// know yet (a CustomResourceDefinition just made) is looked up afresh.
func (cs *controllerSet) kind(ref pluginsv1alpha1.KindReference) (Kind, error) {
	gv, err := schema.ParseGroupVersion(ref.APIVersion)
	if err != nil {
		return Kind{}, err
	}
	mapping, err := cs.mapper.RESTMapping(gv.WithKind(ref.Kind).GroupKind(), gv.Version)
	if meta.IsNoMatchError(err) {
		cs.mapper.Reset()
		mapping, err = cs.mapper.RESTMapping(gv.WithKind(ref.Kind).GroupKind(), gv.Version)
	}
	if err != nil {
		return Kind{}, fmt.Errorf("kind %s/%s: %w", ref.APIVersion, ref.Kind, err)
	}
	return Kind{Group: gv.Group, Version: gv.Version, Resource: mapping.Resource.Resource, Kind: ref.Kind,
		Namespaced: mapping.Scope.Name() == meta.RESTScopeNameNamespace}, nil
}

// plugin finds the plugin a Controller names: a loaded WasmPlugin, or with none named the
// built-in controller of the object's name.
func (cs *controllerSet) plugin(c *pluginsv1alpha1.Controller) (Plugin, error) {
	if c.Spec.Plugin == "" {
		for _, b := range cs.m.cfg.Builtins {
			if BuiltinObjectName(b.Name) == c.Name {
				return b.Plugin, nil
			}
		}
		return nil, fmt.Errorf("spec.plugin is empty, and %s is not a built-in controller", c.Name)
	}
	if cs.m.cfg.Plugins == nil {
		return nil, errors.New("this controller manager runs built-in plugins only")
	}
	if _, ok := cs.m.cfg.Plugins(c.Spec.Plugin); !ok {
		return nil, fmt.Errorf("WasmPlugin %s is not loaded", c.Spec.Plugin)
	}
	return namedPlugin{name: c.Spec.Plugin, lookup: cs.m.cfg.Plugins}, nil
}

// namedPlugin is a WasmPlugin found by name on every call, so that whatever the plugin
// manager last loaded under the name serves.
type namedPlugin struct {
	name   string
	lookup func(string) (Plugin, bool)
}

func (p namedPlugin) Call(ctx context.Context, export string, input []byte) ([]byte, hostabi.Status, error) {
	slot, ok := p.lookup(p.name)
	if !ok {
		return nil, 0, fmt.Errorf("WasmPlugin %s is not loaded", p.name)
	}
	return slot.Call(ctx, export, input)
}

// setActive writes the Controller's Active condition when it changed.
func (cs *controllerSet) setActive(ctx context.Context, u *unstructured.Unstructured, status metav1.ConditionStatus, reason, msg string) {
	var st pluginsv1alpha1.ControllerStatus
	if raw, ok := u.Object["status"].(map[string]any); ok {
		_ = runtime.DefaultUnstructuredConverter.FromUnstructured(raw, &st)
	}
	changed := meta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: pluginsv1alpha1.ConditionControllerActive,
		Status: status, Reason: reason, Message: msg, ObservedGeneration: u.GetGeneration()})
	if !changed && st.ObservedGeneration == u.GetGeneration() {
		return
	}
	st.ObservedGeneration = u.GetGeneration()
	raw, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&st)
	if err != nil {
		return
	}
	next := u.DeepCopy()
	next.Object["status"] = raw
	if _, err := cs.m.dyn.Resource(ControllerObjects.GVR()).UpdateStatus(ctx, next, metav1.UpdateOptions{}); err != nil && ctx.Err() == nil {
		cs.log.Debug("controller status not written", "controller", u.GetName(), "err", err)
	}
}

// scopeNames are the scopes as a Controller's spec writes them.
var scopeNames = map[Scope]string{
	InNamespace: pluginsv1alpha1.ScopeNamespace,
	OnNode:      pluginsv1alpha1.ScopeNode,
	SameName:    pluginsv1alpha1.ScopeSameName,
	Inside:      pluginsv1alpha1.ScopeInside,
}

// BuiltinObjectName is the name of the Controller object of a built-in controller.
func BuiltinObjectName(name string) string { return strings.ToLower(name) }

// builtinSpec is the Controller spec of a built-in definition.
func builtinSpec(def Definition) pluginsv1alpha1.ControllerSpec {
	ref := func(k Kind) pluginsv1alpha1.KindReference {
		return pluginsv1alpha1.KindReference{APIVersion: k.APIVersion(), Kind: k.Kind}
	}
	spec := pluginsv1alpha1.ControllerSpec{Parent: ref(def.Parent), Workers: int32(def.Workers), Claims: def.Claims, Fresh: def.Fresh}
	for _, k := range def.Children {
		spec.Children = append(spec.Children, ref(k))
	}
	for _, r := range def.Related {
		rel := pluginsv1alpha1.RelatedKind{KindReference: ref(r.Kind), Scope: scopeNames[r.Scope], Namespace: r.Namespace,
			Deletable: r.Deletable, Creatable: r.Creatable, IgnoreStatus: r.IgnoreStatus, Selector: strings.Join(r.Selector, ".")}
		if r.Coalesce > 0 {
			rel.Coalesce = &metav1.Duration{Duration: r.Coalesce}
		}
		spec.Related = append(spec.Related, rel)
	}
	return spec
}

// ensureBuiltins creates the built-in controllers' objects, and brings their kinds up to
// date with this version's definitions, keeping a plugin a user swapped in.
func (m *Manager) ensureBuiltins(ctx context.Context) error {
	client := m.dyn.Resource(ControllerObjects.GVR())
	for _, b := range m.cfg.Builtins {
		name := BuiltinObjectName(b.Name)
		want := builtinSpec(b.Definition)
		cur, err := client.Get(ctx, name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			obj := &pluginsv1alpha1.Controller{TypeMeta: metav1.TypeMeta{APIVersion: pluginsv1alpha1.SchemeGroupVersion.String(), Kind: "Controller"},
				ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"tug.dev/builtin": "true"}}, Spec: want}
			raw, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
			if err != nil {
				return err
			}
			if _, err := client.Create(ctx, &unstructured.Unstructured{Object: raw}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
				return fmt.Errorf("create controller %s: %w", name, err)
			}
		case err != nil:
			return fmt.Errorf("controller %s: %w", name, err)
		default:
			var c pluginsv1alpha1.Controller
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(cur.Object, &c); err != nil {
				return fmt.Errorf("decode controller %s: %w", name, err)
			}
			want.Plugin = c.Spec.Plugin
			if reflect.DeepEqual(c.Spec, want) {
				continue
			}
			c.Spec = want
			raw, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&c)
			if err != nil {
				return err
			}
			if _, err := client.Update(ctx, &unstructured.Unstructured{Object: raw}, metav1.UpdateOptions{}); err != nil && !apierrors.IsConflict(err) {
				return fmt.Errorf("update controller %s: %w", name, err)
			}
		}
	}
	return nil
}
