package scheduler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/tugboat-io/tug/core/leader"
)

// Scheduler is the loop: it watches pods and nodes through the API, queues the pods its
// profiles are named for, runs a cycle per pod, assumes the pod onto the chosen node and
// writes the binding in the background, so that the next cycle does not wait for the API.
type Scheduler struct {
	client kubernetes.Interface
	// static are the profiles of the configuration; profiles are those in effect: the static
	// ones overlaid with the cluster's SchedulerProfiles. A cycle loads the map once, so a
	// swap takes effect at the next cycle.
	static   map[string]*Profile
	profiles atomic.Pointer[map[string]*Profile]
	watch    *ProfileWatch
	queue    *Queue
	cache    *Cache
	fw       *Framework
	log      *slog.Logger
	election *leader.Config
	// explained keeps pods' last attempts for Explain; explainURL is where Handler is
	// served, advertised on the Lease.
	explained  *explanations
	explainURL string
	termMu     sync.Mutex // guards the term's queue, cache, framework and pod informer for observers
	pods       cache.SharedIndexInformer
}

// Config configures a Scheduler.
type Config struct {
	Client   kubernetes.Interface
	Profiles []*Profile
	Logger   *slog.Logger
	// Election, when set, makes the scheduler act only while it holds this Lease (Client is
	// filled in): run several, and one schedules.
	Election *leader.Config
	// ExplainURL is where the caller serves Handler, recorded on the election's Lease while
	// this scheduler leads so that `tug explain` finds it.
	ExplainURL string
	// Watch, when set, adds the cluster's SchedulerProfiles to Profiles, swapped live; one
	// with the schedulerName of a static profile replaces it while it exists.
	Watch *ProfileWatch
}

// New returns a Scheduler; Run starts it.
func New(cfg Config) *Scheduler {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	c := NewCache(nil)
	s := &Scheduler{client: cfg.Client, static: map[string]*Profile{}, watch: cfg.Watch, explained: newExplanations(maxExplanations), explainURL: cfg.ExplainURL, queue: NewQueue(nil), cache: c,
		fw: NewFramework(c, uint64(time.Now().UnixNano())), log: log.With("component", "scheduler"), election: cfg.Election}
	if s.election != nil {
		e := *s.election
		e.Client = cfg.Client
		s.election = &e
	}
	for _, p := range cfg.Profiles {
		s.static[p.SchedulerName] = p
	}
	eff := maps.Clone(s.static)
	s.profiles.Store(&eff)
	return s
}

// maxExplanations bounds the pods whose last attempt Explain remembers.
const maxExplanations = 10000

// profile returns the profile in effect for a scheduler name, nil if none.
func (s *Scheduler) profile(schedulerName string) *Profile {
	return (*s.profiles.Load())[schedulerName]
}

// responsible reports whether a pod is this scheduler's to place: pending, not being deleted,
// not yet bound, and named for one of its profiles.
func (s *Scheduler) responsible(p *corev1.Pod) bool {
	return p.Spec.NodeName == "" && p.DeletionTimestamp == nil && s.profile(schedulerName(p)) != nil &&
		p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed
}

func schedulerName(p *corev1.Pod) string {
	if p.Spec.SchedulerName == "" {
		return corev1.DefaultSchedulerName
	}
	return p.Spec.SchedulerName
}

// Run watches and schedules until ctx ends — with an Election, only while it leads.
func (s *Scheduler) Run(ctx context.Context) error {
	if s.election == nil {
		return s.run(ctx)
	}
	var err error
	lerr := leader.Run(ctx, *s.election, func(ctx context.Context) {
		if e := s.run(ctx); e != nil {
			err = e
		}
	})
	return errors.Join(lerr, err)
}

// run is one term of scheduling, with fresh informers, queue and cache: a scheduler that
// regains leadership starts from what the API says, not from what it assumed before.
func (s *Scheduler) run(ctx context.Context) error {
	s.termMu.Lock()
	s.queue = NewQueue(nil)
	s.cache = NewCache(nil)
	s.fw = NewFramework(s.cache, uint64(time.Now().UnixNano()))
	s.termMu.Unlock()
	factory := informers.NewSharedInformerFactoryWithOptions(s.client, 0, informers.WithTransform(stripManagedFields))
	pods := factory.Core().V1().Pods().Informer()
	s.termMu.Lock()
	s.pods = pods
	s.termMu.Unlock()
	nodes := factory.Core().V1().Nodes().Informer()
	nodesReg, err := nodes.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { s.onNode(o) },
		UpdateFunc: func(_, o any) { s.onNode(o) },
		DeleteFunc: func(o any) {
			if n, ok := tombstoned(o).(*corev1.Node); ok {
				s.cache.RemoveNode(n.Name)
			}
		},
	})
	if err != nil {
		return err
	}
	podsReg, err := pods.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { s.onPod(o) },
		UpdateFunc: func(_, o any) { s.onPod(o) },
		DeleteFunc: func(o any) {
			if p, ok := tombstoned(o).(*corev1.Pod); ok {
				s.fw.Reject(Key(p), "", "the pod was deleted") // if a Permit holds it
				s.cache.RemovePod(p)
				s.queue.Delete(p)
				s.explained.forget(Key(p))
				s.queue.MoveAll() // what it held is free
			}
		},
	})
	if err != nil {
		return err
	}
	factory.Start(ctx.Done())
	defer factory.Shutdown()
	for typ, ok := range factory.WaitForCacheSync(ctx.Done()) {
		if !ok && ctx.Err() != nil {
			return nil // stopped before the informers synced
		}
		if !ok {
			return fmt.Errorf("scheduler: %v informer did not sync: %w", typ, ctx.Err())
		}
	}
	// The informers' stores are full before their handlers have seen every object; the first
	// cycle must see every node and every bound pod, or it places pods on a partial cluster.
	if !cache.WaitForCacheSync(ctx.Done(), nodesReg.HasSynced, podsReg.HasSynced) {
		return nil
	}
	s.log.Info("scheduler started", "profiles", len(*s.profiles.Load()))
	go s.advertise(ctx)
	if s.watch != nil {
		done := make(chan struct{})
		defer func() { <-done }()
		go func() {
			defer close(done)
			if err := s.runProfiles(ctx, s.watch); err != nil {
				s.log.Error("scheduler profiles not followed", "error", err)
			}
		}()
	}
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				s.queue.Close()
				return
			case <-t.C:
				s.queue.Flush()
				if n := s.cache.Expire(); n > 0 {
					s.log.Warn("assumed pods expired: their bindings never showed up", "pods", n)
					s.queue.MoveAll()
				}
			}
		}
	}()
	for {
		qp, err := s.queue.Pop(ctx)
		if err != nil {
			if errors.Is(err, ErrQueueClosed) || ctx.Err() != nil {
				return nil
			}
			return err
		}
		s.scheduleOne(ctx, qp)
	}
}

// Nodes returns the nodes the current term's cache holds.
func (s *Scheduler) Nodes() []NodeRef {
	s.termMu.Lock()
	c := s.cache
	s.termMu.Unlock()
	return c.Nodes()
}

// stripManagedFields drops what server-side apply keeps on every object and no scheduling
// decision reads, as kube-scheduler's informers do: the cache and every plugin instance would
// otherwise keep, and decode, a second copy of each object's fields.
func stripManagedFields(o any) (any, error) {
	if m, ok := o.(metav1.Object); ok {
		m.SetManagedFields(nil)
	}
	return o, nil
}

func tombstoned(o any) any {
	if t, ok := o.(cache.DeletedFinalStateUnknown); ok {
		return t.Obj
	}
	return o
}

func (s *Scheduler) onNode(o any) {
	n, ok := o.(*corev1.Node)
	if !ok {
		return
	}
	if err := s.cache.SetNode(n); err != nil {
		s.log.Error("node not cached", "node", n.Name, "error", err)
		return
	}
	s.queue.MoveAll()
}

func (s *Scheduler) onPod(o any) {
	p, ok := o.(*corev1.Pod)
	if !ok {
		return
	}
	switch {
	case p.Spec.NodeName != "":
		s.queue.Delete(p)
		if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			s.cache.RemovePod(p)
			s.queue.MoveAll()
			return
		}
		if err := s.cache.AddPod(p); err != nil {
			s.log.Error("pod not cached", "pod", Key(p), "error", err)
		}
	case s.responsible(p):
		s.queue.Add(p)
	default:
		s.queue.Delete(p)
	}
}

// scheduleOne runs a cycle for one pod and, if a node fits, assumes the pod there and binds
// it in the background.
func (s *Scheduler) scheduleOne(ctx context.Context, qp *QueuedPod) {
	pod := qp.Pod
	prof := s.profile(schedulerName(pod))
	if prof == nil {
		s.queue.Done(qp) // its profile went away while it waited
		return
	}
	body, err := json.Marshal(pod)
	if err != nil {
		s.log.Error("pod not encodable", "pod", Key(pod), "error", err)
		s.queue.Done(qp)
		return
	}
	s.cache.Unnominate(pod) // its own room, kept since it preempted, is its to take now
	res, cyc, err := s.fw.Begin(ctx, prof, body)
	s.explained.record(explain(types.NamespacedName{Namespace: pod.Namespace, Name: pod.Name}, prof.SchedulerName, res, err))
	switch {
	case err != nil:
		cyc.Release()
		s.log.Warn("scheduling cycle failed", "pod", Key(pod), "error", err)
		s.failed(ctx, pod, "SchedulerError", err.Error())
		s.queue.Requeue(qp, false)
		return
	case res.Node == "":
		cyc.Release()
		msg := res.Diagnosis.Message()
		if res.Preemption != nil {
			s.preempt(ctx, pod, res.Preemption)
			msg += fmt.Sprintf(" preemption: making room on node %s (%d victims).", res.Preemption.Node, len(res.Preemption.Victims))
		}
		s.log.Debug("pod unschedulable", "pod", Key(pod), "reason", msg)
		s.failed(ctx, pod, corev1.PodReasonUnschedulable, msg)
		s.queue.Requeue(qp, true)
		return
	}
	// kube-scheduler's order from here: assume, Reserve, Permit end the scheduling cycle;
	// the binding cycle runs in the background.
	if err := s.cache.Assume(pod, res.Node); err != nil {
		cyc.Release()
		s.log.Error("assume failed", "pod", Key(pod), "node", res.Node, "error", err)
		s.queue.Requeue(qp, false)
		return
	}
	err = cyc.Reserve(ctx, res.Node)
	if err == nil {
		err = cyc.Permit(ctx, Key(pod), res.Node)
	}
	cyc.Release()
	if err != nil {
		s.cache.Forget(pod)
		s.afterNode(ctx, qp, res.Node, err)
		return
	}
	go s.bindingCycle(ctx, prof, qp, body, res.Node)
}

// bindingCycle binds a pod the scheduling cycle reserved on node, as kube-scheduler's
// bindingCycle: it waits while Permit plugins hold the pod, runs PreBind, writes the binding
// (pods/binding) and runs PostBind. A failure runs Unreserve, forgets the assumed pod and
// queues it again.
func (s *Scheduler) bindingCycle(ctx context.Context, prof *Profile, qp *QueuedPod, body []byte, node string) {
	pod := qp.Pod
	err := s.fw.WaitOnPermit(ctx, Key(pod))
	if err == nil {
		err = s.fw.PreBind(ctx, prof, body, node)
	}
	if err == nil {
		err = s.client.CoreV1().Pods(pod.Namespace).Bind(ctx, &corev1.Binding{
			ObjectMeta: metav1.ObjectMeta{Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID},
			Target:     corev1.ObjectReference{Kind: "Node", Name: node},
		}, metav1.CreateOptions{})
		if err != nil {
			err = &bindError{err}
		}
	}
	if err != nil {
		s.fw.Unreserve(ctx, prof, body, node)
		s.cache.Forget(pod)
		s.afterNode(ctx, qp, node, err)
		s.queue.MoveOthers(qp) // what it held is free, for the others (kube-scheduler's binding cycle)
		return
	}
	s.cache.BindingWritten(pod)
	s.queue.Done(qp)
	s.event(ctx, pod, corev1.EventTypeNormal, "Scheduled", fmt.Sprintf("Successfully assigned %s to %s", Key(pod), node))
	s.fw.PostBind(ctx, prof, body, node)
}

// bindError is the API refusing the binding.
type bindError struct{ err error }

func (e *bindError) Error() string { return fmt.Sprintf("Binding rejected: %v", e.err) }

// afterNode records a pod that failed after its node was chosen — a plugin rejecting it at
// Reserve, Permit or PreBind, a plugin failing, the binding refused — and queues it again: a
// rejection at Reserve or Permit waits as unschedulable pods do (kube-scheduler's
// unschedulable set); anything later backs off.
func (s *Scheduler) afterNode(ctx context.Context, qp *QueuedPod, node string, err error) {
	pod := qp.Pod
	reason, unschedulable := "SchedulerError", false
	var rej *Rejected
	var be *bindError
	switch {
	case errors.As(err, &rej):
		reason, unschedulable = corev1.PodReasonUnschedulable, rej.Point != "PreBind"
	case errors.As(err, &be):
		reason = "FailedBinding"
	}
	s.log.Warn("pod not bound", "pod", Key(pod), "node", node, "error", err)
	s.failed(ctx, pod, reason, err.Error())
	s.queue.Requeue(qp, unschedulable)
}

// preempt carries out a PostFilter's decision as kube-scheduler does: the pod is nominated to
// the node (status.nominatedNodeName, and room kept in the cache), and each victim is deleted
// with a Preempted event. The pod is tried again when the victims are gone.
func (s *Scheduler) preempt(ctx context.Context, pod *corev1.Pod, p *Preemption) {
	if err := s.cache.Nominate(pod, p.Node); err != nil {
		s.log.Warn("nomination not kept", "pod", Key(pod), "node", p.Node, "error", err)
	}
	if pod.Status.NominatedNodeName != p.Node {
		patch, _ := json.Marshal(map[string]any{"status": map[string]any{"nominatedNodeName": p.Node}})
		if _, err := s.client.CoreV1().Pods(pod.Namespace).Patch(ctx, pod.Name, types.MergePatchType, patch,
			metav1.PatchOptions{}, "status"); err != nil && ctx.Err() == nil {
			s.log.Warn("nominatedNodeName not written", "pod", Key(pod), "error", err)
		}
	}
	for _, v := range p.Victims {
		uid := v.UID
		err := s.client.CoreV1().Pods(v.Namespace).Delete(ctx, v.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			s.log.Warn("victim not deleted", "pod", Key(v), "preemptor", Key(pod), "error", err)
			continue
		}
		s.event(ctx, v, corev1.EventTypeNormal, "Preempted", fmt.Sprintf("Preempted by pod %s on node %s", Key(pod), p.Node))
	}
	s.log.Info("preempting", "pod", Key(pod), "node", p.Node, "victims", len(p.Victims))
}

// failed records a failed attempt as kube-scheduler does: a FailedScheduling event and the
// pod's PodScheduled condition False with the reason.
func (s *Scheduler) failed(ctx context.Context, pod *corev1.Pod, reason, msg string) {
	s.event(ctx, pod, corev1.EventTypeWarning, "FailedScheduling", msg)
	patch, err := json.Marshal(map[string]any{"status": map[string]any{"conditions": []corev1.PodCondition{{
		Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: reason, Message: msg,
		LastTransitionTime: metav1.Now(),
	}}}})
	if err != nil {
		return
	}
	if _, err := s.client.CoreV1().Pods(pod.Namespace).Patch(ctx, pod.Name, types.StrategicMergePatchType, patch,
		metav1.PatchOptions{}, "status"); err != nil && ctx.Err() == nil {
		s.log.Debug("PodScheduled condition not written", "pod", Key(pod), "error", err)
	}
}

func (s *Scheduler) event(ctx context.Context, pod *corev1.Pod, typ, reason, msg string) {
	now := metav1.Now()
	ev := &corev1.Event{
		// Named as client-go's recorder names events: the object's name and a unique suffix.
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s.%x", pod.Name, now.UnixNano()), Namespace: pod.Namespace},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", APIVersion: "v1", Namespace: pod.Namespace,
			Name: pod.Name, UID: pod.UID, ResourceVersion: pod.ResourceVersion},
		Type: typ, Reason: reason, Message: msg, Count: 1, FirstTimestamp: now, LastTimestamp: now,
		Source:              corev1.EventSource{Component: corev1.DefaultSchedulerName},
		ReportingController: corev1.DefaultSchedulerName,
	}
	if _, err := s.client.CoreV1().Events(pod.Namespace).Create(ctx, ev, metav1.CreateOptions{}); err != nil && ctx.Err() == nil {
		s.log.Debug("event not written", "pod", Key(pod), "reason", reason, "error", err)
	}
}
