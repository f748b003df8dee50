package kubelet

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/tugboat-io/tug/core/kubelet/container"
)

func condition(st corev1.PodStatus, typ corev1.PodConditionType) corev1.ConditionStatus {
	for _, c := range st.Conditions {
		if c.Type == typ {
			return c.Status
		}
	}
	return ""
}

func statusOf(pod *corev1.Pod, sb *container.Sandbox, cs []container.Container, probes probeView) corev1.PodStatus {
	obs := newObserved(sb, cs)
	p := decide(pod, obs, probes, map[string]startFailure{}, defaultBackoff, t0)
	return podStatus(statusInput{pod: pod, obs: obs, probes: probes, plan: p, hostIP: "192.0.2.10", now: t0})
}

func TestPodStatus(t *testing.T) {
	tests := []struct {
		name   string
		pod    *corev1.Pod
		cs     []container.Container
		probes probeView
		check  func(t *testing.T, st corev1.PodStatus)
	}{
		{
			name: "containers being created keep the pod Pending", pod: testPod(corev1.RestartPolicyAlways, "app"),
			check: func(t *testing.T, st corev1.PodStatus) {
				if st.Phase != corev1.PodPending || st.ContainerStatuses[0].State.Waiting == nil {
					t.Errorf("phase %s, state %+v", st.Phase, st.ContainerStatuses[0].State)
				}
			},
		},
		{
			name: "a running container without probes is ready", pod: testPod(corev1.RestartPolicyAlways, "app"),
			cs: []container.Container{running("app", 0)},
			check: func(t *testing.T, st corev1.PodStatus) {
				if st.Phase != corev1.PodRunning || !st.ContainerStatuses[0].Ready || condition(st, corev1.PodReady) != corev1.ConditionTrue {
					t.Errorf("phase %s ready %v Ready %s", st.Phase, st.ContainerStatuses[0].Ready, condition(st, corev1.PodReady))
				}
				if st.PodIP != "10.0.0.5" || st.HostIP != "192.0.2.10" {
					t.Errorf("podIP %q hostIP %q", st.PodIP, st.HostIP)
				}
			},
		},
		{
			name: "a failing readiness probe makes the pod not Ready", pod: testPod(corev1.RestartPolicyAlways, "app"),
			cs:     []container.Container{running("app", 0)},
			probes: probeView{ready: map[string]bool{"app": false}, started: map[string]bool{}, livenessFailed: map[string]bool{}},
			check: func(t *testing.T, st corev1.PodStatus) {
				if st.Phase != corev1.PodRunning || st.ContainerStatuses[0].Ready || condition(st, corev1.PodReady) != corev1.ConditionFalse {
					t.Errorf("phase %s ready %v Ready %s", st.Phase, st.ContainerStatuses[0].Ready, condition(st, corev1.PodReady))
				}
			},
		},
		{
			name: "a container in back-off waits with its last exit shown", pod: testPod(corev1.RestartPolicyAlways, "app"),
			cs: []container.Container{exited("app", 0, 1, t0.Add(-20*time.Second)), exited("app", 1, 1, t0.Add(-time.Second))},
			check: func(t *testing.T, st corev1.PodStatus) {
				cs := st.ContainerStatuses[0]
				if cs.State.Waiting == nil || cs.State.Waiting.Reason != reasonCrashLoopBackOff {
					t.Fatalf("state %+v, want waiting CrashLoopBackOff", cs.State)
				}
				if cs.LastTerminationState.Terminated == nil || cs.LastTerminationState.Terminated.ExitCode != 1 || cs.RestartCount != 1 {
					t.Errorf("lastState %+v restartCount %d", cs.LastTerminationState, cs.RestartCount)
				}
				if st.Phase != corev1.PodRunning {
					t.Errorf("phase %s, want Running (a crash loop is still Running)", st.Phase)
				}
			},
		},
		{
			name: "a Never pod whose containers all succeeded is Succeeded", pod: testPod(corev1.RestartPolicyNever, "app"),
			cs: []container.Container{exited("app", 0, 0, t0)},
			check: func(t *testing.T, st corev1.PodStatus) {
				if st.Phase != corev1.PodSucceeded || st.ContainerStatuses[0].State.Terminated == nil ||
					st.ContainerStatuses[0].State.Terminated.Reason != "Completed" {
					t.Errorf("phase %s state %+v", st.Phase, st.ContainerStatuses[0].State)
				}
			},
		},
		{
			name: "a pod waiting on init containers is Pending and not Initialized", pod: withInit(testPod(corev1.RestartPolicyAlways, "app"), "i1"),
			cs: []container.Container{running("i1", 0)},
			check: func(t *testing.T, st corev1.PodStatus) {
				if st.Phase != corev1.PodPending || condition(st, corev1.PodInitialized) != corev1.ConditionFalse {
					t.Errorf("phase %s Initialized %s", st.Phase, condition(st, corev1.PodInitialized))
				}
				if w := st.ContainerStatuses[0].State.Waiting; w == nil || w.Reason != reasonPodInitializing {
					t.Errorf("app state %+v, want waiting PodInitializing", st.ContainerStatuses[0].State)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			probes := tt.probes
			if probes.ready == nil {
				probes = noProbes()
			}
			tt.check(t, statusOf(tt.pod, readySandbox, tt.cs, probes))
		})
	}
}

// A status computed again from the same observation equals the one stored (times in whole
// seconds, transitions kept), so an unchanged pod causes no write.
func TestPodStatusIsStable(t *testing.T) {
	pod := testPod(corev1.RestartPolicyAlways, "app")
	cs := []container.Container{running("app", 0)}
	cs[0].StartedAt = t0.Add(-1500 * time.Millisecond)
	first := statusOf(pod, readySandbox, cs, noProbes())
	pod.Status = first
	obs := newObserved(readySandbox, cs)
	p := decide(pod, obs, noProbes(), map[string]startFailure{}, defaultBackoff, t0.Add(time.Minute))
	again := podStatus(statusInput{pod: pod, obs: obs, probes: noProbes(), plan: p, hostIP: "192.0.2.10", now: t0.Add(time.Minute)})
	if statusChanged(first, again) {
		t.Errorf("status changed with nothing new:\nfirst %+v\nagain %+v", first, again)
	}
}
