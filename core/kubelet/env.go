package kubelet

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tugboat-io/tug/core/kubelet/container"
)

// containerEnv resolves a container's environment as kubelet does: envFrom sources first, then
// env in order, each value's $(VAR) references expanded against what came before.
func (a *Agent) containerEnv(ctx context.Context, pod *corev1.Pod, c *corev1.Container, obs observed) ([]container.EnvVar, error) {
	var out []container.EnvVar
	index := map[string]int{}
	set := func(name, value string) {
		if i, ok := index[name]; ok {
			out[i].Value = value
			return
		}
		index[name] = len(out)
		out = append(out, container.EnvVar{Name: name, Value: value})
	}
	lookup := func(name string) (string, bool) {
		if i, ok := index[name]; ok {
			return out[i].Value, true
		}
		return "", false
	}

	// Service links first, so that the container's own variables override them and may
	// refer to them, as kubelet orders them. default/kubernetes is always linked; the
	// Services of the pod's namespace unless enableServiceLinks is false.
	if a.services != nil {
		var svcs []*corev1.Service
		if pod.Spec.EnableServiceLinks == nil || *pod.Spec.EnableServiceLinks {
			list, err := a.services(pod.Namespace)
			if err != nil {
				return nil, fmt.Errorf("service links: %w", err)
			}
			svcs = list
		}
		if defaults, err := a.services(metav1.NamespaceDefault); err == nil {
			for _, s := range defaults {
				if s.Name == "kubernetes" && !slices.Contains(svcs, s) {
					svcs = append(svcs, s)
				}
			}
		}
		for _, kv := range serviceLinks(svcs) {
			set(kv.Name, kv.Value)
		}
	}
	for _, from := range c.EnvFrom {
		switch {
		case from.ConfigMapRef != nil:
			cm, err := a.configMap(ctx, pod.Namespace, from.ConfigMapRef.Name)
			if err != nil {
				if optional(from.ConfigMapRef.Optional) && apierrors.IsNotFound(err) {
					continue
				}
				return nil, fmt.Errorf("envFrom: %w", err)
			}
			for _, k := range sortedKeys(cm.Data) {
				set(from.Prefix+k, cm.Data[k])
			}
		case from.SecretRef != nil:
			s, err := a.secret(ctx, pod.Namespace, from.SecretRef.Name)
			if err != nil {
				if optional(from.SecretRef.Optional) && apierrors.IsNotFound(err) {
					continue
				}
				return nil, fmt.Errorf("envFrom: %w", err)
			}
			for _, k := range sortedKeys(s.Data) {
				set(from.Prefix+k, string(s.Data[k]))
			}
		}
	}

	podIP := ""
	if obs.sandbox != nil && obs.sandbox.IP.IsValid() {
		podIP = obs.sandbox.IP.String()
	}
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			set(e.Name, expand(e.Value, lookup))
			continue
		}
		v, skip, err := a.envValueFrom(ctx, pod, c, podIP, e)
		if err != nil {
			return nil, fmt.Errorf("env %s: %w", e.Name, err)
		}
		if !skip {
			set(e.Name, v)
		}
	}
	return out, nil
}

func (a *Agent) envValueFrom(ctx context.Context, pod *corev1.Pod, c *corev1.Container, podIP string, e corev1.EnvVar) (value string, skip bool, err error) {
	vf := e.ValueFrom
	switch {
	case vf.FieldRef != nil:
		v, err := podField(pod, vf.FieldRef.FieldPath, podIP, a.cfg.NodeIP.String())
		return v, false, err
	case vf.ResourceFieldRef != nil:
		v, err := resourceField(c, vf.ResourceFieldRef, a.capacity())
		return v, false, err
	case vf.ConfigMapKeyRef != nil:
		ref := vf.ConfigMapKeyRef
		cm, err := a.configMap(ctx, pod.Namespace, ref.Name)
		if err != nil {
			if optional(ref.Optional) && apierrors.IsNotFound(err) {
				return "", true, nil
			}
			return "", false, err
		}
		v, ok := cm.Data[ref.Key]
		if !ok {
			if optional(ref.Optional) {
				return "", true, nil
			}
			return "", false, fmt.Errorf("couldn't find key %s in ConfigMap %s/%s", ref.Key, pod.Namespace, ref.Name)
		}
		return v, false, nil
	case vf.SecretKeyRef != nil:
		ref := vf.SecretKeyRef
		s, err := a.secret(ctx, pod.Namespace, ref.Name)
		if err != nil {
			if optional(ref.Optional) && apierrors.IsNotFound(err) {
				return "", true, nil
			}
			return "", false, err
		}
		v, ok := s.Data[ref.Key]
		if !ok {
			if optional(ref.Optional) {
				return "", true, nil
			}
			return "", false, fmt.Errorf("couldn't find key %s in Secret %s/%s", ref.Key, pod.Namespace, ref.Name)
		}
		return string(v), false, nil
	}
	return "", true, nil
}

// podField answers a downward API fieldRef.
func podField(pod *corev1.Pod, path, podIP, hostIP string) (string, error) {
	if k, ok := strings.CutPrefix(path, "metadata.labels['"); ok {
		return pod.Labels[strings.TrimSuffix(k, "']")], nil
	}
	if k, ok := strings.CutPrefix(path, "metadata.annotations['"); ok {
		return pod.Annotations[strings.TrimSuffix(k, "']")], nil
	}
	switch path {
	case "metadata.name":
		return pod.Name, nil
	case "metadata.namespace":
		return pod.Namespace, nil
	case "metadata.uid":
		return string(pod.UID), nil
	case "metadata.labels":
		return formatMap(pod.Labels), nil
	case "metadata.annotations":
		return formatMap(pod.Annotations), nil
	case "spec.nodeName":
		return pod.Spec.NodeName, nil
	case "spec.serviceAccountName":
		return pod.Spec.ServiceAccountName, nil
	case "status.hostIP", "status.hostIPs":
		return hostIP, nil
	case "status.podIP", "status.podIPs":
		return podIP, nil
	}
	return "", fmt.Errorf("unsupported fieldPath %q", path)
}

// formatMap writes labels or annotations as the downward API does: key="value" lines, sorted.
func formatMap(m map[string]string) string {
	var b strings.Builder
	for i, k := range sortedKeys(m) {
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "%s=%q", k, m[k])
	}
	return b.String()
}

// resourceField answers a resourceFieldRef: the container's limit (or request), with the
// node's allocatable standing in for a missing limit, divided by the divisor and rounded up.
func resourceField(c *corev1.Container, ref *corev1.ResourceFieldSelector, alloc corev1.ResourceList) (string, error) {
	kind, name, ok := strings.Cut(ref.Resource, ".")
	if !ok {
		return "", fmt.Errorf("unsupported resource %q", ref.Resource)
	}
	list := c.Resources.Limits
	if kind == "requests" {
		list = c.Resources.Requests
	}
	q, ok := list[corev1.ResourceName(name)]
	if !ok {
		if kind == "requests" {
			return "0", nil
		}
		q = alloc[corev1.ResourceName(name)]
	}
	div := ref.Divisor
	if div.IsZero() {
		div = resource.MustParse("1")
	}
	if name == "cpu" {
		return strconv.FormatInt(int64(math.Ceil(float64(q.MilliValue())/float64(div.MilliValue()))), 10), nil
	}
	return strconv.FormatInt(int64(math.Ceil(float64(q.Value())/float64(div.Value()))), 10), nil
}

func optional(b *bool) bool { return b != nil && *b }

// configMap and secret read the object from the server, not a cache: a pod sees what was
// there when it started. Callers asking at the same moment share one request (its answer is
// as fresh as each of them asked for); the object is shared too, so they must not change it.
func (a *Agent) configMap(ctx context.Context, ns, name string) (*corev1.ConfigMap, error) {
	return readShared(ctx, a, "configmaps/"+ns+"/"+name, func(ctx context.Context) (*corev1.ConfigMap, error) {
		return a.client.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
	})
}

func (a *Agent) secret(ctx context.Context, ns, name string) (*corev1.Secret, error) {
	return readShared(ctx, a, "secrets/"+ns+"/"+name, func(ctx context.Context) (*corev1.Secret, error) {
		return a.client.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
	})
}

// sharedReadTimeout bounds a shared read, which no single caller's context may cancel (one
// pod going away must not fail the reads of the others waiting on it).
const sharedReadTimeout = 30 * time.Second

func readShared[T any](ctx context.Context, a *Agent, key string, get func(context.Context) (T, error)) (T, error) {
	ch := a.reads.DoChan(key, func() (any, error) {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), sharedReadTimeout)
		defer cancel()
		return get(rctx)
	})
	var zero T
	select {
	case <-ctx.Done():
		return zero, ctx.Err()
	case r := <-ch:
		t, _ := r.Val.(T)
		return t, r.Err
	}
}

// expand replaces $(VAR) with VAR's value when it is defined; $$ escapes a $; an undefined
// reference stays as written, as Kubernetes documents.
func expand(s string, lookup func(string) (string, bool)) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '(':
			end := strings.IndexByte(s[i+2:], ')')
			if end < 0 {
				b.WriteString(s[i:])
				return b.String()
			}
			name := s[i+2 : i+2+end]
			if v, ok := lookup(name); ok {
				b.WriteString(v)
			} else {
				b.WriteString(s[i : i+3+end])
			}
			i += 2 + end
		default:
			b.WriteByte('$')
		}
	}
	return b.String()
}

// expandAll expands $(VAR) in a container's command or args against its environment.
func expandAll(list []string, env []container.EnvVar) []string {
	if len(list) == 0 {
		return list
	}
	vals := map[string]string{}
	for _, e := range env {
		vals[e.Name] = e.Value
	}
	lookup := func(n string) (string, bool) { v, ok := vals[n]; return v, ok }
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = expand(s, lookup)
	}
	return out
}

// serviceLinks are the variables kubelet gives containers for each Service with a cluster IP
// (enableServiceLinks, on by default): {SVC}_SERVICE_HOST and _SERVICE_PORT[_{PORT}], and the
// Docker link style {SVC}_PORT[_{N}_{PROTO}[_PROTO|_PORT|_ADDR]], sorted by Service name.
func serviceLinks(svcs []*corev1.Service) []container.EnvVar {
	sorted := slices.Clone(svcs)
	slices.SortFunc(sorted, func(a, b *corev1.Service) int { return strings.Compare(a.Name, b.Name) })
	var out []container.EnvVar
	add := func(name, value string) { out = append(out, container.EnvVar{Name: name, Value: value}) }
	for _, s := range sorted {
		ip := s.Spec.ClusterIP
		if ip == "" || ip == corev1.ClusterIPNone || len(s.Spec.Ports) == 0 {
			continue
		}
		prefix := strings.ToUpper(strings.ReplaceAll(s.Name, "-", "_"))
		add(prefix+"_SERVICE_HOST", ip)
		add(prefix+"_SERVICE_PORT", strconv.Itoa(int(s.Spec.Ports[0].Port)))
		for _, p := range s.Spec.Ports {
			if p.Name != "" {
				add(prefix+"_SERVICE_PORT_"+strings.ToUpper(strings.ReplaceAll(p.Name, "-", "_")), strconv.Itoa(int(p.Port)))
			}
		}
		for i, p := range s.Spec.Ports {
			proto := strings.ToLower(string(cmp.Or(p.Protocol, corev1.ProtocolTCP)))
			url := proto + "://" + net.JoinHostPort(ip, strconv.Itoa(int(p.Port)))
			if i == 0 {
				add(prefix+"_PORT", url)
			}
			pp := fmt.Sprintf("%s_PORT_%d_%s", prefix, p.Port, strings.ToUpper(proto))
			add(pp, url)
			add(pp+"_PROTO", proto)
			add(pp+"_PORT", strconv.Itoa(int(p.Port)))
			add(pp+"_ADDR", ip)
		}
	}
	return out
}
