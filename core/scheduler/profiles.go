package scheduler

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/retry"
	"k8s.io/client-go/util/workqueue"

	"github.com/tugboat-io/tug/core/api"
	pluginsv1alpha1 "github.com/tugboat-io/tug/core/api/plugins/v1alpha1"
)

// ProfileWatch makes the cluster's SchedulerProfiles profiles of a Scheduler, swapped live: a
// changed spec is built into a new chain beside the old one, which keeps scheduling until the
// new one is ready; cycles in flight finish on the chain they started with. A spec that
// cannot be built leaves the previous chain active and says why in the Active condition.
type ProfileWatch struct {
	// Config reaches the API server.
	Config *rest.Config
	// Build turns a spec into a profile; close releases it once it is replaced.
	Build func(ctx context.Context, spec *pluginsv1alpha1.SchedulerProfileSpec) (prof *Profile, close func(), err error)
	// Retry is how soon a profile naming a plugin not yet loaded is tried again (default 1 s).
	Retry time.Duration
}

const profilesResource = "schedulerprofiles"

// builtProfile is a SchedulerProfile's active chain.
type builtProfile struct {
	generation int64
	name       string // schedulerName
	prof       *Profile
	close      func()
}

// profileTerm follows SchedulerProfiles for one term of the scheduler.
type profileTerm struct {
	s        *Scheduler
	w        *ProfileWatch
	rc       rest.Interface
	informer cache.SharedIndexInformer
	queue    workqueue.TypedRateLimitingInterface[string]
	built    map[string]*builtProfile // by object name; touched by the worker only
}

func profilesClient(cfg *rest.Config) (rest.Interface, error) {
	c := rest.CopyConfig(cfg)
	c.GroupVersion = &pluginsv1alpha1.SchemeGroupVersion
	c.APIPath = "/apis"
	c.NegotiatedSerializer = serializer.NewCodecFactory(api.Scheme).WithoutConversion()
	// tug's own kinds have no protobuf encoding, whatever the component's client prefers.
	c.ContentConfig.ContentType, c.ContentConfig.AcceptContentTypes = "application/json", "application/json"
	if c.UserAgent == "" {
		c.UserAgent = "tug-scheduler"
	}
	return rest.RESTClientFor(c)
}

// runProfiles follows SchedulerProfiles until ctx ends, then releases what it built and
// returns the scheduler to its static profiles.
func (s *Scheduler) runProfiles(ctx context.Context, w *ProfileWatch) error {
	rc, err := profilesClient(w.Config)
	if err != nil {
		return fmt.Errorf("scheduler profiles: %w", err)
	}
	t := &profileTerm{s: s, w: w, rc: rc, built: map[string]*builtProfile{},
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "schedulerprofiles"})}
	lw := cache.NewListWatchFromClient(rc, profilesResource, metav1.NamespaceAll, fields.Everything())
	t.informer = cache.NewSharedIndexInformer(lw, &pluginsv1alpha1.SchedulerProfile{}, 0, cache.Indexers{})
	enqueue := func(o any) {
		if p, ok := tombstoned(o).(*pluginsv1alpha1.SchedulerProfile); ok {
			t.queue.Add(p.Name)
			// A profile that lost a schedulerName to this one may now win it.
			for _, other := range t.sameName(p.Spec.SchedulerName) {
				t.queue.Add(other.Name)
			}
		}
	}
	if _, err := t.informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: enqueue, UpdateFunc: func(_, o any) { enqueue(o) }, DeleteFunc: enqueue,
	}); err != nil {
		return err
	}
	go t.informer.Run(ctx.Done())
	go func() {
		<-ctx.Done()
		t.queue.ShutDown()
	}()
	for {
		name, quit := t.queue.Get()
		if quit {
			break
		}
		if err := t.reconcile(ctx, name); err != nil && ctx.Err() == nil {
			s.log.Warn("scheduler profile not reconciled", "profile", name, "error", err)
			t.queue.AddRateLimited(name)
		} else {
			t.queue.Forget(name)
		}
		t.queue.Done(name)
	}
	for _, b := range t.built {
		b.close()
	}
	s.setDynamic(nil)
	return nil
}

func (t *profileTerm) sameName(schedulerName string) []*pluginsv1alpha1.SchedulerProfile {
	var out []*pluginsv1alpha1.SchedulerProfile
	for _, o := range t.informer.GetStore().List() {
		if p := o.(*pluginsv1alpha1.SchedulerProfile); p.Spec.SchedulerName == schedulerName {
			out = append(out, p)
		}
	}
	// The oldest holds the name; creation order is the API's resourceVersion-independent
	// tie-break everyone sees alike.
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreationTimestamp.Equal(&out[j].CreationTimestamp) {
			return out[i].CreationTimestamp.Before(&out[j].CreationTimestamp)
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// reconcile brings one SchedulerProfile's chain and status up to date.
func (t *profileTerm) reconcile(ctx context.Context, name string) error {
	o, exists, err := t.informer.GetStore().GetByKey(name)
	if err != nil {
		return err
	}
	if !exists {
		t.drop(name)
		return nil
	}
	p := o.(*pluginsv1alpha1.SchedulerProfile)
	if holders := t.sameName(p.Spec.SchedulerName); holders[0].Name != p.Name {
		t.drop(name)
		return t.setStatus(ctx, p, metav1.ConditionFalse, pluginsv1alpha1.ReasonConflict,
			fmt.Sprintf("SchedulerProfile %s already defines scheduler %s", holders[0].Name, p.Spec.SchedulerName))
	}
	if b := t.built[name]; b != nil && b.generation == p.Generation {
		return t.setStatus(ctx, p, metav1.ConditionTrue, pluginsv1alpha1.ReasonActive, activeMessage(b.prof))
	}
	start := time.Now()
	prof, closeProf, err := t.w.Build(ctx, p.Spec.DeepCopy())
	if err != nil {
		reason := ProfileErrorReason(err)
		if reason == pluginsv1alpha1.ReasonPluginNotFound {
			t.queue.AddAfter(name, cmp.Or(t.w.Retry, time.Second)) // its WasmPlugin may be loading
		}
		msg := err.Error()
		if t.built[name] != nil {
			msg += fmt.Sprintf("; generation %d stays active", t.built[name].generation)
		}
		t.s.log.Warn("scheduler profile refused", "profile", name, "reason", reason, "error", err)
		return t.setStatus(ctx, p, metav1.ConditionFalse, reason, msg)
	}
	old := t.built[name]
	t.built[name] = &builtProfile{generation: p.Generation, name: p.Spec.SchedulerName, prof: prof, close: closeProf}
	t.publish()
	if old != nil {
		go old.close() // after cycles in flight on it finish
	}
	t.s.log.Info("scheduler profile active", "profile", name, "schedulerName", prof.SchedulerName,
		"generation", p.Generation, "plugins", len(prof.Plugins), "built", time.Since(start).Round(time.Microsecond))
	return t.setStatus(ctx, p, metav1.ConditionTrue, pluginsv1alpha1.ReasonActive, activeMessage(prof))
}

func activeMessage(prof *Profile) string {
	return fmt.Sprintf("scheduling pods of %s with %d plugins", prof.SchedulerName, len(prof.Plugins))
}

// drop retires a profile that is gone or lost its name.
func (t *profileTerm) drop(name string) {
	if b := t.built[name]; b != nil {
		delete(t.built, name)
		t.publish()
		go b.close()
	}
}

func (t *profileTerm) publish() {
	dyn := make(map[string]*Profile, len(t.built))
	for _, b := range t.built {
		dyn[b.name] = b.prof
	}
	t.s.setDynamic(dyn)
}

// setStatus writes the Active condition if it changed.
func (t *profileTerm) setStatus(ctx context.Context, p *pluginsv1alpha1.SchedulerProfile, status metav1.ConditionStatus, reason, msg string) error {
	var active int64
	if b := t.built[p.Name]; b != nil {
		active = b.generation
	}
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur := &pluginsv1alpha1.SchedulerProfile{}
		if err := t.rc.Get().Resource(profilesResource).Name(p.Name).Do(ctx).Into(cur); err != nil {
			return err
		}
		if cur.UID != p.UID {
			return nil // deleted and made anew: its own event follows
		}
		st := cur.Status.DeepCopy()
		st.ObservedGeneration, st.ActiveGeneration = p.Generation, active
		meta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: pluginsv1alpha1.ConditionProfileActive,
			Status: status, Reason: reason, Message: msg, ObservedGeneration: p.Generation})
		if equality.Semantic.DeepEqual(&cur.Status, st) { // SetStatusCondition keeps the time of an unchanged condition
			return nil
		}
		cur.Status = *st
		return t.rc.Put().Resource(profilesResource).Name(p.Name).SubResource("status").Body(cur).Do(ctx).Error()
	})
}

// setDynamic replaces the profiles from the API (nil: none), which take precedence over the
// static ones of the same schedulerName, and brings the queue in line: pods of a new profile
// are queued, pods whose profile is gone leave it, and unschedulable pods are tried again on
// the new chains.
func (s *Scheduler) setDynamic(dyn map[string]*Profile) {
	eff := maps.Clone(s.static)
	maps.Copy(eff, dyn)
	s.profiles.Store(&eff)
	s.termMu.Lock()
	pods := s.pods
	s.termMu.Unlock()
	if pods != nil {
		for _, o := range pods.GetStore().List() {
			if p := o.(*corev1.Pod); p.Spec.NodeName == "" {
				s.onPod(p)
			}
		}
	}
	s.queue.MoveAll()
}
