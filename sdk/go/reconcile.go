package tug

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/tugboat-io/tug/hostabi"
	"github.com/tugboat-io/tug/sdk/go/jsonwrite"
)

// Reconciler is a controller: from a parent object and the children and related objects
// the host observed, it computes the children that should exist and the parent's status.
// It is pure: the host applies the result.
type Reconciler interface {
	Reconcile(req *ReconcileRequest) (*ReconcileResult, error)
}

// ReconcileFunc adapts a function to a Reconciler.
type ReconcileFunc func(req *ReconcileRequest) (*ReconcileResult, error)

// Reconcile calls f.
func (f ReconcileFunc) Reconcile(req *ReconcileRequest) (*ReconcileResult, error) { return f(req) }

// RegisterReconcile makes r the plugin's controller. Call it once, from init; the module
// must also import github.com/tugboat-io/tug/sdk/go/kinds/controller.
func RegisterReconcile(r Reconciler) {
	mustRegister("RegisterReconcile", r == nil, reg.reconcile != nil)
	reg.reconcile = r
}

// Event is an event the host records on the parent.
type Event = hostabi.Event

// ObjectRef names one child to delete: its kind, name and (a precondition) UID.
type ObjectRef = hostabi.ObjectRef

// ReconcileRequest is a reconcile's input (ABI.md §4.6). Children and Related are keyed by
// ObjectKey: "v1/Pod", "apps/v1/Deployment".
type ReconcileRequest struct {
	Parent   json.RawMessage              `json:"parent"`
	Children map[string][]json.RawMessage `json:"children,omitempty"`
	Related  map[string][]json.RawMessage `json:"related,omitempty"`
	// Now is the host's clock when it gathered the input (RFC 3339); see Time.
	Now string `json:"now,omitempty"`
}

// DecodeParent decodes the parent into v.
func (r *ReconcileRequest) DecodeParent(v any) error { return decodeInto("parent", r.Parent, v) }

// Time is the host's clock when it gathered the input: a plugin has no clock of its own,
// and measures deadlines against this. It is the zero time from a host older than ABI 1.3.
func (r *ReconcileRequest) Time() time.Time {
	t, err := time.Parse(time.RFC3339Nano, r.Now)
	if err != nil {
		return time.Time{}
	}
	return t
}

// ReconcileResult is a reconcile's output (ABI.md §4.6). Per kind of child, either declare
// every child that should exist (AddChild; the host creates, updates and deletes to match)
// or name single changes (Create, Update, Delete) — the latter for parents with many
// children of which a reconcile changes few. Add the parent's status with SetStatus, events
// with AddEvent, and a deadline with RequeueAfter.
type ReconcileResult struct {
	Children            map[string][]json.RawMessage `json:"children,omitempty"`
	Creates             []json.RawMessage            `json:"create,omitempty"`
	Updates             []json.RawMessage            `json:"update,omitempty"`
	Deletes             []ObjectRef                  `json:"delete,omitempty"`
	Status              json.RawMessage              `json:"status,omitempty"`
	ParentAnnotations   map[string]string            `json:"parentAnnotations,omitempty"`
	Events              []Event                      `json:"events,omitempty"`
	RequeueAfterSeconds float64                      `json:"requeueAfterSeconds,omitempty"`
	ParentPatch         json.RawMessage              `json:"parentPatch,omitempty"`
	// DeleteParent asks the host to delete the parent (ABI 1.4): a finished Job past its
	// ttlSecondsAfterFinished.
	DeleteParent bool `json:"deleteParent,omitempty"`
}

// ObjectKey is the key of objects of a kind in a ReconcileRequest or ReconcileResult: the
// apiVersion and the kind, "v1/Pod" or "apps/v1/Deployment".
func ObjectKey(apiVersion, kind string) string { return apiVersion + "/" + kind }

// DeclareNone declares that no child of the kind should exist (an empty declared set), where
// leaving the kind out would leave its children alone.
func (r *ReconcileResult) DeclareNone(apiVersion, kind string) {
	if r.Children == nil {
		r.Children = map[string][]json.RawMessage{}
	}
	k := ObjectKey(apiVersion, kind)
	if r.Children[k] == nil {
		r.Children[k] = []json.RawMessage{}
	}
}

// Create asks the host to create a child (apiVersion and kind set; metadata.generateName
// may stand in for the name).
func (r *ReconcileResult) Create(obj any) error {
	b, _, err := childJSON("create", obj)
	if err != nil {
		return err
	}
	r.Creates = append(r.Creates, b)
	return nil
}

// Update asks the host to update a child, which carries the resourceVersion it was read at.
func (r *ReconcileResult) Update(obj any) error {
	b, _, err := childJSON("update", obj)
	if err != nil {
		return err
	}
	r.Updates = append(r.Updates, b)
	return nil
}

// Delete asks the host to delete a child, or a related object of a kind the controller may
// delete (ABI 1.4); a non-empty UID is a precondition.
func (r *ReconcileResult) Delete(apiVersion, kind, name, uid string) {
	r.Deletes = append(r.Deletes, ObjectRef{APIVersion: apiVersion, Kind: kind, Name: name, UID: uid})
}

// RequeueAfter asks for another reconcile d after the request's time even if nothing
// changes; of several calls the soonest wins.
func (r *ReconcileResult) RequeueAfter(d time.Duration) {
	s := max(d.Seconds(), 0.001)
	if r.RequeueAfterSeconds == 0 || s < r.RequeueAfterSeconds {
		r.RequeueAfterSeconds = s
	}
}

func childJSON(what string, obj any) (json.RawMessage, string, error) {
	b, err := toJSON(obj)
	if err != nil {
		return nil, "", fmt.Errorf("%s child: %w", what, err)
	}
	var tm TypeMeta
	if err := decodeObject(b, &tm); err != nil {
		return nil, "", fmt.Errorf("%s child: %w", what, err)
	}
	if tm.APIVersion == "" || tm.Kind == "" {
		return nil, "", fmt.Errorf("%s child: apiVersion and kind must be set", what)
	}
	return b, ObjectKey(tm.APIVersion, tm.Kind), nil
}

// AddChild adds a desired child, which must have apiVersion and kind set: a struct with
// TypeMeta, a map, or raw JSON ([]byte or json.RawMessage).
func (r *ReconcileResult) AddChild(obj any) error {
	b, k, err := childJSON("add", obj)
	if err != nil {
		return err
	}
	if r.Children == nil {
		r.Children = map[string][]json.RawMessage{}
	}
	r.Children[k] = append(r.Children[k], b)
	return nil
}

// SetStatus sets the parent's status to v.
func (r *ReconcileResult) SetStatus(v any) error {
	b, err := toJSON(v)
	if err != nil {
		return fmt.Errorf("set status: %w", err)
	}
	r.Status = b
	return nil
}

// AnnotateParent sets an annotation on the parent's metadata.
func (r *ReconcileResult) AnnotateParent(key, value string) {
	if r.ParentAnnotations == nil {
		r.ParentAnnotations = map[string]string{}
	}
	r.ParentAnnotations[key] = value
}

// PatchParent sets a JSON merge patch (RFC 7386) of the parent's metadata and spec, applied
// at the resourceVersion the request carried (ABI 1.4): a map, a struct or raw JSON.
func (r *ReconcileResult) PatchParent(patch any) error {
	b, err := toJSON(patch)
	if err != nil {
		return fmt.Errorf("patch parent: %w", err)
	}
	r.ParentPatch = b
	return nil
}

// AddEvent adds an event of type Normal or Warning.
func (r *ReconcileResult) AddEvent(typ, reason, message string) {
	r.Events = append(r.Events, Event{Type: typ, Reason: reason, Message: message})
}

func toJSON(v any) (json.RawMessage, error) {
	switch b := v.(type) {
	case json.RawMessage:
		return b, nil
	case []byte:
		return b, nil
	}
	return jsonwrite.AppendValue(nil, v)
}
