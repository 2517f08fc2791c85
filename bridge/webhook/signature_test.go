package webhook

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestVerifySignature(t *testing.T) {
	t.Parallel()
	const secret = "whsec-0123456789abcdef"
	now := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	body := []byte(`{"id":"evt_1","type":"invitation.created","data":{"id":42}}`)
	valid := Sign(secret, body, now)
	ts := fmt.Sprint(now.Unix())
	v1 := strings.TrimPrefix(valid, "t="+ts+",v1=")
	other := strings.TrimPrefix(Sign("another-secret", body, now), "t="+ts+",v1=")
	cases := []struct {
		name   string
		header string
		body   []byte
		secret string
		now    time.Time
		ok     bool
	}{
		{"valid", valid, body, secret, now, true},
		{"valid with blanks", "t=" + ts + " , v1=" + v1, body, secret, now, true},
		{"valid, v1 first", "v1=" + v1 + ",t=" + ts, body, secret, now, true},
		{"wrong secret", valid, body, "not-the-secret", now, false},
		{"empty secret", valid, body, "", now, false},
		{"tampered body", valid, append(bytes.Clone(body[:len(body)-2]), []byte(`43}}`)...), secret, now, false},
		{"body with a trailing newline", valid, append(bytes.Clone(body), '\n'), secret, now, false},
		{"timestamp changed", "t=" + fmt.Sprint(now.Unix()+1) + ",v1=" + v1, body, secret, now, false},
		{"missing header", "", body, secret, now, false},
		{"garbage", "garbage", body, secret, now, false},
		{"no timestamp", "v1=" + v1, body, secret, now, false},
		{"no signature", "t=" + ts, body, secret, now, false},
		{"non-numeric timestamp", "t=yesterday,v1=" + v1, body, secret, now, false},
		{"non-hex signature", "t=" + ts + ",v1=" + strings.Repeat("zz", 32), body, secret, now, false},
		{"short signature", "t=" + ts + ",v1=" + v1[:32], body, secret, now, false},
		{"unknown scheme only", "t=" + ts + ",v0=" + v1, body, secret, now, false},
		{"upper-case keys", "T=" + ts + ",V1=" + v1, body, secret, now, false},
		{"stale by more than 5 minutes", valid, body, secret, now.Add(5*time.Minute + time.Second), false},
		{"exactly 5 minutes old", valid, body, secret, now.Add(5 * time.Minute), true},
		{"4 minutes old", valid, body, secret, now.Add(4 * time.Minute), true},
		{"from more than 5 minutes in the future", valid, body, secret, now.Add(-5*time.Minute - time.Second), false},
		{"2 minutes in the future", valid, body, secret, now.Add(-2 * time.Minute), true},
		{"several v1, one valid", "t=" + ts + ",v1=" + other + ",v1=" + v1, body, secret, now, true},
		{"several v1, valid one first", "t=" + ts + ",v1=" + v1 + ",v1=" + other, body, secret, now, true},
		{"several v1, none valid", "t=" + ts + ",v1=" + other + ",v1=" + other, body, secret, now, false},
		{"valid v1 and a malformed one", "t=" + ts + ",v1=xyz,v1=" + v1, body, secret, now, true},
		{"valid signature of a stale timestamp", Sign(secret, body, now.Add(-time.Hour)), body, secret, now, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := verify(c.header, c.body, c.secret, c.now)
			if (err == nil) != c.ok {
				t.Fatalf("verify = %v, want ok=%v", err, c.ok)
			}
			if err != nil && (strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), v1)) {
				t.Errorf("error leaks the secret or the signature: %v", err)
			}
		})
	}
}

// TestSignatureKnownAnswer fixes one signature computed outside this package
// (openssl dgst -sha256 -hmac <secret> over "<t>.<body>"), so Sign and the
// verifier cannot drift together: both must agree with it.
func TestSignatureKnownAnswer(t *testing.T) {
	t.Parallel()
	const (
		secret = "whsec-known-answer-0123456789"
		body   = `{"id":"evt_1","type":"invitation.created","data":{"id":42}}`
		header = "t=1767225600,v1=67da630b63d544d4fcc3726eadc13a7f2ec6cce285be4c82a97dbe2428d38c43"
	)
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) // 1767225600
	if got := Sign(secret, []byte(body), at); got != header {
		t.Errorf("Sign = %q, want %q", got, header)
	}
	if err := verify(header, []byte(body), secret, at.Add(time.Minute)); err != nil {
		t.Errorf("verify of the known header: %v", err)
	}
	if err := verify(header, []byte(body+" "), secret, at); err == nil {
		t.Error("verify accepted the known header for another body")
	}
}
