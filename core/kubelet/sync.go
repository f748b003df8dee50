package kubelet

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/tugboat-io/tug/core/kubelet/container"
)

// This file is the pure decision core of a pod worker: given the pod's spec, what the runtime
// shows of it, probe results and past failures, it says what to do next. No I/O happens here;
// the worker does what the plan says and comes back.

// observed is what a worker saw of its pod in the runtime.
type observed struct {
	sandbox *container.Sandbox
	// containers holds every attempt of each container the runtime still keeps, oldest first.
	containers map[string][]container.Container
}

// latest returns the newest attempt of the named container, if any.
func (o observed) latest(name string) (container.Container, bool) {
	cs := o.containers[name]
	if len(cs) == 0 {
		return container.Container{}, false
	}
	return cs[len(cs)-1], true
}

// previous returns the attempt before the newest, if the runtime still keeps it.
func (o observed) previous(name string) (container.Container, bool) {
	cs := o.containers[name]
	if len(cs) < 2 {
		return container.Container{}, false
	}
	return cs[len(cs)-2], true
}

func newObserved(sb *container.Sandbox, cs []container.Container) observed {
	o := observed{sandbox: sb, containers: map[string][]container.Container{}}
	for _, c := range cs {
		o.containers[c.Name] = append(o.containers[c.Name], c)
	}
	for _, list := range o.containers {
		sort.Slice(list, func(i, j int) bool { return list[i].Attempt < list[j].Attempt })
	}
	return o
}

// startFailure records why the last try to start a container failed, so the worker backs off
// and the status shows the reason (ErrImagePull, CreateContainerConfigError, …).
type startFailure struct {
	reason, message string
	at              time.Time
	count           int
}

// probeView is what the probes of a pod's running containers last said.
type probeView struct {
	// livenessFailed names containers whose liveness probe crossed its failure threshold
	// for the attempt now running.
	livenessFailed map[string]bool
	// ready and started hold readiness and startup results; a container without that probe
	// is absent and counts as ready / started once running.
	ready, started map[string]bool
}

// backoff is the crash-loop back-off: the first restart is immediate, the next waits Initial,
// then twice as long each time up to Max, as kubelet does. A container that ran for Reset
// before it exited starts over.
type backoff struct{ Initial, Max, Reset time.Duration }

var defaultBackoff = backoff{Initial: 10 * time.Second, Max: 300 * time.Second, Reset: 10 * time.Minute}

// delay is how long after its last exit a container may start attempt number next.
func (b backoff) delay(next int, ran time.Duration) time.Duration {
	if next <= 1 || ran >= b.Reset {
		return 0
	}
	d := b.Initial
	for i := 2; i < next && d < b.Max; i++ {
		d *= 2
	}
	return min(d, b.Max)
}

// failureDelay is how long to wait before trying again to start a container that failed to
// start count times.
func (b backoff) failureDelay(count int) time.Duration {
	d := b.Initial
	for i := 1; i < count && d < b.Max; i++ {
		d *= 2
	}
	return min(d, b.Max)
}

// kill is a container to stop, and why.
type kill struct {
	id, name, reason, message string
}

// plan is what a worker does in one pass.
type plan struct {
	// makeSandbox: the pod has no ready sandbox; make one before anything else (and kill
	// whatever ran in a dead one).
	makeSandbox bool
	kill        []kill
	// start lists the containers to start now, with the attempt number each gets. Init
	// containers start one at a time, so it holds at most one when init is true.
	start []startContainer
	init  bool
	// waiting says why a container is not running and not being started now.
	waiting map[string]waitingReason
	// phase is Succeeded or Failed when the pod has finished and will never run again.
	phase corev1.PodPhase
	// wakeAt is when a back-off ends and the worker should look again (zero: no need).
	wakeAt time.Time
}

type startContainer struct {
	name    string
	attempt int
}

type waitingReason struct{ reason, message string }

// decide is the decision core: what to do for pod now.
func decide(pod *corev1.Pod, obs observed, probes probeView, failures map[string]startFailure, bo backoff, now time.Time) plan {
	p := plan{waiting: map[string]waitingReason{}}
	if obs.sandbox == nil || !obs.sandbox.Ready {
		p.makeSandbox = true
		// Containers of a dead sandbox lost their network; they are stopped and, like
		// kubelet's, started again in the new one.
		for _, cs := range obs.containers {
			for _, c := range cs {
				if c.State == container.StateRunning {
					p.kill = append(p.kill, kill{id: c.ID, name: c.Name, reason: "SandboxChanged", message: "pod sandbox changed, it will be killed and re-created"})
				}
			}
		}
		return p
	}
	policy := pod.Spec.RestartPolicy

	// Init containers run one after another; the pod's containers wait for all of them.
	for _, ic := range pod.Spec.InitContainers {
		c, ok := obs.latest(ic.Name)
		switch {
		case !ok:
			p.init = true
			p.startOrWait(ic.Name, firstAttempt(pod.Status.InitContainerStatuses, ic.Name), time.Time{}, 0, failures, bo, now)
			return p
		case c.State == container.StateRunning || c.State == container.StateCreated:
			return p
		case c.ExitCode == 0:
			continue
		case policy == corev1.RestartPolicyNever:
			p.phase = corev1.PodFailed
			return p
		default:
			p.init = true
			p.startOrWait(ic.Name, c.Attempt+1, c.FinishedAt, c.FinishedAt.Sub(c.StartedAt), failures, bo, now)
			return p
		}
	}

	exited, failed := 0, 0
	for i := range pod.Spec.Containers {
		spec := &pod.Spec.Containers[i]
		c, ok := obs.latest(spec.Name)
		if !ok {
			p.startOrWait(spec.Name, firstAttempt(pod.Status.ContainerStatuses, spec.Name), time.Time{}, 0, failures, bo, now)
			continue
		}
		switch c.State {
		case container.StateRunning, container.StateCreated:
			if probes.livenessFailed[spec.Name] {
				p.kill = append(p.kill, kill{id: c.ID, name: spec.Name, reason: "Unhealthy", message: fmt.Sprintf("Container %s failed liveness probe, will be restarted", spec.Name)})
			} else if c.SpecHash != "" && c.SpecHash != specHash(spec) {
				p.kill = append(p.kill, kill{id: c.ID, name: spec.Name, reason: "Killing", message: fmt.Sprintf("Container %s definition changed, will be restarted", spec.Name)})
			}
			continue
		}
		// Exited (or unknown, which a runtime reports for a container it lost).
		exited++
		if c.ExitCode != 0 || c.State == container.StateUnknown {
			failed++
		}
		restart := policy == corev1.RestartPolicyAlways || policy == "" ||
			(policy == corev1.RestartPolicyOnFailure && (c.ExitCode != 0 || c.State == container.StateUnknown))
		if restart {
			p.startOrWait(spec.Name, c.Attempt+1, c.FinishedAt, c.FinishedAt.Sub(c.StartedAt), failures, bo, now)
		}
	}
	if len(pod.Spec.Containers) > 0 && exited == len(pod.Spec.Containers) && len(p.start) == 0 && len(p.waiting) == 0 {
		p.phase = corev1.PodSucceeded
		if failed > 0 {
			p.phase = corev1.PodFailed
		}
	}
	return p
}

// firstAttempt is the attempt number for a container the runtime holds no attempt of: 0 for
// one never started, else one more than the API last saw, so that restarts keep counting
// when a runtime lost the containers (the in-process wasm runtime across an agent restart).
// Such a start does not back off: nothing crashed.
func firstAttempt(statuses []corev1.ContainerStatus, name string) int {
	for _, cs := range statuses {
		if cs.Name == name && cs.ContainerID != "" {
			return int(cs.RestartCount) + 1
		}
	}
	return 0
}

// startOrWait starts container name as attempt, unless it is still backing off from its last
// exit (at finished, after running for ran) or from a failure to start.
func (p *plan) startOrWait(name string, attempt int, finished time.Time, ran time.Duration, failures map[string]startFailure, bo backoff, now time.Time) {
	if f, ok := failures[name]; ok {
		until := f.at.Add(bo.failureDelay(f.count))
		if now.Before(until) {
			reason := f.reason
			if reason == reasonErrImagePull {
				reason = reasonImagePullBackOff
			}
			p.waiting[name] = waitingReason{reason: reason, message: f.message}
			p.wakeAt = earliest(p.wakeAt, until)
			return
		}
	}
	if attempt > 0 && !finished.IsZero() {
		until := finished.Add(bo.delay(attempt, ran))
		if now.Before(until) {
			p.waiting[name] = waitingReason{reason: reasonCrashLoopBackOff,
				message: fmt.Sprintf("back-off %s restarting failed container=%s", bo.delay(attempt, ran), name)}
			p.wakeAt = earliest(p.wakeAt, until)
			return
		}
	}
	p.start = append(p.start, startContainer{name: name, attempt: attempt})
}

func earliest(a, b time.Time) time.Time {
	if a.IsZero() || b.Before(a) {
		return b
	}
	return a
}

// Waiting reasons, as kubelet names them.
const (
	reasonContainerCreating      = "ContainerCreating"
	reasonPodInitializing        = "PodInitializing"
	reasonCrashLoopBackOff       = "CrashLoopBackOff"
	reasonErrImagePull           = "ErrImagePull"
	reasonImagePullBackOff       = "ImagePullBackOff"
	reasonErrImageNeverPull      = "ErrImageNeverPull"
	reasonCreateContainerConfig  = "CreateContainerConfigError"
	reasonCreateContainerError   = "CreateContainerError"
	reasonRunContainerError      = "RunContainerError"
	reasonUnsupportedRuntime     = "RuntimeClassNotFound"
	reasonFailedCreatePodSandbox = "FailedCreatePodSandBox"
)

// specHash identifies a container spec, so a running container whose spec changed (a new
// image, the only change the API allows on a pod) is restarted.
func specHash(c *corev1.Container) string {
	b, _ := json.Marshal(c)
	h := fnv.New64a()
	h.Write(b)
	return fmt.Sprintf("%016x", h.Sum64())
}
