package bimdata

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/scim-bridge/scim-bridge/connectors"
)

// Invitation statuses of the identity-provider API.
const (
	statusAccepted = "A"
	statusDenied   = "D"
	statusPending  = "P"
)

// Routes of the identity-provider API (relative to the configured url).
const (
	pathInvitations = "/identity-provider/invitation"
	pathUser        = "/identity-provider/user"
)

// invitation is the part of the API's Invitation model the adapter reads.
type invitation struct {
	ID     flexID `json:"id"`
	Email  string `json:"email"`
	Status string `json:"status"`
}

// createUserRequest is the API's CreateUserRequest model.
type createUserRequest struct {
	Email     string `json:"email"`
	Firstname string `json:"firstname"`
	Lastname  string `json:"lastname"`
}

// selectUserRequest is the API's SelectUserRequest model (body of delete_user).
type selectUserRequest struct {
	Email string `json:"email"`
}

// shortUser is the part of the API's ShortUser model the adapter reads.
type shortUser struct {
	ID    flexID `json:"id"`
	Email string `json:"email"`
}

// flexID is an integer id that also decodes from a JSON string, so a webhook
// sender or a proxy that quotes ids does not break the adapter.
type flexID int64

func (id *flexID) UnmarshalJSON(b []byte) error {
	b = bytes.Trim(b, `"`)
	if len(b) == 0 || string(b) == "null" {
		*id = 0
		return nil
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return fmt.Errorf("id %q is not an integer", b)
	}
	*id = flexID(n)
	return nil
}

func (id flexID) String() string { return strconv.FormatInt(int64(id), 10) }

// api calls the documented routes through the shared HTTP discipline.
type api struct {
	c *connectors.Client
}

// listInvitations is get_invitations: GET /identity-provider/invitation?status=<status>.
// The document shows a plain JSON array, no pagination.
func (a *api) listInvitations(ctx context.Context, status string) ([]invitation, error) {
	p := pathInvitations
	if status != "" {
		p += "?" + url.Values{"status": {status}}.Encode()
	}
	var out []invitation
	if _, err := a.c.Do(ctx, http.MethodGet, p, nil, &out); err != nil {
		return nil, fmt.Errorf("bimdata: list invitations: %w", err)
	}
	return out, nil
}

// getInvitation is get_invitation: GET /identity-provider/invitation/{id}.
func (a *api) getInvitation(ctx context.Context, id flexID) (invitation, error) {
	var out invitation
	if _, err := a.c.Do(ctx, http.MethodGet, pathInvitations+"/"+id.String(), nil, &out); err != nil {
		return invitation{}, fmt.Errorf("bimdata: get invitation %s: %w", id, err)
	}
	return out, nil
}

// acceptInvitation is accept_invitation: POST /identity-provider/invitation/{id}/accept (204).
func (a *api) acceptInvitation(ctx context.Context, id flexID) error {
	if _, err := a.c.Do(ctx, http.MethodPost, pathInvitations+"/"+id.String()+"/accept", nil, nil); err != nil {
		return fmt.Errorf("bimdata: accept invitation %s: %w", id, err)
	}
	return nil
}

// denyInvitation is deny_invitation: POST /identity-provider/invitation/{id}/deny (204).
func (a *api) denyInvitation(ctx context.Context, id flexID) error {
	if _, err := a.c.Do(ctx, http.MethodPost, pathInvitations+"/"+id.String()+"/deny", nil, nil); err != nil {
		return fmt.Errorf("bimdata: deny invitation %s: %w", id, err)
	}
	return nil
}

// createUser is create_user: POST /identity-provider/user; 201 created, 200 existed.
func (a *api) createUser(ctx context.Context, req createUserRequest) (shortUser, int, error) {
	var out shortUser
	status, err := a.c.Do(ctx, http.MethodPost, pathUser, req, &out)
	if err != nil {
		return shortUser{}, status, fmt.Errorf("bimdata: create user: %w", err)
	}
	return out, status, nil
}

// deleteUser is delete_user: DELETE /identity-provider/user with {"email"} (204).
func (a *api) deleteUser(ctx context.Context, email string) error {
	if _, err := a.c.Do(ctx, http.MethodDelete, pathUser, selectUserRequest{Email: email}, nil); err != nil {
		return fmt.Errorf("bimdata: delete user: %w", err)
	}
	return nil
}
