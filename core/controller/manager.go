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
	// Controllers are the controllers to run.
	Controllers []Controller
	// Election, when set, runs the controllers only while this process holds the lease
	// (Client is filled in from Rest when nil).
	Election *leader.Config
	Logger   *slog.Logger
	// Now is the clock handed to reconciles (tests); time.Now by default.
	Now func() time.Time
}

// Manager runs controllers, the garbage collector and the namespace deleter over shared
// informers.
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
	for _, c := range cfg.Controllers {
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
	var runErr error
	err := leader.Run(ctx, e, func(ctx context.Context) { runErr = m.run(ctx) })
	return errors.Join(err, runErr)
}

// run is one term: informers, controllers and the garbage collector until ctx ends.
func (m *Manager) run(ctx context.Context) error {
	factory := dynamicinformer.NewDynamicSharedInformerFactory(m.dyn, resync)
	informers := map[schema.GroupVersionResource]cache.SharedIndexInformer{}
	kinds := map[schema.GroupVersionResource]Kind{}
	informerFor := func(k Kind) (cache.SharedIndexInformer, error) {
		if inf, ok := informers[k.GVR()]; ok {
			return inf, nil
		}
		inf := factory.ForResource(k.GVR()).Informer()
		if err := inf.AddIndexers(cache.Indexers{ownerIndex: ownerUIDs}); err != nil {
			return nil, err
		}
		if err := inf.SetTransform(stripManagedFields); err != nil {
			return nil, err
		}
		informers[k.GVR()], kinds[k.GVR()] = inf, k
		return inf, nil
	}

	var ctrls []*runner
	for _, c := range m.cfg.Controllers {
		r, err := m.newRunner(c, informerFor)
		if err != nil {
			return fmt.Errorf("controller %s: %w", c.Name, err)
		}
		ctrls = append(ctrls, r)
	}
	nsInformer, err := informerFor(Namespaces)
	if err != nil {
		return err
	}
	nsd, err := m.newNamespaceDeleter(nsInformer)
	if err != nil {
		return fmt.Errorf("namespace deleter: %w", err)
	}
	gc, err := m.newGC(informers, kinds)
	if err != nil {
		return fmt.Errorf("garbage collector: %w", err)
	}

	factory.Start(ctx.Done())
	for gvr, ok := range factory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			factory.Shutdown()
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("controller: %s did not sync", gvr)
		}
	}
	m.log.Info("controllers started", "controllers", len(ctrls))
	var wg sync.WaitGroup
	for _, r := range ctrls {
		r.start(ctx, &wg)
	}
	gc.start(ctx, &wg)
	wg.Add(1)
	go func() { defer wg.Done(); nsd.start(ctx) }()
	<-ctx.Done()
	for _, r := range ctrls {
		r.queue.ShutDown()
	}
	gc.queue.ShutDown()
	nsd.queue.ShutDown()
	wg.Wait()
	factory.Shutdown()
	return nil
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
