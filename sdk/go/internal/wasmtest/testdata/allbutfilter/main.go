// Command allbutfilter is a plugin of every kind but filter, for checking that a module
// exports exactly the kinds it imports.
package main

import (
	tug "github.com/tugboat-io/tug/sdk/go"
	_ "github.com/tugboat-io/tug/sdk/go/kinds/admission"
	_ "github.com/tugboat-io/tug/sdk/go/kinds/controller"
	_ "github.com/tugboat-io/tug/sdk/go/kinds/score"
)

func init() {
	tug.RegisterScore(tug.ScoreFunc(func(_ *tug.CycleState, _ *tug.Pod, n *tug.NodeInfo) (int64, *tug.Status) {
		return int64(len(n.Pods)), nil
	}))
	tug.RegisterAdmit(tug.AdmitFunc(func(*tug.AdmissionRequest) *tug.AdmissionResponse { return tug.Allow() }))
	tug.RegisterReconcile(tug.ReconcileFunc(func(*tug.ReconcileRequest) (*tug.ReconcileResult, error) {
		return &tug.ReconcileResult{}, nil
	}))
}

func main() {}
