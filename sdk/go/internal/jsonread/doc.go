// Package jsonread reads JSON without reflection, one value at a time, for the SDK's hot
// path: decoding pods and nodes inside a wasm plugin.
//
// encoding/json decodes through reflection, which Go's wasm backend runs about ten times
// slower than native code (docs/BENCHMARKS.md); a scheduler plugin decodes every pod of a
// cycle and every pod resident on its nodes. The SDK's decoders walk the input with a
// Reader instead and pick the fields they keep by name. Strings decode as encoding/json
// decodes them (escapes, surrogate pairs, invalid UTF-8 as U+FFFD); object keys are matched
// exactly, as Kubernetes writes them.
package jsonread
