package scim

import (
	"context"
	"fmt"
	"net/http"
	"net/mail"
	"strings"

	"github.com/scim-bridge/scim-bridge/connectors"
)

// workEmail is the email the adapter sends as the user's one email, the ODM
// login: the user's primary email (connectors.User.Email), trimmed; when it has
// none, its userName if that is itself a bare email address (RFC 5322
// addr-spec, as net/mail parses it: "alice@example.com", not "Alice
// <alice@example.com>" nor "alice"); else "" (no email is sent). Nothing is
// made up from a userName that is not an address.
func workEmail(u *connectors.User) string {
	if u == nil {
		return ""
	}
	if e := strings.TrimSpace(u.Email); e != "" {
		return e
	}
	name := strings.TrimSpace(u.UserName)
	if a, err := mail.ParseAddress(name); err == nil && a.Name == "" && a.Address == name {
		return name
	}
	return ""
}

// byLogin looks up the account whose login is want's work email, with the
// vendor's own filter emails[type eq "work" and value eq "..."], before a POST:
// that POST would update such an account ("updates the existing user ... if the
// user has the same login"), so the adapter adopts it explicitly instead, and the
// record gets its id. nil when want has no work email, nothing carries it, or
// the server refuses the filter with a 400 (a SCIM server other than ODM that
// supports no value path filter: the POST is sent as before).
//
// The safety rule of afterConflict holds: an account under another userName
// whose userName another SCIM user of the bridge has is that user's, so it is
// neither adopted nor updated by a POST; the convergence fails (retryable, like
// the 409 it amounts to) until the two users' data no longer collide. A
// directory failure is retryable too.
func (c *connector) byLogin(ctx context.Context, want *connectors.User) (*remoteUser, error) {
	email := workEmail(want)
	if email == "" {
		return nil, nil
	}
	u, err := c.lookupFilter(ctx, loginFilter(email), func(u *remoteUser) bool { return u.hasEmail(email) }, want)
	if connectors.StatusOf(err) == http.StatusBadRequest {
		// A SCIM server other than ODM that takes no value path filter
		// (invalidFilter, RFC 7644 §3.4.2.2): it cannot be asked, so POST as
		// before; ODM documents the filter and never answers so.
		c.log.Debug().Err(err).Msg("login lookup refused: posting without it")
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("look up login %q of user %q: %w", email, want.UserName, err)
	}
	if u == nil || strings.EqualFold(u.UserName, want.UserName) {
		return u, nil
	}
	owned, err := c.ownedByAnother(ctx, u.UserName, want.ID, "")
	if err != nil {
		return nil, err
	}
	if owned {
		return nil, &connectors.Error{Class: connectors.Retryable, Op: fmt.Sprintf("create user %q", want.UserName),
			Msg: fmt.Sprintf("its login (work email) %q is account %s of another SCIM user, %q: not adopted, and not POSTed (the POST would update that account)", email, u.ID, u.UserName)}
	}
	return u, nil
}

// postedLogin reports whether u may be the account a POST whose work email was
// email made or updated: the POST had none (or it is a key of an earlier build,
// which did not keep it), u shows no email (a server that does not echo
// emails), or u carries it. PATCH cannot change an email, so the account that
// POST reached still carries it.
func postedLogin(u *remoteUser, email string) bool {
	return email == "" || len(u.Emails) == 0 || u.hasEmail(email)
}
