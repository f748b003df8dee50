package kubelet

import (
	"net/netip"
	"reflect"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tugboat-io/tug/core/kubelet/container"
)

var t0 = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

func testPod(policy corev1.RestartPolicy, names ...string) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", UID: "u1"},
		Spec: corev1.PodSpec{RestartPolicy: policy, NodeName: "n1"}}
	for _, n := range names {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: n, Image: "img"})
	}
	return p
}

func withInit(p *corev1.Pod, names ...string) *corev1.Pod {
	for _, n := range names {
		p.Spec.InitContainers = append(p.Spec.InitContainers, corev1.Container{Name: n, Image: "img"})
	}
	return p
}

var readySandbox = &container.Sandbox{PodUID: "u1", ID: "sb", IP: netip.MustParseAddr("10.0.0.5"), Ready: true}

func running(name string, attempt int) container.Container {
	return container.Container{ID: name + "-" + string(rune('0'+attempt)), Runtime: "wasm", PodUID: "u1", Name: name, Attempt: attempt,
		State: container.StateRunning, StartedAt: t0.Add(-time.Minute)}
}

func exited(name string, attempt, code int, finished time.Time) container.Container {
	c := running(name, attempt)
	c.State, c.ExitCode, c.FinishedAt = container.StateExited, code, finished
	c.StartedAt = finished.Add(-time.Second)
	return c
}

func noProbes() probeView {
	return probeView{livenessFailed: map[string]bool{}, ready: map[string]bool{}, started: map[string]bool{}}
}

func starts(p plan) []startContainer { return p.start }

func TestDecide(t *testing.T) {
	tests := []struct {
		name     string
		pod      *corev1.Pod
		sandbox  *container.Sandbox
		cs       []container.Container
		probes   probeView
		failures map[string]startFailure
		want     func(t *testing.T, p plan)
	}{
		{
			name: "a new pod gets a sandbox first", pod: testPod(corev1.RestartPolicyAlways, "app"),
			want: func(t *testing.T, p plan) {
				if !p.makeSandbox || len(p.start) != 0 {
					t.Errorf("want only makeSandbox, got %+v", p)
				}
			},
		},
		{
			name: "with a sandbox every container starts at attempt 0", pod: testPod(corev1.RestartPolicyAlways, "a", "b"), sandbox: readySandbox,
			want: func(t *testing.T, p plan) {
				if want := []startContainer{{"a", 0}, {"b", 0}}; !reflect.DeepEqual(starts(p), want) {
					t.Errorf("start = %v, want %v", starts(p), want)
				}
			},
		},
		{
			name: "a running container is left alone", pod: testPod(corev1.RestartPolicyAlways, "app"), sandbox: readySandbox,
			cs: []container.Container{running("app", 0)},
			want: func(t *testing.T, p plan) {
				if len(p.start)+len(p.kill) != 0 || p.phase != "" {
					t.Errorf("want nothing to do, got %+v", p)
				}
			},
		},
		{
			name: "the first restart after a crash is immediate", pod: testPod(corev1.RestartPolicyAlways, "app"), sandbox: readySandbox,
			cs: []container.Container{exited("app", 0, 1, t0)},
			want: func(t *testing.T, p plan) {
				if want := []startContainer{{"app", 1}}; !reflect.DeepEqual(starts(p), want) {
					t.Errorf("start = %v, want %v", starts(p), want)
				}
			},
		},
		{
			name: "the second restart backs off 10s", pod: testPod(corev1.RestartPolicyAlways, "app"), sandbox: readySandbox,
			cs: []container.Container{exited("app", 0, 1, t0.Add(-20*time.Second)), exited("app", 1, 1, t0.Add(-5*time.Second))},
			want: func(t *testing.T, p plan) {
				if len(p.start) != 0 || p.waiting["app"].reason != reasonCrashLoopBackOff {
					t.Errorf("want CrashLoopBackOff wait, got %+v", p)
				}
				if want := t0.Add(5 * time.Second); !p.wakeAt.Equal(want) {
					t.Errorf("wakeAt = %v, want %v", p.wakeAt, want)
				}
			},
		},
		{
			name: "the back-off doubles with each restart", pod: testPod(corev1.RestartPolicyAlways, "app"), sandbox: readySandbox,
			cs: []container.Container{exited("app", 2, 1, t0.Add(-15*time.Second))},
			want: func(t *testing.T, p plan) {
				// attempt 3 waits 20s after the exit: 5s still to go.
				if want := t0.Add(5 * time.Second); len(p.start) != 0 || !p.wakeAt.Equal(want) {
					t.Errorf("want a wait until %v, got %+v", want, p)
				}
			},
		},
		{
			name: "OnFailure does not restart a success", pod: testPod(corev1.RestartPolicyOnFailure, "app"), sandbox: readySandbox,
			cs: []container.Container{exited("app", 0, 0, t0)},
			want: func(t *testing.T, p plan) {
				if len(p.start) != 0 || p.phase != corev1.PodSucceeded {
					t.Errorf("want Succeeded and no start, got %+v", p)
				}
			},
		},
		{
			name: "OnFailure restarts a failure", pod: testPod(corev1.RestartPolicyOnFailure, "app"), sandbox: readySandbox,
			cs: []container.Container{exited("app", 0, 2, t0)},
			want: func(t *testing.T, p plan) {
				if want := []startContainer{{"app", 1}}; !reflect.DeepEqual(starts(p), want) || p.phase != "" {
					t.Errorf("start = %v phase %q, want %v", starts(p), p.phase, want)
				}
			},
		},
		{
			name: "Never with a failure fails the pod", pod: testPod(corev1.RestartPolicyNever, "a", "b"), sandbox: readySandbox,
			cs: []container.Container{exited("a", 0, 0, t0), exited("b", 0, 3, t0)},
			want: func(t *testing.T, p plan) {
				if p.phase != corev1.PodFailed || len(p.start) != 0 {
					t.Errorf("want Failed, got %+v", p)
				}
			},
		},
		{
			name: "Never with one container still running is not done", pod: testPod(corev1.RestartPolicyNever, "a", "b"), sandbox: readySandbox,
			cs: []container.Container{exited("a", 0, 0, t0), running("b", 0)},
			want: func(t *testing.T, p plan) {
				if p.phase != "" {
					t.Errorf("phase = %q, want none", p.phase)
				}
			},
		},
		{
			name: "a failed liveness probe kills the container", pod: testPod(corev1.RestartPolicyAlways, "app"), sandbox: readySandbox,
			cs:     []container.Container{running("app", 0)},
			probes: probeView{livenessFailed: map[string]bool{"app": true}},
			want: func(t *testing.T, p plan) {
				if len(p.kill) != 1 || p.kill[0].reason != "Unhealthy" {
					t.Errorf("want one Unhealthy kill, got %+v", p.kill)
				}
			},
		},
		{
			name: "init containers run one at a time before the others", pod: withInit(testPod(corev1.RestartPolicyAlways, "app"), "i1", "i2"), sandbox: readySandbox,
			cs: []container.Container{exited("i1", 0, 0, t0)},
			want: func(t *testing.T, p plan) {
				if want := []startContainer{{"i2", 0}}; !reflect.DeepEqual(starts(p), want) || !p.init {
					t.Errorf("start = %v init %v, want %v", starts(p), p.init, want)
				}
			},
		},
		{
			name: "a running init container holds the rest", pod: withInit(testPod(corev1.RestartPolicyAlways, "app"), "i1"), sandbox: readySandbox,
			cs: []container.Container{running("i1", 0)},
			want: func(t *testing.T, p plan) {
				if len(p.start) != 0 {
					t.Errorf("start = %v, want none", starts(p))
				}
			},
		},
		{
			name: "a failed init container fails a Never pod", pod: withInit(testPod(corev1.RestartPolicyNever, "app"), "i1"), sandbox: readySandbox,
			cs: []container.Container{exited("i1", 0, 1, t0)},
			want: func(t *testing.T, p plan) {
				if p.phase != corev1.PodFailed {
					t.Errorf("phase = %q, want Failed", p.phase)
				}
			},
		},
		{
			name: "a start failure backs off with its reason", pod: testPod(corev1.RestartPolicyAlways, "app"), sandbox: readySandbox,
			failures: map[string]startFailure{"app": {reason: reasonErrImagePull, message: "no such image", at: t0.Add(-time.Second), count: 1}},
			want: func(t *testing.T, p plan) {
				if len(p.start) != 0 || p.waiting["app"].reason != reasonImagePullBackOff {
					t.Errorf("want ImagePullBackOff wait, got %+v", p)
				}
			},
		},
		{
			name: "a start failure is retried once its back-off passed", pod: testPod(corev1.RestartPolicyAlways, "app"), sandbox: readySandbox,
			failures: map[string]startFailure{"app": {reason: reasonCreateContainerConfig, at: t0.Add(-11 * time.Second), count: 1}},
			want: func(t *testing.T, p plan) {
				if want := []startContainer{{"app", 0}}; !reflect.DeepEqual(starts(p), want) {
					t.Errorf("start = %v, want %v", starts(p), want)
				}
			},
		},
		{
			name: "a dead sandbox means a new one and its containers killed", pod: testPod(corev1.RestartPolicyAlways, "app"),
			sandbox: &container.Sandbox{PodUID: "u1", Ready: false}, cs: []container.Container{running("app", 0)},
			want: func(t *testing.T, p plan) {
				if !p.makeSandbox || len(p.kill) != 1 || p.kill[0].reason != "SandboxChanged" {
					t.Errorf("want makeSandbox and a SandboxChanged kill, got %+v", p)
				}
			},
		},
		{
			name: "a changed spec restarts the container", pod: testPod(corev1.RestartPolicyAlways, "app"), sandbox: readySandbox,
			cs: []container.Container{func() container.Container { c := running("app", 0); c.SpecHash = "old"; return c }()},
			want: func(t *testing.T, p plan) {
				if len(p.kill) != 1 || p.kill[0].reason != "Killing" {
					t.Errorf("want a Killing kill, got %+v", p.kill)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			probes := tt.probes
			if probes.ready == nil {
				probes = noProbes()
				if tt.probes.livenessFailed != nil {
					probes.livenessFailed = tt.probes.livenessFailed
				}
			}
			failures := tt.failures
			if failures == nil {
				failures = map[string]startFailure{}
			}
			tt.want(t, decide(tt.pod, newObserved(tt.sandbox, tt.cs), probes, failures, defaultBackoff, t0))
		})
	}
}

func TestBackoffDelay(t *testing.T) {
	tests := []struct {
		next int
		ran  time.Duration
		want time.Duration
	}{
		{1, 0, 0},
		{2, 0, 10 * time.Second},
		{3, 0, 20 * time.Second},
		{4, 0, 40 * time.Second},
		{10, 0, 300 * time.Second},
		{5, 11 * time.Minute, 0}, // ran long enough: starts over
	}
	for _, tt := range tests {
		if got := defaultBackoff.delay(tt.next, tt.ran); got != tt.want {
			t.Errorf("delay(%d, %v) = %v, want %v", tt.next, tt.ran, got, tt.want)
		}
	}
}
