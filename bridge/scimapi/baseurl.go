package scimapi

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// baseURL is the absolute URL of the SCIM endpoint for this request, the root
// of meta.location, Location and $ref (RFC 7643 §3.1): Options.PublicURL when
// set; else the scheme and host the client used. X-Forwarded-Proto and
// X-Forwarded-Host name them only when the request comes straight from a
// trusted proxy (Options.LocationProxies): anyone else could make the bridge
// hand out links to a host of their choosing.
func (srv *Server) baseURL(r *http.Request) string {
	if srv.opts.PublicURL != "" {
		return strings.TrimRight(srv.opts.PublicURL, "/")
	}
	scheme, host := "http", r.Host
	if r.TLS != nil {
		scheme = "https"
	}
	if srv.fromTrustedProxy(r) {
		if p := firstForwarded(r.Header.Get("X-Forwarded-Proto")); p != "" {
			if p = strings.ToLower(p); p == "http" || p == "https" {
				scheme = p
			}
		}
		if h := firstForwarded(r.Header.Get("X-Forwarded-Host")); h != "" && validHost(h) {
			host = h
		}
	}
	return scheme + "://" + host + "/scim/v2"
}

// fromTrustedProxy reports whether the peer of r is one of the trusted proxies.
func (srv *Server) fromTrustedProxy(r *http.Request) bool {
	if len(srv.opts.LocationProxies) == 0 {
		return false
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	addr = addr.Unmap()
	for _, p := range srv.opts.LocationProxies {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// firstForwarded is the first (client-side) entry of a comma-separated
// X-Forwarded-* header.
func firstForwarded(v string) string {
	first, _, _ := strings.Cut(v, ",")
	return strings.TrimSpace(first)
}

// validHost accepts a host[:port] made of the characters a URL authority allows
// without escaping, so a forwarded value cannot smuggle a path or userinfo.
func validHost(h string) bool {
	if len(h) > 255 {
		return false
	}
	for _, c := range h {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '.', c == '-', c == ':', c == '[', c == ']', c == '_':
		default:
			return false
		}
	}
	return true
}
