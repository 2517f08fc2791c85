package scim

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/rs/zerolog"

	"github.com/scim-bridge/scim-bridge/connectors"
)

// IDKey is the key of Record.IDs holding the downstream user id.
const IDKey = "user"

var (
	_ connectors.Config    = (*Config)(nil)
	_ connectors.Connector = (*connector)(nil)
	_ connectors.Projector = (*connector)(nil)
	_ connectors.Inventory = (*connector)(nil)
	_ connectors.Pruner    = (*connector)(nil)
)

// connector is the adapter Open returns.
type connector struct {
	name    string
	matchBy string
	prune   bool
	api     *api
	log     zerolog.Logger
	dir     connectors.Directory // nil in tests that give none
}

// Name is the configured name.
func (c *connector) Name() string { return c.name }

// Handles reports true for users only.
func (c *connector) Handles(kind connectors.SubjectKind) bool { return kind == connectors.SubjectUser }

// projection is the part of a user the adapter depends on: the four attributes
// it converges, and the work email a POST carries and the login lookup uses.
type projection struct {
	UserName    string `json:"userName"`
	ExternalID  string `json:"externalId"`
	DisplayName string `json:"displayName"`
	Active      bool   `json:"active"`
	// Email is omitted when empty, so a user without one projects as before
	// the adapter sent emails.
	Email string `json:"email,omitempty"`
}

// Project returns (userName, externalId, displayName, active, work email), or
// nil for a deleted user. The email is in it although no PATCH can change it:
// a POST refused or parked for want of the right email is tried again when the
// email changes.
func (c *connector) Project(s connectors.Subject) any {
	if s.User == nil {
		return nil
	}
	return projection{UserName: s.User.UserName, ExternalID: s.User.ExternalID, DisplayName: s.User.DisplayName, Active: s.User.Active,
		Email: workEmail(s.User)}
}

// Converge mirrors one SCIM user (see the package documentation).
func (c *connector) Converge(ctx context.Context, s connectors.Subject, prev connectors.Record, opts connectors.Options) (connectors.Record, []connectors.Action, error) {
	if s.Kind != connectors.SubjectUser {
		return prev, nil, &connectors.Error{Class: connectors.Permanent, Op: "converge", Msg: fmt.Sprintf("subject kind %q is not handled", s.Kind)}
	}
	id := prev.IDs[IDKey]
	st := stateOf(prev)
	subjectID := s.ID
	if subjectID == "" && s.User != nil {
		subjectID = s.User.ID
	}
	// The account at the recorded id is acted on only when it is the user's:
	// a downstream restored from a backup, reset, or another instance behind
	// the same url may hold someone else under that id.
	var at *remoteUser
	if id != "" {
		u, err := c.api.get(ctx, id)
		switch {
		case err == nil:
			at = u
		case !connectors.IsNotFound(err):
			rec := makeRecord(id, st.Written, st.Posted)
			if s.User == nil {
				return rec, nil, fmt.Errorf("read user %s: %w", id, err)
			}
			return rec, nil, fmt.Errorf("look up user %q: %w", s.User.UserName, err)
		}
	}
	var note string
	if at != nil {
		ours, err := c.owns(ctx, at, s.User, st.Written, subjectID)
		if err != nil {
			return makeRecord(id, st.Written, st.Posted), nil, err
		}
		if !ours {
			note = c.foreign(at, s.User, subjectID)
			id, at = "", nil // gone for this user: never written
		}
	}
	var (
		rec  connectors.Record
		acts []connectors.Action
		err  error
	)
	if s.User == nil {
		rec, acts, err = c.convergeDeleted(ctx, id, at, st, subjectID, opts)
	} else {
		rec, acts, err = c.convergeUser(ctx, s.User, id, at, st, subjectID, opts)
	}
	return rec, annotate(acts, note), err
}

// convergeUser converges an existing SCIM user. at is the account at the
// recorded id id, when visible and the user's; id is "" when nothing is
// recorded or the recorded id held another account.
func (c *connector) convergeUser(ctx context.Context, want *connectors.User, id string, at *remoteUser, st recordState, subjectID string, opts connectors.Options) (connectors.Record, []connectors.Action, error) {
	posted := st.Posted
	cur := at
	if cur == nil {
		var err error
		if cur, err = c.find(ctx, want); err != nil {
			return makeRecord(id, st.Written, posted), nil, fmt.Errorf("look up user %q: %w", want.UserName, err)
		}
	}
	if cur == nil && id == "" && len(posted) > 0 {
		// An earlier POST whose answer was lost may have created the user under
		// keys it no longer has (renamed since): that account is the user's.
		var err error
		if cur, err = c.findPosted(ctx, posted, subjectID); err != nil {
			return makeRecord(id, st.Written, posted), nil, fmt.Errorf("look up earlier creates of user %q: %w", want.UserName, err)
		}
	}
	if !want.Active {
		if cur == nil {
			return makeRecord(id, st.Written, nil), nil, nil
		}
		rec := makeRecord(cur.ID, keysOf(cur), nil)
		if !cur.active() {
			return rec, nil, nil
		}
		act := connectors.Action{Op: connectors.OpDelete, Object: object(cur), Reason: "SCIM user is inactive: deactivate"}
		if err := c.deactivate(ctx, cur.ID, act, opts); err != nil {
			return rec, nil, err
		}
		return rec, []connectors.Action{act}, nil
	}
	if cur != nil {
		return c.update(ctx, cur, want, opts)
	}
	if id != "" {
		// Not visible: deactivated (the vendor hides those) or gone. PATCH reaches
		// a deactivated user; a 404 means gone, so create.
		act := connectors.Action{Op: connectors.OpUpdate, Object: "user " + id, Reason: "recorded user not visible downstream: reactivate (re-create if gone)"}
		// The PATCH sets userName and externalId; the login it cannot change.
		written := &userKeys{UserName: want.UserName, ExternalID: want.ExternalID}
		if st.Written != nil {
			written.Email = st.Written.Email
		}
		if opts.DryRun {
			return makeRecord(id, written, nil), []connectors.Action{act}, nil
		}
		_, err := c.api.patch(ctx, id, fullOps(want))
		switch {
		case err == nil:
			c.logWrite(act)
			return makeRecord(id, written, nil), []connectors.Action{act}, nil
		case !connectors.IsNotFound(err):
			return makeRecord(id, st.Written, nil), nil, fmt.Errorf("reactivate user %s: %w", id, err)
		}
	}
	// A POST would update the account with the user's login (its work email):
	// adopt that account explicitly instead, unless another SCIM user owns it.
	cur, err := c.byLogin(ctx, want)
	if err != nil {
		return makeRecord(id, st.Written, posted), nil, err
	}
	if cur != nil {
		return c.update(ctx, cur, want, opts)
	}
	return c.create(ctx, want, posted, opts)
}

// find looks the user up by filter on match_by (externalId when so
// configured and the user has one, else userName). nil means not visible
// downstream.
func (c *connector) find(ctx context.Context, want *connectors.User) (*remoteUser, error) {
	if c.matchBy == MatchByExternalID && want.ExternalID != "" {
		return c.lookup(ctx, MatchByExternalID, want.ExternalID, want)
	}
	return c.lookup(ctx, MatchByUserName, want.UserName, want)
}

// lookup finds the user whose attr (userName or externalId) equals value with
// GET /Users?filter=attr eq "value" (see lookupFilter).
func (c *connector) lookup(ctx context.Context, attr, value string, want *connectors.User) (*remoteUser, error) {
	carries := func(u *remoteUser) bool { return u.ExternalID == value }
	if attr == MatchByUserName {
		carries = func(u *remoteUser) bool { return strings.EqualFold(u.UserName, value) }
	}
	return c.lookupFilter(ctx, eqFilter(attr, value), carries, want)
}

// lookupFilter lists the first page of GET /Users?filter=filter. Resources
// that do not carry what the filter asks for (carries false) are ignored; among
// several, the one with want's exact userName wins, then an active one.
func (c *connector) lookupFilter(ctx context.Context, filter string, carries func(*remoteUser) bool, want *connectors.User) (*remoteUser, error) {
	page, err := c.api.list(ctx, filter, 1, PageSize)
	if err != nil {
		return nil, err
	}
	var best *remoteUser
	score := -1
	for i := range page.Resources {
		u := &page.Resources[i]
		if u.ID == "" || !carries(u) {
			continue
		}
		sc := 0
		if u.UserName == want.UserName {
			sc += 2
		}
		if u.active() {
			sc++
		}
		if sc > score {
			best, score = u, sc
		}
	}
	return best, nil
}

// update PATCHes the attributes of cur that differ from want (nothing when equal).
// The record names cur and the keys it carries after the PATCH (see
// recordState.Written); after a failed PATCH, the keys it carried before.
func (c *connector) update(ctx context.Context, cur *remoteUser, want *connectors.User, opts connectors.Options) (connectors.Record, []connectors.Action, error) {
	rec := makeRecord(cur.ID, &userKeys{UserName: want.UserName, ExternalID: want.ExternalID, Email: cur.email()}, nil)
	ops, attrs := diffOps(cur, want)
	if len(ops) == 0 {
		return rec, nil, nil
	}
	act := connectors.Action{Op: connectors.OpUpdate, Object: object(cur), Reason: strings.Join(attrs, ", ") + " differ"}
	if opts.DryRun {
		return rec, []connectors.Action{act}, nil
	}
	if _, err := c.api.patch(ctx, cur.ID, ops); err != nil {
		return makeRecord(cur.ID, keysOf(cur), nil), nil, fmt.Errorf("update user %s: %w", cur.ID, err)
	}
	c.logWrite(act)
	return rec, []connectors.Action{act}, nil
}

// create POSTs want; a 409 is resolved by finding the user it collides with.
// The keys the POST carries are saved first (Options.Save), with or without an
// externalId: when its answer is lost (a timeout, a crash) and the user is
// renamed, deactivated or deleted before the next attempt, that attempt still
// finds what the POST created (findPosted) instead of leaving it active.
func (c *connector) create(ctx context.Context, want *connectors.User, posted []userKeys, opts connectors.Options) (connectors.Record, []connectors.Action, error) {
	act := connectors.Action{Op: connectors.OpCreate, Object: fmt.Sprintf("user %q", want.UserName), Reason: "absent downstream"}
	if opts.DryRun {
		return connectors.Record{}, []connectors.Action{act}, nil
	}
	sent := desiredKeys(want)
	intent := makeRecord("", nil, addPosted(posted, sent))
	if err := opts.Save(ctx, intent); err != nil {
		return intent, nil, err
	}
	u, err := c.api.create(ctx, createRequest{UserName: want.UserName, ExternalID: want.ExternalID, DisplayName: want.DisplayName,
		Emails: workEmails(sent.Email), Active: true})
	if err != nil {
		// Only a POST that may have been applied (no answer, or a 5xx or 408)
		// keeps its keys; one the server refused created nothing.
		kept := makeRecord("", nil, posted)
		if mayHaveApplied(err) {
			kept = intent
		}
		if connectors.StatusOf(err) == http.StatusConflict {
			rec, acts, cerr := c.afterConflict(ctx, want, err, opts)
			if cerr != nil && len(rec.IDs) == 0 {
				rec = kept
			}
			return rec, acts, cerr
		}
		return kept, nil, fmt.Errorf("create user %q: %w", want.UserName, err)
	}
	c.logWrite(act)
	acts := []connectors.Action{act}
	login := u.email()
	if login == "" {
		login = sent.Email // a server that does not echo emails: the login is the one sent
	}
	rec := makeRecord(u.ID, &userKeys{UserName: want.UserName, ExternalID: want.ExternalID, Email: login}, nil)
	if err := opts.Report(ctx, rec, act); err != nil {
		return rec, acts, err
	}
	if u.Active != nil && !*u.Active {
		// The login existed deactivated and the server kept it so.
		rec, more, err := c.update(ctx, u, want, opts)
		return rec, append(acts, more...), err
	}
	return rec, acts, nil
}

// afterConflict looks the user up by userName, then by externalId, and converges
// what it finds; with nothing found the 409 stands.
func (c *connector) afterConflict(ctx context.Context, want *connectors.User, conflict error, opts connectors.Options) (connectors.Record, []connectors.Action, error) {
	keys := [][2]string{{MatchByUserName, want.UserName}}
	if want.ExternalID != "" {
		keys = append(keys, [2]string{MatchByExternalID, want.ExternalID})
	}
	for _, k := range keys {
		u, err := c.lookup(ctx, k[0], k[1], want)
		if err != nil {
			return connectors.Record{}, nil, fmt.Errorf("look up user %q after 409: %w", want.UserName, err)
		}
		if u == nil {
			continue
		}
		if k[0] == MatchByExternalID && !strings.EqualFold(u.UserName, want.UserName) {
			// An externalId is not unique among SCIM users: the account is
			// this user's former login only when no other SCIM user has
			// that userName (else two users would share one account).
			owned, err := c.ownedByAnother(ctx, u.UserName, want.ID, "after 409")
			if err != nil {
				return connectors.Record{}, nil, err
			}
			if owned {
				return connectors.Record{}, nil, fmt.Errorf("create user %q: the externalId belongs to login %q of another SCIM user: %w", want.UserName, u.UserName, conflict)
			}
		}
		return c.update(ctx, u, want, opts)
	}
	return connectors.Record{}, nil, fmt.Errorf("create user %q: %w", want.UserName, conflict)
}

// ownedByAnother reports whether a SCIM user other than id has userName (when
// the bridge's directory can tell; without one, false). A failure of the
// directory (the bridge's own store) is retryable, never a reason to park the
// subject; when says what the look-up was for, in the error.
func (c *connector) ownedByAnother(ctx context.Context, userName, id, when string) (bool, error) {
	d, ok := c.dir.(connectors.UserNameDirectory)
	if !ok {
		return false, nil
	}
	u, err := d.UserByUserName(ctx, userName)
	if err != nil {
		return false, &connectors.Error{Class: connectors.Retryable,
			Op: strings.TrimSpace(fmt.Sprintf("look up the owner of login %q %s", userName, when)), Err: err}
	}
	return u != nil && u.ID != id, nil
}

// convergeDeleted deactivates the account of a deleted SCIM user: at, the
// account at the recorded id when it is visible and the user's; else, with
// the recorded id not visible (id kept) or holding another account (id ""),
// the account the keys the adapter last wrote find (findOwn); with neither an
// id nor such keys, the account a POST whose answer was lost made
// (findPosted). Nothing else: the bridge never made it.
func (c *connector) convergeDeleted(ctx context.Context, id string, at *remoteUser, st recordState, subjectID string, opts connectors.Options) (connectors.Record, []connectors.Action, error) {
	u := at
	switch {
	case u != nil:
	case id == "" && len(st.Posted) > 0:
		// A create whose answer was lost, then the user deleted: find
		// what it may have created (only an account its keys identify
		// as that POST's: never deactivate someone else's).
		found, err := c.findPosted(ctx, st.Posted, subjectID)
		if err != nil {
			return makeRecord("", nil, st.Posted), nil, fmt.Errorf("look up earlier creates: %w", err)
		}
		u = found
	case st.Written != nil:
		found, err := c.findOwn(ctx, *st.Written, subjectID)
		if err != nil {
			return makeRecord(id, st.Written, nil), nil, fmt.Errorf("look up the account of deleted user %q: %w", st.Written.UserName, err)
		}
		u = found
	}
	if u == nil {
		return makeRecord(id, st.Written, nil), nil, nil // gone, or deactivated and hidden
	}
	rec := makeRecord(u.ID, keysOf(u), nil)
	if !u.active() {
		return rec, nil, nil
	}
	act := connectors.Action{Op: connectors.OpDelete, Object: object(u), Reason: "SCIM user deleted: deactivate"}
	if err := c.deactivate(ctx, u.ID, act, opts); err != nil {
		return rec, nil, err
	}
	return rec, []connectors.Action{act}, nil
}

// deactivate sends DELETE /Users/{id} unless dry; a 404 means already gone.
func (c *connector) deactivate(ctx context.Context, id string, act connectors.Action, opts connectors.Options) error {
	if opts.DryRun {
		return nil
	}
	if err := c.api.deactivate(ctx, id); err != nil && !connectors.IsNotFound(err) {
		return fmt.Errorf("deactivate user %s: %w", id, err)
	}
	c.logWrite(act)
	return nil
}

func (c *connector) logWrite(act connectors.Action) {
	c.log.Debug().Str("op", string(act.Op)).Str("object", act.Object).Str("reason", act.Reason).Msg("scim write")
}

func object(u *remoteUser) string { return fmt.Sprintf("user %s (%q)", u.ID, u.UserName) }

// diffOps returns one operation per attribute of cur that differs from want, and
// the attribute names.
func diffOps(cur *remoteUser, want *connectors.User) ([]patchOp, []string) {
	var ops []patchOp
	var attrs []string
	str := func(name, have, wantV string) {
		if have == wantV {
			return
		}
		attrs = append(attrs, name)
		if wantV == "" {
			ops = append(ops, patchOp{Op: "remove", Path: name})
			return
		}
		ops = append(ops, patchOp{Op: "replace", Path: name, Value: wantV})
	}
	str("userName", cur.UserName, want.UserName)
	str("externalId", cur.ExternalID, want.ExternalID)
	str("displayName", cur.DisplayName, want.DisplayName)
	if cur.active() != want.Active {
		attrs = append(attrs, "active")
		ops = append(ops, patchOp{Op: "replace", Path: "active", Value: want.Active})
	}
	return ops, attrs
}

// fullOps sets all four attributes of an active want, for a user that cannot be read.
func fullOps(want *connectors.User) []patchOp {
	return []patchOp{
		{Op: "replace", Path: "userName", Value: want.UserName},
		strOp("externalId", want.ExternalID),
		strOp("displayName", want.DisplayName),
		{Op: "replace", Path: "active", Value: true},
	}
}

func strOp(path, v string) patchOp {
	if v == "" {
		return patchOp{Op: "remove", Path: path}
	}
	return patchOp{Op: "replace", Path: path, Value: v}
}

// maxPosted bounds the POST keys a record keeps.
const maxPosted = 5

// addPosted appends k to posted (once), keeping the latest maxPosted.
func addPosted(posted []userKeys, k userKeys) []userKeys {
	out := make([]userKeys, 0, len(posted)+1)
	for _, p := range posted {
		if p != k {
			out = append(out, p)
		}
	}
	out = append(out, k)
	return out[max(0, len(out)-maxPosted):]
}

// mayHaveApplied reports whether a failed POST may still have created the
// user: no answer (a timeout, a connection error), a 5xx or a 408.
func mayHaveApplied(err error) bool {
	st := connectors.StatusOf(err)
	return st == 0 || st >= 500 || st == http.StatusRequestTimeout
}

// findPosted looks for the user an earlier POST with a lost answer created, by
// the keys it carried, the latest first. An account counts only when it is
// what that POST made:
//
//   - a key with an email (the POST's login): the account carries that email
//     when it shows any (postedLogin), and, in addition,
//   - a key with an externalId: the account's userName (case-insensitively)
//     and its externalId are the key's;
//   - a key without one (a userName alone): the account's userName is the
//     key's, the account has no externalId (what that POST made had none), and
//     no other SCIM user of the bridge has that userName now (subjectID is
//     this subject's SCIM id; a directory failure is retryable).
//
// Adopting by userName alone is no wider than what the adapter already does:
// a POST answered 409 adopts the account with the user's userName
// (afterConflict), and the lookup before every create does the same. Without
// it, a user with no externalId whose create answer was lost and who was then
// deleted, deactivated or renamed would leave the account that POST made
// active for good (or get a second one). The two extra conditions keep the
// name alone from reaching someone else's account: one carrying an
// externalId was not made by that POST, and a login another SCIM user holds
// is that user's.
func (c *connector) findPosted(ctx context.Context, posted []userKeys, subjectID string) (*remoteUser, error) {
	for i := len(posted) - 1; i >= 0; i-- {
		p := posted[i]
		page, err := c.api.list(ctx, eqFilter(MatchByUserName, p.UserName), 1, PageSize)
		if err != nil {
			return nil, err
		}
		found := slices.DeleteFunc(page.Resources, func(u remoteUser) bool { return !postedLogin(&u, p.Email) })
		if p.ExternalID != "" {
			for j := range found {
				u := &found[j]
				if u.ID != "" && strings.EqualFold(u.UserName, p.UserName) && u.ExternalID == p.ExternalID {
					return u, nil
				}
			}
			continue
		}
		u := postedByName(found, p.UserName)
		if u == nil {
			continue
		}
		owned, err := c.ownedByAnother(ctx, u.UserName, subjectID, "after a lost create")
		if err != nil {
			return nil, err
		}
		if !owned {
			return u, nil
		}
	}
	return nil, nil
}

// postedByName returns the account among found that a POST of userName
// without an externalId may have made: one with no externalId and that
// userName, exactly if one has it, else case-insensitively when only one does
// (two accounts differing in case only cannot be told apart: neither).
func postedByName(found []remoteUser, userName string) *remoteUser {
	var fold *remoteUser
	n := 0
	for j := range found {
		u := &found[j]
		if u.ID == "" || u.ExternalID != "" || !strings.EqualFold(u.UserName, userName) {
			continue
		}
		if u.UserName == userName {
			return u
		}
		fold = u
		n++
	}
	if n == 1 {
		return fold
	}
	return nil
}
