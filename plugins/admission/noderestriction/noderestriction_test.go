package noderestriction_test

import (
	"testing"

	"github.com/tugboat-io/tug/plugins/admission/internal/testutil"
	tug "github.com/tugboat-io/tug/sdk/go"
)

func asNode(req *tug.AdmissionRequest, name string) *tug.AdmissionRequest {
	req.UserInfo = tug.UserInfo{Username: "system:node:" + name, Groups: []string{"system:nodes", "system:authenticated"}}
	return req
}

func TestNodeRestriction(t *testing.T) {
	mirror := `,"annotations":{"kubernetes.io/config.mirror":"abc"}`
	pod := func(spec, meta string) string { return testutil.Pod("kube-system", "etcd-n1", spec, meta) }
	node := func(name, labels string) string {
		return `{"apiVersion":"v1","kind":"Node","metadata":{"name":"` + name + `","labels":{` + labels + `}}}`
	}
	create := func(obj string) func(t *testing.T) *tug.AdmissionRequest {
		return func(t *testing.T) *tug.AdmissionRequest {
			return asNode(testutil.Request(t, "NodeRestriction", "CREATE", obj, "", nil), "n1")
		}
	}
	for _, tc := range []struct {
		name    string
		req     func(t *testing.T) *tug.AdmissionRequest
		verdict string
	}{
		{"its own mirror pod", create(pod(`"nodeName":"n1","containers":[{"name":"c","image":"x"}]`, mirror)), "allowed"},
		{"a pod that is not a mirror", create(pod(`"nodeName":"n1","containers":[{"name":"c","image":"x"}]`, "")),
			`denied 403: pods "etcd-n1" is forbidden: pod does not have "kubernetes.io/config.mirror" annotation, node "n1" can only create mirror pods`},
		{"a mirror pod for another node", create(pod(`"nodeName":"n2","containers":[{"name":"c","image":"x"}]`, mirror)),
			`denied 403: pods "etcd-n1" is forbidden: node "n1" can only create pods with spec.nodeName set to itself`},
		{"a mirror pod with a secret volume", create(pod(`"nodeName":"n1","volumes":[{"name":"s","secret":{"secretName":"db"}}],"containers":[{"name":"c","image":"x"}]`, mirror)),
			`denied 403: pods "etcd-n1" is forbidden: node "n1" can not create pods that reference secrets`},
		{"a mirror pod with a token projection", create(pod(`"nodeName":"n1","volumes":[{"name":"t","projected":{"sources":[{"serviceAccountToken":{"path":"t"}}]}}],"containers":[{"name":"c","image":"x"}]`, mirror)),
			`denied 403: pods "etcd-n1" is forbidden: node "n1" can not create pods that reference a service account`},
		{"a mirror pod reading a configmap key", create(pod(`"nodeName":"n1","containers":[{"name":"c","image":"x","env":[{"name":"A","valueFrom":{"configMapKeyRef":{"name":"cm","key":"k"}}}]}]`, mirror)),
			`denied 403: pods "etcd-n1" is forbidden: node "n1" can not create pods that reference configmaps`},
		{"a mirror pod with another account", create(pod(`"nodeName":"n1","serviceAccountName":"admin","containers":[{"name":"c","image":"x"}]`, mirror)),
			`denied 403: pods "etcd-n1" is forbidden: node "n1" can not create pods that reference a service account`},
		{"its own node", create(node("n1", `"kubernetes.io/hostname":"n1"`)), "allowed"},
		{"another node", func(t *testing.T) *tug.AdmissionRequest {
			r := create(node("n2", ""))(t)
			r.Name = "n2"
			return r
		}, `denied 403: nodes "n2" is forbidden: node "n1" is not allowed to modify node "n2"`},
		{"a restricted label on itself", func(t *testing.T) *tug.AdmissionRequest {
			return asNode(testutil.Update(t, "NodeRestriction", node("n1", ""), node("n1", `"node-restriction.kubernetes.io/pci":"yes"`), "", nil), "n1")
		}, `denied 403: nodes "n1" is forbidden: is not allowed to modify labels: node-restriction.kubernetes.io/pci`},
		{"a restricted label kept", func(t *testing.T) *tug.AdmissionRequest {
			l := `"node-restriction.kubernetes.io/pci":"yes"`
			return asNode(testutil.Update(t, "NodeRestriction", node("n1", l), node("n1", l+`,"a":"b"`), "", nil), "n1")
		}, "allowed"},
		{"its own lease", create(`{"apiVersion":"coordination.k8s.io/v1","kind":"Lease","metadata":{"name":"n1","namespace":"kube-node-lease"}}`), "allowed"},
		{"another node's lease", create(`{"apiVersion":"coordination.k8s.io/v1","kind":"Lease","metadata":{"name":"n2","namespace":"kube-node-lease"}}`),
			`denied 403: leases.coordination.k8s.io "n2" is forbidden: can only access node lease with the same name as the requesting node`},
		{"its own DNS slice", create(`{"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice","metadata":{"name":"kube-dns-n1","namespace":"kube-system"},"addressType":"IPv4","endpoints":[]}`), "allowed"},
		{"another slice", create(`{"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice","metadata":{"name":"kube-dns-abc","namespace":"kube-system"},"addressType":"IPv4","endpoints":[]}`),
			`denied 403: endpointslices.discovery.k8s.io "kube-dns-abc" is forbidden: node "n1" can only create its own cluster DNS endpoint slice kube-system/kube-dns-n1`},
		{"another user is not its business", func(t *testing.T) *tug.AdmissionRequest {
			r := testutil.Request(t, "NodeRestriction", "CREATE", pod(`"nodeName":"n2","containers":[{"name":"c","image":"x"}]`, ""), "", nil)
			r.UserInfo = tug.UserInfo{Username: "system:node:n1"} // the name without the group is not a node
			return r
		}, "allowed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := testutil.Verdict(testutil.Admit(t, tc.req(t))); got != tc.verdict {
				t.Fatalf("verdict %q, want %q", got, tc.verdict)
			}
		})
	}
}
