package scimapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/scim-bridge/scim-bridge/filter"
	"github.com/scim-bridge/scim-bridge/store"
)

// ErrorSchema is the schema URN of a SCIM error body (RFC 7644 §3.12).
const ErrorSchema = "urn:ietf:params:scim:api:messages:2.0:Error"

// HTTPError is what the client sees (Status, ScimType, Detail) apart from what the
// log sees (Err). Detail never carries secrets or internals.
type HTTPError struct {
	Status   int
	ScimType string
	Detail   string
	Err      error
	// RetryAfter, when positive, is sent as Retry-After (whole seconds).
	RetryAfter time.Duration
}

func (e *HTTPError) Error() string {
	s := fmt.Sprintf("%d %s: %s", e.Status, e.ScimType, e.Detail)
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *HTTPError) Unwrap() error { return e.Err }

func errBadRequest(scimType, format string, args ...any) *HTTPError {
	return &HTTPError{Status: http.StatusBadRequest, ScimType: scimType, Detail: fmt.Sprintf(format, args...)}
}

func errNotFound(kind store.Kind, id string) *HTTPError {
	return &HTTPError{Status: http.StatusNotFound, Detail: fmt.Sprintf("%s %q not found", kind, id)}
}

// asHTTPError maps any error of the request path to what the client sees.
func asHTTPError(err error) *HTTPError {
	var he *HTTPError
	if errors.As(err, &he) {
		return he
	}
	if fe, ok := filter.AsError(err); ok {
		return &HTTPError{Status: fe.Status, ScimType: fe.ScimType, Detail: fe.Detail}
	}
	var ce *store.ConflictError
	if errors.As(err, &ce) {
		return &HTTPError{Status: http.StatusConflict, ScimType: "uniqueness",
			Detail: fmt.Sprintf("%s is already taken by another resource", ce.Attr)}
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		return &HTTPError{Status: http.StatusNotFound, Detail: "resource not found", Err: err}
	case errors.Is(err, store.ErrPrecondition):
		return &HTTPError{Status: http.StatusPreconditionFailed, Detail: "the resource has changed: its version no longer matches If-Match", Err: err}
	}
	return &HTTPError{Status: http.StatusInternalServerError, Detail: "internal error", Err: err}
}

type scimErrorBody struct {
	Schemas  []string `json:"schemas"`
	Status   string   `json:"status"`
	ScimType string   `json:"scimType,omitempty"`
	Detail   string   `json:"detail,omitempty"`
}

// writeError writes a SCIM error body (RFC 7644 §3.12) with the right status.
func writeError(w http.ResponseWriter, he *HTTPError) {
	body, _ := json.Marshal(scimErrorBody{
		Schemas:  []string{ErrorSchema},
		Status:   strconv.Itoa(he.Status),
		ScimType: he.ScimType,
		Detail:   he.Detail,
	})
	h := w.Header()
	h.Set("Content-Type", contentTypeSCIM)
	h.Del("Etag")
	if he.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(int((he.RetryAfter+time.Second-1)/time.Second)))
	}
	w.WriteHeader(he.Status)
	_, _ = w.Write(body)
}
