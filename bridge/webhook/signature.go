package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"
)

// Signature limits (DESIGN.md "Webhooks").
const (
	// SignatureHeader carries "t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>".
	SignatureHeader = "X-Bridge-Signature"
	// Tolerance is how far a signature's timestamp may be from the receiver's clock.
	Tolerance         = 5 * time.Minute
	maxSignatureParts = 16
)

// verify checks header "t=<unix>,v1=<hex>[,v1=<hex>...]" against body
// with secret: HMAC-SHA256 over "<t>.<body>", compared in constant time, and the
// timestamp within Tolerance of now. Error texts are safe to return.
func verify(header string, body []byte, secret string, now time.Time) error {
	if header == "" {
		return errors.New("missing " + SignatureHeader + " header")
	}
	var ts string
	var sigs [][]byte
	for i, part := range strings.Split(header, ",") {
		if i >= maxSignatureParts {
			break
		}
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			continue
		}
		switch k {
		case "t":
			ts = v
		case "v1":
			if sig, err := hex.DecodeString(v); err == nil && len(sig) == sha256.Size {
				sigs = append(sigs, sig)
			}
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return errors.New("malformed signature header")
	}
	want := digest(secret, ts, body)
	valid := false
	for _, sig := range sigs {
		if hmac.Equal(sig, want) {
			valid = true
		}
	}
	if !valid {
		return errors.New("signature does not match")
	}
	age := now.Sub(time.Unix(sec, 0))
	if age > Tolerance || age < -Tolerance {
		return errors.New("timestamp outside the 5 minute tolerance")
	}
	return nil
}

// Sign returns the X-Bridge-Signature value for body at time t (for senders and tests).
func Sign(secret string, body []byte, t time.Time) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(digest(secret, ts, body))
}

// digest is HMAC-SHA256(secret, "<ts>.<body>").
func digest(secret, ts string, body []byte) []byte {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return mac.Sum(nil)
}
