package scimapi

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/scim-bridge/scim-bridge/filter"
	"github.com/scim-bridge/scim-bridge/store"
)

// listParams are the query parameters of RFC 7644 §3.4.2 (GET) and §3.4.3 (POST .search).
type listParams struct {
	filter     string
	sortBy     string
	sortOrder  string
	startIndex int
	count      int
	o          renderOpts
}

// listResponse is urn:ietf:params:scim:api:messages:2.0:ListResponse (RFC 7644 §3.4.2).
type listResponse struct {
	Schemas      []string         `json:"schemas"`
	TotalResults int              `json:"totalResults"`
	StartIndex   int              `json:"startIndex"`
	ItemsPerPage int              `json:"itemsPerPage"`
	Resources    []map[string]any `json:"Resources"`
}

// list serves GET /Users and GET /Groups.
func (srv *Server) list(w http.ResponseWriter, r *http.Request, tenant string, rt *resourceType) error {
	q := r.URL.Query()
	p := listParams{
		filter:    q.Get("filter"),
		sortBy:    q.Get("sortBy"),
		sortOrder: q.Get("sortOrder"),
		o:         renderOptsFor(srv, r),
	}
	var err error
	if p.startIndex, err = intParam("startIndex", q.Get("startIndex"), 1); err != nil {
		return err
	}
	if p.count, err = intParam("count", q.Get("count"), srv.opts.MaxResults); err != nil {
		return err
	}
	return srv.runList(w, r, tenant, rt, p)
}

// searchRequest is urn:ietf:params:scim:api:messages:2.0:SearchRequest (RFC 7644 §3.4.3).
type searchRequest struct {
	Schemas            []string `json:"schemas"`
	Attributes         []string `json:"attributes"`
	ExcludedAttributes []string `json:"excludedAttributes"`
	Filter             string   `json:"filter"`
	SortBy             string   `json:"sortBy"`
	SortOrder          string   `json:"sortOrder"`
	StartIndex         *int     `json:"startIndex"`
	Count              *int     `json:"count"`
}

// search serves POST /Users/.search and /Groups/.search.
func (srv *Server) search(w http.ResponseWriter, r *http.Request, tenant string, rt *resourceType) error {
	body, err := srv.readBody(r)
	if err != nil {
		return err
	}
	var sr searchRequest
	if err := json.Unmarshal(body, &sr); err != nil {
		return errBadRequest("invalidSyntax", "malformed SearchRequest: %s", jsonErrorDetail(err))
	}
	ok := false
	for _, s := range sr.Schemas {
		ok = ok || s == SearchSchema
	}
	if !ok {
		return errBadRequest("invalidValue", `"schemas" must be [%q]`, SearchSchema)
	}
	p := listParams{
		filter: sr.Filter, sortBy: sr.SortBy, sortOrder: sr.SortOrder,
		startIndex: 1, count: srv.opts.MaxResults,
		o: renderOpts{base: srv.baseURL(r), attributes: sr.Attributes, excluded: sr.ExcludedAttributes},
	}
	if sr.StartIndex != nil {
		p.startIndex = *sr.StartIndex
	}
	if sr.Count != nil {
		p.count = *sr.Count
	}
	return srv.runList(w, r, tenant, rt, p)
}

func (srv *Server) runList(w http.ResponseWriter, r *http.Request, tenant string, rt *resourceType, p listParams) error {
	q := store.Query{StartIndex: p.startIndex, Count: p.count}
	if q.StartIndex < 1 {
		q.StartIndex = 1 // RFC 7644 §3.4.2.4: less than 1 is interpreted as 1
	}
	if q.Count < 0 {
		q.Count = 0 // negative is interpreted as 0
	}
	if q.Count > srv.opts.MaxResults {
		q.Count = srv.opts.MaxResults // never more than maxResults (ServiceProviderConfig)
	}
	if f := strings.TrimSpace(p.filter); f != "" {
		cf, err := filter.Compile(rt.rs, f)
		if err != nil {
			return err
		}
		q.Filter = cf
	}
	if p.sortBy != "" {
		cmp, err := filter.Comparator(rt.rs, p.sortBy)
		if err != nil {
			return err
		}
		q.SortBy = cmp
	}
	switch strings.ToLower(p.sortOrder) {
	case "", "ascending":
	case "descending":
		q.Descending = true
	default:
		return errBadRequest("invalidValue", `sortOrder must be "ascending" or "descending"`)
	}
	page, err := srv.store.Query(r.Context(), tenant, rt.kind, q)
	if err != nil {
		return err
	}
	groups, err := srv.groupsFor(r.Context(), tenant, rt, page.Resources, p.o)
	if err != nil {
		return err
	}
	lr := listResponse{
		Schemas:      []string{ListSchema},
		TotalResults: page.Total,
		StartIndex:   q.StartIndex,
		ItemsPerPage: len(page.Resources),
		Resources:    make([]map[string]any, 0, len(page.Resources)),
	}
	for _, res := range page.Resources {
		lr.Resources = append(lr.Resources, srv.view(rt, res, groups[res.ID], p.o))
	}
	out, err := json.Marshal(lr)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", contentTypeSCIM)
	_, _ = w.Write(out)
	return nil
}

// intParam parses a non-negative-or-not integer query parameter; absent gives def.
func intParam(name, v string, def int) (int, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, errBadRequest("invalidValue", "%s must be an integer", name)
	}
	return n, nil
}
