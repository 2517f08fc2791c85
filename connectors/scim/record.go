package scim

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/scim-bridge/scim-bridge/connectors"
)

// userKeys are the stable keys of a downstream account: its userName, its
// externalId and its login (work email). The adapter keeps two kinds in
// Record.State: what each POST carried (recordState.Posted), and what the
// account at the recorded id carried after the adapter last wrote or checked
// it (recordState.Written).
type userKeys struct {
	UserName   string `json:"userName"`
	ExternalID string `json:"externalId,omitempty"`
	Email      string `json:"email,omitempty"`
}

// recordState is the adapter's Record.State.
type recordState struct {
	// Posted holds the keys of the POSTs sent while no user id is recorded
	// (the latest last, at most maxPosted): a POST whose answer was lost is
	// found by them (findPosted). Keys saved by earlier builds have no email
	// and are read as before.
	Posted []userKeys `json:"posted,omitempty"`
	// Written holds, beside a recorded id, the keys the account there carried
	// after the adapter's last write to it (or, when none was needed, as it
	// last read it): the account at that id is still the user's only while it
	// carries one of them or one of the desired user's (see owns). Records of
	// earlier builds have none.
	Written *userKeys `json:"written,omitempty"`
}

// stateOf reads the adapter's state of prev (empty when it holds none, or
// none this adapter can read).
func stateOf(prev connectors.Record) recordState {
	var st recordState
	if len(prev.State) == 0 || json.Unmarshal(prev.State, &st) != nil {
		return recordState{}
	}
	return st
}

// makeRecord returns the record naming the downstream user id (none when
// ""), with the keys written to it (kept only beside an id) and the keys of
// the POSTs posted.
func makeRecord(id string, written *userKeys, posted []userKeys) connectors.Record {
	var rec connectors.Record
	st := recordState{Posted: posted}
	if id != "" {
		rec.IDs = map[string]string{IDKey: id}
		st.Written = written
	}
	if len(st.Posted) == 0 && st.Written == nil {
		return rec
	}
	if raw, err := json.Marshal(st); err == nil {
		rec.State = raw
	}
	return rec
}

// keysOf returns the keys u carries.
func keysOf(u *remoteUser) *userKeys {
	return &userKeys{UserName: u.UserName, ExternalID: u.ExternalID, Email: u.email()}
}

// desiredKeys returns the keys the adapter converges want's account to: its
// userName, externalId and login (workEmail).
func desiredKeys(want *connectors.User) userKeys {
	return userKeys{UserName: want.UserName, ExternalID: want.ExternalID, Email: workEmail(want)}
}

// matches reports whether u carries one of k's keys: the same externalId
// (when both have one), the same userName (case-insensitively, RFC 7643
// §4.1.1), or k's login among its emails (case-insensitively, §4.1.2).
func (k userKeys) matches(u *remoteUser) bool {
	return (k.ExternalID != "" && u.ExternalID == k.ExternalID) ||
		(k.UserName != "" && strings.EqualFold(u.UserName, k.UserName)) ||
		(k.Email != "" && u.hasEmail(k.Email))
}

// owns reports whether u, the account now at the recorded id, is still the
// user's: a downstream restored from a backup, reset, or another instance
// behind the same url reuses ids, and the account at a recorded id may then be
// someone else's. It is the user's when it carries one key of want (the
// desired user; nil when deleted) or of written (the keys the adapter last
// wrote there, so a rename in progress is still recognised).
//
// A record of an earlier build has no written keys. For an existing user the
// account must then carry one of want's. For a deleted user, which has no
// desired keys, it is believed (as by earlier builds, so an upgrade does not
// stop deactivations) unless its userName is another SCIM user's: that account
// is someone else's. An inactive account then needs no check (nothing is
// written to it). A directory failure is retryable.
func (c *connector) owns(ctx context.Context, u *remoteUser, want *connectors.User, written *userKeys, subjectID string) (bool, error) {
	if want != nil && desiredKeys(want).matches(u) {
		return true, nil
	}
	if written != nil {
		return written.matches(u), nil
	}
	if want != nil {
		return false, nil
	}
	if !u.active() {
		return true, nil
	}
	owned, err := c.ownedByAnother(ctx, u.UserName, subjectID, fmt.Sprintf("at the recorded id %s", u.ID))
	if err != nil {
		return false, err
	}
	return !owned, nil
}

// foreign logs that the recorded id holds u, another account than the
// user's, which is left alone, and returns the note added to the reasons of
// the convergence's writes.
func (c *connector) foreign(u *remoteUser, want *connectors.User, subjectID string) string {
	ev := c.log.Warn().Str("subject", subjectID).Str("id", u.ID).Str("account", u.UserName)
	if want != nil {
		ev = ev.Str("user", want.UserName)
	}
	ev.Msg("scim: the recorded downstream id holds another account (downstream restored, reset or replaced?): left alone, the user is looked up by its keys")
	return fmt.Sprintf("recorded user %s is now another account (%q), left alone", u.ID, u.UserName)
}

// annotate appends note to the reason of every action (none when note is "").
func annotate(acts []connectors.Action, note string) []connectors.Action {
	if note == "" {
		return acts
	}
	for i := range acts {
		acts[i].Reason += "; " + note
	}
	return acts
}

// findOwn looks for the account of a deleted user whose recorded id no
// longer shows it (not visible, or another account), by the keys k the adapter
// last wrote there: by userName, then externalId, then login (the vendor's
// emails filter; a server refusing it with 400 is not asked). Only an active
// account counts (nothing else needs a write), and only one that is what the
// adapter last wrote: it carries the key looked up, k's externalId (none when
// k has none), and k's login when it shows emails (PATCH cannot change an
// email); and its userName is no other SCIM user's (a directory failure is
// retryable).
func (c *connector) findOwn(ctx context.Context, k userKeys, subjectID string) (*remoteUser, error) {
	type query struct {
		filter  string
		carries func(*remoteUser) bool
		login   bool // the vendor's emails filter
	}
	var qs []query
	if k.UserName != "" {
		qs = append(qs, query{eqFilter(MatchByUserName, k.UserName), func(u *remoteUser) bool { return strings.EqualFold(u.UserName, k.UserName) }, false})
	}
	if k.ExternalID != "" {
		qs = append(qs, query{eqFilter(MatchByExternalID, k.ExternalID), func(u *remoteUser) bool { return u.ExternalID == k.ExternalID }, false})
	}
	if k.Email != "" {
		qs = append(qs, query{loginFilter(k.Email), func(u *remoteUser) bool { return u.hasEmail(k.Email) }, true})
	}
	for _, q := range qs {
		page, err := c.api.list(ctx, q.filter, 1, PageSize)
		if q.login && connectors.StatusOf(err) == http.StatusBadRequest {
			continue // no value path filters there (see byLogin)
		}
		if err != nil {
			return nil, err
		}
		for i := range page.Resources {
			u := &page.Resources[i]
			if u.ID == "" || !u.active() || !q.carries(u) || u.ExternalID != k.ExternalID || !postedLogin(u, k.Email) {
				continue
			}
			owned, err := c.ownedByAnother(ctx, u.UserName, subjectID, "")
			if err != nil {
				return nil, err
			}
			if !owned {
				return u, nil
			}
		}
	}
	return nil, nil
}
