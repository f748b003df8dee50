package runtime

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/tugboat-io/tug/hostabi"
	"github.com/tugboat-io/tug/internal/wasmbuild"
)

// BenchmarkBuiltinAdmission calls tug's built-in admission module (plugins/admission) through
// this runtime — pooled instance, interrupt instrumentation, the memory cap and environment of
// production — for a pod create, per policy. Set beside the module's own benchmark (plugins:
// BenchmarkPodCreate, a bare wazero harness), it tells what the runtime adds to a guest.
func BenchmarkBuiltinAdmission(b *testing.B) {
	wasm := wasmbuild.Build(b, filepath.Join("..", "plugins"), "./admission/cmd/defaults")
	ctx := context.Background()
	m, err := testRT.Load(ctx, "bench-admission", wasm, PluginOptions{PoolSize: 1, Deadline: 10 * time.Second, MemoryLimitPages: 2048})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { m.Close(ctx) })
	pod := json.RawMessage(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web-7d4b9c-x2x9q","namespace":"dev","labels":{"app":"web"}},"spec":{"containers":[{"name":"web","image":"nginx:1.27","resources":{"requests":{"cpu":"250m","memory":"128Mi"},"limits":{"cpu":"500m","memory":"256Mi"}}}],"restartPolicy":"Always","securityContext":{"runAsNonRoot":true,"seccompProfile":{"type":"RuntimeDefault"}}}}`)
	ns := json.RawMessage(`{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"dev","labels":{"kubernetes.io/metadata.name":"dev","pod-security.kubernetes.io/enforce":"baseline"}},"status":{"phase":"Active"}}`)
	quota := json.RawMessage(`{"apiVersion":"v1","kind":"ResourceQuota","metadata":{"name":"q","namespace":"dev","resourceVersion":"9"},"spec":{"hard":{"pods":"100","requests.cpu":"20"}},"status":{"hard":{"pods":"100","requests.cpu":"20"},"used":{"pods":"10","requests.cpu":"2500m"}}}`)
	for _, c := range []struct {
		policy  string
		related map[string][]json.RawMessage
	}{
		{"NamespaceLifecycle", map[string][]json.RawMessage{"v1/Namespace": {ns}}},
		{"PodSecurity", map[string][]json.RawMessage{"v1/Namespace": {ns}}},
		{"ResourceQuota", map[string][]json.RawMessage{"v1/ResourceQuota": {quota}}},
	} {
		b.Run(c.policy, func(b *testing.B) {
			in := hostabi.AppendAdmissionRequest(nil, &hostabi.AdmissionRequest{UID: "u", Operation: "CREATE", Name: "web-7d4b9c-x2x9q", Namespace: "dev",
				Kind: hostabi.GroupVersionKind{Version: "v1", Kind: "Pod"}, Resource: hostabi.GroupVersionResource{Version: "v1", Resource: "pods"},
				Object: pod, Policy: c.policy, Related: c.related})
			inst, err := m.Acquire(ctx)
			if err != nil {
				b.Fatal(err)
			}
			defer inst.Release()
			for b.Loop() {
				out, st, err := inst.Call(ctx, hostabi.ExportAdmit, in)
				if err != nil || st != hostabi.StatusOK {
					b.Fatalf("status %v %v %s", st, err, out)
				}
			}
		})
	}
}
