package authress

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"

	"github.com/scim-bridge/scim-bridge/connectors"
)

// connectionsPath is the collection route of the ConnectionsApi.
const connectionsPath = "/v1/connections"

// maxPages bounds a listing, in case an API keeps answering new cursors.
const maxPages = 10000

// errStop ends a listing early without an error.
var errStop = errors.New("stop listing")

// connectionPage is one answer of GET /v1/connections (ConnectionCollection).
type connectionPage struct {
	Connections []json.RawMessage `json:"connections"`
	Pagination  struct {
		Next *struct {
			Cursor string `json:"cursor"`
		} `json:"next"`
	} `json:"pagination"`
	Links struct {
		Next *struct {
			Href string `json:"href"`
		} `json:"next"`
	} `json:"links"`
}

// nextCursor is pagination.next.cursor, else the cursor of links.next.href.
func (p *connectionPage) nextCursor() string {
	if p.Pagination.Next != nil && p.Pagination.Next.Cursor != "" {
		return p.Pagination.Next.Cursor
	}
	if p.Links.Next != nil && p.Links.Next.Href != "" {
		if u, err := url.Parse(p.Links.Next.Href); err == nil {
			return u.Query().Get("cursor")
		}
	}
	return ""
}

// eachConnection lists every connection, following the cursor to the end, and
// calls fn for each; fn returning errStop ends the listing early.
func (c *connector) eachConnection(ctx context.Context, fn func(remote) error) error {
	cursor := ""
	seen := map[string]bool{}
	for page := 0; ; page++ {
		if page == maxPages {
			return &connectors.Error{Class: connectors.Permanent, Op: "GET " + connectionsPath,
				Msg: fmt.Sprintf("more than %d pages", maxPages)}
		}
		q := url.Values{"limit": {strconv.Itoa(c.pageSize)}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		var p connectionPage
		if _, err := c.client.Do(ctx, "GET", connectionsPath+"?"+q.Encode(), nil, &p); err != nil {
			return fmt.Errorf("list connections: %w", err)
		}
		for _, raw := range p.Connections {
			r, err := decodeRemote(raw)
			if err != nil {
				return &connectors.Error{Class: connectors.Permanent, Op: "GET " + connectionsPath,
					Msg: "malformed connection in list", Err: err}
			}
			if r.conn.ConnectionID == "" {
				c.log.Warn().Msg("authress list answered a connection without connectionId: skipped")
				continue
			}
			if err := fn(r); err != nil {
				if errors.Is(err, errStop) {
					return nil
				}
				return err
			}
		}
		next := p.nextCursor()
		if next == "" {
			return nil
		}
		if seen[next] {
			return &connectors.Error{Class: connectors.Permanent, Op: "GET " + connectionsPath,
				Msg: "the list repeated a cursor"}
		}
		seen[next] = true
		cursor = next
	}
}

// getConnection reads one connection; a 404 is (remote{}, false, nil).
func (c *connector) getConnection(ctx context.Context, id string) (remote, bool, error) {
	var raw json.RawMessage
	if _, err := c.client.Do(ctx, "GET", connectionPath(id), nil, &raw); err != nil {
		if connectors.IsNotFound(err) {
			return remote{}, false, nil
		}
		return remote{}, false, fmt.Errorf("get connection %s: %w", id, err)
	}
	r, err := decodeRemote(raw)
	if err != nil {
		return remote{}, false, &connectors.Error{Class: connectors.Permanent, Op: "GET " + connectionsPath + "/{id}",
			Msg: "malformed connection", Err: err}
	}
	if r.conn.ConnectionID == "" {
		r.conn.ConnectionID = id
	}
	return r, true, nil
}

func connectionPath(id string) string {
	return connectionsPath + "/" + url.PathEscape(id)
}
