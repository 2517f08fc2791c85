package scim

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/scim-bridge/scim-bridge/connectors"
)

// SCIM schema URNs (RFC 7643 §8.7.1, RFC 7644 §3.5.2).
const (
	schemaUser    = "urn:ietf:params:scim:schemas:core:2.0:User"
	schemaPatchOp = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
)

// remoteUser is a downstream user as the adapter reads it.
type remoteUser struct {
	ID          string `json:"id"`
	UserName    string `json:"userName"`
	ExternalID  string `json:"externalId"`
	DisplayName string `json:"displayName"`
	// Active is nil when the server leaves it out: the vendor's GET returns active
	// users only, so a missing flag means active.
	Active *bool       `json:"active"`
	Emails []userEmail `json:"emails"`
}

// userEmail is one element of emails (RFC 7643 §4.1.2).
type userEmail struct {
	Value   string `json:"value"`
	Type    string `json:"type,omitempty"`
	Primary bool   `json:"primary,omitempty"`
}

func (u *remoteUser) active() bool { return u.Active == nil || *u.Active }

// email is the primary email, else the first one, else "".
func (u *remoteUser) email() string {
	for _, e := range u.Emails {
		if e.Primary {
			return e.Value
		}
	}
	if len(u.Emails) > 0 {
		return u.Emails[0].Value
	}
	return ""
}

// hasEmail reports whether u shows email among its emails (case-insensitively:
// RFC 7643 §4.1.2 emails.value is caseExact=false).
func (u *remoteUser) hasEmail(email string) bool {
	for _, e := range u.Emails {
		if strings.EqualFold(strings.TrimSpace(e.Value), email) {
			return true
		}
	}
	return false
}

// listResponse is RFC 7644 §3.4.2.
type listResponse struct {
	TotalResults int          `json:"totalResults"`
	StartIndex   int          `json:"startIndex"`
	ItemsPerPage int          `json:"itemsPerPage"`
	Resources    []remoteUser `json:"Resources"`
}

// createRequest is the body of POST /Users. Emails holds at most one element,
// the work email (the vendor: "Only one email can be specified").
type createRequest struct {
	Schemas     []string    `json:"schemas"`
	UserName    string      `json:"userName"`
	ExternalID  string      `json:"externalId,omitempty"`
	DisplayName string      `json:"displayName,omitempty"`
	Emails      []userEmail `json:"emails,omitempty"`
	Active      bool        `json:"active"`
}

// emailType is the type of the one email the adapter sends and looks up: the
// vendor's login filter is emails[type eq "work" and value eq "..."].
const emailType = "work"

// workEmails is the emails of a POST: the work email alone, primary; none
// when email is "".
func workEmails(email string) []userEmail {
	if email == "" {
		return nil
	}
	return []userEmail{{Value: email, Type: emailType, Primary: true}}
}

// patchOp is one PATCH operation (RFC 7644 §3.5.2).
type patchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value,omitempty"`
}

type patchRequest struct {
	Schemas    []string  `json:"schemas"`
	Operations []patchOp `json:"Operations"`
}

// api wraps the downstream routes.
type api struct{ http *connectors.Client }

func userPath(id string) string { return "/Users/" + url.PathEscape(id) }

// get reads one user by id: GET /Users/{id}. A 404 is returned as is.
func (a *api) get(ctx context.Context, id string) (*remoteUser, error) {
	var u remoteUser
	if _, err := a.http.Do(ctx, http.MethodGet, userPath(id), nil, &u); err != nil {
		return nil, err
	}
	if u.ID == "" {
		u.ID = id
	}
	return &u, nil
}

// list reads one page: GET /Users?filter=...&startIndex=...&count=...
// (filter omitted when empty).
func (a *api) list(ctx context.Context, filter string, startIndex, count int) (*listResponse, error) {
	q := []string{}
	if filter != "" {
		q = append(q, "filter="+queryEscape(filter))
	}
	q = append(q, "startIndex="+strconv.Itoa(startIndex), "count="+strconv.Itoa(count))
	var out listResponse
	if _, err := a.http.Do(ctx, http.MethodGet, "/Users?"+strings.Join(q, "&"), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// create makes or updates (same login) a user: POST /Users.
func (a *api) create(ctx context.Context, in createRequest) (*remoteUser, error) {
	in.Schemas = []string{schemaUser}
	var u remoteUser
	if _, err := a.http.Do(ctx, http.MethodPost, "/Users", in, &u); err != nil {
		return nil, err
	}
	if u.ID == "" {
		return nil, &connectors.Error{Class: connectors.Permanent, Op: "POST /Users", Msg: "answer carries no id"}
	}
	return &u, nil
}

// patch applies ops atomically: PATCH /Users/{id}.
func (a *api) patch(ctx context.Context, id string, ops []patchOp) (*remoteUser, error) {
	var u remoteUser
	if _, err := a.http.Do(ctx, http.MethodPatch, userPath(id), patchRequest{Schemas: []string{schemaPatchOp}, Operations: ops}, &u); err != nil {
		return nil, err
	}
	if u.ID == "" {
		u.ID = id
	}
	return &u, nil
}

// deactivate is DELETE /Users/{id}.
func (a *api) deactivate(ctx context.Context, id string) error {
	_, err := a.http.Do(ctx, http.MethodDelete, userPath(id), nil, nil)
	return err
}

// eqFilter renders `attr eq "value"` with value as a JSON string
// (RFC 7644 §3.4.2.2 compValue): `"`, `\` and control characters are escaped.
func eqFilter(attr, value string) string {
	var b strings.Builder
	b.WriteString(attr)
	b.WriteString(` eq "`)
	for _, r := range value {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			if r < 0x20 {
				fmt.Fprintf(&b, `\u%04x`, r)
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}

// loginFilter renders the vendor's login lookup,
// emails[type eq "work" and value eq "<email>"] ("returns a user with login =
// <email>"), with the value escaped as in eqFilter.
func loginFilter(email string) string {
	return "emails[" + eqFilter("type", emailType) + " and " + eqFilter("value", email) + "]"
}

// queryEscape escapes a query value with spaces as %20, which every server
// decodes the same way (a '+' is read as a space only by form decoders).
func queryEscape(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}
