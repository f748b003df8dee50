package admission_test

import (
	"encoding/json"
	"testing"

	"github.com/tugboat-io/tug/hostabi"
	"github.com/tugboat-io/tug/plugins/admission/internal/testutil"
	"github.com/tugboat-io/tug/sdk/go/sdktest"
)

// BenchmarkNativePodCreate is BenchmarkPodCreate run natively, through the SDK's fake host
// (sdktest): the same decisions without wasm, for CPU and allocation profiles of the
// guests' code, which wasm has no profiler for.
//
//	cd plugins && go test -run '^$' -bench NativePodCreate -benchmem -cpuprofile cpu.out ./admission/
func BenchmarkNativePodCreate(b *testing.B) {
	for _, p := range chain {
		b.Run(p.policy, func(b *testing.B) {
			req := testutil.Request(b, p.policy, "CREATE", benchPod, p.config, p.related)
			in, _ := json.Marshal(req)
			for b.Loop() {
				if st, _ := sdktest.Call(b, hostabi.ExportAdmit, in); st != hostabi.StatusOK {
					b.Fatal(st)
				}
			}
		})
	}
}
