package fake

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
)

// benchServer returns a server holding n active users u0..u{n-1} with
// externalIds e0..e{n-1} and emails u0@x.io..u{n-1}@x.io.
func benchServer(b *testing.B, n int) *Server {
	b.Helper()
	s := New(Options{Token: testToken})
	for i := range n {
		s.Seed(User{UserName: fmt.Sprint("u", i), ExternalID: fmt.Sprint("e", i), Email: fmt.Sprintf("u%d@x.io", i), Active: true})
	}
	return s
}

// serveBench sends one GET to the handler in process (no network) and checks 200.
func serveBench(b *testing.B, h http.Handler, target string) {
	req := httptest.NewRequest(http.MethodGet, target, nil)
	req.Header.Set("Authorization", "bearer "+testToken)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != http.StatusOK {
		b.Fatalf("GET %s: %d %s", target, w.Code, w.Body)
	}
}

// BenchmarkFindUsersFiltered is the lookup a SCIM client makes before every
// write: an `eq` filter on userName, on externalId, or both, and the work
// email (the login). Its cost must not
// grow with the number of users (compare users=1000 with users=100000).
func BenchmarkFindUsersFiltered(b *testing.B) {
	for _, n := range []int{1000, 100000} {
		s := benchServer(b, n)
		h := s.Handler()
		for _, f := range []struct{ name, format string }{
			{"userName", `userName eq "u%d"`},
			{"externalId", `externalId eq "e%d"`},
			{"and", `userName eq "u%d" and externalId eq "e%[1]d"`},
			{"workEmail", `emails[type eq "work" and value eq "u%d@x.io"]`},
		} {
			b.Run(fmt.Sprintf("users=%d/%s", n, f.name), func(b *testing.B) {
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					serveBench(b, h, DefaultBasePath+"/Users?filter="+url.QueryEscape(fmt.Sprintf(f.format, i%n)))
					i += 7919 // a prime: spread the lookups over the users
				}
				s.ResetCounters() // keep the request log from growing without bound
			})
		}
	}
}

// BenchmarkListPage reads one page of 100 from the middle of an unfiltered list.
func BenchmarkListPage(b *testing.B) {
	for _, n := range []int{1000, 100000} {
		s := benchServer(b, n)
		h := s.Handler()
		b.Run(fmt.Sprintf("users=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			target := fmt.Sprintf("%s/Users?startIndex=%d&count=100", DefaultBasePath, n/2)
			for b.Loop() {
				serveBench(b, h, target)
			}
			s.ResetCounters()
		})
	}
}

// BenchmarkSeed stores users one by one; linear overall, not quadratic.
func BenchmarkSeed(b *testing.B) {
	for _, n := range []int{1000, 100000} {
		b.Run(fmt.Sprintf("users=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				benchServer(b, n)
			}
		})
	}
}
