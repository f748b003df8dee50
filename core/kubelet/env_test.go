package kubelet

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/tugboat-io/tug/core/kubelet/container"
)

func TestContainerEnv(t *testing.T) {
	client := fake.NewSimpleClientset(
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cm", Namespace: "ns"}, Data: map[string]string{"MODE": "fast", "LEVEL": "3"}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "sec", Namespace: "ns"}, Data: map[string][]byte{"token": []byte("s3cret")}},
	)
	a := &Agent{client: client, cfg: Config{NodeIP: netip.MustParseAddr("192.0.2.10")}}
	yes := true
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns", UID: "u", Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{NodeName: "n1"}}
	c := &corev1.Container{
		Name:    "c",
		EnvFrom: []corev1.EnvFromSource{{Prefix: "CM_", ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cm"}}}},
		Env: []corev1.EnvVar{
			{Name: "POD", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
			{Name: "APP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels['app']"}}},
			{Name: "IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}},
			{Name: "HOST", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.hostIP"}}},
			{Name: "TOKEN", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "sec"}, Key: "token"}}},
			{Name: "OPT", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "gone"}, Key: "k", Optional: &yes}}},
			{Name: "MEM", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.memory", Divisor: resource.MustParse("1Mi")}}},
			{Name: "URL", Value: "http://$(POD):$(CM_LEVEL)/$(NOPE)"},
		},
		Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")}},
	}
	obs := observed{sandbox: &container.Sandbox{IP: netip.MustParseAddr("10.0.0.7")}}
	env, err := a.containerEnv(context.Background(), pod, c, obs)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	var order []string
	for _, e := range env {
		got[e.Name] = e.Value
		order = append(order, e.Name)
	}
	want := map[string]string{"CM_LEVEL": "3", "CM_MODE": "fast", "POD": "web", "APP": "web", "IP": "10.0.0.7", "HOST": "192.0.2.10",
		"TOKEN": "s3cret", "MEM": "64", "URL": "http://web:3/$(NOPE)"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if _, ok := got["OPT"]; ok {
		t.Error("an optional reference to a missing ConfigMap set a variable")
	}
	if strings.Join(order[:2], ",") != "CM_LEVEL,CM_MODE" {
		t.Errorf("envFrom first and sorted, got order %v", order)
	}

	// A required reference to a missing Secret is an error that names it.
	c.Env = []corev1.EnvVar{{Name: "X", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "missing"}, Key: "k"}}}}
	if _, err := a.containerEnv(context.Background(), pod, c, obs); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("missing secret: err %v, want one naming it", err)
	}
}

// Containers get kubelet's service link variables for the Services of their namespace with a
// cluster IP, unless the pod turns them off, and for default/kubernetes always; their own
// variables override and may refer to them.
func TestServiceLinks(t *testing.T) {
	svc := func(ns, name, ip string, ports ...corev1.ServicePort) *corev1.Service {
		return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: corev1.ServiceSpec{ClusterIP: ip, Ports: ports}}
	}
	byNS := map[string][]*corev1.Service{
		"ns": {
			svc("ns", "web-api", "10.96.0.20", corev1.ServicePort{Name: "http", Port: 80}, corev1.ServicePort{Name: "dns-udp", Port: 53, Protocol: corev1.ProtocolUDP}),
			svc("ns", "headless", "None", corev1.ServicePort{Port: 80}),
		},
		"default": {svc("default", "kubernetes", "10.96.0.1", corev1.ServicePort{Name: "https", Port: 443}), svc("default", "other", "10.96.0.9", corev1.ServicePort{Port: 1})},
	}
	a := &Agent{client: fake.NewSimpleClientset(), services: func(ns string) ([]*corev1.Service, error) { return byNS[ns], nil }}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns"}}
	c := &corev1.Container{Name: "c", Env: []corev1.EnvVar{
		{Name: "WEB_API_SERVICE_PORT", Value: "8080"},
		{Name: "URL", Value: "http://$(WEB_API_SERVICE_HOST):$(WEB_API_SERVICE_PORT_HTTP)"},
	}}
	env, err := a.containerEnv(context.Background(), pod, c, observed{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, e := range env {
		got[e.Name] = e.Value
	}
	want := map[string]string{
		"WEB_API_SERVICE_HOST":          "10.96.0.20",
		"WEB_API_SERVICE_PORT":          "8080", // the container's own wins
		"WEB_API_SERVICE_PORT_HTTP":     "80",
		"WEB_API_SERVICE_PORT_DNS_UDP":  "53",
		"WEB_API_PORT":                  "tcp://10.96.0.20:80",
		"WEB_API_PORT_80_TCP":           "tcp://10.96.0.20:80",
		"WEB_API_PORT_80_TCP_PROTO":     "tcp",
		"WEB_API_PORT_80_TCP_PORT":      "80",
		"WEB_API_PORT_80_TCP_ADDR":      "10.96.0.20",
		"WEB_API_PORT_53_UDP":           "udp://10.96.0.20:53",
		"KUBERNETES_SERVICE_HOST":       "10.96.0.1",
		"KUBERNETES_SERVICE_PORT":       "443",
		"KUBERNETES_SERVICE_PORT_HTTPS": "443",
		"URL":                           "http://10.96.0.20:80",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	for k := range got {
		if strings.HasPrefix(k, "HEADLESS_") || strings.HasPrefix(k, "OTHER_") {
			t.Errorf("%s set: headless Services and other namespaces' are not linked", k)
		}
	}

	off := false
	pod.Spec.EnableServiceLinks = &off
	env, err = a.containerEnv(context.Background(), pod, &corev1.Container{Name: "c"}, observed{})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range env {
		if !strings.HasPrefix(e.Name, "KUBERNETES_") {
			t.Errorf("enableServiceLinks false still gave %s (only default/kubernetes is always linked)", e.Name)
		}
	}
	if len(env) == 0 {
		t.Error("enableServiceLinks false dropped default/kubernetes too")
	}
}
