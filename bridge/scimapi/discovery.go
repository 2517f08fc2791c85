package scimapi

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/elimity-com/scim"
	"github.com/elimity-com/scim/optional"
)

// serveServiceProviderConfig answers /ServiceProviderConfig (RFC 7643 §5) with what
// the endpoint really supports.
func (srv *Server) serveServiceProviderConfig(w http.ResponseWriter, r *http.Request) {
	base := srv.baseURL(r)
	doc := map[string]any{
		"schemas":          []string{SPConfigSchema},
		"documentationUri": "https://github.com/scim-bridge/scim-bridge#readme",
		"patch":            map[string]any{"supported": true},
		"bulk": map[string]any{"supported": true, "maxOperations": srv.opts.BulkMaxOperations,
			"maxPayloadSize": srv.opts.BulkMaxPayloadBytes},
		"filter": map[string]any{"supported": true, "maxResults": srv.opts.MaxResults},
		// RFC 9865 §4. Index paging stays the default so clients written for
		// RFC 7644 alone see no change.
		"pagination": map[string]any{
			"cursor": true, "index": true, "defaultPaginationMethod": "index",
			"defaultPageSize": srv.opts.MaxResults, "maxPageSize": srv.opts.MaxResults,
			"cursorTimeout": int64(srv.cursorTimeout() / time.Second),
		},
		"changePassword": map[string]any{"supported": false},
		"sort":           map[string]any{"supported": true},
		"etag":           map[string]any{"supported": true},
		"meta": map[string]any{
			"resourceType": "ServiceProviderConfig",
			"location":     base + "/ServiceProviderConfig",
		},
	}
	doc["authenticationSchemes"] = srv.authSchemes()
	body, _ := json.Marshal(doc)
	writeDiscoveryResource(w, r, body)
}

// writeDiscoveryResource writes one discovery resource (ServiceProviderConfig,
// a Schema, a ResourceType) with a weak ETag of its content, answering a
// matching If-None-Match with 304 (RFC 7644 §3.14 versions every resource).
func writeDiscoveryResource(w http.ResponseWriter, r *http.Request, body []byte) {
	sum := sha256.Sum256(body)
	tag := `W/"` + hex.EncodeToString(sum[:8]) + `"`
	h := w.Header()
	h.Set("Content-Type", contentTypeSCIM)
	h.Set("ETag", tag)
	if inm := r.Header.Get("If-None-Match"); inm != "" {
		for _, t := range strings.Split(inm, ",") {
			if t = strings.TrimSpace(t); t == "*" || strings.TrimPrefix(t, "W/") == strings.TrimPrefix(tag, "W/") {
				w.WriteHeader(http.StatusNotModified)
				return
			}
		}
	}
	_, _ = w.Write(body)
}

// discovery serves /Schemas and /ResourceTypes through elimity-com/scim, from the
// same schema definitions the resource handlers validate and filter with. The
// resource routes themselves are served by this package (see scim.go): they need
// If-Match, sorting, projection and PATCH semantics the library leaves to handlers,
// and a fast path around its per-request filter and PATCH validation.
type discovery struct {
	once sync.Once
	srv  http.Handler
	err  error
}

// serveDiscovery serves /Schemas and /ResourceTypes of types: those of the
// tenant whose token the request carries (its own extensions included), else
// the ones every tenant shares.
func (srv *Server) serveDiscovery(w http.ResponseWriter, r *http.Request, path string, types *resourceTypes) {
	d := &types.discovery
	d.once.Do(func() {
		exts := func(rt *resourceType) []scim.SchemaExtension {
			out := make([]scim.SchemaExtension, len(rt.extensions))
			for i, e := range rt.extensions {
				out[i] = scim.SchemaExtension{Schema: e.Schema, Required: e.Required}
			}
			return out
		}
		rts := []scim.ResourceType{
			{
				ID: optional.NewString("User"), Name: "User", Endpoint: "/Users",
				Description:      optional.NewString("User Account"),
				Schema:           types.user.core,
				SchemaExtensions: exts(types.user),
			},
			{
				ID: optional.NewString("Group"), Name: "Group", Endpoint: "/Groups",
				Description:      optional.NewString("Group"),
				Schema:           types.group.core,
				SchemaExtensions: exts(types.group),
			},
		}
		srv, err := scim.NewServer(&scim.ServerArgs{
			ServiceProviderConfig: &scim.ServiceProviderConfig{
				SupportFiltering: true, SupportPatch: true, MaxResults: srv.opts.MaxResults,
			},
			ResourceTypes: rts,
		})
		d.srv, d.err = srv, err
	})
	if d.err != nil {
		srv.log.Error().Err(d.err).Msg("discovery server")
		writeError(w, &HTTPError{Status: http.StatusInternalServerError, Detail: "internal error"})
		return
	}
	if (path == "/Schemas" || path == "/ResourceTypes") && r.URL.Query().Has("filter") {
		// RFC 7644 §4: a filter on the discovery endpoints SHOULD be refused with
		// 403, so clients never assume that matching conditions held.
		writeError(w, &HTTPError{Status: http.StatusForbidden, Detail: "filtering is not supported on " + path[1:]})
		return
	}
	r2 := r.Clone(r.Context())
	r2.URL.Path = "/v2" + path
	rec := &bufferedResponse{header: http.Header{}, code: http.StatusOK}
	d.srv.ServeHTTP(rec, r2)
	body := rec.body.Bytes()
	if rec.code == http.StatusOK {
		body = withDiscoveryMeta(body, srv.baseURL(r))
		if strings.HasPrefix(path, "/Schemas/") || strings.HasPrefix(path, "/ResourceTypes/") {
			writeDiscoveryResource(w, r, body)
			return
		}
	}
	w.Header().Set("Content-Type", contentTypeSCIM)
	w.WriteHeader(rec.code)
	_, _ = w.Write(body)
}

// bufferedResponse holds the library's answer so it can be completed.
type bufferedResponse struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (b *bufferedResponse) Header() http.Header         { return b.header }
func (b *bufferedResponse) Write(p []byte) (int, error) { return b.body.Write(p) }
func (b *bufferedResponse) WriteHeader(code int)        { b.code = code }

// withDiscoveryMeta adds what RFC 7643 §6 and §7 require of Schema and
// ResourceType resources and the library leaves out: "schemas" and "meta"
// (resourceType, location).
func withDiscoveryMeta(body []byte, base string) []byte {
	var doc map[string]any
	if json.Unmarshal(body, &doc) != nil {
		return body
	}
	decorate := func(res map[string]any) {
		id, _ := res["id"].(string)
		if _, isType := res["endpoint"]; isType {
			res["schemas"] = []any{"urn:ietf:params:scim:schemas:core:2.0:ResourceType"}
			res["meta"] = map[string]any{"resourceType": "ResourceType", "location": base + "/ResourceTypes/" + id}
			return
		}
		res["schemas"] = []any{"urn:ietf:params:scim:schemas:core:2.0:Schema"}
		res["meta"] = map[string]any{"resourceType": "Schema", "location": base + "/Schemas/" + id}
		if attrs, ok := res["attributes"].([]any); ok {
			fixSchemaAttrs(id, attrs)
		}
	}
	if _, isList := doc["totalResults"]; isList {
		// A page past the end (or count=0) comes back from the library as
		// "Resources": null with itemsPerPage echoing count; RFC 7644 §3.4.2
		// wants itemsPerPage to be the number of resources returned.
		list, _ := doc["Resources"].([]any)
		if list == nil {
			list = []any{}
		}
		for _, e := range list {
			if m, ok := e.(map[string]any); ok {
				decorate(m)
			}
		}
		doc["Resources"] = list
		doc["itemsPerPage"] = len(list)
	} else if _, ok := doc["id"]; ok {
		decorate(doc)
	}
	out, err := json.Marshal(doc)
	if err != nil {
		return body
	}
	return out
}

// fixSchemaAttrs corrects, in a served schema, what the library declares
// otherwise than the endpoint behaves: a group's displayName is unique in its
// tenant (a second one answers 409 uniqueness), and the service provider
// configuration's limits are integers (RFC 7643 §5), not decimals.
func fixSchemaAttrs(schemaID string, attrs []any) {
	for _, a := range attrs {
		m, ok := a.(map[string]any)
		if !ok {
			continue
		}
		name, _ := m["name"].(string)
		switch {
		case schemaID == GroupSchema && name == "displayName":
			m["uniqueness"] = "server"
		case schemaID == SPConfigSchema && (name == "maxOperations" || name == "maxPayloadSize" || name == "maxResults"):
			m["type"] = "integer"
			delete(m, "caseExact")
		}
		if subs, ok := m["subAttributes"].([]any); ok {
			fixSchemaAttrs(schemaID, subs)
		}
	}
}
