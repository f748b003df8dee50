package tug

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/tugboat-io/tug/hostabi"
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

// ReconcileRequest is a reconcile's input (ABI.md §4.6). Children and Related are keyed by
// ObjectKey: "v1/Pod", "apps/v1/Deployment".
type ReconcileRequest struct {
	Parent   json.RawMessage              `json:"parent"`
	Children map[string][]json.RawMessage `json:"children,omitempty"`
	Related  map[string][]json.RawMessage `json:"related,omitempty"`
}

// DecodeParent decodes the parent into v.
func (r *ReconcileRequest) DecodeParent(v any) error { return decodeInto("parent", r.Parent, v) }

// ReconcileResult is a reconcile's output: every child that should exist, keyed as in the
// request (the host creates, updates and deletes children to match), the parent's status,
// and events. Build it with AddChild, SetStatus and AddEvent.
type ReconcileResult struct {
	Children map[string][]json.RawMessage `json:"children,omitempty"`
	Status   json.RawMessage              `json:"status,omitempty"`
	Events   []Event                      `json:"events,omitempty"`
}

// ObjectKey is the key of objects of a kind in a ReconcileRequest or ReconcileResult: the
// apiVersion and the kind, "v1/Pod" or "apps/v1/Deployment".
func ObjectKey(apiVersion, kind string) string { return apiVersion + "/" + kind }

// AddChild adds a desired child, which must have apiVersion and kind set: a struct with
// TypeMeta, a map, or raw JSON ([]byte or json.RawMessage).
func (r *ReconcileResult) AddChild(obj any) error {
	b, err := toJSON(obj)
	if err != nil {
		return fmt.Errorf("add child: %w", err)
	}
	var tm TypeMeta
	if err := decodeObject(b, &tm); err != nil {
		return fmt.Errorf("add child: %w", err)
	}
	if tm.APIVersion == "" || tm.Kind == "" {
		return errors.New("add child: apiVersion and kind must be set")
	}
	if r.Children == nil {
		r.Children = map[string][]json.RawMessage{}
	}
	k := ObjectKey(tm.APIVersion, tm.Kind)
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
	return json.Marshal(v)
}
