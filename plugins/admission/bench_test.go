package admission_test

import (
	"encoding/json"
	"testing"

	"github.com/tugboat-io/tug/hostabi"
	"github.com/tugboat-io/tug/plugins/admission/internal/testutil"
	"github.com/tugboat-io/tug/plugins/internal/wasmhost"
)

// A typical pod create, as the host would send it to each policy of the default chain, with
// the related objects each reads.
const (
	benchPod = `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web-7d4b9c-x2x9q","generateName":"web-7d4b9c-","namespace":"dev","labels":{"app":"web","pod-template-hash":"7d4b9c"},"ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"web-7d4b9c","uid":"a1","controller":true,"blockOwnerDeletion":true}]},"spec":{"containers":[{"name":"web","image":"nginx:1.27","ports":[{"name":"http","containerPort":80,"protocol":"TCP"}],"resources":{"limits":{"cpu":"500m","memory":"256Mi"},"requests":{"cpu":"250m","memory":"128Mi"}},"env":[{"name":"A","value":"1"}],"imagePullPolicy":"IfNotPresent","securityContext":{"allowPrivilegeEscalation":false,"capabilities":{"drop":["ALL"]}}}],"restartPolicy":"Always","terminationGracePeriodSeconds":30,"dnsPolicy":"ClusterFirst","securityContext":{"runAsNonRoot":true,"seccompProfile":{"type":"RuntimeDefault"}},"schedulerName":"default-scheduler"}}`
	benchNS  = `{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"dev","labels":{"kubernetes.io/metadata.name":"dev","pod-security.kubernetes.io/enforce":"restricted"}},"status":{"phase":"Active"}}`
	benchLR  = `{"apiVersion":"v1","kind":"LimitRange","metadata":{"name":"lr","namespace":"dev"},"spec":{"limits":[{"type":"Container","default":{"cpu":"500m","memory":"256Mi"},"defaultRequest":{"cpu":"100m","memory":"128Mi"},"max":{"cpu":"2","memory":"1Gi"}}]}}`
	benchSA  = `{"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"default","namespace":"dev"}}`
	benchRQ  = `{"apiVersion":"v1","kind":"ResourceQuota","metadata":{"name":"q","namespace":"dev","resourceVersion":"9"},"spec":{"hard":{"pods":"100","requests.cpu":"20","requests.memory":"40Gi","limits.cpu":"40","limits.memory":"80Gi"}},"status":{"hard":{"pods":"100","requests.cpu":"20","requests.memory":"40Gi","limits.cpu":"40","limits.memory":"80Gi"},"used":{"pods":"10","requests.cpu":"2500m","requests.memory":"1280Mi","limits.cpu":"5","limits.memory":"2560Mi"}}}`
)

var chain = []struct {
	policy, config string
	related        map[string][]string
}{
	{"NamespaceLifecycle", "", map[string][]string{"v1/Namespace": {benchNS}}},
	{"LimitRanger", "", map[string][]string{"v1/LimitRange": {benchLR}}},
	{"ServiceAccount", `{"tokenVolume":true}`, map[string][]string{"v1/ServiceAccount": {benchSA}}},
	{"DefaultTolerationSeconds", "", nil},
	{"PodSecurity", "", map[string][]string{"v1/Namespace": {benchNS}}},
	{"ResourceQuota", "", map[string][]string{"v1/ResourceQuota": {benchRQ}}},
}

// BenchmarkPodCreate is one tug_admit call per policy of the default chain for a typical
// pod create, through the module compiled by wazero (as tug's host runs it), without the
// host's pooling and deadlines: what each policy adds to a pod create.
//
//	cd plugins && go test -run '^$' -bench PodCreate ./admission/
func BenchmarkPodCreate(b *testing.B) {
	h, err := wasmhost.LoadCompiled(testutil.Module)
	if err != nil {
		b.Fatal(err)
	}
	for _, p := range chain {
		b.Run(p.policy, func(b *testing.B) {
			req := testutil.Request(b, p.policy, "CREATE", benchPod, p.config, p.related)
			in, _ := json.Marshal(req)
			st, out, err := h.Call(b, hostabi.ExportAdmit, in)
			if err != nil || st != hostabi.StatusOK {
				b.Fatalf("status %d %s %v", st, out, err)
			}
			var resp struct {
				Allowed bool `json:"allowed"`
			}
			if err := json.Unmarshal(out, &resp); err != nil || !resp.Allowed {
				b.Fatalf("the typical pod is not allowed: %s", out)
			}
			b.ResetTimer()
			for b.Loop() {
				if st, _, err := h.Call(b, hostabi.ExportAdmit, in); err != nil || st != hostabi.StatusOK {
					b.Fatalf("status %d %v", st, err)
				}
			}
		})
	}
}
