// Package hostabi is the tug host ABI in Go: the names, signatures, status codes and encodings
// that ABI.md specifies, shared by the host (runtime/) and the Go SDK (sdk/go). It depends on
// nothing but the standard library, so plugin authors importing the SDK pull in nothing else.
//
// ABI.md is the contract; this package, its golden vectors in testdata/ and the conformance
// kit in abitest/ must agree with it.
package hostabi
