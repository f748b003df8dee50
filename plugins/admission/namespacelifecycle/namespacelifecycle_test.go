package namespacelifecycle_test

import (
	"testing"

	"github.com/tugboat-io/tug/plugins/admission/internal/testutil"
	tug "github.com/tugboat-io/tug/sdk/go"
)

const (
	active      = `{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"dev"},"status":{"phase":"Active"}}`
	terminating = `{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"dev","deletionTimestamp":"2026-01-01T00:00:00Z"},"status":{"phase":"Terminating"}}`
	node        = `{"apiVersion":"v1","kind":"Node","metadata":{"name":"n1"}}`
)

func ns(name string) string {
	return `{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"` + name + `"}}`
}

func TestNamespaceLifecycle(t *testing.T) {
	pod := testutil.Pod("dev", "web", `"containers":[{"name":"c","image":"x"}]`, "")
	cm := `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm","namespace":"dev"}}`
	none := map[string][]string{"v1/Namespace": {}}
	for _, tc := range []struct {
		name    string
		req     func(t *testing.T) *tug.AdmissionRequest
		verdict string
	}{
		{"create in an active namespace", func(t *testing.T) *tug.AdmissionRequest {
			return testutil.Request(t, "NamespaceLifecycle", "CREATE", pod, "", map[string][]string{"v1/Namespace": {active}})
		}, "allowed"},
		{"create in a missing namespace is not found", func(t *testing.T) *tug.AdmissionRequest {
			return testutil.Request(t, "NamespaceLifecycle", "CREATE", pod, "", none)
		}, `denied 404: namespaces "dev" not found`},
		{"create of a configmap in a missing namespace", func(t *testing.T) *tug.AdmissionRequest {
			return testutil.Request(t, "NamespaceLifecycle", "CREATE", cm, "", none)
		}, `denied 404: namespaces "dev" not found`},
		{"create in a terminating namespace is forbidden", func(t *testing.T) *tug.AdmissionRequest {
			return testutil.Request(t, "NamespaceLifecycle", "CREATE", pod, "", map[string][]string{"v1/Namespace": {terminating}})
		}, `denied 403: pods "web" is forbidden: unable to create new content in namespace dev because it is being terminated`},
		{"update in a terminating namespace (finalizers come off)", func(t *testing.T) *tug.AdmissionRequest {
			return testutil.Update(t, "NamespaceLifecycle", pod, pod, "", map[string][]string{"v1/Namespace": {terminating}})
		}, "allowed"},
		{"delete in a missing namespace", func(t *testing.T) *tug.AdmissionRequest {
			return testutil.Request(t, "NamespaceLifecycle", "DELETE", pod, "", none)
		}, "allowed"},
		{"cluster-scoped object", func(t *testing.T) *tug.AdmissionRequest {
			return testutil.Request(t, "NamespaceLifecycle", "CREATE", node, "", none)
		}, "allowed"},
		{"create of a namespace", func(t *testing.T) *tug.AdmissionRequest {
			return testutil.Request(t, "NamespaceLifecycle", "CREATE", ns("new"), "", none)
		}, "allowed"},
		{"delete of default", func(t *testing.T) *tug.AdmissionRequest {
			return testutil.Request(t, "NamespaceLifecycle", "DELETE", ns("default"), "", nil)
		}, `denied 403: namespaces "default" is forbidden: this namespace may not be deleted`},
		{"delete of kube-system", func(t *testing.T) *tug.AdmissionRequest {
			return testutil.Request(t, "NamespaceLifecycle", "DELETE", ns("kube-system"), "", nil)
		}, `denied 403: namespaces "kube-system" is forbidden: this namespace may not be deleted`},
		{"delete of kube-public", func(t *testing.T) *tug.AdmissionRequest {
			return testutil.Request(t, "NamespaceLifecycle", "DELETE", ns("kube-public"), "", nil)
		}, `denied 403: namespaces "kube-public" is forbidden: this namespace may not be deleted`},
		{"delete of another namespace", func(t *testing.T) *tug.AdmissionRequest {
			return testutil.Request(t, "NamespaceLifecycle", "DELETE", ns("dev"), "", nil)
		}, "allowed"},
		{"local access review in a missing namespace", func(t *testing.T) *tug.AdmissionRequest {
			return testutil.Request(t, "NamespaceLifecycle", "CREATE",
				`{"apiVersion":"authorization.k8s.io/v1","kind":"LocalSubjectAccessReview","metadata":{"namespace":"dev"}}`, "", none)
		}, "allowed"},
		{"namespace not handed fails closed", func(t *testing.T) *tug.AdmissionRequest {
			return testutil.Request(t, "NamespaceLifecycle", "CREATE", pod, "", nil)
		}, "denied 500: the host handed no v1/Namespace: the AdmissionPolicy must read it (spec.reads)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := testutil.Verdict(testutil.Admit(t, tc.req(t))); got != tc.verdict {
				t.Errorf("verdict %q, want %q", got, tc.verdict)
			}
		})
	}
}
