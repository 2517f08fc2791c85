package config

import (
	"errors"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Duration is a time.Duration written in YAML as a Go duration string such as
// "90s" or "1h". Empty, null and "0" mean 0; negative durations are rejected.
type Duration time.Duration

// UnmarshalYAML implements yaml.Unmarshaler. Its errors are the messages the
// loader shows at the key (they never quote the value).
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	const shape = "must be a duration such as 30m or 1h"
	if n.Kind != yaml.ScalarNode {
		return errors.New(shape)
	}
	s := strings.TrimSpace(n.Value)
	if s == "" || s == "0" || n.ShortTag() == "!!null" {
		*d = 0
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return errors.New(shape)
	}
	if v < 0 {
		return errors.New("must not be negative")
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML implements yaml.Marshaler.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// String returns the Go duration string.
func (d Duration) String() string { return time.Duration(d).String() }
