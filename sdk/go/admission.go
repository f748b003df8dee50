package tug

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/tugboat-io/tug/hostabi"
	"github.com/tugboat-io/tug/sdk/go/jsonwrite"
)

// Admitter is an admission policy: it allows, denies or (for a mutating policy) patches an
// API request.
type Admitter interface {
	Admit(req *AdmissionRequest) *AdmissionResponse
}

// AdmitFunc adapts a function to an Admitter.
type AdmitFunc func(req *AdmissionRequest) *AdmissionResponse

// Admit calls f.
func (f AdmitFunc) Admit(req *AdmissionRequest) *AdmissionResponse { return f(req) }

// RegisterAdmit makes a the plugin's admission policy. Call it once, from init; the module
// must also import github.com/tugboat-io/tug/sdk/go/kinds/admission.
func RegisterAdmit(a Admitter) {
	mustRegister("RegisterAdmit", a == nil, reg.admit != nil)
	reg.admit = a
}

// Types shared with the host's encoding (ABI.md §4.5).
type (
	// GroupVersionKind names a kind.
	GroupVersionKind = hostabi.GroupVersionKind
	// GroupVersionResource names a resource.
	GroupVersionResource = hostabi.GroupVersionResource
	// UserInfo is who made a request.
	UserInfo = hostabi.UserInfo
	// AdmissionStatus is why a request was denied: an HTTP code and a message.
	AdmissionStatus = hostabi.AdmissionStatus
	// PatchOperation is one operation of an RFC 6902 JSON patch.
	PatchOperation = hostabi.PatchOperation
)

// AdmissionRequest is an API request to admit, as admission.k8s.io/v1's AdmissionRequest: the
// host's encoding (hostabi.AdmissionRequest) with helpers to decode its objects. Object is the
// object as it would be stored (null for DELETE); OldObject is the stored one, for UPDATE and
// DELETE.
type AdmissionRequest struct {
	hostabi.AdmissionRequest
}

// Decode decodes the request's Object into v: a *Pod, or any type encoding/json fills.
func (r *AdmissionRequest) Decode(v any) error { return decodeInto("object", r.Object, v) }

// DecodeOld decodes the request's OldObject into v.
func (r *AdmissionRequest) DecodeOld(v any) error { return decodeInto("oldObject", r.OldObject, v) }

// RelatedObjects are the related objects of one kind the host handed the policy (ABI 1.5),
// by ObjectKey: "v1/Namespace", "v1/LimitRange". A policy hears of related objects only of
// the kinds its AdmissionPolicy declares in spec.reads.
//
// A nil answer means the host handed none of the kind, an empty one that it looked and
// found none (for "v1/Namespace": the request's namespace does not exist); HasRelated tells
// the two apart where a slice's nil-ness is easy to lose.
func (r *AdmissionRequest) RelatedObjects(key string) []json.RawMessage { return r.Related[key] }

// HasRelated reports whether the host handed the related objects of the kind at all: a
// policy must not take "not handed" (an older host, a policy without the read) for "none
// exist".
func (r *AdmissionRequest) HasRelated(key string) bool {
	_, ok := r.Related[key]
	return ok
}

// DecodeRelated decodes each related object of the kind into a new T, in the host's order.
func DecodeRelated[T any](r *AdmissionRequest, key string) ([]T, error) {
	list := r.Related[key]
	out := make([]T, len(list))
	for i, raw := range list {
		if err := decodeObject(raw, &out[i]); err != nil {
			return nil, fmt.Errorf("decode related %s[%d]: %w", key, i, err)
		}
	}
	return out, nil
}

func decodeInto(what string, raw json.RawMessage, v any) error {
	if err := decodeObject(raw, v); err != nil {
		return fmt.Errorf("decode %s: %w", what, err)
	}
	switch o := v.(type) {
	case *Pod:
		o.Raw = raw
	case *Node:
		o.Raw = raw
	}
	return nil
}

// AdmissionResponse is a policy's answer, as admission.k8s.io/v1's AdmissionResponse
// except that Patch holds the JSON patch operations themselves. Build one with Allow or
// Deny and add to it with the chaining methods.
type AdmissionResponse struct {
	// UID is the request's; the SDK fills it in.
	UID     string           `json:"uid,omitempty"`
	Allowed bool             `json:"allowed"`
	Result  *AdmissionStatus `json:"status,omitempty"`
	// Patch is applied to the object when the policy is a mutating one.
	Patch            []PatchOperation  `json:"patch,omitempty"`
	AuditAnnotations map[string]string `json:"auditAnnotations,omitempty"`
	Warnings         []string          `json:"warnings,omitempty"`
	// StatusUpdates (ABI 1.5) are related objects, of kinds the policy may write the status
	// of, with their new status: the host writes them in the same transaction as the
	// request, at the resourceVersion each carries, or admits the request again.
	StatusUpdates []json.RawMessage `json:"statusUpdates,omitempty"`

	err error // the first patch value or status update that could not be encoded
}

// Allow admits the request.
func Allow() *AdmissionResponse { return &AdmissionResponse{Allowed: true} }

// Deny refuses the request with 403 Forbidden and the message, which the user sees.
func Deny(msg string) *AdmissionResponse {
	return &AdmissionResponse{Result: &AdmissionStatus{Code: 403, Reason: "Forbidden", Message: msg}}
}

// DenyStatus refuses the request with another code than 403 and its reason, as kube's
// admission plugins do: 404 NotFound for a namespace that does not exist, 422 Invalid.
func DenyStatus(code int32, reason, msg string) *AdmissionResponse {
	return &AdmissionResponse{Result: &AdmissionStatus{Code: code, Reason: reason, Message: msg}}
}

// Denyf is Deny with a formatted message.
func Denyf(format string, args ...any) *AdmissionResponse {
	return Deny(fmt.Sprintf(format, args...))
}

// Add appends an "add" operation setting the JSON pointer path to value. The value is
// encoded as json.Marshal would encode it; strings, numbers, booleans, raw JSON and maps
// and slices of these are written without reflection (package jsonwrite), which in wasm
// is many times faster than encoding/json's.
func (r *AdmissionResponse) Add(path string, value any) *AdmissionResponse {
	return r.op("add", path, value)
}

// Replace appends a "replace" operation.
func (r *AdmissionResponse) Replace(path string, value any) *AdmissionResponse {
	return r.op("replace", path, value)
}

// Remove appends a "remove" operation.
func (r *AdmissionResponse) Remove(path string) *AdmissionResponse {
	r.Patch = append(r.Patch, PatchOperation{Op: "remove", Path: path})
	return r
}

// Warn adds a warning the client shows to the user.
func (r *AdmissionResponse) Warn(msg string) *AdmissionResponse {
	r.Warnings = append(r.Warnings, msg)
	return r
}

// UpdateStatus asks the host to write obj's status atomically with the request (ABI 1.5):
// obj is a related object as handed, with apiVersion, kind, metadata.namespace, name and
// resourceVersion, and its new status — a struct, a map or raw JSON. An object that cannot
// be encoded fails the call, as a patch value does.
func (r *AdmissionResponse) UpdateStatus(obj any) *AdmissionResponse {
	b, err := toJSON(obj)
	if err != nil {
		if r.err == nil {
			r.err = fmt.Errorf("status update: %w", err)
		}
		return r
	}
	r.StatusUpdates = append(r.StatusUpdates, b)
	return r
}

// Audit records an audit annotation on the request's audit event.
func (r *AdmissionResponse) Audit(key, value string) *AdmissionResponse {
	if r.AuditAnnotations == nil {
		r.AuditAnnotations = map[string]string{}
	}
	r.AuditAnnotations[key] = value
	return r
}

func (r *AdmissionResponse) op(op, path string, value any) *AdmissionResponse {
	b, err := jsonwrite.AppendValue(nil, value)
	if err != nil {
		if r.err == nil {
			r.err = fmt.Errorf("patch %s %s: %w", op, path, err)
		}
		return r
	}
	r.Patch = append(r.Patch, PatchOperation{Op: op, Path: path, Value: b})
	return r
}

// JSONPointer builds an RFC 6901 JSON pointer from unescaped tokens:
// JSONPointer("metadata", "labels", "app.kubernetes.io/name") is
// "/metadata/labels/app.kubernetes.io~1name".
func JSONPointer(tokens ...string) string {
	// Escaped by hand: the strings.Replacer this made on each call built a table of 256
	// entries, a cost policies paid per container patched.
	n := 0
	for _, t := range tokens {
		n += 1 + len(t)
	}
	b := make([]byte, 0, n)
	for _, t := range tokens {
		b = append(b, '/')
		for i := range len(t) {
			switch t[i] {
			case '~':
				b = append(b, '~', '0')
			case '/':
				b = append(b, '~', '1')
			default:
				b = append(b, t[i])
			}
		}
	}
	return string(b)
}

// appendJSON appends the response as JSON, as json.Marshal would encode it but without
// reflection: every admission request of a pod create runs through the whole chain, and
// encoding/json took a sixth of a policy's time in wasm. Raw values (patch values, status
// updates) are checked and copied as they are.
func (r *AdmissionResponse) appendJSON(b []byte) ([]byte, error) {
	b = append(b, '{')
	if r.UID != "" {
		b = append(b, `"uid":`...)
		b = jsonwrite.AppendString(b, r.UID)
		b = append(b, ',')
	}
	b = append(b, `"allowed":`...)
	b = strconv.AppendBool(b, r.Allowed)
	if s := r.Result; s != nil {
		b = append(b, `,"status":{`...)
		n := len(b)
		if s.Code != 0 {
			b = append(b, `"code":`...)
			b = strconv.AppendInt(b, int64(s.Code), 10)
		}
		if s.Message != "" {
			b = member(b, n, "message")
			b = jsonwrite.AppendString(b, s.Message)
		}
		if s.Reason != "" {
			b = member(b, n, "reason")
			b = jsonwrite.AppendString(b, s.Reason)
		}
		b = append(b, '}')
	}
	var err error
	if len(r.Patch) > 0 {
		b = append(b, `,"patch":[`...)
		for i, op := range r.Patch {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"op":`...)
			b = jsonwrite.AppendString(b, op.Op)
			b = append(b, `,"path":`...)
			b = jsonwrite.AppendString(b, op.Path)
			if op.From != "" {
				b = append(b, `,"from":`...)
				b = jsonwrite.AppendString(b, op.From)
			}
			if len(op.Value) > 0 {
				b = append(b, `,"value":`...)
				if b, err = jsonwrite.AppendRaw(b, op.Value); err != nil {
					return nil, fmt.Errorf("patch %s %s: %w", op.Op, op.Path, err)
				}
			}
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	if len(r.AuditAnnotations) > 0 {
		b = append(b, `,"auditAnnotations":`...)
		b, _ = jsonwrite.AppendValue(b, r.AuditAnnotations) // strings only: cannot fail
	}
	if len(r.Warnings) > 0 {
		b = append(b, `,"warnings":`...)
		b, _ = jsonwrite.AppendValue(b, r.Warnings)
	}
	if len(r.StatusUpdates) > 0 {
		b = append(b, `,"statusUpdates":`...)
		if b, err = jsonwrite.AppendValue(b, r.StatusUpdates); err != nil {
			return nil, fmt.Errorf("status update: %w", err)
		}
	}
	return append(b, '}'), nil
}

// member starts an object member named name, after a comma unless the object's members
// start at n and none is written yet.
func member(b []byte, n int, name string) []byte {
	if len(b) > n {
		b = append(b, ',')
	}
	b = append(b, '"')
	b = append(b, name...)
	return append(b, '"', ':')
}
