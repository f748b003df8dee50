package policy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"

	tug "github.com/tugboat-io/tug/sdk/go"
	"github.com/tugboat-io/tug/sdk/go/jsonread"
)

// NamespaceKey is the related objects' key of the request's Namespace.
var NamespaceKey = tug.ObjectKey("v1", "Namespace")

// Memo holds what was decoded last from some bytes, with its error: a policy's
// configuration and the related objects a pod create reads (its namespace, the
// namespace's limit ranges) change rarely, and in wasm decoding them again costs far more
// than comparing their bytes with the last. The value is shared between calls: callers
// must not change it.
type Memo[T any] struct {
	raw     []byte
	v       T
	err     error
	decoded bool
}

// Get is decode(raw), or what it answered last time if raw is the same bytes.
func (m *Memo[T]) Get(raw []byte, decode func([]byte) (T, error)) (T, error) {
	if m.decoded && bytes.Equal(raw, m.raw) {
		return m.v, m.err
	}
	m.v, m.err = decode(raw)
	m.raw, m.decoded = bytes.Clone(raw), true
	return m.v, m.err
}

// Config is a policy's configuration, decoded the first time each distinct value arrives:
// the host sends it with every request (ABI 1.5), and it almost never changes, so a pod
// create should not pay encoding/json's reflection for it in every policy.
type Config[T any] struct {
	memo     Memo[T]
	defaults func() T
}

// NewConfig is a configuration whose absent value (no config, or null) is defaults().
func NewConfig[T any](defaults func() T) *Config[T] { return &Config[T]{defaults: defaults} }

// Get decodes raw over the defaults, or answers the value it decoded last time raw was the
// same bytes.
func (c *Config[T]) Get(raw json.RawMessage) (T, error) {
	return c.memo.Get(raw, func(raw []byte) (T, error) {
		v := c.defaults()
		if t := bytes.TrimSpace(raw); len(t) > 0 && string(t) != "null" {
			if err := json.Unmarshal(t, &v); err != nil {
				return v, fmt.Errorf("configuration: %w", err)
			}
		}
		return v, nil
	})
}

// ConfigError is the answer to a request whose policy's configuration cannot be read: a
// denial, since a policy that cannot tell what it should enforce must not let requests
// through.
func ConfigError(err error) *tug.AdmissionResponse {
	return tug.DenyStatus(500, "InternalError", err.Error())
}

// IsPod reports whether the request is for a pod itself (not a subresource such as status
// or binding), which is what kube's pod-mutating plugins act on.
func IsPod(req *tug.AdmissionRequest) bool {
	return req.Resource.Group == "" && req.Resource.Resource == "pods" && req.SubResource == ""
}

// Forbidden is a denial worded as the API server words an admission plugin's refusal:
// `pods "web" is forbidden: <msg>`.
func Forbidden(req *tug.AdmissionRequest, msg string) *tug.AdmissionResponse {
	return tug.Deny(ForbiddenMessage(req, msg))
}

// ForbiddenMessage is the message of Forbidden.
func ForbiddenMessage(req *tug.AdmissionRequest, msg string) string {
	r := req.Resource.Resource
	if req.Resource.Group != "" {
		r += "." + req.Resource.Group
	}
	return r + " " + strconv.Quote(req.Name) + " is forbidden: " + msg
}

// Namespace is what the policies read of a Namespace.
type Namespace struct {
	Name   string
	Labels map[string]string
	Phase  string
}

// ErrNoNamespaceRead is the error of a request without the related v1/Namespace list: the
// AdmissionPolicy does not declare the read, which the policy cannot work without.
var ErrNoNamespaceRead = fmt.Errorf("the host handed no %s: the AdmissionPolicy must read it (spec.reads)", NamespaceKey)

// namespaces is the namespace decoded last: NamespaceLifecycle and PodSecurity both read
// it on every pod create, and it rarely changes.
var namespaces Memo[*Namespace]

// RequestNamespace is the request's namespace as the host handed it: nil when it does not
// exist. It is shared between calls (see Memo): callers must not change it.
func RequestNamespace(req *tug.AdmissionRequest) (*Namespace, error) {
	if !req.HasRelated(NamespaceKey) {
		return nil, ErrNoNamespaceRead
	}
	for _, raw := range req.RelatedObjects(NamespaceKey) {
		ns, err := namespaces.Get(raw, DecodeNamespace)
		if err != nil {
			return nil, err
		}
		if ns.Name == req.Namespace || req.Namespace == "" {
			return ns, nil
		}
	}
	return nil, nil
}

// DecodeNamespace decodes a Namespace's name, labels and phase.
func DecodeNamespace(raw []byte) (*Namespace, error) {
	ns := &Namespace{}
	r := jsonread.NewShared(raw)
	if r.Begin('{') {
		for r.Next('}') {
			switch string(r.Key()) {
			case "metadata":
				if !r.Begin('{') {
					continue
				}
				for r.Next('}') {
					switch string(r.Key()) {
					case "name":
						ns.Name = r.String()
					case "labels":
						ns.Labels = r.StringMap()
					default:
						r.Skip()
					}
				}
			case "status":
				ns.Phase = r.StringMember("phase")
			default:
				r.Skip()
			}
		}
	} else if r.Err() == nil {
		r.Fail("a namespace must be an object")
	}
	if err := r.End(); err != nil {
		return nil, fmt.Errorf("decode namespace: %w", err)
	}
	return ns, nil
}
