package authress

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/rs/zerolog"

	"github.com/scim-bridge/scim-bridge/connectors"
)

var (
	_ connectors.Config    = (*Config)(nil)
	_ connectors.Connector = (*connector)(nil)
	_ connectors.Projector = (*connector)(nil)
	_ connectors.Inventory = (*connector)(nil)
	_ connectors.Pruner    = (*connector)(nil)
)

// connector converges one tenant's SSO connection.
type connector struct {
	name, tenant string
	client       *connectors.Client
	log          zerolog.Logger
	fixedID      string
	prune        bool
	pageSize     int

	desired     wireConnection    // managed fields, without secret and tags
	secret      string            // configured clientSecret ("" = not managed)
	wantTags    map[string]string // marker + configured tags
	fingerprint string            // hash of everything the convergence depends on
}

// Name is the connector's configured name.
func (c *connector) Name() string { return c.name }

// Handles reports true for SubjectTenant only: the connection belongs to the tenant.
func (c *connector) Handles(kind connectors.SubjectKind) bool {
	return kind == connectors.SubjectTenant
}

// Project returns what a convergence depends on: the tenant and a fingerprint of
// the configured connection (the secret enters only as a hash), so a changed
// configuration, a rotated secret included, is converged again.
func (c *connector) Project(s connectors.Subject) any {
	return struct {
		Kind       connectors.SubjectKind `json:"kind"`
		Tenant     string                 `json:"tenant"`
		Connection string                 `json:"connection"`
	}{s.Kind, s.ID, c.fingerprint}
}

func (c *connector) specFingerprint() string {
	b, _ := json.Marshal(struct {
		Desired wireConnection    `json:"desired"`
		Secret  string            `json:"secret"`
		Tags    map[string]string `json:"tags"`
		FixedID string            `json:"fixedId"`
	}{c.desired, secretHash(c.secret), c.wantTags, c.fixedID})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Converge makes the tenant's SSO connection exist and match the configured spec:
// it finds the connection (connection_id, the recorded id, then a list for the
// marker, then an unmarked connection with the same type, authenticationUrl and
// clientId), creates it when none is found, and updates it with one PUT when a
// managed field, the marker or the secret drifted. It never deletes: removal is
// Prune's job.
func (c *connector) Converge(ctx context.Context, s connectors.Subject, prev connectors.Record, opts connectors.Options) (connectors.Record, []connectors.Action, error) {
	if s.Kind != connectors.SubjectTenant {
		return prev, nil, permanent("converge", fmt.Sprintf("subject kind %q is not handled", s.Kind))
	}
	if s.ID != c.tenant {
		return prev, nil, permanent("converge", fmt.Sprintf("subject tenant %q is not this connector's tenant %q", s.ID, c.tenant))
	}
	cur, found, err := c.find(ctx, prev)
	if err != nil {
		return prev, nil, err
	}
	if !found {
		return c.create(ctx, prev, opts, "no connection carries this connector's marker")
	}
	return c.update(ctx, prev, cur, opts)
}

// find looks for the connection to converge, reading before any create.
func (c *connector) find(ctx context.Context, prev connectors.Record) (remote, bool, error) {
	var tried []string
	for _, id := range []string{c.fixedID, prev.IDs[recordKey]} {
		if id == "" || slices.Contains(tried, id) {
			continue
		}
		tried = append(tried, id)
		r, ok, err := c.getConnection(ctx, id)
		if err != nil || ok {
			return r, ok, err
		}
	}
	var marked, adoptable *remote
	err := c.eachConnection(ctx, func(r remote) error {
		if c.ownedBy(r.conn.Tags) {
			marked = &r
			return errStop
		}
		if _, hasMarker := markerOf(r.conn.Tags); !hasMarker && adoptable == nil && sameIdentity(c.desired, r.conn) {
			adoptable = &r
		}
		return nil
	})
	switch {
	case err != nil:
		return remote{}, false, err
	case marked != nil:
		return *marked, true, nil
	case adoptable != nil:
		return *adoptable, true, nil
	}
	return remote{}, false, nil
}

func (c *connector) create(ctx context.Context, prev connectors.Record, opts connectors.Options, reason string) (connectors.Record, []connectors.Action, error) {
	action := connectors.Action{Op: connectors.OpCreate, Object: "SSO connection of tenant " + c.tenant, Reason: reason}
	if opts.DryRun {
		return prev, []connectors.Action{action}, nil
	}
	var raw json.RawMessage
	if _, err := c.client.Do(ctx, "POST", connectionsPath, createBody(c.desired, c.secret, c.wantTags), &raw); err != nil {
		return prev, nil, fmt.Errorf("create connection: %w", err)
	}
	r, err := decodeRemote(raw)
	if err != nil || r.conn.ConnectionID == "" {
		// Created, but the id is unknown: the next round finds it by its marker.
		return prev, nil, permanent("POST "+connectionsPath, "the create answer carries no connectionId")
	}
	id := r.conn.ConnectionID
	c.log.Debug().Str("op", "create").Str("connection", id).Msg("authress connection created")
	rec := connectors.Record{
		IDs:   map[string]string{recordKey: id},
		State: appliedState(c.secret, r.conn.ClientSecret, id).encode(),
	}
	if err := opts.Report(ctx, rec, action); err != nil {
		return rec, []connectors.Action{action}, err
	}
	return rec, []connectors.Action{action}, nil
}

func (c *connector) update(ctx context.Context, prev connectors.Record, cur remote, opts connectors.Options) (connectors.Record, []connectors.Action, error) {
	id := cur.conn.ConnectionID
	st := parseState(prev.State)
	fields := drift(c.desired, cur.conn, c.wantTags)
	secretStale, why := secretDrift(c.secret, cur.conn.ClientSecret, id, st)
	if len(fields) == 0 && !secretStale {
		if opts.DryRun {
			return prev, nil, nil
		}
		return connectors.Record{
			IDs:   map[string]string{recordKey: id},
			State: appliedState(c.secret, cur.conn.ClientSecret, id).encode(),
		}, nil, nil
	}
	var reasons []string
	if len(fields) > 0 {
		reasons = append(reasons, "drift in "+strings.Join(fields, ", "))
	}
	if secretStale {
		reasons = append(reasons, why)
	}
	action := connectors.Action{Op: connectors.OpUpdate, Object: "connection " + id, Reason: strings.Join(reasons, "; ")}
	if opts.DryRun {
		return prev, []connectors.Action{action}, nil
	}
	body, err := updateBody(cur, c.desired, c.secret, c.wantTags)
	if err != nil {
		return prev, nil, permanent("PUT "+connectionsPath+"/{id}", err.Error())
	}
	// Until the PUT is confirmed, the old state is the best knowledge.
	failed := connectors.Record{IDs: map[string]string{recordKey: id}, State: prev.State}
	var raw json.RawMessage
	if _, err := c.client.Do(ctx, "PUT", connectionPath(id), body, &raw); err != nil {
		if connectors.IsNotFound(err) {
			// Deleted between the read and the write: create it again.
			return c.create(ctx, prev, opts, "connection "+id+" vanished during the update")
		}
		return failed, nil, fmt.Errorf("update connection %s: %w", id, err)
	}
	echo := ""
	if r, err := decodeRemote(raw); err == nil {
		echo = r.conn.ClientSecret
	}
	c.log.Debug().Str("op", "update").Str("connection", id).Strs("fields", fields).Bool("secret", secretStale).
		Msg("authress connection updated")
	return connectors.Record{
		IDs:   map[string]string{recordKey: id},
		State: appliedState(c.secret, echo, id).encode(),
	}, []connectors.Action{action}, nil
}

// permanent is a classified error that retrying cannot fix.
func permanent(op, msg string) error {
	return &connectors.Error{Class: connectors.Permanent, Op: op, Msg: msg}
}
