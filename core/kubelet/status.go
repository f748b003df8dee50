package kubelet

import (
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tugboat-io/tug/core/kubelet/container"
)

// statusInput is everything a pod's status is computed from.
type statusInput struct {
	pod    *corev1.Pod
	obs    observed
	probes probeView
	plan   plan
	hostIP string
	now    time.Time
}

// podStatus computes the status a pod should have, keeping the old status's transition times
// and start time where nothing changed, so an unchanged pod yields an equal status and no
// write.
func podStatus(in statusInput) corev1.PodStatus {
	pod, obs := in.pod, in.obs
	old := pod.Status
	st := corev1.PodStatus{
		HostIP:            in.hostIP,
		StartTime:         old.StartTime,
		QOSClass:          old.QOSClass,
		NominatedNodeName: old.NominatedNodeName,
	}
	if in.hostIP != "" {
		st.HostIPs = []corev1.HostIP{{IP: in.hostIP}}
	}
	if st.StartTime == nil {
		t := metaTime(in.now)
		st.StartTime = &t
	}
	if obs.sandbox != nil && obs.sandbox.IP.IsValid() {
		st.PodIP = obs.sandbox.IP.String()
		st.PodIPs = []corev1.PodIP{{IP: st.PodIP}}
	} else if old.PodIP != "" && in.plan.phase == "" {
		// Between sandboxes (an agent restart) the pod keeps the address it is about to get
		// again, rather than flapping to none.
		st.PodIP, st.PodIPs = old.PodIP, old.PodIPs
	}

	initDone := true
	for i := range pod.Spec.InitContainers {
		spec := &pod.Spec.InitContainers[i]
		cs := containerStatus(spec, obs, in.probes, in.plan, reasonPodInitializing)
		if !(cs.State.Terminated != nil && cs.State.Terminated.ExitCode == 0) {
			initDone = false
		}
		if cs.State.Waiting != nil && cs.State.Waiting.Reason == reasonPodInitializing {
			// The init container about to start is being created, not waiting for others.
			cs.State.Waiting.Reason = reasonContainerCreating
			if !firstPendingInit(pod, obs, spec.Name) {
				cs.State.Waiting.Reason = reasonPodInitializing
			}
		}
		st.InitContainerStatuses = append(st.InitContainerStatuses, cs)
	}
	waitReason := reasonContainerCreating
	if !initDone {
		waitReason = reasonPodInitializing
	}
	// The phase follows kubelet's rule: a container waiting to restart (it has a last
	// termination) counts as stopped, not as waiting; any truly waiting container keeps
	// the pod Pending.
	running, waiting, stopped, allReady := 0, 0, 0, true
	for i := range pod.Spec.Containers {
		cs := containerStatus(&pod.Spec.Containers[i], obs, in.probes, in.plan, waitReason)
		switch {
		case cs.State.Running != nil:
			running++
		case cs.State.Terminated != nil || cs.LastTerminationState.Terminated != nil:
			stopped++
		default:
			waiting++
		}
		if !cs.Ready {
			allReady = false
		}
		st.ContainerStatuses = append(st.ContainerStatuses, cs)
	}
	switch {
	case in.plan.phase != "":
		st.Phase = in.plan.phase
	case !initDone || waiting > 0:
		st.Phase = corev1.PodPending
	case running > 0 || stopped > 0:
		// Every container started; those that stopped restart (decide made a terminal
		// phase otherwise).
		st.Phase = corev1.PodRunning
	default:
		st.Phase = corev1.PodPending
	}

	sandboxReady := obs.sandbox != nil && obs.sandbox.Ready && in.plan.phase == ""
	ready := allReady && st.Phase == corev1.PodRunning && readinessGatesPass(pod)
	conds := []corev1.PodCondition{
		{Type: corev1.PodReadyToStartContainers, Status: boolCond(sandboxReady)},
		{Type: corev1.PodInitialized, Status: boolCond(initDone)},
		{Type: corev1.ContainersReady, Status: boolCond(allReady && st.Phase == corev1.PodRunning)},
		{Type: corev1.PodReady, Status: boolCond(ready)},
	}
	if !ready && st.Phase == corev1.PodRunning {
		conds[2].Reason, conds[3].Reason = "ContainersNotReady", "ContainersNotReady"
	}
	if in.plan.phase != "" {
		conds[2].Reason, conds[3].Reason = "PodCompleted", "PodCompleted"
	}
	// Conditions the agent does not own (PodScheduled, DisruptionTarget, readiness gates)
	// are kept as they are.
	for _, c := range old.Conditions {
		if !ownedCondition(c.Type) {
			st.Conditions = append(st.Conditions, c)
		}
	}
	for _, c := range conds {
		c.LastTransitionTime = metaTime(in.now)
		for _, o := range old.Conditions {
			if o.Type == c.Type && o.Status == c.Status {
				c.LastTransitionTime = o.LastTransitionTime
			}
		}
		st.Conditions = append(st.Conditions, c)
	}
	return st
}

func firstPendingInit(pod *corev1.Pod, obs observed, name string) bool {
	for _, ic := range pod.Spec.InitContainers {
		c, ok := obs.latest(ic.Name)
		if ok && c.State == container.StateExited && c.ExitCode == 0 {
			continue
		}
		return ic.Name == name
	}
	return false
}

func ownedCondition(t corev1.PodConditionType) bool {
	switch t {
	case corev1.PodReadyToStartContainers, corev1.PodInitialized, corev1.ContainersReady, corev1.PodReady:
		return true
	}
	return false
}

func readinessGatesPass(pod *corev1.Pod) bool {
	for _, g := range pod.Spec.ReadinessGates {
		pass := false
		for _, c := range pod.Status.Conditions {
			if c.Type == g.ConditionType && c.Status == corev1.ConditionTrue {
				pass = true
			}
		}
		if !pass {
			return false
		}
	}
	return true
}

func boolCond(b bool) corev1.ConditionStatus {
	if b {
		return corev1.ConditionTrue
	}
	return corev1.ConditionFalse
}

// containerStatus reports one container: its latest attempt's state, the attempt before as
// lastState, and why it waits when it is not running.
func containerStatus(spec *corev1.Container, obs observed, probes probeView, p plan, waitReason string) corev1.ContainerStatus {
	cs := corev1.ContainerStatus{Name: spec.Name, Image: spec.Image}
	c, ok := obs.latest(spec.Name)
	if ok {
		cs.RestartCount = int32(c.Attempt)
		cs.ImageID = c.ImageRef
		cs.ContainerID = c.Runtime + "://" + c.ID
		if c.ImageName != "" {
			cs.Image = c.ImageName
		}
	}
	if prev, ok := obs.previous(spec.Name); ok {
		cs.LastTerminationState.Terminated = terminatedState(prev)
	}
	switch {
	case ok && c.State == container.StateRunning:
		cs.State.Running = &corev1.ContainerStateRunning{StartedAt: metaTime(c.StartedAt)}
		started, hasStartup := probes.started[spec.Name]
		cs.Started = ptr(started || !hasStartup)
		ready, hasReadiness := probes.ready[spec.Name]
		cs.Ready = *cs.Started && (ready || !hasReadiness)
	case ok && (c.State == container.StateExited || c.State == container.StateUnknown):
		cs.Started = ptr(false)
		if w, waiting := p.waiting[spec.Name]; waiting {
			// Kubernetes shows a restarting container as waiting, with the exit in lastState.
			cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: w.reason, Message: w.message}
			cs.LastTerminationState.Terminated = terminatedState(c)
		} else if restarting(p, spec.Name) {
			cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: reasonContainerCreating}
			cs.LastTerminationState.Terminated = terminatedState(c)
		} else {
			cs.State.Terminated = terminatedState(c)
		}
	default:
		cs.Started = ptr(false)
		w, waiting := p.waiting[spec.Name]
		if !waiting {
			w = waitingReason{reason: waitReason}
		}
		cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: w.reason, Message: w.message}
	}
	return cs
}

func restarting(p plan, name string) bool {
	for _, s := range p.start {
		if s.name == name {
			return true
		}
	}
	return false
}

func terminatedState(c container.Container) *corev1.ContainerStateTerminated {
	reason := c.Reason
	if reason == "" {
		reason = "Error"
		if c.ExitCode == 0 {
			reason = "Completed"
		}
	}
	return &corev1.ContainerStateTerminated{
		ExitCode: int32(c.ExitCode), Reason: reason, Message: c.Message,
		StartedAt: metaTime(c.StartedAt), FinishedAt: metaTime(c.FinishedAt),
		ContainerID: c.Runtime + "://" + c.ID,
	}
}

// statusChanged reports whether st differs from what the API server holds.
func statusChanged(old, st corev1.PodStatus) bool {
	return !equality.Semantic.DeepEqual(old, st)
}

func ptr[T any](v T) *T { return &v }

// metaTime is t as the API server will store it (whole seconds), so a status computed again
// compares equal to the one written before.
func metaTime(t time.Time) metav1.Time {
	if t.IsZero() {
		return metav1.Time{}
	}
	return metav1.NewTime(t.UTC().Truncate(time.Second))
}
