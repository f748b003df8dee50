// Package jsonread reads JSON without reflection, one value at a time, for the hot paths
// of wasm plugins: the SDK's decoders of pods and nodes, and a plugin's own decoding of the
// many objects it is handed (a controller reconciling a ReplicaSet of a thousand pods).
//
// encoding/json decodes through reflection, which Go's wasm backend runs about ten times
// slower than native code (docs/BENCHMARKS.md); a scheduler plugin decodes every pod of a
// cycle and every pod resident on its nodes. A decoder walks the input with a Reader
// instead and picks the fields it keeps by name. Strings decode as encoding/json
// decodes them (escapes, surrogate pairs, invalid UTF-8 as U+FFFD); object keys are matched
// exactly, as Kubernetes writes them. Skip accepts exactly what json.Valid accepts.
//
// The scanning is written for Go's wasm code, where every branch passes through the
// function's dispatch loop, a call costs about 25 ns and an allocation about 400 ns:
// strings are scanned eight bytes at a time, skipped values in one loop without calls for
// their structure, and NewShared spares a decoder an allocation per string it keeps.
package jsonread
