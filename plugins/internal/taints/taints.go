// Package taints matches tolerations to taints as Kubernetes does (ToleratesTaint in
// k8s.io/api/core/v1's helpers), for the scheduling and controller plugins that read taints.
package taints

import tug "github.com/tugboat-io/tug/sdk/go"

// Effects of a taint.
const (
	NoSchedule       = "NoSchedule"
	PreferNoSchedule = "PreferNoSchedule"
	NoExecute        = "NoExecute"
)

// Tolerates reports whether toleration t tolerates taint: an empty effect matches every
// effect, an empty key every key (with Exists), and operator Equal (the default) compares the
// values.
func Tolerates(t tug.Toleration, taint tug.Taint) bool {
	if t.Effect != "" && t.Effect != taint.Effect {
		return false
	}
	if t.Key != "" && t.Key != taint.Key {
		return false
	}
	switch t.Operator {
	case "", "Equal":
		return t.Value == taint.Value
	case "Exists":
		return true
	}
	return false
}

// AnyTolerates reports whether one of ts tolerates taint.
func AnyTolerates(ts []tug.Toleration, taint tug.Taint) bool {
	for _, t := range ts {
		if Tolerates(t, taint) {
			return true
		}
	}
	return false
}
