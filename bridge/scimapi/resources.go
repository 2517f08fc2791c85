package scimapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/scim-bridge/scim-bridge/bridge/internal/uuid"
	"github.com/scim-bridge/scim-bridge/filter"
	"github.com/scim-bridge/scim-bridge/store"
)

// maxOptimisticRetries bounds read-modify-write retries of a PATCH that races
// another writer of the same resource.
const maxOptimisticRetries = 16

func renderOptsFor(srv *Server, r *http.Request) renderOpts {
	q := r.URL.Query()
	return renderOpts{
		base:       srv.baseURL(r),
		attributes: splitAttrs(q.Get("attributes")),
		excluded:   splitAttrs(q.Get("excludedAttributes")),
	}
}

// decodeResource parses a POST or PUT body: a JSON object whose "schemas" (when
// given) names only this resource type's schemas, normalized against the schema,
// with the required attribute present (RFC 7643 §4.1.1 userName, §4.2 displayName).
func (srv *Server) decodeResource(rt *resourceType, body []byte) (map[string]any, error) {
	raw, err := filter.DecodeJSONObject(string(body))
	if err != nil {
		return nil, errBadRequest("invalidSyntax", "request body is not a JSON object: %s", jsonErrorDetail(err))
	}
	if raw == nil {
		return nil, errBadRequest("invalidSyntax", "request body is not a JSON object")
	}
	if err := checkSchemas(rt, raw); err != nil {
		return nil, err
	}
	attrs, err := filter.Normalize(rt.rs, raw)
	if err != nil {
		return nil, err
	}
	delete(attrs, "password") // never stored: the bridge does not authenticate users
	if err := checkRequired(rt, attrs); err != nil {
		return nil, err
	}
	return attrs, nil
}

func jsonErrorDetail(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("syntax error at byte %d", se.Offset)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Field != "" {
			return fmt.Sprintf("%q must be %s, not a JSON %s", te.Field, jsonKind(te.Type.Kind()), te.Value)
		}
		return "expected an object"
	}
	return "malformed JSON"
}

// jsonKind names what a Go field of kind k takes in JSON.
func jsonKind(k reflect.Kind) string {
	switch k {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "a boolean"
	case reflect.String:
		return "a string"
	case reflect.Slice, reflect.Array:
		return "an array"
	}
	return "an object"
}

func checkSchemas(rt *resourceType, raw map[string]any) error {
	sv, ok := raw["schemas"]
	if !ok {
		return nil // tolerated: several clients omit it; the endpoint decides the type
	}
	list, ok := sv.([]any)
	if !ok {
		return errBadRequest("invalidValue", `"schemas" must be an array of schema URNs`)
	}
	hasCore := false
	for _, s := range list {
		str, ok := s.(string)
		if !ok {
			return errBadRequest("invalidValue", `"schemas" must be an array of schema URNs`)
		}
		known := false
		for id := range rt.schemaIDs {
			if strings.EqualFold(id, str) {
				known = true
				if id == rt.core.ID {
					hasCore = true
				}
			}
		}
		if !known {
			return errBadRequest("invalidValue", "unknown schema %q for %s", str, rt.endpoint)
		}
	}
	if !hasCore {
		return errBadRequest("invalidValue", `"schemas" must include %s`, rt.core.ID)
	}
	return nil
}

// checkRequired checks what RFC 7643 makes required (§4.1 userName, §4.2 a
// group's displayName, required extensions and their required attributes);
// a blank userName or displayName counts as missing.
func checkRequired(rt *resourceType, attrs map[string]any) error {
	name := "userName"
	if rt.kind == store.KindGroup {
		name = "displayName"
	}
	if s, _ := attrs[name].(string); strings.TrimSpace(s) == "" {
		return errBadRequest("invalidValue", "%s is required", name)
	}
	return filter.CheckRequired(rt.rs, attrs)
}

// create serves POST /Users and POST /Groups (RFC 7644 §3.3).
func (srv *Server) create(w http.ResponseWriter, r *http.Request, tenant string, rt *resourceType) error {
	body, err := srv.readBody(r)
	if err != nil {
		return err
	}
	attrs, err := srv.decodeResource(rt, body)
	if err != nil {
		return err
	}
	if rt.kind == store.KindGroup {
		if err := srv.resolveMembers(r.Context(), tenant, attrs, nil); err != nil {
			return err
		}
	}
	now := nowUTC(srv.now)
	res := &store.Resource{ID: uuid.New(), Kind: rt.kind, Created: now, LastModified: now, Attrs: attrs}
	if err := srv.store.Create(r.Context(), tenant, res); err != nil {
		return err
	}
	srv.written()
	noteWrite(r.Context(), rt.kind, res.ID, res, nil)
	o := renderOptsFor(srv, r)
	return srv.writeView(w, http.StatusCreated, rt, res, nil, o, location(o.base, rt, res.ID))
}

// get serves GET /Users/{id} and /Groups/{id} (RFC 7644 §3.4.1), honouring
// If-None-Match (304) and attributes / excludedAttributes.
func (srv *Server) get(w http.ResponseWriter, r *http.Request, tenant string, rt *resourceType, id string) error {
	if rt.kind == store.KindGroup {
		return srv.getGroup(w, r, tenant, rt, id)
	}
	o := renderOptsFor(srv, r)
	res, groups, err := srv.loadWithGroups(r.Context(), tenant, rt, id, 0, o)
	if err != nil {
		return err
	}
	tag := resourceTag(res, groups)
	if done, err := readConditions(w, r, res.Version, tag); done || err != nil {
		return err
	}
	return writeResource(w, http.StatusOK, tag, srv.view(rt, res, groups, tag, o), "")
}

// loadWithGroups reads a resource for a request as load does and, for a user
// whose response shows its derived groups (which no write of the user
// changes), those groups in the same round trip. A group is read without its
// members (a PUT's store write computes the membership difference).
func (srv *Server) loadWithGroups(ctx context.Context, tenant string, rt *resourceType, id string, ifVersion int64, o renderOpts) (*store.Resource, []store.GroupRef, error) {
	var (
		res    *store.Resource
		groups []store.GroupRef
		err    error
	)
	switch {
	case rt.kind == store.KindGroup:
		res, _, err = srv.store.GetGroup(ctx, tenant, id)
	case o.wants("groups"):
		res, groups, err = srv.store.GetUserWithGroups(ctx, tenant, id)
	default:
		res, err = srv.store.Get(ctx, tenant, rt.kind, id)
	}
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, nil, errNotFound(rt.kind, id)
		}
		return nil, nil, err
	}
	if ifVersion != 0 && ifVersion != res.Version {
		return nil, nil, asHTTPError(store.ErrPrecondition)
	}
	return res, groups, nil
}

// load reads a resource for a request: 404 when it does not exist, 412 when
// ifVersion is set and is not the stored version.
func (srv *Server) load(ctx context.Context, tenant string, rt *resourceType, id string, ifVersion int64) (*store.Resource, error) {
	res, err := srv.store.Get(ctx, tenant, rt.kind, id)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, errNotFound(rt.kind, id)
		}
		return nil, err
	}
	if ifVersion != 0 && ifVersion != res.Version {
		return nil, asHTTPError(store.ErrPrecondition)
	}
	return res, nil
}

// groupsFor derives the read-only "groups" of users when the response includes it.
func (srv *Server) groupsFor(ctx context.Context, tenant string, rt *resourceType, rs []*store.Resource, o renderOpts) (map[string][]store.GroupRef, error) {
	if rt.kind != store.KindUser || len(rs) == 0 || !o.wants("groups") {
		return nil, nil
	}
	ids := make([]string, len(rs))
	for i, r := range rs {
		ids[i] = r.ID
	}
	g, err := srv.store.GroupsOf(ctx, tenant, ids)
	if err != nil {
		return nil, fmt.Errorf("groups of users: %w", err)
	}
	return g, nil
}

// replace serves PUT (RFC 7644 §3.5.1): the resource's attributes become the body's.
func (srv *Server) replace(w http.ResponseWriter, r *http.Request, tenant string, rt *resourceType, id string) error {
	body, err := srv.readBody(r)
	if err != nil {
		return err
	}
	attrs, err := srv.decodeResource(rt, body)
	if err != nil {
		return err
	}
	ctx := r.Context()
	ifVersion, err := srv.writeVersion(ctx, r, tenant, rt, id)
	if err != nil {
		return err
	}
	o := renderOptsFor(srv, r)
	if rt.kind == store.KindUser && !rt.immutable {
		// One step: the store keeps the creation time, checks If-Match and
		// answers with the user's groups. (A schema with immutable attributes
		// takes the general path below: the stored values are read first.)
		res := &store.Resource{ID: id, Kind: rt.kind, LastModified: nowUTC(srv.now), Attrs: attrs}
		groups, err := srv.store.ReplaceUser(ctx, tenant, res, ifVersion)
		if errors.Is(err, store.ErrNotFound) {
			return errNotFound(rt.kind, id)
		}
		if err != nil {
			return err
		}
		srv.written()
		noteWrite(ctx, rt.kind, id, res, nil)
		return srv.writeView(w, http.StatusOK, rt, res, groups, o, "")
	}
	var (
		groups []store.GroupRef
		res    *store.Resource
	)
	for attempt := 0; ; attempt++ {
		var cur *store.Resource
		cur, groups, err = srv.loadWithGroups(ctx, tenant, rt, id, ifVersion, o)
		if err != nil {
			return err
		}
		if attempt > 0 { // KeepImmutable and resolveMembers changed the attributes
			if attrs, err = srv.decodeResource(rt, body); err != nil {
				return err
			}
		}
		if rt.immutable {
			if err := rt.rs.KeepImmutable(cur.Attrs, attrs); err != nil {
				return err
			}
		}
		if rt.kind == store.KindGroup {
			if err := srv.resolveMembers(ctx, tenant, attrs, nil); err != nil {
				return err
			}
		}
		res = &store.Resource{ID: id, Kind: rt.kind, Created: cur.Created, LastModified: nowUTC(srv.now), Attrs: attrs}
		err = srv.store.Replace(ctx, tenant, res, cur.Version)
		if err == nil {
			break
		}
		if !errors.Is(err, store.ErrPrecondition) || ifVersion != 0 {
			return err
		}
		if !rt.immutable {
			// Another writer got in between; PUT is last-writer-wins without If-Match.
			if err = srv.store.Replace(ctx, tenant, res, 0); err != nil {
				return err
			}
			break
		}
		// The immutable values were checked against the version read: check
		// them again against the new one (never a blind write).
		if attempt >= maxOptimisticRetries {
			return busyError(err)
		}
		raceBackoff(attempt)
	}
	srv.written()
	noteWrite(ctx, rt.kind, id, res, nil)
	return srv.writeView(w, http.StatusOK, rt, res, groups, o, "")
}

// busyError is the answer to a write without precondition that kept losing
// optimistic races: 503 with Retry-After, never the 412 the client did not ask
// for.
func busyError(err error) error {
	return &HTTPError{Status: http.StatusServiceUnavailable, RetryAfter: time.Second,
		Detail: "the resource is being modified by other requests; retry", Err: err}
}

// raceBackoff waits a random moment, growing with attempt, before an
// optimistic write that lost a race reads again: it de-correlates from the
// other writers.
func raceBackoff(attempt int) {
	time.Sleep(time.Duration(rand.Int64N(int64(time.Millisecond) << min(attempt, 4))))
}

// patch serves PATCH (RFC 7644 §3.5.2): all operations apply or none. The
// read-modify-write is optimistic: a concurrent write of the same resource makes it
// start over (or fail with 412 when the client sent If-Match).
func (srv *Server) patch(w http.ResponseWriter, r *http.Request, tenant string, rt *resourceType, id string) error {
	body, err := srv.readBody(r)
	if err != nil {
		return err
	}
	ops, err := filter.ParsePatch(rt.rs, body)
	if err != nil {
		return err
	}
	ctx := r.Context()
	ifVersion, err := srv.writeVersion(ctx, r, tenant, rt, id)
	if err != nil {
		return err
	}
	if rt.kind == store.KindGroup {
		if handled, err := srv.patchGroup(w, r, tenant, rt, id, ops, ifVersion); handled || err != nil {
			return err
		}
	}
	o := renderOptsFor(srv, r)
	// A user may come from the store's cache (one round trip instead of
	// two): its write is then conditional on that exact stored state, and
	// anything else — a stale entry, a PATCH that changes nothing, an
	// If-Match the entry does not satisfy, an error — is decided again on a
	// fresh read.
	useCache := rt.kind == store.KindUser
	for attempt := 0; ; attempt++ {
		var cur *store.Resource
		var groups []store.GroupRef
		cached := false
		if useCache {
			useCache = false
			cur, cached, err = srv.store.GetUserForUpdate(ctx, tenant, id)
			if errors.Is(err, store.ErrNotFound) {
				err = errNotFound(rt.kind, id)
			}
			if err == nil && ifVersion != 0 && ifVersion != cur.Version {
				if !cached {
					return asHTTPError(store.ErrPrecondition)
				}
				cur, cached = nil, false
			}
		}
		if cur == nil && err == nil {
			// A user is read without its groups: the write answers with them.
			cur, err = srv.load(ctx, tenant, rt, id, ifVersion) // a group with its members: the general path
		}
		if err != nil {
			return err
		}
		out, changed, err := filter.Apply(rt.rs, cur.Attrs, ops)
		if err != nil {
			if cached {
				continue // decide on the stored user
			}
			return err
		}
		if _, has := out["password"]; has && changed {
			// Never stored, as in decodeResource: a PATCH setting only a
			// password (Okta's password sync) changes nothing.
			out = maps.Clone(out)
			delete(out, "password")
			changed = !reflect.DeepEqual(out, cur.Attrs)
		}
		if cached && !changed {
			continue // the stored user may differ: no answer from the cache alone
		}
		res := cur
		if changed {
			if err := checkRequired(rt, out); err != nil {
				if cached {
					continue
				}
				return err
			}
			if rt.kind == store.KindGroup {
				if err := srv.resolveMembers(ctx, tenant, out, cur.Attrs); err != nil {
					return err
				}
			}
			res = &store.Resource{ID: id, Kind: rt.kind, Created: cur.Created, LastModified: nowUTC(srv.now), Attrs: out}
			switch {
			case cached:
				groups, err = srv.store.ReplaceUserFrom(ctx, tenant, res, cur)
				if errors.Is(err, store.ErrPrecondition) || errors.Is(err, store.ErrNotFound) {
					continue // the cached user was stale: read it
				}
			case rt.kind == store.KindUser:
				groups, err = srv.store.ReplaceUser(ctx, tenant, res, cur.Version)
			default:
				err = srv.store.Replace(ctx, tenant, res, cur.Version)
			}
			if err != nil {
				if errors.Is(err, store.ErrPrecondition) && ifVersion == 0 {
					if attempt < maxOptimisticRetries {
						raceBackoff(attempt)
						continue
					}
					return busyError(err)
				}
				return err
			}
			srv.written()
		}
		if rt.kind == store.KindUser && !changed {
			g, err := srv.groupsFor(ctx, tenant, rt, []*store.Resource{cur}, o)
			if err != nil {
				return err
			}
			groups = g[id]
		}
		noteWrite(ctx, rt.kind, id, res, ops)
		if rt.kind == store.KindGroup && !o.projected() {
			// RFC 7644 §3.5.2 allows 204: Entra and Okta push membership changes to
			// groups that may hold thousands of members; echoing them is waste.
			w.Header().Set("ETag", etag(res.Version))
			w.WriteHeader(http.StatusNoContent)
			return nil
		}
		return srv.writeView(w, http.StatusOK, rt, res, groups, o, "")
	}
}

// delete serves DELETE (RFC 7644 §3.6). Deleting a user removes it from every group.
func (srv *Server) delete(w http.ResponseWriter, r *http.Request, tenant string, rt *resourceType, id string) error {
	ifVersion, err := srv.writeVersion(r.Context(), r, tenant, rt, id)
	if err != nil {
		return err
	}
	if err := srv.store.Delete(r.Context(), tenant, rt.kind, id, ifVersion); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return errNotFound(rt.kind, id)
		}
		return err
	}
	srv.written()
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// resolveMembers checks that every member of a group refers to an existing user
// or group of the tenant and fills "type" and "display" (the member's own name,
// RFC 7643 §4.2: display is read-only). Members already present in old (the
// stored group) are trusted, so adding one member to a group read with its
// members costs one lookup, not one per member.
func (srv *Server) resolveMembers(ctx context.Context, tenant string, attrs, old map[string]any) error {
	ms, _ := attrs["members"].([]any)
	if len(ms) == 0 {
		delete(attrs, "members")
		return nil
	}
	known := map[string]map[string]any{}
	if om, ok := old["members"].([]any); ok {
		for _, m := range om {
			if mm, ok := m.(map[string]any); ok {
				if v, ok := mm["value"].(string); ok {
					known[v] = mm
				}
			}
		}
	}
	refs, err := memberRefs(ms)
	if err != nil {
		return err
	}
	seen := make(map[string]bool, len(refs))
	out := ms[:0]
	var unknown []memberRef
	var fresh []map[string]any
	for i, ref := range refs {
		if seen[ref.id] {
			continue // the same member twice is once
		}
		seen[ref.id] = true
		mm := ms[i].(map[string]any)
		out = append(out, mm)
		if k, ok := known[ref.id]; ok {
			mm["type"], mm["display"] = k["type"], k["display"]
			if mm["display"] == nil {
				delete(mm, "display")
			}
			continue
		}
		unknown = append(unknown, ref)
		fresh = append(fresh, mm)
	}
	attrs["members"] = out
	resolved, err := srv.resolveAdds(ctx, tenant, unknown)
	if err != nil {
		return err
	}
	for i, m := range resolved {
		fresh[i]["type"] = string(m.Kind)
		if m.Display != "" {
			fresh[i]["display"] = m.Display
		} else {
			delete(fresh[i], "display")
		}
	}
	return nil
}

// writeVersion evaluates the conditions of a write (PUT, PATCH, DELETE) of a
// resource (RFC 7232 §3.1, §3.2, §6; RFC 7644 §3.14) and returns the version
// the write must find (0: any). If-Match holds when it is "*" and the
// resource exists, or lists its entity tag; If-None-Match fails a write when
// it is "*" and the resource exists, or lists its entity tag; either failing
// is 412. A single entity tag in If-Match, the usual case, is checked by the
// write itself (atomically, no read); any other condition reads the
// resource's version first and makes the write conditional on it, so that a
// change in between is 412 too. An entity tag that is not one of ours never
// matches.
func (srv *Server) writeVersion(ctx context.Context, r *http.Request, tenant string, rt *resourceType, id string) (int64, error) {
	im := strings.TrimSpace(r.Header.Get("If-Match"))
	inm := strings.TrimSpace(r.Header.Get("If-None-Match"))
	if inm == "" && im == "" {
		return 0, nil
	}
	if inm == "" && im != "*" && !strings.Contains(im, ",") {
		if v, ok := parseETag(im); ok {
			return v, nil
		}
		return 0, asHTTPError(store.ErrPrecondition)
	}
	var cur *store.Resource
	var err error
	if rt.kind == store.KindGroup {
		cur, _, err = srv.store.GetGroup(ctx, tenant, id)
	} else {
		cur, err = srv.store.Get(ctx, tenant, rt.kind, id)
	}
	if errors.Is(err, store.ErrNotFound) {
		return 0, nil // the write answers 404, whatever the conditions
	}
	if err != nil {
		return 0, err
	}
	v := cur.Version
	if im != "" && !etagMatches(im, v) {
		return 0, asHTTPError(store.ErrPrecondition)
	}
	if inm != "" && etagMatches(inm, v) {
		return 0, &HTTPError{Status: http.StatusPreconditionFailed, Detail: "the resource matches If-None-Match", Err: store.ErrPrecondition}
	}
	return v, nil
}

// readConditions answers a GET (or HEAD) of a resource at version, whose
// representation has entity tag tag (resourceTag): 412 when If-Match does not
// hold (RFC 7232 §3.1; the version alone), true after writing 304 when
// If-None-Match names the tag (§3.2, weak comparison). The resource a write answers with is not
// concerned: the write evaluated the conditions before it ran (writeVersion).
func readConditions(w http.ResponseWriter, r *http.Request, version int64, tag string) (bool, error) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false, nil
	}
	if im := r.Header.Get("If-Match"); im != "" && !etagMatches(im, version) {
		return false, asHTTPError(store.ErrPrecondition)
	}
	if inm := r.Header.Get("If-None-Match"); inm != "" && tagListed(inm, tag) {
		w.Header().Set("ETag", tag)
		w.WriteHeader(http.StatusNotModified)
		return true, nil
	}
	return false, nil
}

// etagMatches reports whether an If-Match or If-None-Match value holds for a
// resource at version (0: none exists): "*" for any existing one, else a
// listed entity tag equal to its own (weak comparison).
func etagMatches(list string, version int64) bool {
	if version <= 0 {
		return false
	}
	if strings.TrimSpace(list) == "*" {
		return true
	}
	for _, tag := range strings.Split(list, ",") {
		if v, ok := parseETag(tag); ok && v == version {
			return true
		}
	}
	return false
}

// tagListed reports whether an If-None-Match value holds for a
// representation with entity tag tag: "*", or tag listed (weak comparison,
// RFC 7232 §2.3.2: the opaque tags equal, W/ ignored).
func tagListed(list, tag string) bool {
	if strings.TrimSpace(list) == "*" {
		return true
	}
	want := opaqueTag(tag)
	for _, t := range strings.Split(list, ",") {
		if opaqueTag(t) == want {
			return true
		}
	}
	return false
}

// opaqueTag is an entity tag without white space and weakness indicator.
func opaqueTag(tag string) string {
	tag = strings.TrimSpace(tag)
	tag = strings.TrimPrefix(tag, "W/")
	return strings.TrimPrefix(tag, "w/")
}

// parseETag reads the version of one of our entity tags: W/"<version>", or
// W/"<version>-<digest>" (resourceTag).
func parseETag(tag string) (int64, bool) {
	tag = opaqueTag(tag)
	if len(tag) < 2 || tag[0] != '"' || tag[len(tag)-1] != '"' {
		return 0, false
	}
	tag = tag[1 : len(tag)-1]
	if i := strings.IndexByte(tag, '-'); i > 0 {
		tag = tag[:i]
	}
	v, err := strconv.ParseInt(tag, 10, 64)
	if err != nil || v <= 0 {
		return 0, false
	}
	return v, true
}
