package filter

import (
	"fmt"
	"net/http"
)

// The scimType values of RFC 7644 §3.12 (Table 9). This package returns all but
// tooMany and uniqueness, which are listed for the callers that need them.
const (
	ScimTypeInvalidFilter = "invalidFilter"
	ScimTypeTooMany       = "tooMany"
	ScimTypeUniqueness    = "uniqueness"
	ScimTypeMutability    = "mutability"
	ScimTypeInvalidSyntax = "invalidSyntax"
	ScimTypeInvalidPath   = "invalidPath"
	ScimTypeNoTarget      = "noTarget"
	ScimTypeInvalidValue  = "invalidValue"
)

// errorf builds a 400 *Error whose detail is formatted like fmt.Sprintf.
func errorf(scimType, format string, args ...any) *Error {
	return badRequest(scimType, fmt.Sprintf(format, args...))
}

// internalError reports a misuse of the package by its caller (a nil schema),
// which is a server bug rather than a client mistake.
func internalError(detail string) *Error {
	return &Error{Status: http.StatusInternalServerError, Detail: detail}
}

// withPrefix returns a copy of err whose detail starts with prefix, keeping
// status and scimType.
func withPrefix(err error, prefix string) error {
	if e, ok := AsError(err); ok {
		return &Error{Status: e.Status, ScimType: e.ScimType, Detail: prefix + e.Detail}
	}
	return fmt.Errorf("%s%w", prefix, err)
}
