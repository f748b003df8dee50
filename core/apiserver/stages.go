package apiserver

import (
	"context"

	"encoding/json"
	"net/http"

	authorizationv1 "k8s.io/api/authorization/v1"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/tugboat-io/tug/core/auth/user"
)

// UserInfo is who a request acts as. It is an alias of user.Info so the authenticators and
// authorizers in core/auth, which must not import the server, share the type with it.
type UserInfo = user.Info

// Authenticator says who sent a request. ok=false with a nil error means "no credentials I
// recognise"; the server then answers 401.
type Authenticator interface {
	Authenticate(r *http.Request) (user *UserInfo, ok bool, err error)
}

// Attributes describe a request for authorization and admission.
type Attributes struct {
	User        *UserInfo
	Verb        string // get, list, watch, create, update, patch, delete, deletecollection
	Group       string
	Version     string
	Resource    string
	Subresource string
	Namespace   string
	Name        string
	// ResourceRequest is false for /api, /healthz and other non-resource paths.
	ResourceRequest bool
	Path            string
}

// Authorizer decides whether a request may proceed; reason is shown to the user when denied.
type Authorizer interface {
	Authorize(ctx context.Context, a Attributes) (allowed bool, reason string, err error)
}

// RuleLister lists the rules that allow a user to act in a namespace, for
// SelfSubjectRulesReview (kubectl auth can-i --list). The status says Incomplete when the user
// may hold rights no rule lists, such as those the node authorizer gives, and EvaluationError
// when a rule could not be read (a binding to a missing role); the rules listed still hold.
type RuleLister interface {
	RulesFor(ctx context.Context, u *UserInfo, namespace string) (authorizationv1.SubjectRulesReviewStatus, error)
}

// Operation is what an admitted request does.
type Operation string

const (
	OpCreate Operation = "CREATE"
	OpUpdate Operation = "UPDATE"
	OpDelete Operation = "DELETE"
)

// AdmissionRequest is handed to admission for every create, update and delete. Mutate may
// change Object in place.
type AdmissionRequest struct {
	Operation   Operation
	Kind        schema.GroupVersionKind
	Resource    schema.GroupVersionResource
	Subresource string
	Namespace   string
	Name        string
	Object      runtime.Object
	OldObject   runtime.Object
	User        *UserInfo
	DryRun      bool

	// Encoded and EncodedOld are admission's own JSON of Object and OldObject, kept from
	// Mutate for Validate so the phases encode them once: the server changes neither between
	// the two (it only validates). Code that changes Object must clear Encoded.
	Encoded, EncodedOld json.RawMessage

	// StatusUpdates are what admission asks to be written with the request, atomically:
	// related objects' new status, each guarded by the resourceVersion admission read
	// (a quota's usage). If one of them changed meanwhile, the request is admitted again.
	// Creates and updates write them; deletes charge nothing.
	StatusUpdates []StatusUpdate
}

// StatusUpdate is a related object's new status.
type StatusUpdate struct {
	APIVersion      string
	Kind            string
	Namespace       string
	Name            string
	ResourceVersion string
	Status          json.RawMessage
}

// Admission runs mutating then validating policies. An error denies the request; an error that
// is an APIStatus (e.g. Forbidden, Invalid) reaches the client as it is.
type Admission interface {
	Mutate(ctx context.Context, req *AdmissionRequest) error
	Validate(ctx context.Context, req *AdmissionRequest) error
}

// allowAll is the stage used until authentication, RBAC and admission policies are configured.
type allowAll struct{}

func (allowAll) Authenticate(*http.Request) (*UserInfo, bool, error) {
	return &UserInfo{Name: "admin", Groups: []string{"system:masters", "system:authenticated"}}, true, nil
}
func (allowAll) Authorize(context.Context, Attributes) (bool, string, error) { return true, "", nil }
func (allowAll) Mutate(context.Context, *AdmissionRequest) error             { return nil }
func (allowAll) Validate(context.Context, *AdmissionRequest) error           { return nil }
