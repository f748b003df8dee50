package kubelet

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// recorder writes the agent's events on pods, from its own goroutine (run): a pod worker only
// queues an event and goes on, so API writes for events never delay a container's start or
// its status, as with client-go's broadcaster. When the queue is full an event is dropped.
// The same event on the same pod again (a back-off, a failing probe) bumps the count of the
// one written before instead of piling up new ones, as client-go's correlator does.
type recorder struct {
	client kubernetes.Interface
	node   string
	log    *slog.Logger

	queue chan queuedEvent

	mu   sync.Mutex
	seen map[string]*corev1.Event // by pod UID + type + reason + message
}

type queuedEvent struct {
	pod              *corev1.Pod
	typ, reason, msg string
}

func newRecorder(c kubernetes.Interface, node string, log *slog.Logger) *recorder {
	return &recorder{client: c, node: node, log: log, seen: map[string]*corev1.Event{}, queue: make(chan queuedEvent, 1024)}
}

// run writes queued events until ctx ends.
func (r *recorder) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case e := <-r.queue:
			r.record(ctx, e.pod, e.typ, e.reason, e.msg)
		}
	}
}

func (r *recorder) normal(_ context.Context, pod *corev1.Pod, reason, msg string) {
	r.enqueue(pod, corev1.EventTypeNormal, reason, msg)
}

func (r *recorder) warn(_ context.Context, pod *corev1.Pod, reason, msg string) {
	r.enqueue(pod, corev1.EventTypeWarning, reason, msg)
}

func (r *recorder) enqueue(pod *corev1.Pod, typ, reason, msg string) {
	select {
	case r.queue <- queuedEvent{pod, typ, reason, msg}:
	default:
		r.log.Debug("event dropped: queue full", "pod", pod.Namespace+"/"+pod.Name, "reason", reason)
	}
}

func (r *recorder) record(ctx context.Context, pod *corev1.Pod, typ, reason, msg string) {
	if len(msg) > 1024 {
		msg = msg[:1021] + "..."
	}
	now := metav1.NewTime(time.Now())
	key := string(pod.UID) + "\x00" + typ + "\x00" + reason + "\x00" + msg
	events := r.client.CoreV1().Events(pod.Namespace)
	r.mu.Lock()
	prev := r.seen[key]
	if len(r.seen) > 4096 {
		// Old entries only save a few events' worth of objects; forget them all.
		r.seen = map[string]*corev1.Event{}
	}
	r.mu.Unlock()
	if prev != nil {
		ev := prev.DeepCopy()
		ev.Count++
		ev.LastTimestamp = now
		if out, err := events.Update(ctx, ev, metav1.UpdateOptions{}); err == nil {
			r.remember(key, out)
			return
		}
	}
	ev := &corev1.Event{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s.%x", pod.Name, now.UnixNano()), Namespace: pod.Namespace},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", APIVersion: "v1", Namespace: pod.Namespace, Name: pod.Name,
			UID: pod.UID, ResourceVersion: pod.ResourceVersion},
		Type: typ, Reason: reason, Message: msg, Count: 1, FirstTimestamp: now, LastTimestamp: now,
		Source:              corev1.EventSource{Component: "kubelet", Host: r.node},
		ReportingController: "kubelet", ReportingInstance: r.node,
	}
	out, err := events.Create(ctx, ev, metav1.CreateOptions{})
	if err != nil {
		if ctx.Err() == nil {
			r.log.Debug("event not written", "pod", pod.Namespace+"/"+pod.Name, "reason", reason, "err", err)
		}
		return
	}
	r.remember(key, out)
}

func (r *recorder) remember(key string, ev *corev1.Event) {
	r.mu.Lock()
	r.seen[key] = ev
	r.mu.Unlock()
}
