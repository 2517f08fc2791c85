package scimapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"sync"

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
		"bulk":             map[string]any{"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
		"filter":           map[string]any{"supported": true, "maxResults": srv.opts.MaxResults},
		"changePassword":   map[string]any{"supported": false},
		"sort":             map[string]any{"supported": true},
		"etag":             map[string]any{"supported": true},
		"meta": map[string]any{
			"resourceType": "ServiceProviderConfig",
			"location":     base + "/ServiceProviderConfig",
		},
	}
	doc["authenticationSchemes"] = srv.authSchemes()
	body, _ := json.Marshal(doc)
	w.Header().Set("Content-Type", contentTypeSCIM)
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

func (srv *Server) serveDiscovery(w http.ResponseWriter, r *http.Request, path string) {
	d := &srv.discovery
	d.once.Do(func() {
		rts := []scim.ResourceType{
			{
				ID: optional.NewString("User"), Name: "User", Endpoint: "/Users",
				Description: optional.NewString("User Account"),
				Schema:      srv.types.user.core,
				SchemaExtensions: []scim.SchemaExtension{
					{Schema: srv.types.user.extensions[0]},
				},
			},
			{
				ID: optional.NewString("Group"), Name: "Group", Endpoint: "/Groups",
				Description: optional.NewString("Group"),
				Schema:      srv.types.group.core,
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
