package config

import (
	"fmt"
	"net/netip"
	"strings"
)

// parsesAsPrefix accepts an IP address or a CIDR prefix.
func parsesAsPrefix(s string) bool {
	_, err := parsePrefix(s)
	return err == nil
}

func parsePrefix(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// Proxies returns trusted_proxies as prefixes (a single address is a
// full-length prefix). Load has checked them: an error means c did not come
// from Load.
func (c *Config) Proxies() ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(c.TrustedProxies))
	for i, s := range c.TrustedProxies {
		p, err := parsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("trusted_proxies[%d]: must be an IP address or a CIDR prefix", i)
		}
		out = append(out, p)
	}
	return out, nil
}
