package bridge

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// clientAddrFor is how opts attribute a request to its client:
// opts.ClientAddr, else through opts.TrustedProxies (forwardedClientAddr),
// else nil (the peer). The failed-login limiter and the audit of rejected
// webhook deliveries both use it.
func clientAddrFor(opts Options) func(*http.Request) netip.Addr {
	if opts.ClientAddr == nil && len(opts.TrustedProxies) > 0 {
		return forwardedClientAddr(opts.TrustedProxies)
	}
	return opts.ClientAddr
}

// forwardedClientAddr returns the ClientAddr of a bridge behind reverse
// proxies: a request whose peer is one of trusted is attributed to the
// address that proxy saw, the right-most X-Forwarded-For entry that is not
// itself a trusted proxy (entries left of it are the client's to write and
// are never believed). A request from any other peer is attributed to the
// peer, whatever its headers say.
func forwardedClientAddr(trusted []netip.Prefix) func(*http.Request) netip.Addr {
	isTrusted := func(a netip.Addr) bool {
		a = a.Unmap()
		for _, p := range trusted {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
	return func(r *http.Request) netip.Addr {
		peer := peerAddr(r)
		if !isTrusted(peer) {
			return peer
		}
		hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
		addr := peer
		for i := len(hops) - 1; i >= 0; i-- {
			hop, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
			if err != nil {
				return addr // a malformed entry: trust nothing left of it
			}
			addr = hop.Unmap()
			if !isTrusted(addr) {
				return addr
			}
		}
		return addr
	}
}

// peerAddr is the IP of r.RemoteAddr (the zero Addr when it has none).
func peerAddr(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, _ := netip.ParseAddr(host)
	return a.Unmap()
}
