package scimapi

// Reading a group: its document in O(1) and its members streamed from the
// store in chunks straight into the response, so a group of 100,000 members
// costs bounded memory, and nothing of them when the response leaves them out.

import (
	"context"
	"errors"
	"net/http"
	"net/url"

	"github.com/scim-bridge/scim-bridge/filter"
	"github.com/scim-bridge/scim-bridge/store"
)

// memberChunk is how many members are read and written at a time.
const memberChunk = 1000

// getGroup serves GET /Groups/{id} (RFC 7644 §3.4.1), honouring
// If-None-Match and attributes / excludedAttributes.
func (srv *Server) getGroup(w http.ResponseWriter, r *http.Request, tenant string, rt *resourceType, id string) error {
	return srv.serveGroup(w, r, tenant, rt, id, renderOptsFor(srv, r), http.StatusOK)
}

// serveGroup writes a group with status: its document read without members,
// then (when the response includes them) its members streamed.
func (srv *Server) serveGroup(w http.ResponseWriter, r *http.Request, tenant string, rt *resourceType, id string, o renderOpts, status int) error {
	ctx := r.Context()
	res, n, err := srv.store.GetGroup(ctx, tenant, id)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return errNotFound(rt.kind, id)
		}
		return err
	}
	tag := etag(res.Version)
	if done, err := readConditions(w, r, res.Version, tag); done || err != nil {
		return err
	}
	v := srv.view(rt, res, nil, tag, o)
	subs := srv.memberFields(rt, o)
	if n == 0 || subs == (memberFields{}) {
		return writeResource(w, status, tag, v, "")
	}
	return srv.streamGroup(ctx, w, tenant, rt, res, v, subs, o, status)
}

// memberFields says which sub-attributes of members a response holds.
type memberFields struct {
	value, display, typ, ref bool
}

// memberFields projects a sample member as the response's projection would
// (RFC 7644 §3.9), so member sub-attributes follow the same rules as any
// attribute.
func (srv *Server) memberFields(rt *resourceType, o renderOpts) memberFields {
	all := memberFields{value: true, display: true, typ: true, ref: true}
	if !o.projected() {
		return all
	}
	sample := map[string]any{
		"id":      "x",
		"schemas": []any{rt.core.ID},
		"members": []any{map[string]any{"value": "x", "display": "x", "type": "User", "$ref": "x"}},
	}
	p := filter.Project(rt.rs, sample, o.attributes, o.excluded)
	ms, _ := p["members"].([]any)
	if len(ms) == 0 {
		return memberFields{}
	}
	m, _ := ms[0].(map[string]any)
	_, value := m["value"]
	_, display := m["display"]
	_, typ := m["type"]
	_, ref := m["$ref"]
	return memberFields{value: value, display: display, typ: typ, ref: ref}
}

// streamGroup writes the group's JSON (v, without members) and then its
// members, a chunk at a time. The header goes out with the first chunk, so
// a failure before it is still a SCIM error; a failure after it aborts the
// response (the client sees a truncated body, never a wrong one).
func (srv *Server) streamGroup(ctx context.Context, w http.ResponseWriter, tenant string, rt *resourceType, res *store.Resource, v map[string]any, f memberFields, o renderOpts, status int) error {
	head, err := marshalView(v)
	if err != nil {
		return err
	}
	userBase := o.base + "/" + srv.types.user.endpoint + "/"
	groupBase := o.base + "/" + srv.types.group.endpoint + "/"
	started := false
	buf := make([]byte, 0, 64*1024)
	err = srv.store.ForEachMember(ctx, tenant, res.ID, memberChunk, func(ms []store.Member) error {
		buf = buf[:0]
		if !started {
			h := w.Header()
			h.Set("Content-Type", contentTypeSCIM)
			h.Set("ETag", etag(res.Version))
			w.WriteHeader(status)
			buf = append(buf, head[:len(head)-1]...)
			buf = append(buf, `,"members":[`...)
		}
		for i, m := range ms {
			if started || i > 0 {
				buf = append(buf, ',')
			}
			buf = appendMember(buf, m, f, userBase, groupBase)
		}
		started = true
		_, err := w.Write(buf)
		return err
	})
	switch {
	case err != nil && !started:
		return err
	case err != nil:
		srv.log.Error().Err(err).Str("tenant", tenant).Str("group", res.ID).Msg("group members stream failed")
		panic(http.ErrAbortHandler)
	case !started: // emptied meanwhile
		return writeResource(w, status, etag(res.Version), v, "")
	}
	_, _ = w.Write([]byte("]}"))
	return nil
}

// appendMember appends one element of "members" (RFC 7643 §4.2).
func appendMember(b []byte, m store.Member, f memberFields, userBase, groupBase string) []byte {
	b = append(b, '{')
	sep := false
	field := func(name string) {
		if sep {
			b = append(b, ',')
		}
		sep = true
		b = append(b, '"')
		b = append(b, name...)
		b = append(b, '"', ':')
	}
	if f.value {
		field("value")
		b = store.AppendJSONString(b, m.ID)
	}
	if f.display && m.Display != "" {
		field("display")
		b = store.AppendJSONString(b, m.Display)
	}
	if f.typ {
		field("type")
		b = store.AppendJSONString(b, string(m.Kind))
	}
	if f.ref {
		field("$ref")
		base := userBase
		if m.Kind == store.KindGroup {
			base = groupBase
		}
		b = store.AppendJSONString(b, base+url.PathEscape(m.ID))
	}
	return append(b, '}')
}
