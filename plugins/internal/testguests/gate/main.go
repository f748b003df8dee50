// Command gate is a scheduling plugin at every extension point after the choice of a node
// (ABI.md §4.10), for the tests that drive those points through real wasm. It is a filter
// (it rejects nodes labelled gate.tug.dev/closed) and decides by the pod's annotations:
//
//   - gate.tug.dev/reserve: reject — Reserve rejects the pod;
//   - gate.tug.dev/permit: deny — Permit denies it; a number N — Permit holds the pod until
//     N pods of the same gang (label gate.tug.dev/gang) wait, then allows them all, and
//     rejects the waiting pods of its gang when a member is denied;
//   - gate.tug.dev/prebind: reject — PreBind rejects it.
//
// Unreserve and PostBind log "unreserve NAMESPACE/NAME NODE" and "postbind NAMESPACE/NAME
// NODE" at info level.
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o gate.wasm ./internal/testguests/gate
package main

import (
	"strconv"
	"strings"
	"time"

	tug "github.com/tugboat-io/tug/sdk/go"
	_ "github.com/tugboat-io/tug/sdk/go/kinds/filter"
	_ "github.com/tugboat-io/tug/sdk/go/kinds/permit"
	_ "github.com/tugboat-io/tug/sdk/go/kinds/postbind"
	_ "github.com/tugboat-io/tug/sdk/go/kinds/prebind"
	_ "github.com/tugboat-io/tug/sdk/go/kinds/reserve"
)

const (
	prefix = "gate.tug.dev/"
	// Wait is how long Permit holds a gang's pods.
	Wait = 30 * time.Second
)

func init() {
	tug.RegisterFilter(gate{})
	tug.RegisterReserve(gate{})
	tug.RegisterPermit(gate{})
	tug.RegisterPreBind(gate{})
	tug.RegisterPostBind(gate{})
}

func main() {}

type gate struct{}

func (gate) Filter(_ *tug.CycleState, _ *tug.Pod, n *tug.NodeInfo) *tug.Status {
	if _, closed := n.Node.Labels[prefix+"closed"]; closed {
		return tug.Unschedulable("node(s) were closed")
	}
	return nil
}

func (gate) Reserve(_ *tug.CycleState, p *tug.Pod, node string) *tug.Status {
	if p.Annotations[prefix+"reserve"] == "reject" {
		return tug.Unschedulable("reserve refused on " + node)
	}
	return nil
}

func (gate) Unreserve(_ *tug.CycleState, p *tug.Pod, node string) {
	tug.Log(tug.LevelInfo, "unreserve "+p.Namespace+"/"+p.Name+" "+node)
}

func (gate) Permit(_ *tug.CycleState, p *tug.Pod, _ string, waiting *tug.WaitingPods) (*tug.Status, time.Duration) {
	a := p.Annotations[prefix+"permit"]
	gang := p.Labels[prefix+"gang"]
	members := func() []string {
		var keys []string
		for _, k := range waiting.Keys() {
			if gang != "" && strings.HasPrefix(k, p.Namespace+"/"+gang+"-") {
				keys = append(keys, k)
			}
		}
		return keys
	}
	if a == "deny" {
		for _, k := range members() {
			waiting.Reject(k, "a member of gang "+gang+" was denied")
		}
		return tug.Unschedulable("permit denied"), 0
	}
	size, err := strconv.Atoi(a)
	if err != nil {
		return nil, 0
	}
	m := members()
	if len(m)+1 < size {
		return tug.NewStatus(tug.CodeWait), Wait
	}
	for _, k := range m {
		waiting.Allow(k)
	}
	return nil, 0
}

func (gate) PreBind(_ *tug.CycleState, p *tug.Pod, node string) *tug.Status {
	if p.Annotations[prefix+"prebind"] == "reject" {
		return tug.Unschedulable("volume not ready on " + node)
	}
	return nil
}

func (gate) PostBind(_ *tug.CycleState, p *tug.Pod, node string) {
	tug.Log(tug.LevelInfo, "postbind "+p.Namespace+"/"+p.Name+" "+node)
}
