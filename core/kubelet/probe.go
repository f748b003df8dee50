package kubelet

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/tugboat-io/tug/core/kubelet/container"
)

// Probes run on their own goroutines, one per probe of each running container, and tell the
// pod's worker when a result changes. A container's probes start when that attempt starts and
// stop when it stops, so a result always belongs to the attempt running now.

type probeKind int

const (
	liveness probeKind = iota
	readiness
	startup
)

func (k probeKind) String() string {
	return [...]string{"Liveness", "Readiness", "Startup"}[k]
}

// podProbes holds the probe state of one pod's containers.
type podProbes struct {
	a   *Agent
	uid types.UID

	mu     sync.Mutex
	byName map[string]*containerProbes
}

// containerProbes is the probing of one attempt of one container.
type containerProbes struct {
	id     string
	cancel context.CancelFunc
	// Results; a kind absent from has has no probe.
	has                        map[probeKind]bool
	started, ready, liveFailed bool
}

func newPodProbes(a *Agent, uid types.UID) *podProbes {
	return &podProbes{a: a, uid: uid, byName: map[string]*containerProbes{}}
}

// view is the probe results the decision core and status use.
func (p *podProbes) view() probeView {
	p.mu.Lock()
	defer p.mu.Unlock()
	v := probeView{livenessFailed: map[string]bool{}, ready: map[string]bool{}, started: map[string]bool{}}
	for name, cp := range p.byName {
		if cp.liveFailed {
			v.livenessFailed[name] = true
		}
		if cp.has[readiness] {
			v.ready[name] = cp.ready
		}
		if cp.has[startup] {
			v.started[name] = cp.started
		}
	}
	return v
}

// started forgets the results of a container's previous attempt.
func (p *podProbes) started(name string, _ int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if cp, ok := p.byName[name]; ok {
		cp.cancel()
		delete(p.byName, name)
	}
}

// sync starts probes for containers that run without them and stops those of containers
// that no longer run.
func (p *podProbes) sync(pod *corev1.Pod, obs observed, rt container.Runtime) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := range pod.Spec.Containers {
		spec := &pod.Spec.Containers[i]
		c, ok := obs.latest(spec.Name)
		running := ok && c.State == container.StateRunning
		cp := p.byName[spec.Name]
		if cp != nil && (!running || cp.id != c.ID) {
			cp.cancel()
			delete(p.byName, spec.Name)
			cp = nil
		}
		if !running || cp != nil {
			continue
		}
		if spec.LivenessProbe == nil && spec.ReadinessProbe == nil && spec.StartupProbe == nil {
			continue
		}
		ctx, cancel := context.WithCancel(context.Background())
		cp = &containerProbes{id: c.ID, cancel: cancel, has: map[probeKind]bool{}}
		cp.started = spec.StartupProbe == nil
		p.byName[spec.Name] = cp
		ip := ""
		if obs.sandbox != nil && obs.sandbox.IP.IsValid() {
			ip = obs.sandbox.IP.String()
		}
		target := probeTarget{pod: pod, spec: spec, id: c.ID, ip: ip, rt: rt}
		for kind, pr := range map[probeKind]*corev1.Probe{liveness: spec.LivenessProbe, readiness: spec.ReadinessProbe, startup: spec.StartupProbe} {
			if pr == nil {
				continue
			}
			cp.has[kind] = true
			go p.loop(ctx, cp, kind, pr, target, c.StartedAt)
		}
	}
}

func (p *podProbes) stopAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for name, cp := range p.byName {
		cp.cancel()
		delete(p.byName, name)
	}
}

type probeTarget struct {
	pod  *corev1.Pod
	spec *corev1.Container
	id   string
	ip   string
	rt   container.Runtime
}

// loop runs one probe every period, applying its thresholds, until ctx ends.
func (p *podProbes) loop(ctx context.Context, cp *containerProbes, kind probeKind, pr *corev1.Probe, t probeTarget, startedAt time.Time) {
	period := secondsOr(pr.PeriodSeconds, 10)
	timeout := secondsOr(pr.TimeoutSeconds, 1)
	successes := int(max(pr.SuccessThreshold, 1))
	failures := 3 // the API's default when unset
	if pr.FailureThreshold > 0 {
		failures = int(pr.FailureThreshold)
	}
	if delay := time.Until(startedAt.Add(time.Duration(pr.InitialDelaySeconds) * time.Second)); delay > 0 {
		if !sleepCtx(ctx, delay) {
			return
		}
	}
	okRun, failRun := 0, 0
	for {
		p.mu.Lock()
		gated := kind != startup && !cp.started
		done := kind == startup && cp.started
		p.mu.Unlock()
		if done {
			return
		}
		if !gated {
			pctx, cancel := context.WithTimeout(ctx, timeout)
			err := p.a.probe(pctx, t, pr.ProbeHandler)
			cancel()
			if ctx.Err() != nil {
				return
			}
			if err == nil {
				okRun, failRun = okRun+1, 0
			} else {
				okRun, failRun = 0, failRun+1
				p.a.events.warn(ctx, t.pod, "Unhealthy", fmt.Sprintf("%s probe failed: %v", kind, err))
			}
			p.record(cp, kind, okRun, failRun, successes, failures)
		}
		if !sleepCtx(ctx, period) {
			return
		}
	}
}

// record applies a probe's thresholds and wakes the worker when a result flips.
func (p *podProbes) record(cp *containerProbes, kind probeKind, okRun, failRun, successes, failures int) {
	p.mu.Lock()
	changed := false
	switch kind {
	case readiness:
		if okRun >= successes && !cp.ready {
			cp.ready, changed = true, true
		} else if failRun >= failures && cp.ready {
			cp.ready, changed = false, true
		}
	case liveness:
		if failRun >= failures && !cp.liveFailed {
			cp.liveFailed, changed = true, true
		}
	case startup:
		if okRun >= 1 && !cp.started {
			cp.started, changed = true, true
		} else if failRun >= failures && !cp.liveFailed {
			// A startup probe that never passes fails the container like liveness.
			cp.liveFailed, changed = true, true
		}
	}
	p.mu.Unlock()
	if changed {
		p.a.wake(p.uid)
	}
}

func secondsOr(s int32, def int32) time.Duration {
	if s <= 0 {
		s = def
	}
	return time.Duration(s) * time.Second
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// probeClient is shared by every httpGet probe and hook. Like kubelet's, it does not follow
// redirects (a 3xx already counts as success) and does not verify HTTPS certificates.
var probeClient = &http.Client{
	Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // probes, as kubelet's, do not verify
		DisableKeepAlives: true,
	},
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// probe runs one probe or hook handler against a container: nil means success.
func (a *Agent) probe(ctx context.Context, t probeTarget, h corev1.ProbeHandler) error {
	switch {
	case h.HTTPGet != nil:
		return httpGet(ctx, t, h.HTTPGet)
	case h.TCPSocket != nil:
		host := h.TCPSocket.Host
		if host == "" {
			host = t.ip
		}
		port, err := resolvePort(h.TCPSocket.Port, t.spec)
		if err != nil {
			return err
		}
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(host, strconv.Itoa(port)))
		if err != nil {
			return err
		}
		return conn.Close()
	case h.Exec != nil:
		rt := t.rt
		ex, ok := rt.(container.Execer)
		if !ok || rt == nil {
			return errors.New("exec probes are not supported by this container's runtime")
		}
		var out bytes.Buffer
		code, err := ex.Exec(ctx, t.id, h.Exec.Command, container.Streams{Stdout: &out, Stderr: &out})
		if err != nil {
			return err
		}
		if code != 0 {
			return fmt.Errorf("command %q exited with %d: %s", h.Exec.Command, code, truncate(out.String(), 256))
		}
		return nil
	case h.GRPC != nil:
		return errors.New("grpc probes are not supported yet")
	}
	return errors.New("probe has no handler")
}

func httpGet(ctx context.Context, t probeTarget, g *corev1.HTTPGetAction) error {
	host := g.Host
	if host == "" {
		host = t.ip
	}
	port, err := resolvePort(g.Port, t.spec)
	if err != nil {
		return err
	}
	scheme := "http"
	if g.Scheme == corev1.URISchemeHTTPS {
		scheme = "https"
	}
	u := url.URL{Scheme: scheme, Host: net.JoinHostPort(host, strconv.Itoa(port))}
	path := g.Path
	if path == "" {
		path = "/"
	}
	ref, err := url.Parse(path)
	if err != nil {
		return fmt.Errorf("bad path %q: %w", g.Path, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.ResolveReference(ref).String(), nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", "kube-probe/1.33")
	for _, h := range g.HTTPHeaders {
		if h.Name == "Host" {
			req.Host = h.Value
			continue
		}
		req.Header.Add(h.Name, h.Value)
	}
	resp, err := probeClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode >= 400 {
		return fmt.Errorf("HTTP probe failed with statuscode: %d", resp.StatusCode)
	}
	return nil
}

// resolvePort turns a probe's port (a number or a container port's name) into a number.
func resolvePort(p intstr.IntOrString, c *corev1.Container) (int, error) {
	if p.Type == intstr.Int {
		return p.IntValue(), nil
	}
	for _, cp := range c.Ports {
		if cp.Name == p.StrVal {
			return int(cp.ContainerPort), nil
		}
	}
	if n, err := strconv.Atoi(p.StrVal); err == nil {
		return n, nil
	}
	return 0, fmt.Errorf("container %s has no port named %q", c.Name, p.StrVal)
}

// runHandler runs a lifecycle hook (preStop) of container spec, running as id.
func (a *Agent) runHandler(ctx context.Context, rt container.Runtime, pod *corev1.Pod, spec *corev1.Container, id string, h *corev1.LifecycleHandler) error {
	if h.Sleep != nil {
		sleepCtx(ctx, time.Duration(h.Sleep.Seconds)*time.Second)
		return nil
	}
	return a.probe(ctx, probeTarget{pod: pod, spec: spec, id: id, ip: pod.Status.PodIP, rt: rt},
		corev1.ProbeHandler{Exec: h.Exec, HTTPGet: h.HTTPGet, TCPSocket: h.TCPSocket})
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
