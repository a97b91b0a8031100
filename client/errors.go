package client

import (
	"encoding/json"
	"errors"
	"fmt"
)

// Codes of extensions.code, as docs/api.md lists them.
const (
	// CodeBadInput: the request or an input value is invalid; Field names it.
	CodeBadInput = "BAD_INPUT"
	// CodeNotFound: the object does not exist, or is not visible to the caller.
	CodeNotFound = "NOT_FOUND"
	// CodeUnauthenticated: no or invalid API key.
	CodeUnauthenticated = "UNAUTHENTICATED"
	// CodeForbidden: the key's role or app does not allow this.
	CodeForbidden = "FORBIDDEN"
	// CodeConflict: a name is taken.
	CodeConflict = "CONFLICT"
	// CodeRateLimited: slow down.
	CodeRateLimited = "RATE_LIMITED"
	// CodeUnavailable: a dependency of Herald is down; nothing was done; retry.
	CodeUnavailable = "UNAVAILABLE"
	// CodeNotImplemented: the operation is not in this release.
	CodeNotImplemented = "NOT_IMPLEMENTED"
	// CodeInternal: anything else; the detail is in Herald's log.
	CodeInternal = "INTERNAL"
)

// Error is one GraphQL error Herald answered, or the UNAUTHENTICATED refusal of HTTP 401.
type Error struct {
	// Code is extensions.code, such as BAD_INPUT.
	Code string
	// Field is extensions.field, the input path of bad input (such as input.variables.code).
	Field string
	// Message is the human-readable message.
	Message string
	// Path is the response path of the field that failed, when there is one.
	Path []any
	// StatusCode is the HTTP status of the answer.
	StatusCode int
}

// UnmarshalJSON reads a GraphQL error object, lifting code and field out of extensions.
func (e *Error) UnmarshalJSON(b []byte) error {
	var raw struct {
		Message    string `json:"message"`
		Path       []any  `json:"path"`
		Extensions struct {
			Code  string `json:"code"`
			Field string `json:"field"`
		} `json:"extensions"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*e = Error{Code: raw.Extensions.Code, Field: raw.Extensions.Field, Message: raw.Message, Path: raw.Path}
	return nil
}

// Error is the message with its code and field, such as
// `herald: required variable "code" is missing (BAD_INPUT at input.variables.code)`.
func (e *Error) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("herald: %s (%s at %s)", e.Message, e.Code, e.Field)
	}
	return fmt.Sprintf("herald: %s (%s)", e.Message, e.Code)
}

// HTTPError is an answer that is not GraphQL JSON, such as a proxy's 502 page.
type HTTPError struct {
	// StatusCode is the HTTP status.
	StatusCode int
	// Body is the start of the body.
	Body string
}

// Error says the status and the start of the body.
func (e *HTTPError) Error() string {
	return fmt.Sprintf("herald: HTTP %d with no GraphQL answer: %q", e.StatusCode, e.Body)
}

// IsCode reports whether err is, or wraps, an *Error with extensions.code code; when
// Herald answered several errors, any of them counts.
func IsCode(err error, code string) bool {
	switch x := err.(type) {
	case nil:
		return false
	case *Error:
		return x.Code == code
	case interface{ Unwrap() []error }:
		for _, e := range x.Unwrap() {
			if IsCode(e, code) {
				return true
			}
		}
		return false
	case interface{ Unwrap() error }:
		return IsCode(x.Unwrap(), code)
	}
	return false
}

// CodeOf returns the code of the first *Error in err's tree, or "" when there is none.
func CodeOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}
