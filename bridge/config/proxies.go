package config

import "net/netip"

// LocationPrefixes returns location_proxies as prefixes (a single address is
// a full-length prefix).
func (c *Config) LocationPrefixes() []netip.Prefix { return prefixes(c.LocationProxies) }
