// Package testutil runs an admission request twice, natively (the SDK's sdktest, in the test
// binary) and through the wasm module of cmd/defaults (on wazero), checks that both answer
// the same, and returns the one answer; and it builds the requests and reads the answers of
// the policies' table tests.
package testutil
