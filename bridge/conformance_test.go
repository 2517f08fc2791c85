package bridge

import (
	"net/http"
	"net/url"
	"testing"
)

// These tests replay checks third-party SCIM conformance suites make of the
// discovery endpoints (RFC 7644 §4, RFC 7643 §6–7).

func TestConformanceDiscoveryFilterForbidden(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, "")
	for _, path := range []string{"/Schemas", "/ResourceTypes"} {
		t.Run(path, func(t *testing.T) {
			st, _, body := ts.do("", http.MethodGet, path+"?filter="+url.QueryEscape(`id eq "x"`), nil)
			if st != http.StatusForbidden {
				t.Fatalf("status = %d, want 403 (RFC 7644 §4); body %v", st, body)
			}
			if s, _ := body["schemas"].([]any); len(s) != 1 || s[0] != ErrorSchema {
				t.Errorf("schemas = %v, want [%s]", body["schemas"], ErrorSchema)
			}
			if body["status"] != "403" {
				t.Errorf("status field = %v, want \"403\"", body["status"])
			}
		})
	}
}

func TestConformanceDiscoveryPaging(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, "")
	tests := []struct {
		query     string
		wantItems int
	}{
		{"", 6},
		{"?count=2", 2},
		{"?startIndex=6", 1},
		{"?startIndex=10", 0},
		{"?count=0", 0},
	}
	for _, tc := range tests {
		t.Run("Schemas"+tc.query, func(t *testing.T) {
			st, _, body := ts.do("", http.MethodGet, "/Schemas"+tc.query, nil)
			if st != http.StatusOK {
				t.Fatalf("status = %d, want 200; body %v", st, body)
			}
			list, ok := body["Resources"].([]any)
			if !ok {
				t.Fatalf("Resources = %#v, want an array", body["Resources"])
			}
			if len(list) != tc.wantItems {
				t.Errorf("len(Resources) = %d, want %d", len(list), tc.wantItems)
			}
			if got, _ := body["itemsPerPage"].(float64); int(got) != len(list) {
				t.Errorf("itemsPerPage = %v, want len(Resources) = %d", body["itemsPerPage"], len(list))
			}
			if got, _ := body["totalResults"].(float64); got != 6 {
				t.Errorf("totalResults = %v, want 6", body["totalResults"])
			}
		})
	}
}
