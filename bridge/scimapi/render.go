package scimapi

import (
	"encoding/hex"
	"hash/fnv"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/scim-bridge/scim-bridge/filter"
	"github.com/scim-bridge/scim-bridge/store"
)

// timeFormat is how meta.created and meta.lastModified are written (xsd:dateTime,
// RFC 7643 §2.3.5), UTC with millisecond precision.
const timeFormat = "2006-01-02T15:04:05.000Z07:00"

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// etag is the entity tag of a resource version (RFC 7644 §3.14): W/"<version>".
func etag(version int64) string { return `W/"` + itoa(version) + `"` }

// resourceTag is the entity tag of a representation of res showing groups,
// a user's derived groups (nil when the response leaves them out). A user's
// groups change with its groups' writes, not its own version, so a
// representation that shows some carries a digest of them too:
// W/"<version>-<16 hex digits>"; one showing none is W/"<version>". A
// client's If-None-Match then never gets 304 for a user whose groups changed
// (RFC 7232 §2.3: the tag changes with the representation). If-Match
// compares the version alone (parseETag): a user's writes cannot change its
// groups, and a membership change elsewhere must not fail them with 412.
func resourceTag(res *store.Resource, groups []store.GroupRef) string {
	if len(groups) == 0 {
		return etag(res.Version)
	}
	if !slices.IsSortedFunc(groups, func(a, b store.GroupRef) int { return strings.Compare(a.ID, b.ID) }) {
		groups = slices.SortedFunc(slices.Values(groups), func(a, b store.GroupRef) int { return strings.Compare(a.ID, b.ID) })
	}
	h := fnv.New64a()
	for _, g := range groups {
		_, _ = io.WriteString(h, g.ID)
		_, _ = h.Write([]byte{0})
		_, _ = io.WriteString(h, g.DisplayName)
		_, _ = h.Write([]byte{0})
	}
	var sum [8]byte
	return `W/"` + itoa(res.Version) + "-" + hex.EncodeToString(h.Sum(sum[:0])) + `"`
}

// location is the canonical URI of a resource (meta.location, Location header).
func location(base string, rt *resourceType, id string) string {
	return base + "/" + rt.endpoint + "/" + url.PathEscape(id)
}

// renderOpts says what a response includes (RFC 7644 §3.9).
type renderOpts struct {
	base       string
	attributes []string
	excluded   []string
}

func (o renderOpts) projected() bool { return len(o.attributes) > 0 || len(o.excluded) > 0 }

// wants reports whether the (top-level) attribute name will survive projection,
// so expensive derived attributes (a user's groups) are only computed when needed.
func (o renderOpts) wants(name string) bool {
	match := func(list []string) bool {
		for _, a := range list {
			a = strings.ToLower(a)
			if i := strings.LastIndexByte(a, ':'); i >= 0 {
				a = a[i+1:]
			}
			if a == strings.ToLower(name) || strings.HasPrefix(a, strings.ToLower(name)+".") {
				return true
			}
		}
		return false
	}
	if len(o.attributes) > 0 {
		return match(o.attributes)
	}
	return !match(o.excluded)
}

// view builds the full SCIM representation of a stored resource; tag is its
// entity tag (resourceTag), meta.version.
func (srv *Server) view(rt *resourceType, res *store.Resource, groups []store.GroupRef, tag string, o renderOpts) map[string]any {
	v := make(map[string]any, len(res.Attrs)+4)
	for k, val := range res.Attrs {
		v[k] = val
	}
	schemas := []any{rt.core.ID}
	for _, e := range rt.extensions {
		if _, ok := res.Attrs[e.Schema.ID]; ok {
			schemas = append(schemas, e.Schema.ID)
		}
	}
	v["schemas"] = schemas
	v["id"] = res.ID
	v["meta"] = map[string]any{
		"resourceType": string(rt.kind),
		"created":      res.Created.UTC().Format(timeFormat),
		"lastModified": res.LastModified.UTC().Format(timeFormat),
		"location":     location(o.base, rt, res.ID),
		"version":      tag,
	}
	switch rt.kind {
	case store.KindUser:
		if len(groups) > 0 {
			gs := make([]any, 0, len(groups))
			for _, g := range groups {
				gs = append(gs, map[string]any{
					"value":   g.ID,
					"display": g.DisplayName,
					"$ref":    location(o.base, srv.types.group, g.ID),
					"type":    "direct",
				})
			}
			v["groups"] = gs
		}
	case store.KindGroup:
		if ms, ok := res.Attrs["members"].([]any); ok {
			out := make([]any, 0, len(ms))
			for _, m := range ms {
				mm, ok := m.(map[string]any)
				if !ok {
					continue
				}
				c := make(map[string]any, len(mm)+1)
				for k, x := range mm {
					c[k] = x
				}
				if id, ok := mm["value"].(string); ok {
					target := srv.types.user
					if t, _ := mm["type"].(string); t == "Group" {
						target = srv.types.group
					}
					c["$ref"] = location(o.base, target, id)
				}
				out = append(out, c)
			}
			v["members"] = out
		}
	}
	// RFC 7643 §2.5: an empty multi-valued attribute is unassigned; omit it.
	for k, val := range v {
		if arr, ok := val.([]any); ok && len(arr) == 0 {
			delete(v, k)
		}
	}
	// RFC 7643 §7 "returned" and RFC 7644 §3.9: never-returned attributes
	// (password, a tenant's own "returned: never") are always left out,
	// request-only ones unless asked for by name.
	return filter.Project(rt.rs, v, o.attributes, o.excluded)
}

// writeView writes the representation of res showing groups (a user's, nil
// when the response leaves them out), its entity tag computed once for the
// ETag header and meta.version; a 201 also carries the Location header, loc.
func (srv *Server) writeView(w http.ResponseWriter, status int, rt *resourceType, res *store.Resource, groups []store.GroupRef, o renderOpts, loc string) error {
	tag := resourceTag(res, groups)
	return writeResource(w, status, tag, srv.view(rt, res, groups, tag, o), loc)
}

// writeResource writes one resource with its ETag tag; a 201 also carries the
// Location header (RFC 7644 §3.3), loc, whatever the projection kept of meta.
func writeResource(w http.ResponseWriter, status int, tag string, v map[string]any, loc string) error {
	body, err := marshalView(v)
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", contentTypeSCIM)
	h.Set("ETag", tag)
	if status == http.StatusCreated {
		h.Set("Location", loc)
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
	return nil
}

// listAttrParams reads attributes and excludedAttributes (comma-separated).
func splitAttrs(s string) []string {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	parts := strings.Split(s, ",")
	out := parts[:0]
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func nowUTC(now func() time.Time) time.Time { return now().UTC().Truncate(time.Millisecond) }
