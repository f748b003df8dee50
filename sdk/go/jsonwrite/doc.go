// Package jsonwrite writes JSON without reflection, for the hot paths of wasm plugins: the
// SDK's encoding of admission responses and patch values, and a plugin's own encoding of
// what it answers (a quota's new status).
//
// encoding/json encodes through reflection, which Go's wasm backend runs about ten times
// slower than native code (see package jsonread). The functions here write what
// encoding/json writes for the same values: strings escaped as it escapes them (<, > and &,
// U+2028 and U+2029 included, invalid UTF-8 as U+FFFD), map keys sorted. Raw JSON
// (json.RawMessage, a json.Marshaler's output) is checked and copied as it is, where
// encoding/json would also compact it.
package jsonwrite
