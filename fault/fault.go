// Package fault is Herald's error catalogue: domain packages return these errors, and the
// GraphQL error presenter turns them into the stable extensions.code of the public API.
package fault

import (
	"errors"
	"fmt"
)

// Code is a stable, client-visible error class.
type Code string

// The codes of the public contract (API.md).
const (
	CodeBadInput        Code = "BAD_INPUT"
	CodeNotFound        Code = "NOT_FOUND"
	CodeUnauthenticated Code = "UNAUTHENTICATED"
	CodeForbidden       Code = "FORBIDDEN"
	CodeConflict        Code = "CONFLICT"
	CodeRateLimited     Code = "RATE_LIMITED"
	CodeUnavailable     Code = "UNAVAILABLE"
	CodeNotImplemented  Code = "NOT_IMPLEMENTED"
	CodeInternal        Code = "INTERNAL"
)

// Error is an error a client may see: a code, the input path it concerns and a message a
// user can act on.
type Error struct {
	Code    Code
	Field   string
	Message string
}

func (e *Error) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s: %s", e.Field, e.Message)
	}
	return e.Message
}

// BadInput reports invalid input at the named input path.
func BadInput(field, format string, args ...any) error {
	return &Error{Code: CodeBadInput, Field: field, Message: fmt.Sprintf(format, args...)}
}

// NotFound reports that the object named by field does not exist (or is not visible).
func NotFound(field, format string, args ...any) error {
	return &Error{Code: CodeNotFound, Field: field, Message: fmt.Sprintf(format, args...)}
}

// Forbidden reports that the caller may not do this.
func Forbidden(field, format string, args ...any) error {
	return &Error{Code: CodeForbidden, Field: field, Message: fmt.Sprintf(format, args...)}
}

// Unauthenticated reports missing or invalid credentials.
func Unauthenticated(format string, args ...any) error {
	return &Error{Code: CodeUnauthenticated, Message: fmt.Sprintf(format, args...)}
}

// Conflict reports a clash with existing state.
func Conflict(field, format string, args ...any) error {
	return &Error{Code: CodeConflict, Field: field, Message: fmt.Sprintf(format, args...)}
}

// RateLimited reports that the caller must slow down.
func RateLimited(format string, args ...any) error {
	return &Error{Code: CodeRateLimited, Message: fmt.Sprintf(format, args...)}
}

// Unavailable reports that a dependency is down; the caller may retry.
func Unavailable(format string, args ...any) error {
	return &Error{Code: CodeUnavailable, Message: fmt.Sprintf(format, args...)}
}

// NotImplemented reports an operation of the contract that this release does not offer yet.
func NotImplemented(operation string) error {
	return &Error{Code: CodeNotImplemented, Message: operation + " is not available in this release of Herald"}
}

// As returns the *Error in err's chain, if any.
func As(err error) (*Error, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e, true
	}
	return nil, false
}

// CodeOf returns err's code, INTERNAL for an error outside the catalogue.
func CodeOf(err error) Code {
	if e, ok := As(err); ok {
		return e.Code
	}
	return CodeInternal
}
