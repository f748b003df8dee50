// Package testutil runs the default plugins' table tests through the ABI, twice: natively,
// through the SDK's dispatch in the test binary (sdktest.Call, the code the wasm exports
// call), and in the wasm module of cmd/defaults, built once per test binary and run on
// wazero. Both get the same frames — tug_configure with {"enabled":[plugin],"config":…},
// tug_sched_nodes, tug_sched_prefilter, then tug_sched_filter_at or tug_sched_score_at and
// tug_sched_normalize_at with the plugin's index (ABI.md §4.7) — and each answer is checked
// against the case's expectation, in subtests "native" and "wasm", and against the other.
//
// The harness registers the default plugins (defaults.Register) in the test binary, so a
// plugin's tests that use it are external (package x_test) and register nothing themselves.
// Tests must not run in parallel: the native plugins and the wasm instance are process-wide.
package testutil

import (
	"testing"

	tug "github.com/tugboat-io/tug/sdk/go"
)

// Pod decodes a pod from its Kubernetes JSON, as the SDK does for the host's input, for
// tests of helpers that take a *tug.Pod.
func Pod(t *testing.T, js string) *tug.Pod {
	t.Helper()
	p, err := tug.DecodePod([]byte(js))
	if err != nil {
		t.Fatalf("pod %s: %v", js, err)
	}
	return p
}
