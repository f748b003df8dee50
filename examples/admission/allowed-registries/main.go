// Command allowed-registries is a validating admission policy: it denies Pods, and the pod
// templates of Deployments, ReplicaSets, StatefulSets, DaemonSets, Jobs, CronJobs and
// ReplicationControllers, that run an image from outside the allowed registries. The
// registries come from the AdmissionPolicy's spec.config, or, for a policy without one, from
// the WasmPlugin's config:
//
//	{"registries": ["registry.corp.example", "ghcr.io/myorg"]}
//
// Build it with:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o allowed-registries.wasm .
//
// See README.md for pushing it and the AdmissionPolicy that applies it.
package main

import (
	"errors"

	tug "github.com/tugboat-io/tug/sdk/go"
	_ "github.com/tugboat-io/tug/sdk/go/kinds/admission"
)

// Policy is the admission policy with the plugin's own configuration, the fallback for
// requests whose policy has none.
type Policy struct {
	fallback *allowList
}

// Configure checks and adopts the plugin's configuration. {} (no registries) is accepted:
// every AdmissionPolicy using the plugin must then carry its own.
func (p *Policy) Configure(raw []byte) error {
	l, err := parseConfig(raw)
	if err != nil {
		return err
	}
	p.fallback = l
	if l != nil {
		tug.Logf(tug.LevelInfo, "allowed registries, unless a policy says otherwise: %v", l.written)
	}
	return nil
}

// Admit answers a request. A request the policy cannot decide on is denied with the reason:
// 500 when the configuration is at fault, 400 when the request is.
func (p *Policy) Admit(req *tug.AdmissionRequest) *tug.AdmissionResponse {
	resp, err := decide(req, p.fallback)
	if err == nil {
		return resp
	}
	if errors.Is(err, errConfig) {
		return &tug.AdmissionResponse{Result: &tug.AdmissionStatus{Code: 500, Reason: "InternalError", Message: err.Error()}}
	}
	return &tug.AdmissionResponse{Result: &tug.AdmissionStatus{Code: 400, Reason: "BadRequest", Message: err.Error()}}
}

func init() {
	p := &Policy{}
	tug.RegisterConfigure(p.Configure)
	tug.RegisterAdmit(p)
}

// main is not run in a c-shared module; the plugin registers itself in init.
func main() {}
