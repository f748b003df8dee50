// Package podsecurity is not written yet: it refuses every request rather than admit unchecked.
package podsecurity

import tug "github.com/tugboat-io/tug/sdk/go"

// Admit refuses the request.
func Admit(req *tug.AdmissionRequest) *tug.AdmissionResponse {
	return tug.DenyStatus(500, "InternalError", "not implemented yet")
}
