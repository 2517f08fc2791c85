package auth

import (
	"net/netip"
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	t.Parallel()
	c := newClock()
	l := NewLimiter(LimiterOptions{MaxFailures: 3, Window: time.Minute, Now: c.Now,
		Exempt: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}})
	a := netip.MustParseAddr("203.0.113.1")
	b := netip.MustParseAddr("203.0.113.2")
	for i := range 3 {
		if _, ok := l.Check(a); !ok {
			t.Fatalf("blocked after %d failures", i)
		}
		if blocked := l.Fail(a); blocked != (i == 2) {
			t.Fatalf("failure %d: blocked = %v", i+1, blocked)
		}
	}
	if wait, ok := l.Check(a); ok || wait != time.Minute {
		t.Fatalf("after 3 failures: ok=%v wait=%s", ok, wait)
	}
	if _, ok := l.Check(b); !ok {
		t.Fatal("another address blocked")
	}
	// The IPv4-mapped form is the same address.
	if _, ok := l.Check(netip.MustParseAddr("::ffff:203.0.113.1")); ok {
		t.Fatal("IPv4-mapped address not limited with its IPv4 form")
	}
	c.Advance(time.Minute)
	if _, ok := l.Check(a); !ok {
		t.Fatal("still blocked after the window")
	}
	if l.Fail(a) {
		t.Fatal("the count did not restart with the window")
	}
	// Exempt prefixes are never counted.
	e := netip.MustParseAddr("192.0.2.99")
	for range 10 {
		l.Fail(e)
	}
	if _, ok := l.Check(e); !ok {
		t.Fatal("exempt address blocked")
	}
}

func TestLimiterIPv6Prefix(t *testing.T) {
	t.Parallel()
	l := NewLimiter(LimiterOptions{MaxFailures: 2})
	l.Fail(netip.MustParseAddr("2001:db8:1:2::1"))
	l.Fail(netip.MustParseAddr("2001:db8:1:2:ffff::9")) // same /64
	if _, ok := l.Check(netip.MustParseAddr("2001:db8:1:2::77")); ok {
		t.Fatal("a /64 was not counted as one")
	}
	if _, ok := l.Check(netip.MustParseAddr("2001:db8:1:3::1")); !ok {
		t.Fatal("the neighbouring /64 is blocked")
	}
}

func TestLimiterBounded(t *testing.T) {
	t.Parallel()
	l := NewLimiter(LimiterOptions{MaxFailures: 2, MaxAddresses: 100})
	hot := netip.MustParseAddr("198.51.100.1")
	l.Fail(hot)
	l.Fail(hot)
	// Touching the blocked address keeps it recent while others churn.
	for i := range 1000 {
		l.Fail(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}))
		if i%50 == 0 {
			l.Fail(hot)
		}
	}
	if n := l.Len(); n != 100 {
		t.Fatalf("remembers %d addresses, want 100", n)
	}
	if _, ok := l.Check(hot); ok {
		t.Fatal("the active offender was forgotten")
	}
}
