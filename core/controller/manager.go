package controller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"github.com/tugboat-io/tug/core/leader"
	"github.com/tugboat-io/tug/hostabi"
)

// Plugin is the reconcile plugin of a controller: a runtime slot, whose module a new
// version replaces between calls.
type Plugin interface {
	Call(ctx context.Context, export string, input []byte) ([]byte, hostabi.Status, error)
}

// Controller is a definition with the plugin deciding it.
type Controller struct {
	Definition
	Plugin Plugin
}

// Config configures a Manager.
type Config struct {
	// Rest reaches the API server.
	Rest *rest.Config
	// Builtins are tug's own controllers with the plugins deciding them. Each runs through a
	// Controller object (plugins.tug.dev) named after it in lower case, which the manager
	// creates, or brings up to date, when its term starts; a spec.plugin set on that object
	// swaps the builtin's plugin for a WasmPlugin.
	Builtins []Controller
	// Plugins finds a loaded WasmPlugin by name, for the Controllers naming one (nil: none).
	Plugins func(name string) (Plugin, bool)
	// Election, when set, runs the controllers only while this process holds the lease
	// (Client is filled in from Rest when nil).
	Election *leader.Config
	Logger   *slog.Logger
	// Now is the clock handed to reconciles (tests); time.Now by default.
	Now func() time.Time
}

// Manager runs the controllers the cluster's Controller objects define, the garbage
// collector and the namespace deleter, over shared informers.
type Manager struct {
	cfg    Config
	dyn    dynamic.Interface
	client kubernetes.Interface
	log    *slog.Logger
	now    func() time.Time
}

// Informer resync: none; every change arrives as an event and requeues are explicit.
const resync = 0

// ownerIndex indexes objects by the UIDs of their owners.
const ownerIndex = "owner-uid"

// New returns a manager; Run starts it.
func New(cfg Config) (*Manager, error) {
	if cfg.Rest == nil {
		return nil, errors.New("controller: Config.Rest is required")
	}
	rc := rest.CopyConfig(cfg.Rest)
	if rc.UserAgent == "" {
		rc.UserAgent = "tug-controller-manager"
	}
	rc.QPS, rc.Burst = max(rc.QPS, 500), max(rc.Burst, 1000)
	dyn, err := dynamic.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("controller: %w", err)
	}
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("controller: %w", err)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	for _, c := range cfg.Builtins {
		if c.Name == "" || c.Plugin == nil || c.Parent.Resource == "" {
			return nil, fmt.Errorf("controller: %q needs a name, a parent kind and a plugin", c.Name)
		}
	}
	return &Manager{cfg: cfg, dyn: dyn, client: client, log: log.With("component", "controller-manager"), now: now}, nil
}

// Run runs the controllers until ctx ends — under the lease when Config.Election is set.
func (m *Manager) Run(ctx context.Context) error {
	if m.cfg.Election == nil {
		return m.run(ctx)
	}
	e := *m.cfg.Election
	if e.Client == nil {
		e.Client = m.client
	}
	return leader.Run(ctx, e, func(ctx context.Context) {
		// A term that cannot start gives the lease up (leader.Run) and is tried again.
		if err := m.run(ctx); err != nil && ctx.Err() == nil {
			m.log.Error("controller manager term failed; giving up the lease", "err", err)
		}
	})
}

// term is one term of the manager: its informers and what runs on them.
type term struct {
	m       *Manager
	ctx     context.Context
	factory dynamicinformer.DynamicSharedInformerFactory

	mu        sync.Mutex
	informers map[schema.GroupVersionResource]cache.SharedIndexInformer
	gc        *gc
}

// informerFor returns the shared informer of a kind, made and started on first use.
func (t *term) informerFor(k Kind) (cache.SharedIndexInformer, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if inf, ok := t.informers[k.GVR()]; ok {
		return inf, nil
	}
	inf := t.factory.ForResource(k.GVR()).Informer()
	indexers := cache.Indexers{ownerIndex: ownerUIDs}
	if k == Pods {
		indexers[nodeIndex] = podNode
	}
	if err := inf.AddIndexers(indexers); err != nil {
		return nil, err
	}
	if err := inf.SetTransform(stripManagedFields); err != nil {
		return nil, err
	}
	t.informers[k.GVR()] = inf
	if t.gc != nil {
		if err := t.gc.watch(k, inf); err != nil {
			return nil, err
		}
	}
	return inf, nil
}

// sync starts the informers made since the last call and waits until they have synced, or
// until timeout (none: the term's end).
func (t *term) sync(timeout time.Duration) error {
	t.factory.Start(t.ctx.Done())
	ctx := t.ctx
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	for gvr, ok := range t.factory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			if t.ctx.Err() != nil {
				return t.ctx.Err()
			}
			return fmt.Errorf("controller: %s did not sync within %s", gvr, timeout)
		}
	}
	return nil
}

// run is one term: informers, the controllers of the Controller objects, the garbage
// collector and the namespace deleter, until ctx ends.
func (m *Manager) run(ctx context.Context) error {
	t := &term{m: m, ctx: ctx, factory: dynamicinformer.NewDynamicSharedInformerFactory(m.dyn, resync),
		informers: map[schema.GroupVersionResource]cache.SharedIndexInformer{}}
	defer t.factory.Shutdown()
	t.gc = m.newGC()
	nsInformer, err := t.informerFor(Namespaces)
	if err != nil {
		return err
	}
	nsd, err := m.newNamespaceDeleter(nsInformer)
	if err != nil {
		return fmt.Errorf("namespace deleter: %w", err)
	}
	pgc, err := m.newPodGC(t)
	if err != nil {
		return fmt.Errorf("pod collector: %w", err)
	}
	// The built-ins' objects are written once per term; an API server that is briefly
	// unavailable (a failover) is waited for rather than failing the term.
	for backoff := 100 * time.Millisecond; ; backoff = min(2*backoff, 5*time.Second) {
		err := m.ensureBuiltins(ctx)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return nil
		}
		m.log.Warn("built-in controllers not written yet; retrying", "err", err, "in", backoff)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
	}
	cs, err := m.newControllerSet(t)
	if err != nil {
		return err
	}
	if err := t.sync(0); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	m.log.Info("controller manager started", "builtins", len(m.cfg.Builtins))
	var wg sync.WaitGroup
	t.gc.start(ctx, &wg)
	wg.Add(3)
	go func() {
		defer wg.Done()
		work(ctx, nsd.queue, nsd.log, slog.LevelWarn, "namespace not emptied yet", nsd.sync)
	}()
	go func() {
		defer wg.Done()
		work(ctx, pgc.queue, pgc.log, slog.LevelWarn, "orphaned pods not deleted", func(ctx context.Context, node string) (time.Duration, error) {
			return 0, pgc.collect(ctx, node)
		})
	}()
	go func() {
		defer wg.Done()
		work(ctx, cs.queue, cs.log, slog.LevelWarn, "controller not started", cs.sync)
	}()
	<-ctx.Done()
	t.gc.queue.ShutDown()
	nsd.queue.ShutDown()
	pgc.queue.ShutDown()
	cs.queue.ShutDown()
	wg.Wait()
	cs.stopAll()
	return nil
}

// work runs a queue's items through process until the queue shuts down: an error retries
// the item with backoff (logged, unless the term is ending), a positive duration looks at it
// again that much later, and otherwise the item is done. Every worker of the manager — the
// controller set, the collectors, the namespace deleter — is this loop.
func work[T comparable](ctx context.Context, q workqueue.TypedRateLimitingInterface[T], log *slog.Logger, level slog.Level,
	failed string, process func(context.Context, T) (time.Duration, error)) {
	for {
		it, quit := q.Get()
		if quit {
			return
		}
		after, err := process(ctx, it)
		switch {
		case err != nil:
			if ctx.Err() == nil {
				log.Log(ctx, level, failed, "item", it, "err", err)
			}
			q.AddRateLimited(it)
		case after > 0:
			q.Forget(it)
			q.AddAfter(it, after)
		default:
			q.Forget(it)
		}
		q.Done(it)
	}
}

// ownerUIDs indexes an object by its owners' UIDs.
func ownerUIDs(obj any) ([]string, error) {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return nil, nil
	}
	refs := u.GetOwnerReferences()
	out := make([]string, 0, len(refs))
	for _, r := range refs {
		out = append(out, string(r.UID))
	}
	return out, nil
}

// stripManagedFields drops what no controller reads and every object carries.
func stripManagedFields(obj any) (any, error) {
	if u, ok := obj.(*unstructured.Unstructured); ok {
		u.SetManagedFields(nil)
	}
	return obj, nil
}

// unstructuredOf unwraps an informer event's object, tombstones included.
func unstructuredOf(obj any) (*unstructured.Unstructured, bool) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	u, ok := obj.(*unstructured.Unstructured)
	return u, ok
}
