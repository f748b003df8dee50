package kubelet

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/tugboat-io/tug/core/kubelet/container"
)

// worker owns one pod: it alone starts and stops the pod's containers, so nothing about a pod
// happens twice at once. It wakes when the pod changes, a container exits, a probe changes its
// mind, a back-off ends, or ResyncInterval passes.
type worker struct {
	a      *Agent
	uid    types.UID
	wakeCh chan struct{}

	mu      sync.Mutex
	pod     *corev1.Pod // latest from the API (or the manifest, for a static pod)
	deleted bool        // the API no longer has the pod

	rt       container.Runtime
	rtErr    error
	failures map[string]startFailure
	probes   *podProbes
	lastSent *corev1.PodStatus
	// lastRV is the resourceVersion our last status write made.
	lastRV int64
	static bool
	// refreshed is when the pod's ConfigMap, Secret and downward API volumes were last
	// brought up to date.
	refreshed time.Time
	// files are the pod's resolv.conf and hosts file once written for its sandbox.
	files *podFiles
}

func newWorker(a *Agent, pod *corev1.Pod) *worker {
	// Volumes are written as the containers start; refreshing them starts a resync later.
	w := &worker{a: a, uid: pod.UID, wakeCh: make(chan struct{}, 1), pod: pod, failures: map[string]startFailure{}, refreshed: time.Now()}
	w.probes = newPodProbes(a, pod.UID)
	return w
}

func (w *worker) update(pod *corev1.Pod) {
	w.mu.Lock()
	w.pod = pod
	w.mu.Unlock()
	w.poke()
}

func (w *worker) gone() {
	w.mu.Lock()
	w.deleted = true
	w.mu.Unlock()
	w.poke()
}

func (w *worker) poke() {
	select {
	case w.wakeCh <- struct{}{}:
	default:
	}
}

func (w *worker) current() (*corev1.Pod, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.pod, w.deleted
}

func (w *worker) run(ctx context.Context) {
	defer w.probes.stopAll()
	for {
		next, done := w.sync(ctx)
		if done {
			w.a.forget(w.uid)
			return
		}
		wait := w.a.cfg.ResyncInterval
		if !next.IsZero() {
			wait = min(wait, max(time.Until(next), 10*time.Millisecond))
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-w.wakeCh:
		case <-t.C:
		}
		t.Stop()
	}
}

// sync does one pass; done means the pod is gone and the worker should end.
func (w *worker) sync(ctx context.Context) (next time.Time, done bool) {
	pod, deleted := w.current()
	log := w.a.log.With("pod", pod.Namespace+"/"+pod.Name)
	if w.rt == nil && w.rtErr == nil {
		w.rt, w.rtErr = w.a.runtimeFor(ctx, pod)
	}
	if w.rtErr != nil {
		if deleted || pod.DeletionTimestamp != nil {
			w.finishDelete(ctx, pod, deleted)
			return time.Time{}, deleted
		}
		w.failPod(ctx, pod, reasonUnsupportedRuntime, w.rtErr.Error())
		// A RuntimeClass created later is picked up on the next pass.
		w.rtErr = nil
		return time.Now().Add(w.a.cfg.ResyncInterval), false
	}

	obs, err := w.observe(ctx)
	if err != nil {
		log.Warn("observing the pod's containers", "err", err)
		return time.Now().Add(time.Second), false
	}

	terminal := pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed
	if deleted || pod.DeletionTimestamp != nil || terminal {
		w.terminate(ctx, pod, obs, deleted || pod.DeletionTimestamp != nil)
		if deleted || pod.DeletionTimestamp != nil {
			w.finishDelete(ctx, pod, deleted)
			return time.Time{}, deleted
		}
		return time.Time{}, false
	}

	now := time.Now()
	p := decide(pod, obs, w.probes.view(), w.failures, w.a.backoff, now)
	for _, k := range p.kill {
		w.stopContainer(ctx, pod, k.id, k.name, k.reason, k.message)
	}
	if p.makeSandbox {
		if err := w.makeSandbox(ctx, pod); err != nil {
			w.a.events.warn(ctx, pod, reasonFailedCreatePodSandbox, fmt.Sprintf("Failed to create pod sandbox: %v", err))
			log.Warn("pod sandbox not made", "err", err)
			w.failures["*sandbox"] = startFailure{reason: reasonFailedCreatePodSandbox, message: err.Error(), at: now, count: w.failures["*sandbox"].count + 1}
			return now.Add(w.a.backoff.failureDelay(w.failures["*sandbox"].count)), false
		}
		delete(w.failures, "*sandbox")
		// Look again with the sandbox in place.
		return now, false
	}
	for _, s := range p.start {
		w.startContainer(ctx, pod, obs, s)
	}
	if p.phase != "" {
		// The pod has finished: nothing of it runs any more.
		w.terminate(ctx, pod, obs, false)
	}
	if len(p.start) > 0 || len(p.kill) > 0 {
		if obs, err = w.observe(ctx); err != nil {
			return now.Add(time.Second), false
		}
		p = decide(pod, obs, w.probes.view(), w.failures, w.a.backoff, time.Now())
	}
	for name, wr := range p.waiting {
		switch wr.reason {
		case reasonCrashLoopBackOff:
			w.a.events.warn(ctx, pod, "BackOff", fmt.Sprintf("Back-off restarting failed container %s in pod %s", name, pod.Name))
		case reasonImagePullBackOff:
			w.a.events.normal(ctx, pod, "BackOff", fmt.Sprintf("Back-off pulling image %q", findContainer(pod, name).Image))
		}
	}
	w.probes.sync(pod, obs, w.rt)
	w.writeStatus(ctx, pod, obs, p)
	if time.Since(w.refreshed) >= w.a.cfg.ResyncInterval {
		// Files of a changed ConfigMap or Secret reach running containers within about
		// a resync interval, as kubelet's periodic sync does.
		if err := w.a.refreshVolumes(ctx, pod); err != nil {
			log.Warn("volumes not refreshed", "err", err)
		}
		w.refreshed = time.Now()
	}
	return p.wakeAt, false
}

// observe lists what the pod's runtime holds for it.
func (w *worker) observe(ctx context.Context) (observed, error) {
	sbs, err := w.rt.Sandboxes(ctx)
	if err != nil {
		return observed{}, err
	}
	var sb *container.Sandbox
	for i := range sbs {
		if sbs[i].PodUID == w.uid {
			sb = &sbs[i]
		}
	}
	mine, err := w.rt.Containers(ctx, w.uid)
	if err != nil {
		return observed{}, err
	}
	return newObserved(sb, mine), nil
}

func (w *worker) makeSandbox(ctx context.Context, pod *corev1.Pod) error {
	cfg := container.SandboxConfig{
		PodUID: pod.UID, PodName: pod.Name, PodNamespace: pod.Namespace,
		HostNetwork: pod.Spec.HostNetwork, LogDir: w.a.podLogDir(pod),
	}
	if !pod.Spec.HostNetwork {
		// A hostNetwork pod has the node's hostname, as with kubelet. Problems with the
		// name are reported with the pod's name files (nameFiles).
		_, _, cfg.Hostname, _ = podHostname(pod, w.a.cfg.ClusterDomain)
	}
	if ip, err := netip.ParseAddr(pod.Status.PodIP); err == nil {
		cfg.IP = ip
	}
	for _, c := range pod.Spec.Containers {
		for _, p := range c.Ports {
			if p.HostPort > 0 {
				cfg.PortMappings = append(cfg.PortMappings, container.PortMapping{HostIP: p.HostIP, HostPort: p.HostPort, ContainerPort: p.ContainerPort, Protocol: p.Protocol})
			}
		}
	}
	// A new sandbox may have a new address: the hosts file is written again.
	w.files = nil
	_, err := w.rt.RunSandbox(ctx, cfg)
	return err
}

// startContainer prepares and starts one container, recording why when it cannot.
func (w *worker) startContainer(ctx context.Context, pod *corev1.Pod, obs observed, s startContainer) {
	spec := findContainer(pod, s.name)
	if spec == nil {
		return
	}
	fail := func(reason, msg string) {
		f := w.failures[s.name]
		w.failures[s.name] = startFailure{reason: reason, message: msg, at: time.Now(), count: f.count + 1}
		w.a.events.warn(ctx, pod, "Failed", fmt.Sprintf("Error: %s", msg))
	}
	policy := spec.ImagePullPolicy
	if policy == "" {
		policy = corev1.PullIfNotPresent
	}
	img, err := w.rt.EnsureImage(ctx, spec.Image, policy)
	if err != nil {
		reason := reasonErrImagePull
		switch {
		case errors.Is(err, container.ErrImageNotPresent):
			reason = reasonErrImageNeverPull
		case errors.Is(err, container.ErrConfig):
			reason = reasonCreateContainerError
		}
		w.a.events.warn(ctx, pod, "Failed", fmt.Sprintf("Failed to pull image %q: %v", spec.Image, err))
		f := w.failures[s.name]
		w.failures[s.name] = startFailure{reason: reason, message: err.Error(), at: time.Now(), count: f.count + 1}
		return
	}
	env, err := w.a.containerEnv(ctx, pod, spec, obs)
	if err != nil {
		fail(reasonCreateContainerConfig, err.Error())
		return
	}
	mounts, err := w.a.prepareVolumes(ctx, pod, spec)
	if err != nil {
		fail(reasonCreateContainerConfig, err.Error())
		return
	}
	cfg := container.ContainerConfig{
		Name: spec.Name, Attempt: s.attempt, Image: img, ImageName: spec.Image,
		Command: spec.Command, Args: spec.Args, Env: env, WorkingDir: spec.WorkingDir, Mounts: mounts,
		Ports: spec.Ports, Resources: spec.Resources, SpecHash: specHash(spec), Annotations: pod.Annotations,
		LogPath: filepath.Join(w.a.podLogDir(pod), spec.Name, strconv.Itoa(s.attempt)+".log"),
	}
	cfg.Command = expandAll(spec.Command, env)
	cfg.Args = expandAll(spec.Args, env)
	sb := container.Sandbox{PodUID: pod.UID, PodName: pod.Name, PodNamespace: pod.Namespace}
	if obs.sandbox != nil {
		sb = *obs.sandbox
	}
	files, err := w.nameFiles(ctx, pod, sb)
	if err != nil {
		fail(reasonCreateContainerConfig, err.Error())
		return
	}
	cfg.ResolvConf, cfg.Hosts = files.resolvConf, files.hosts
	// A container that starts again after a crash writes a new log file; an old attempt's
	// file of the same number (left by an agent that died mid-start) is replaced.
	_ = os.Remove(cfg.LogPath)
	if _, err := w.rt.StartContainer(ctx, sb, cfg); err != nil {
		reason := reasonRunContainerError
		if errors.Is(err, container.ErrConfig) {
			reason = reasonCreateContainerError
		}
		f := w.failures[s.name]
		w.failures[s.name] = startFailure{reason: reason, message: err.Error(), at: time.Now(), count: f.count + 1}
		w.a.events.warn(ctx, pod, "Failed", fmt.Sprintf("Error: %v", err))
		return
	}
	delete(w.failures, s.name)
	w.a.events.normal(ctx, pod, "Started", fmt.Sprintf("Started container %s", spec.Name))
	w.probes.started(spec.Name, s.attempt)
}

func findContainer(pod *corev1.Pod, name string) *corev1.Container {
	for i := range pod.Spec.InitContainers {
		if pod.Spec.InitContainers[i].Name == name {
			return &pod.Spec.InitContainers[i]
		}
	}
	for i := range pod.Spec.Containers {
		if pod.Spec.Containers[i].Name == name {
			return &pod.Spec.Containers[i]
		}
	}
	return nil
}

// stopContainer runs the container's preStop hook, then stops it within the pod's grace
// period.
func (w *worker) stopContainer(ctx context.Context, pod *corev1.Pod, id, name, reason, msg string) {
	grace := gracePeriod(pod)
	start := time.Now()
	if spec := findContainer(pod, name); spec != nil && spec.Lifecycle != nil && spec.Lifecycle.PreStop != nil {
		hctx, cancel := context.WithTimeout(ctx, grace)
		if err := w.a.runHandler(hctx, w.rt, pod, spec, id, spec.Lifecycle.PreStop); err != nil {
			w.a.events.warn(ctx, pod, "FailedPreStopHook", fmt.Sprintf("PreStopHook failed: %v", err))
		}
		cancel()
	}
	if reason == "Unhealthy" || reason == "Killing" || reason == "SandboxChanged" {
		w.a.events.normal(ctx, pod, "Killing", msg)
	}
	remaining := max(grace-time.Since(start), 2*time.Second)
	if err := w.rt.StopContainer(ctx, id, remaining); err != nil {
		w.a.log.Warn("container not stopped", "pod", pod.Namespace+"/"+pod.Name, "container", name, "err", err)
	}
}

func gracePeriod(pod *corev1.Pod) time.Duration {
	secs := int64(corev1.DefaultTerminationGracePeriodSeconds)
	if pod.Spec.TerminationGracePeriodSeconds != nil {
		secs = *pod.Spec.TerminationGracePeriodSeconds
	}
	if pod.DeletionGracePeriodSeconds != nil {
		secs = *pod.DeletionGracePeriodSeconds
	}
	return time.Duration(secs) * time.Second
}

// terminate stops every container of the pod (in parallel, each within the grace period) and
// tears down its sandbox. remove also removes the containers, for a pod being deleted.
func (w *worker) terminate(ctx context.Context, pod *corev1.Pod, obs observed, remove bool) {
	w.probes.stopAll()
	var wg sync.WaitGroup
	for name, cs := range obs.containers {
		for _, c := range cs {
			if c.State == container.StateRunning || c.State == container.StateCreated {
				wg.Add(1)
				go func() {
					defer wg.Done()
					w.stopContainer(ctx, pod, c.ID, name, "", "")
				}()
			}
		}
	}
	wg.Wait()
	if remove {
		for _, cs := range obs.containers {
			for _, c := range cs {
				_ = w.rt.RemoveContainer(ctx, c.ID)
			}
		}
	}
	if obs.sandbox != nil {
		if err := w.rt.RemoveSandbox(ctx, w.uid); err != nil {
			w.a.log.Warn("pod sandbox not removed", "pod", pod.Namespace+"/"+pod.Name, "err", err)
		}
	}
	if !remove {
		if obs, err := w.observe(ctx); err == nil {
			p := plan{phase: pod.Status.Phase, waiting: map[string]waitingReason{}}
			if p.phase != corev1.PodSucceeded && p.phase != corev1.PodFailed {
				p.phase = corev1.PodFailed
			}
			w.writeStatus(ctx, pod, obs, p)
		}
	}
}

// finishDelete completes a graceful deletion: the containers have stopped, so the pod object
// goes (grace 0, only this very pod), and its volumes and logs with it.
func (w *worker) finishDelete(ctx context.Context, pod *corev1.Pod, deleted bool) {
	if !deleted && !w.static {
		zero := int64(0)
		err := w.a.client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{
			GracePeriodSeconds: &zero, Preconditions: &metav1.Preconditions{UID: &pod.UID}})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			w.a.log.Warn("pod not deleted", "pod", pod.Namespace+"/"+pod.Name, "err", err)
			return
		}
	}
	if deleted {
		_ = os.RemoveAll(w.a.podDir(pod.UID))
		if w.a.memoryRoot != "" {
			_ = os.RemoveAll(w.a.podMemoryDir(pod.UID))
		}
		_ = os.RemoveAll(w.a.podLogDir(pod))
	}
}

// failPod reports a pod that cannot run on this node at all.
func (w *worker) failPod(ctx context.Context, pod *corev1.Pod, reason, msg string) {
	w.a.events.warn(ctx, pod, reason, msg)
	st := pod.Status.DeepCopy()
	if st.Phase == corev1.PodFailed && st.Reason == reason {
		return
	}
	st.Phase, st.Reason, st.Message = corev1.PodFailed, reason, msg
	w.sendStatus(ctx, pod, *st)
}

func (w *worker) writeStatus(ctx context.Context, pod *corev1.Pod, obs observed, p plan) {
	st := podStatus(statusInput{pod: pod, obs: obs, probes: w.probes.view(), plan: p, hostIP: w.a.cfg.NodeIP.String(), now: time.Now()})
	if !statusChanged(pod.Status, st) {
		return
	}
	if w.lastSent != nil && !statusChanged(*w.lastSent, st) {
		// The informer may not have caught up with our last write yet; resourceVersions
		// are etcd revisions here, so an older one means a stale copy.
		if rv, err := strconv.ParseInt(pod.ResourceVersion, 10, 64); err == nil && rv < w.lastRV {
			return
		}
	}
	w.sendStatus(ctx, pod, st)
}

// sendStatus writes the pod's status, retrying on a conflict with the pod read afresh.
func (w *worker) sendStatus(ctx context.Context, pod *corev1.Pod, st corev1.PodStatus) {
	if w.static {
		w.a.staticSources.setStatus(ctx, pod, st)
		w.lastSent = &st
		return
	}
	pods := w.a.client.CoreV1().Pods(pod.Namespace)
	cur := pod.DeepCopy()
	for attempt := 0; attempt < 5; attempt++ {
		cur.Status = st
		out, err := pods.UpdateStatus(ctx, cur, metav1.UpdateOptions{})
		if err == nil {
			w.lastSent = &st
			w.lastRV, _ = strconv.ParseInt(out.ResourceVersion, 10, 64)
			return
		}
		if !apierrors.IsConflict(err) {
			if !apierrors.IsNotFound(err) && ctx.Err() == nil {
				w.a.log.Warn("pod status not written", "pod", pod.Namespace+"/"+pod.Name, "err", err)
			}
			return
		}
		fresh, err := pods.Get(ctx, pod.Name, metav1.GetOptions{})
		if err != nil || fresh.UID != pod.UID {
			return
		}
		cur = fresh
	}
}

func (a *Agent) podDir(uid types.UID) string { return filepath.Join(a.podsDir(), string(uid)) }

// podLogDir is where a pod's container logs live: <root>/logs/<namespace>_<name>_<uid>, as
// kubelet's /var/log/pods.
func (a *Agent) podLogDir(pod *corev1.Pod) string {
	return filepath.Join(a.cfg.RootDir, "logs", pod.Namespace+"_"+pod.Name+"_"+string(pod.UID))
}
