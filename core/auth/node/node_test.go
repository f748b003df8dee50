package node

import (
	"context"
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tugboat-io/tug/core/apiserver"
	"github.com/tugboat-io/tug/core/auth/authz"
	"github.com/tugboat-io/tug/core/auth/user"
)

type fakePods struct {
	pods []*corev1.Pod
	err  error
}

func (f *fakePods) PodsOnNode(_ context.Context, node, ns string) ([]*corev1.Pod, error) {
	var out []*corev1.Pod
	for _, p := range f.pods {
		if p.Spec.NodeName == node && p.Namespace == ns {
			out = append(out, p)
		}
	}
	return out, f.err
}

func (f *fakePods) GetPod(_ context.Context, ns, name string) (*corev1.Pod, error) {
	for _, p := range f.pods {
		if p.Namespace == ns && p.Name == name {
			return p, f.err
		}
	}
	return nil, f.err
}

func pod(ns, name, node string, spec corev1.PodSpec) *corev1.Pod {
	spec.NodeName = node
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: spec}
}

var n1 = &user.Info{Name: "system:node:n1", Groups: []string{user.NodesGroup, user.AllAuthenticated}}

func req(verb, group, resource, sub, ns, name string) apiserver.Attributes {
	return apiserver.Attributes{User: n1, Verb: verb, Group: group, Resource: resource, Subresource: sub, Namespace: ns, Name: name, ResourceRequest: true}
}

func testPods() *fakePods {
	return &fakePods{pods: []*corev1.Pod{
		pod("app", "web", "n1", corev1.PodSpec{
			ServiceAccountName: "web-sa",
			ImagePullSecrets:   []corev1.LocalObjectReference{{Name: "pull"}},
			Volumes: []corev1.Volume{
				{Name: "certs", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "tls"}}},
				{Name: "cfg", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "settings"}}}},
				{Name: "proj", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
					{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "proj-secret"}}},
					{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "proj-cm"}}},
				}}}},
				{Name: "data", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "data"}}},
				{Name: "scratch", VolumeSource: corev1.VolumeSource{Ephemeral: &corev1.EphemeralVolumeSource{}}},
			},
			InitContainers: []corev1.Container{{Name: "init", EnvFrom: []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "init-env"}}}}}},
			Containers: []corev1.Container{{Name: "app", Env: []corev1.EnvVar{
				{Name: "PASSWORD", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "db"}, Key: "pw"}}},
				{Name: "MODE", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "modes"}, Key: "m"}}},
			}}},
		}),
		pod("app", "plain", "n1", corev1.PodSpec{}),
		pod("app", "other", "n2", corev1.PodSpec{
			ServiceAccountName: "other-sa",
			Volumes:            []corev1.Volume{{Name: "s", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "n2-secret"}}}},
		}),
	}}
}

func TestDecide(t *testing.T) {
	tests := []struct {
		name   string
		attrs  apiserver.Attributes
		want   authz.Decision
		reason string
	}{
		// Reads.
		{"list nodes", req("list", "", "nodes", "", "", ""), authz.Allow, ""},
		{"get other node", req("get", "", "nodes", "", "", "n2"), authz.Allow, ""},
		{"watch pods", req("watch", "", "pods", "", "", ""), authz.Allow, ""},
		{"list services", req("list", "", "services", "", "", ""), authz.Allow, ""},
		{"list endpointslices", req("list", "discovery.k8s.io", "endpointslices", "", "", ""), authz.Allow, ""},
		{"get namespace", req("get", "", "namespaces", "", "", "app"), authz.Allow, ""},
		{"update a namespace", req("update", "", "namespaces", "", "", "app"), authz.NoOpinion, ""},
		{"write services", req("update", "", "services", "", "app", "s"), authz.NoOpinion, ""},
		// Its Node.
		{"create node", req("create", "", "nodes", "", "", ""), authz.Allow, ""},
		{"update own node", req("update", "", "nodes", "", "", "n1"), authz.Allow, ""},
		{"patch own status", req("patch", "", "nodes", "status", "", "n1"), authz.Allow, ""},
		{"update other node", req("update", "", "nodes", "", "", "n2"), authz.Deny, `may not modify node "n2"`},
		{"patch other status", req("patch", "", "nodes", "status", "", "n2"), authz.Deny, `may not modify node "n2"`},
		{"delete other node", req("delete", "", "nodes", "", "", "n2"), authz.Deny, `may not modify node "n2"`},
		{"delete all nodes", req("deletecollection", "", "nodes", "", "", ""), authz.Deny, "may not delete other nodes"},
		{"delete own node", req("delete", "", "nodes", "", "", "n1"), authz.NoOpinion, ""},
		// Its DNS endpoint slice.
		{"create dns slice", req("create", "discovery.k8s.io", "endpointslices", "", DNSNamespace, ""), authz.Allow, ""},
		{"update own dns slice", req("update", "discovery.k8s.io", "endpointslices", "", DNSNamespace, "kube-dns-n1"), authz.Allow, ""},
		{"update other dns slice", req("update", "discovery.k8s.io", "endpointslices", "", DNSNamespace, "kube-dns-n2"), authz.Deny, `DNS endpoint slice "kube-dns-n2" of another node`},
		{"update another slice", req("update", "discovery.k8s.io", "endpointslices", "", DNSNamespace, "web-abc"), authz.NoOpinion, ""},
		{"slice elsewhere", req("create", "discovery.k8s.io", "endpointslices", "", "default", ""), authz.NoOpinion, ""},
		// Its Lease.
		{"create lease", req("create", "coordination.k8s.io", "leases", "", LeaseNamespace, ""), authz.Allow, ""},
		{"update own lease", req("update", "coordination.k8s.io", "leases", "", LeaseNamespace, "n1"), authz.Allow, ""},
		{"get own lease", req("get", "coordination.k8s.io", "leases", "", LeaseNamespace, "n1"), authz.Allow, ""},
		{"update other lease", req("update", "coordination.k8s.io", "leases", "", LeaseNamespace, "n2"), authz.Deny, `lease of node "n2"`},
		{"lease elsewhere", req("update", "coordination.k8s.io", "leases", "", "kube-system", "n1"), authz.NoOpinion, ""},
		// Events.
		{"create event", req("create", "", "events", "", "app", ""), authz.Allow, ""},
		{"patch event (events.k8s.io)", req("patch", "events.k8s.io", "events", "", "app", "e"), authz.Allow, ""},
		{"delete event", req("delete", "", "events", "", "app", "e"), authz.NoOpinion, ""},
		// Pods.
		{"update status of own pod", req("update", "", "pods", "status", "app", "web"), authz.Allow, ""},
		{"patch status of own pod", req("patch", "", "pods", "status", "app", "web"), authz.Allow, ""},
		{"delete own pod", req("delete", "", "pods", "", "app", "web"), authz.Allow, ""},
		{"status of another node's pod", req("update", "", "pods", "status", "app", "other"), authz.NoOpinion, "not bound to it"},
		{"delete another node's pod", req("delete", "", "pods", "", "app", "other"), authz.NoOpinion, "not bound to it"},
		{"same name, other namespace", req("delete", "", "pods", "", "prod", "web"), authz.NoOpinion, "not bound to it"},
		{"create mirror pod", req("create", "", "pods", "", "app", ""), authz.Allow, "admission"},
		{"update pod spec", req("update", "", "pods", "", "app", "web"), authz.NoOpinion, ""},
		{"exec in pod", req("create", "", "pods", "exec", "app", "web"), authz.NoOpinion, ""},
		{"delete all pods", req("deletecollection", "", "pods", "", "app", ""), authz.NoOpinion, ""},
		// Objects its pods reference.
		{"secret volume", req("get", "", "secrets", "", "app", "tls"), authz.Allow, "pod app/web"},
		{"pull secret", req("get", "", "secrets", "", "app", "pull"), authz.Allow, ""},
		{"projected secret", req("get", "", "secrets", "", "app", "proj-secret"), authz.Allow, ""},
		{"env secret", req("get", "", "secrets", "", "app", "db"), authz.Allow, ""},
		{"init container envFrom secret", req("get", "", "secrets", "", "app", "init-env"), authz.Allow, ""},
		{"configmap volume", req("get", "", "configmaps", "", "app", "settings"), authz.Allow, ""},
		{"projected configmap", req("get", "", "configmaps", "", "app", "proj-cm"), authz.Allow, ""},
		{"env configmap", req("get", "", "configmaps", "", "app", "modes"), authz.Allow, ""},
		{"claim", req("get", "", "persistentvolumeclaims", "", "app", "data"), authz.Allow, ""},
		{"ephemeral claim", req("get", "", "persistentvolumeclaims", "", "app", "web-scratch"), authz.Allow, ""},
		{"service account", req("get", "", "serviceaccounts", "", "app", "web-sa"), authz.Allow, ""},
		{"default service account", req("get", "", "serviceaccounts", "", "app", "default"), authz.Allow, ""},
		{"token for a pod's service account", req("create", "", "serviceaccounts", "token", "app", "web-sa"), authz.Allow, ""},
		{"token for another service account", req("create", "", "serviceaccounts", "token", "app", "other-sa"), authz.NoOpinion, "no relationship"},
		{"another node's pod's secret", req("get", "", "secrets", "", "app", "n2-secret"), authz.NoOpinion, "no relationship"},
		{"unreferenced secret", req("get", "", "secrets", "", "app", "admin-token"), authz.NoOpinion, "no relationship"},
		{"secret of the same name elsewhere", req("get", "", "secrets", "", "kube-system", "tls"), authz.NoOpinion, "no relationship"},
		{"list secrets", req("list", "", "secrets", "", "app", ""), authz.NoOpinion, "may only get"},
		{"update referenced secret", req("update", "", "secrets", "", "app", "tls"), authz.NoOpinion, "may only get"},
		// Certificates, and what a node has nothing to do with.
		{"create CSR", req("create", "certificates.k8s.io", "certificatesigningrequests", "", "", ""), authz.Allow, ""},
		{"approve CSR", req("update", "certificates.k8s.io", "certificatesigningrequests", "approval", "", "c"), authz.NoOpinion, ""},
		{"review a token", req("create", "authentication.k8s.io", "tokenreviews", "", "", ""), authz.Allow, ""},
		{"review access", req("create", "authorization.k8s.io", "subjectaccessreviews", "", "", ""), authz.Allow, ""},
		{"list access reviews", req("list", "authorization.k8s.io", "subjectaccessreviews", "", "", ""), authz.NoOpinion, ""},
		{"deployments", req("list", "apps", "deployments", "", "app", ""), authz.NoOpinion, ""},
		{"non-resource", apiserver.Attributes{User: n1, Verb: "get", Path: "/healthz"}, authz.NoOpinion, ""},
	}
	a := New(testPods())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dec, reason, err := a.Decide(context.Background(), tt.attrs)
			if err != nil {
				t.Fatal(err)
			}
			if dec != tt.want || !strings.Contains(reason, tt.reason) {
				t.Fatalf("got %v %q, want %v with %q", dec, reason, tt.want, tt.reason)
			}
		})
	}
}

func TestOnlyNodes(t *testing.T) {
	a := New(testPods())
	tests := []struct {
		name string
		u    *user.Info
	}{
		{"node name without group", &user.Info{Name: "system:node:n1"}},
		{"group without node name", &user.Info{Name: "alice", Groups: []string{user.NodesGroup}}},
		{"service account", &user.Info{Name: "system:serviceaccount:app:web-sa", Groups: user.ServiceAccountGroups("app")}},
		{"nil user", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			attrs := req("update", "", "nodes", "", "", "n2")
			attrs.User = tt.u
			if dec, reason, err := a.Decide(context.Background(), attrs); dec != authz.NoOpinion || err != nil {
				t.Fatalf("got %v %q %v; a non-node gets no opinion", dec, reason, err)
			}
		})
	}
}

func TestAuthorizeDenyMessage(t *testing.T) {
	allowed, reason, err := New(testPods()).Authorize(context.Background(), req("patch", "", "nodes", "status", "", "n2"))
	if allowed || err != nil {
		t.Fatalf("allowed=%v err=%v", allowed, err)
	}
	want := `User "system:node:n1" cannot patch resource "nodes/status" in API group "" at the cluster scope: node "n1": may not modify node "n2"`
	if reason != want {
		t.Fatalf("reason\n got %s\nwant %s", reason, want)
	}
}

// TestDenyBeatsRBAC: in the union the node authorizer's deny stands even when a later
// authorizer would allow.
func TestDenyBeatsRBAC(t *testing.T) {
	allowAll := authz.DeciderFunc(func(context.Context, apiserver.Attributes) (authz.Decision, string, error) {
		return authz.Allow, "", nil
	})
	u := authz.Union(New(testPods()), allowAll)
	if allowed, _, _ := u.Authorize(context.Background(), req("update", "", "nodes", "", "", "n2")); allowed {
		t.Fatal("write to another node allowed")
	}
	if allowed, _, _ := u.Authorize(context.Background(), req("get", "", "secrets", "", "app", "admin-token")); !allowed {
		t.Fatal("no opinion did not fall through to the next authorizer")
	}
}

func TestPodListerError(t *testing.T) {
	boom := errors.New("cache not synced")
	_, _, err := New(&fakePods{err: boom}).Decide(context.Background(), req("get", "", "secrets", "", "app", "tls"))
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
}
