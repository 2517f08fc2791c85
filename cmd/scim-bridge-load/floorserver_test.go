package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/alicebob/miniredis/v2"
)

func TestFloorBodies(t *testing.T) {
	t.Parallel()
	u := floorUser(0)
	if n := len(u); n < 600 || n > 800 {
		t.Errorf("floorUser is %d bytes, want about 700", n)
	}
	for _, k := range []int{0, floorKeys - 1} {
		v := floorValue(k)
		if len(v) != floorValueSize {
			t.Errorf("floorValue(%d) is %d bytes, want %d", k, len(v), floorValueSize)
		}
		var doc struct {
			ID       string `json:"id"`
			UserName string `json:"userName"`
		}
		if err := json.Unmarshal(v, &doc); err != nil {
			t.Fatalf("floorValue(%d) is not JSON: %v", k, err)
		}
		if doc.ID == "" || doc.UserName == "" {
			t.Errorf("floorValue(%d) lacks id or userName: %+v", k, doc)
		}
	}
}

func TestFloorHandler(t *testing.T) {
	t.Parallel()
	mr := miniredis.RunT(t)
	rdb, err := floorRedis("redis://" + mr.Addr() + "/0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	if err := mr.Set(floorKey(7), string(floorValue(7))); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(floorHandler(rdb))
	t.Cleanup(srv.Close)

	tests := []struct {
		path       string
		wantStatus int
		wantBody   []byte // nil: not checked
	}{
		{"/plain", http.StatusOK, floorUser(0)},
		{"/redis?k=7", http.StatusOK, floorValue(7)},
		{"/redis?k=8", http.StatusNotFound, nil},
		{"/redis?k=x", http.StatusBadRequest, nil},
		{"/other", http.StatusNotFound, nil},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			resp, err := srv.Client().Get(srv.URL + tt.path)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.wantStatus, body)
			}
			if tt.wantBody == nil {
				return
			}
			if string(body) != string(tt.wantBody) {
				t.Errorf("body %.80q..., want %.80q...", body, tt.wantBody)
			}
			if ct := resp.Header.Get("Content-Type"); ct != scimJSON {
				t.Errorf("Content-Type %q, want %q", ct, scimJSON)
			}
		})
	}
}

func TestFloorRedisMirrorsStore(t *testing.T) {
	t.Parallel()
	rdb, err := floorRedis("redis://127.0.0.1:1/0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	// go-redis normalises MaxRetries -1 (no retries) to 0; its default is 3.
	o := rdb.Options()
	if o.PoolSize < 64 || o.MaxRetries != 0 {
		t.Errorf("PoolSize %d, MaxRetries %d; want ≥ 64 and no retries, as the store", o.PoolSize, o.MaxRetries)
	}
}

func TestServeFloorRefusesNonLoopback(t *testing.T) {
	t.Parallel()
	if err := serveFloor(t.Context(), "0.0.0.0:0", "redis://127.0.0.1:1/0"); err == nil {
		t.Error("serveFloor listened on a non-loopback address")
	}
}

func TestMedian(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{3}, 3},
		{[]float64{5, 1, 3}, 3},
		{[]float64{4, 1, 3, 2}, 2.5},
	} {
		if got := median(tt.in); got != tt.want {
			t.Errorf("median(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}
