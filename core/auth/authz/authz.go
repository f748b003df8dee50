package authz

import (
	"context"
	"fmt"
	"strings"

	"github.com/tugboat-io/tug/core/apiserver"
	"github.com/tugboat-io/tug/core/auth/user"
)

// Decision is an authorizer's answer.
type Decision int

const (
	// NoOpinion leaves the request to the next authorizer.
	NoOpinion Decision = iota
	// Allow lets the request proceed; later authorizers are not asked.
	Allow
	// Deny forbids the request; later authorizers are not asked.
	Deny
)

func (d Decision) String() string {
	switch d {
	case Allow:
		return "allow"
	case Deny:
		return "deny"
	default:
		return "no opinion"
	}
}

// Decider is an authorizer that can abstain.
type Decider interface {
	Decide(ctx context.Context, a apiserver.Attributes) (Decision, string, error)
}

// DeciderFunc adapts a function to Decider.
type DeciderFunc func(ctx context.Context, a apiserver.Attributes) (Decision, string, error)

// Decide implements Decider.
func (f DeciderFunc) Decide(ctx context.Context, a apiserver.Attributes) (Decision, string, error) {
	return f(ctx, a)
}

// Masters allows every request of a member of system:masters, before any rule is read: the
// break-glass group keeps working when the RBAC objects are broken or missing.
var Masters Decider = DeciderFunc(func(_ context.Context, a apiserver.Attributes) (Decision, string, error) {
	if a.User.InGroup(user.Masters) {
		return Allow, "member of " + user.Masters, nil
	}
	return NoOpinion, "", nil
})

// Union asks deciders in order (for tug: Masters, the node authorizer, RBAC) and implements
// apiserver.Authorizer. A request no decider allows is denied with ForbiddenMessage, followed by
// what the deciders said. An error stops the chain only when no later decider allows: a
// lister hiccup in one should not take down a request another can answer.
func Union(ds ...Decider) apiserver.Authorizer { return union(ds) }

type union []Decider

func (u union) Authorize(ctx context.Context, a apiserver.Attributes) (bool, string, error) {
	var reasons []string
	var firstErr error
	for _, d := range u {
		dec, reason, err := d.Decide(ctx, a)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		switch dec {
		case Allow:
			return true, reason, nil
		case Deny:
			return false, withReasons(ForbiddenMessage(a), []string{reason}), nil
		}
		if reason != "" {
			reasons = append(reasons, reason)
		}
	}
	if firstErr != nil {
		return false, "", fmt.Errorf("authorizing %s: %w", ForbiddenMessage(a), firstErr)
	}
	return false, withReasons(ForbiddenMessage(a), reasons), nil
}

func withReasons(msg string, reasons []string) string {
	var rs []string
	for _, r := range reasons {
		if r != "" {
			rs = append(rs, r)
		}
	}
	if len(rs) == 0 {
		return msg
	}
	return msg + ": " + strings.Join(rs, "; ")
}

// ForbiddenMessage says what was asked, as kube-apiserver phrases it:
//
//	User "alice" cannot list resource "pods" in API group "" in the namespace "kube-system"
//	User "alice" cannot get resource "nodes/status" in API group "" at the cluster scope
//	User "alice" cannot get path "/metrics"
func ForbiddenMessage(a apiserver.Attributes) string {
	name := ""
	if a.User != nil {
		name = a.User.Name
	}
	if !a.ResourceRequest {
		return fmt.Sprintf("User %q cannot %s path %q", name, a.Verb, a.Path)
	}
	resource := a.Resource
	if a.Subresource != "" {
		resource += "/" + a.Subresource
	}
	if a.Namespace != "" {
		return fmt.Sprintf("User %q cannot %s resource %q in API group %q in the namespace %q", name, a.Verb, resource, a.Group, a.Namespace)
	}
	return fmt.Sprintf("User %q cannot %s resource %q in API group %q at the cluster scope", name, a.Verb, resource, a.Group)
}
