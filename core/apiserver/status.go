package apiserver

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/tugboat-io/tug/core/store"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// statusFor turns any error into the Kubernetes Status a client expects. Errors that already are
// API statuses pass through; store sentinels map to their reasons; anything else is a 500 whose
// message is kept (no stack traces leave the server).
func statusFor(err error, gr schema.GroupResource, name string) *metav1.Status {
	var st apierrors.APIStatus
	if errors.As(err, &st) {
		s := st.Status()
		return &s
	}
	var se *apierrors.StatusError
	if errors.As(err, &se) {
		return &se.ErrStatus
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		return statusOf(apierrors.NewNotFound(gr, name))
	case errors.Is(err, store.ErrExists):
		return statusOf(apierrors.NewAlreadyExists(gr, name))
	case errors.Is(err, store.ErrConflict):
		return statusOf(apierrors.NewConflict(gr, name, errors.New(conflictMessage)))
	case errors.Is(err, store.ErrCompacted):
		return statusOf(apierrors.NewResourceExpired(fmt.Sprintf("The resourceVersion for the provided list is too old. %v", err)))
	case errors.Is(err, store.ErrFuture):
		return statusOf(apierrors.NewTimeoutError(fmt.Sprintf("Too large resource version: %v", err), 1))
	}
	return statusOf(apierrors.NewInternalError(err))
}

const conflictMessage = "the object has been modified; please apply your changes to the latest version and try again"

func statusOf(e *apierrors.StatusError) *metav1.Status { s := e.Status(); return &s }

func badRequest(format string, args ...any) error {
	return apierrors.NewBadRequest(fmt.Sprintf(format, args...))
}

func methodNotAllowed(verb string, gr schema.GroupResource) error {
	return apierrors.NewMethodNotSupported(gr, verb)
}

func notFoundPath(path string) error {
	return &apierrors.StatusError{ErrStatus: metav1.Status{
		Status: metav1.StatusFailure, Code: http.StatusNotFound, Reason: metav1.StatusReasonNotFound,
		Message: fmt.Sprintf("the server could not find the requested resource (path %s)", path),
		Details: &metav1.StatusDetails{Causes: []metav1.StatusCause{{Type: metav1.CauseTypeUnexpectedServerResponse, Message: "404 page not found"}}},
	}}
}
