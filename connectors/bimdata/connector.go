package bimdata

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/scim-bridge/scim-bridge/connectors"
)

// connector is the adapter for one tenant's BIMData identity provider.
type connector struct {
	name         string
	api          *api
	dir          connectors.Directory
	log          zerolog.Logger
	denyUnknown  bool // unknown_invitations: deny
	deleteOnDeac bool // on_deactivate: delete
	cache        *invitationCache
	answering    answered
	now          func() time.Time
}

var (
	_ connectors.Connector    = (*connector)(nil)
	_ connectors.Projector    = (*connector)(nil)
	_ connectors.Inventory    = (*connector)(nil)
	_ connectors.Owned        = (*connector)(nil)
	_ connectors.EventHandler = (*connector)(nil)
)

// Name is the configured connector name.
func (c *connector) Name() string { return c.name }

// Handles reports true for users and for invitation objects.
func (c *connector) Handles(kind connectors.SubjectKind) bool {
	return kind == connectors.SubjectUser || kind == connectors.SubjectObject
}

// Converge converges one user or one invitation (see the package doc). A dry
// run returns prev unchanged with the actions it would take.
func (c *connector) Converge(ctx context.Context, s connectors.Subject, prev connectors.Record, opts connectors.Options) (connectors.Record, []connectors.Action, error) {
	var (
		rec     connectors.Record
		actions []connectors.Action
		err     error
	)
	switch s.Kind {
	case connectors.SubjectUser:
		rec, actions, err = c.convergeUser(ctx, s, prev, opts)
	case connectors.SubjectObject:
		rec, actions, err = c.convergeInvitation(ctx, s, prev, opts)
	default:
		return prev, nil, &connectors.Error{Class: connectors.Permanent, Op: "bimdata converge", Msg: fmt.Sprintf("subject kind %q is not handled", s.Kind)}
	}
	if opts.DryRun {
		rec = prev
	}
	return rec, actions, err
}

// projection is what a user subject's convergence depends on; the bridge hashes
// it to skip convergences whose input did not change. The policies are part of it
// so that a configuration change converges every user again.
type projection struct {
	Kind               connectors.SubjectKind `json:"kind"`
	ID                 string                 `json:"id,omitempty"`
	Deleted            bool                   `json:"deleted,omitempty"`
	Email              string                 `json:"email,omitempty"`
	Emails             []string               `json:"emails,omitempty"`
	Active             bool                   `json:"active,omitempty"`
	Firstname          string                 `json:"firstname,omitempty"`
	Lastname           string                 `json:"lastname,omitempty"`
	DeleteOnDeactivate bool                   `json:"deleteOnDeactivate"`
	DenyUnknown        bool                   `json:"denyUnknown"`
}

// Project returns, for a user, its emails, active flag and names (what
// create_user sends); for an invitation, its id.
func (c *connector) Project(s connectors.Subject) any {
	p := projection{Kind: s.Kind, DeleteOnDeactivate: c.deleteOnDeac, DenyUnknown: c.denyUnknown}
	switch {
	case s.Kind != connectors.SubjectUser:
		p.ID = s.ID
	case s.User == nil:
		p.Deleted = true
	default:
		emails := userEmails(s.User)
		if len(emails) > 0 {
			p.Email = emails[0]
		}
		p.Emails = emails
		p.Active = s.User.Active
		p.Firstname, p.Lastname = names(s.User, p.Email)
	}
	return p
}

// userEmails returns the user's emails, primary first, trimmed, without
// case-insensitive duplicates.
func userEmails(u *connectors.User) []string {
	var out []string
	for _, e := range append([]string{u.Email}, u.Emails...) {
		e = strings.TrimSpace(e)
		if e != "" && !containsFold(out, e) {
			out = append(out, e)
		}
	}
	return out
}

// names returns the firstname and lastname sent to create_user: the SCIM name
// parts, else the display name split at its first space, else the local part of
// the email as firstname.
func names(u *connectors.User, email string) (first, last string) {
	first, last = strings.TrimSpace(u.GivenName), strings.TrimSpace(u.FamilyName)
	if first != "" || last != "" {
		return first, last
	}
	if dn := strings.TrimSpace(u.DisplayName); dn != "" {
		first, last, _ = strings.Cut(dn, " ")
		return first, strings.TrimSpace(last)
	}
	local, _, _ := strings.Cut(email, "@")
	return local, ""
}

func containsFold(list []string, s string) bool {
	return slices.ContainsFunc(list, func(x string) bool { return strings.EqualFold(x, s) })
}

// readAfter is the time the pending-invitation listing of a user
// convergence must have been sent at or after (connectors.Options.ReadAfter):
// in a write convergence, when the change being converged was noted (zero: any
// listing within the cache's ttl); in a dry run, when the reconciliation pass
// began, or now when none is given (read afresh).
func (c *connector) readAfter(opts connectors.Options) time.Time {
	if opts.DryRun && opts.ReadAfter.IsZero() {
		return c.now()
	}
	return opts.ReadAfter
}

// write runs one downstream write, or in a dry run only records it. On success
// (or in a dry run) it appends *act (which fn may refine) to *actions and logs
// one debug line.
func (c *connector) write(opts connectors.Options, actions *[]connectors.Action, act *connectors.Action, fn func() error) error {
	if !opts.DryRun {
		if err := fn(); err != nil {
			return err
		}
		c.log.Debug().Str("op", string(act.Op)).Str("object", act.Object).Msg("bimdata write")
	}
	*actions = append(*actions, *act)
	return nil
}

// directoryError wraps a failed directory lookup: the store is expected to come
// back, so the convergence is retried.
func directoryError(err error) error {
	return &connectors.Error{Class: connectors.Retryable, Op: "directory lookup", Err: err}
}
