package tug

import (
	"errors"
	"fmt"
	"strings"

	"github.com/tugboat-io/tug/hostabi"
)

// Code is a scheduling verdict, numbered as the Kubernetes scheduler framework's and the
// host ABI's (ABI.md §4.3): the ABI's own type, so verdicts cross the boundary unconverted.
type Code = hostabi.Code

const (
	// CodeSuccess: the node passes.
	CodeSuccess = hostabi.CodeSuccess
	// CodeError: the plugin failed; the pod is not scheduled this cycle.
	CodeError = hostabi.CodeError
	// CodeUnschedulable: the node does not fit, but preempting pods might make it fit.
	CodeUnschedulable = hostabi.CodeUnschedulable
	// CodeUnschedulableAndUnresolvable: the node does not fit and preemption cannot help.
	CodeUnschedulableAndUnresolvable = hostabi.CodeUnschedulableAndUnresolvable
	// CodeWait: from Permit, hold the pod until it is allowed, rejected or the timeout Permit
	// returns with it passes (ABI.md §4.10).
	CodeWait = hostabi.CodeWait
	// CodeSkip: from PreFilter, the plugin's Filter would pass every node for this pod; from
	// PreScore, its Score would rate every node alike. The host leaves those calls out.
	CodeSkip = hostabi.CodeSkip
)

// Status is the result of a scheduling extension point: a code and the reasons for it. A
// nil Status is success, as in the Kubernetes scheduler framework, and every method works
// on nil.
type Status struct {
	code    Code
	reasons []string
}

// Success is the successful Status: nil.
var Success *Status

// Skip is the Status a PreFilter or PreScore returns when its plugin has nothing to do for
// the cycle's pod (ABI.md §4.8); anywhere else it is an error.
var Skip = &Status{code: CodeSkip}

// NewStatus returns a Status with the code and reasons. A code the ABI does not know is
// turned into CodeError.
func NewStatus(code Code, reasons ...string) *Status {
	if code > CodeUnschedulableAndUnresolvable && code != CodeSkip && code != CodeWait {
		reasons = append([]string{fmt.Sprintf("invalid status code %d", uint32(code))}, reasons...)
		code = CodeError
	}
	return &Status{code: code, reasons: reasons}
}

// Unschedulable rejects a node that preempting pods might make fit; the reasons are short
// and shared by nodes ("Insufficient cpu"), since the host aggregates them for events.
func Unschedulable(reasons ...string) *Status {
	return NewStatus(CodeUnschedulable, reasons...)
}

// UnschedulableAndUnresolvable rejects a node that preemption cannot make fit.
func UnschedulableAndUnresolvable(reasons ...string) *Status {
	return NewStatus(CodeUnschedulableAndUnresolvable, reasons...)
}

// AsStatus returns a CodeError Status carrying err's message, or nil for a nil err.
func AsStatus(err error) *Status {
	if err == nil {
		return nil
	}
	return NewStatus(CodeError, err.Error())
}

// Errorf returns a CodeError Status with a formatted reason.
func Errorf(format string, args ...any) *Status {
	return NewStatus(CodeError, fmt.Sprintf(format, args...))
}

// Code returns the status's code; CodeSuccess for nil.
func (s *Status) Code() Code {
	if s == nil {
		return CodeSuccess
	}
	return s.code
}

// Reasons returns the status's reasons.
func (s *Status) Reasons() []string {
	if s == nil {
		return nil
	}
	return s.reasons
}

// Message joins the reasons with ", ", as the framework does; it is the reason the host
// receives.
func (s *Status) Message() string {
	if s == nil {
		return ""
	}
	return strings.Join(s.reasons, ", ")
}

// IsSuccess reports whether the status is nil or has CodeSuccess.
func (s *Status) IsSuccess() bool { return s.Code() == CodeSuccess }

// IsRejected reports whether the status is Unschedulable or UnschedulableAndUnresolvable.
func (s *Status) IsRejected() bool {
	c := s.Code()
	return c == CodeUnschedulable || c == CodeUnschedulableAndUnresolvable
}

// AsError returns nil for success and otherwise an error with the status's message.
func (s *Status) AsError() error {
	if s.IsSuccess() {
		return nil
	}
	return errors.New(s.Message())
}

// Equal reports whether two statuses have the same code and message (the reasons joined,
// which is what reaches the host); any two successes are equal.
func (s *Status) Equal(o *Status) bool {
	if s.IsSuccess() || o.IsSuccess() {
		return s.IsSuccess() == o.IsSuccess()
	}
	return s.code == o.code && s.Message() == o.Message()
}

func (s *Status) String() string {
	if s.IsSuccess() {
		return "Success"
	}
	if len(s.reasons) == 0 {
		return s.code.String()
	}
	return s.code.String() + ": " + s.Message()
}
