package auth

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/rs/zerolog"
	"golang.org/x/sync/singleflight"
)

// Key cache defaults.
const (
	DefaultKeysTTL        = time.Hour
	DefaultKeysMinRefresh = 30 * time.Second
	keysFetchTimeout      = 10 * time.Second
	maxKeysBytes          = 1 << 20
	minRSABits            = 2048
)

var (
	errUnknownKey = errors.New("signing key not found")
	errRedirect   = errors.New("redirect refused")
)

// keySet caches the RSA signing keys of one JWKS URL. Keys are refetched when
// older than ttl, or when a token names an unknown kid; fetches of one URL are
// shared by every concurrent caller (singleflight) and start at most once per
// minRefresh, so a flood of tokens with made-up kids costs one request per
// minRefresh. When a refetch fails the keys already known stay in use.
//
// Only a token naming an unknown kid waits for a fetch (bounded by
// keysFetchTimeout). A known kid is served from the cache even when the set
// is older than ttl (stale-while-revalidate): the refetch then runs in the
// background, so a hanging key server never stalls the requests of clients
// whose keys are known. A withdrawn key is thus trusted until that refetch
// completes, as it is while the key server fails.
type keySet struct {
	url        string
	client     *http.Client
	ttl        time.Duration
	minRefresh time.Duration
	now        func() time.Time
	log        zerolog.Logger
	group      *singleflight.Group

	mu         sync.RWMutex
	keys       map[string]*rsa.PublicKey // kid -> key
	fetched    time.Time                 // last successful fetch
	attempted  time.Time                 // last fetch started
	refreshing bool                      // a background refetch is running
	background sync.WaitGroup            // the background refetch, for tests
}

// key returns the key named kid: from the cache when known (refetching the
// set in the background when it is stale), else after fetching the set when
// allowed.
func (k *keySet) key(ctx context.Context, kid string) (*rsa.PublicKey, error) {
	now := k.now()
	k.mu.RLock()
	key, found := k.keys[kid]
	fresh := !k.fetched.IsZero() && now.Sub(k.fetched) < k.ttl
	k.mu.RUnlock()
	if found {
		if !fresh {
			k.refreshInBackground(ctx)
		}
		return key, nil
	}
	if err := k.refresh(ctx); err != nil {
		return nil, err
	}
	k.mu.RLock()
	defer k.mu.RUnlock()
	if key, found = k.keys[kid]; !found {
		return nil, fmt.Errorf("%w: kid %q", errUnknownKey, truncate(kid, 64))
	}
	return key, nil
}

// refreshInBackground starts a refetch that no caller waits for, unless one
// is running or a fetch started less than minRefresh ago (so a stale set
// behind a failing key server costs no goroutine per request).
func (k *keySet) refreshInBackground(ctx context.Context) {
	now := k.now()
	k.mu.Lock()
	if k.refreshing || (!k.attempted.IsZero() && now.Sub(k.attempted) < k.minRefresh) {
		k.mu.Unlock()
		return
	}
	k.refreshing = true
	k.background.Add(1)
	k.mu.Unlock()
	go func() {
		defer k.background.Done()
		_ = k.refresh(ctx) // logged there; the keys already known stay in use
		k.mu.Lock()
		k.refreshing = false
		k.mu.Unlock()
	}()
}

// refresh fetches the key set unless a fetch started less than minRefresh ago.
func (k *keySet) refresh(ctx context.Context) error {
	_, err, _ := k.group.Do(k.url, func() (any, error) {
		now := k.now()
		k.mu.Lock()
		if !k.attempted.IsZero() && now.Sub(k.attempted) < k.minRefresh {
			k.mu.Unlock()
			return nil, nil
		}
		k.attempted = now
		k.mu.Unlock()
		// Shared by every waiter: not cancelled with the first caller's request.
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), keysFetchTimeout)
		defer cancel()
		keys, err := k.fetch(fctx)
		if err != nil {
			k.log.Warn().Err(err).Str("jwks_url", k.url).Msg("fetching the JWT signing keys failed; keeping the keys already known")
			return nil, err
		}
		k.mu.Lock()
		k.keys, k.fetched = keys, k.now()
		k.mu.Unlock()
		k.log.Debug().Str("jwks_url", k.url).Int("keys", len(keys)).Msg("JWT signing keys fetched")
		return nil, nil
	})
	return err
}

// noRedirects returns a copy of c (same transport, timeout and jar) that
// follows no redirect: the key set is fetched from the configured URL or not
// at all, never from wherever a response points (a downgrade to http, another
// host). Microsoft's key set URL does not redirect.
func noRedirects(c *http.Client) *http.Client {
	nc := *c
	nc.CheckRedirect = func(req *http.Request, _ []*http.Request) error {
		return fmt.Errorf("%w (to %s://%s): configure the key set's final URL as jwks_url",
			errRedirect, req.URL.Scheme, truncate(req.URL.Host, 100))
	}
	return &nc
}

// fetch downloads and parses the key set, keeping the RSA signature keys
// usable with RS256 and skipping the others.
func (k *keySet) fetch(ctx context.Context) (map[string]*rsa.PublicKey, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.url, nil)
	if err != nil {
		return nil, fmt.Errorf("jwks request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := k.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("jwks fetch: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxKeysBytes))
		return nil, fmt.Errorf("jwks fetch: status %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxKeysBytes+1))
	if err != nil {
		return nil, fmt.Errorf("jwks read: %w", err)
	}
	if len(body) > maxKeysBytes {
		return nil, fmt.Errorf("jwks read: larger than %d bytes", maxKeysBytes)
	}
	return parseKeySet(body)
}

// parseKeySet parses a JWK Set (RFC 7517 §5) key by key, so one key of an
// unsupported kind does not hide the others.
func parseKeySet(body []byte) (map[string]*rsa.PublicKey, error) {
	var raw struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, fmt.Errorf("jwks parse: %w", err)
	}
	keys := map[string]*rsa.PublicKey{}
	for _, r := range raw.Keys {
		var jwk jose.JSONWebKey
		if err := jwk.UnmarshalJSON(r); err != nil {
			continue
		}
		pub, ok := jwk.Key.(*rsa.PublicKey)
		if !ok || jwk.KeyID == "" || (jwk.Use != "" && jwk.Use != "sig") ||
			(jwk.Algorithm != "" && jwk.Algorithm != string(jose.RS256)) || pub.N.BitLen() < minRSABits {
			continue
		}
		keys[jwk.KeyID] = pub
	}
	if len(keys) == 0 {
		return nil, errors.New("jwks parse: no RSA signature key with a kid")
	}
	return keys, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
