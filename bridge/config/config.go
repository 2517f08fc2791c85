package config

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/scim-bridge/scim-bridge/connectors"
)

// Defaults of the configuration keys (a key that is absent, empty or 0 takes its default).
const (
	DefaultListen            = "127.0.0.1:8080"
	DefaultMaxBodyBytes      = 1 << 20 // 1 MiB
	DefaultMaxResults        = 1000
	DefaultWorkers           = 32
	DefaultLogLevel          = "info"
	DefaultLogFormat         = "json"
	DefaultDeletionThreshold = 500
)

// Config is the whole bridge configuration (the YAML file of `serve --config`).
//
// Precedence: environment over file over defaults. SCIM_BRIDGE_LISTEN,
// SCIM_BRIDGE_REDIS, SCIM_BRIDGE_PUBLIC_URL, SCIM_BRIDGE_MAX_BODY_BYTES,
// SCIM_BRIDGE_MAX_RESULTS, SCIM_BRIDGE_WORKERS, SCIM_BRIDGE_ADMIN_TOKEN,
// SCIM_BRIDGE_LOG_LEVEL and SCIM_BRIDGE_LOG_FORMAT override the file's top-level
// keys of the same name (an unset or empty variable overrides nothing). Tenants
// and their connectors come from the file only.
//
// Inside the file, `${VAR}` in a value is replaced by the environment variable
// VAR after parsing (quote such values); an unset or empty VAR is an error. `$$`
// is a literal `$`; a `$` followed by anything else is kept. A value made of
// references is typed after expansion, so "${WORKERS}" fills an integer key,
// while string keys always receive the text verbatim.
type Config struct {
	// Listen is the host:port of the HTTP server (SCIM at /scim/v2, webhooks at
	// /webhooks/{tenant}/{connector}). Default DefaultListen.
	Listen string `yaml:"listen"`
	// Redis is a redis://, rediss:// or unix:// URL; empty means the embedded
	// in-memory store (state lost on exit).
	Redis string `yaml:"redis"`
	// PublicURL is the external base URL of the SCIM endpoint as IdPs reach it
	// (e.g. https://scim.example.com/scim/v2), used for meta.location (RFC 7643
	// §3.1); empty means derived from each request. Stored without a trailing slash.
	PublicURL string `yaml:"public_url"`
	// MaxBodyBytes caps the size of a request body. Default DefaultMaxBodyBytes.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// MaxResults caps the page size of list responses (RFC 7644 §3.4.2.4).
	// Default DefaultMaxResults.
	MaxResults int `yaml:"max_results"`
	// Workers is the number of concurrent sync workers. Default DefaultWorkers.
	Workers int `yaml:"workers"`
	// AdminToken is the bearer token of the admin endpoints; empty disables them.
	AdminToken string `yaml:"admin_token"`
	// Log configures the process logger.
	Log LogConfig `yaml:"log"`
	// Tenants are the tenants served, in file order.
	Tenants []TenantConfig `yaml:"tenants"`
}

// LogConfig configures the process logger.
type LogConfig struct {
	// Level is trace, debug, info, warn, error, fatal, panic or disabled
	// (stored lower-case). Default DefaultLogLevel.
	Level string `yaml:"level"`
	// Format is json or console (stored lower-case). Default DefaultLogFormat.
	Format string `yaml:"format"`
}

// TenantConfig is one tenant: an IdP's view of the bridge and the downstream
// systems it converges.
type TenantConfig struct {
	// ID names the tenant in URLs, Redis hash tags and logs; it matches
	// ^[A-Za-z0-9._-]{1,64}$, is neither "." nor "..", and is unique ignoring case.
	ID string `yaml:"id"`
	// SCIMTokens are the bearer tokens this tenant's IdP may send (RFC 7644 §2):
	// at least one, each at least 16 characters, each owned by exactly one tenant.
	SCIMTokens []string `yaml:"scim_tokens"`
	// ReconcileEvery is the period of full reconcile runs; 0 disables them.
	ReconcileEvery Duration `yaml:"reconcile_every"`
	// DeletionThreshold is the number of downstream deletions one reconcile run
	// may make before it stops and asks for confirmation. Default DefaultDeletionThreshold.
	DeletionThreshold int `yaml:"deletion_threshold"`
	// Connectors are the downstream systems of the tenant, in file order.
	Connectors []ConnectorConfig `yaml:"connectors"`
	// Line is the line of the tenant's entry in the file (for messages).
	Line int `yaml:"-"`
}

// ConnectorConfig is one connector entry of a tenant. Load decodes it in two
// steps: name and type first, then the whole entry into the Config value the
// registry makes for that type; decoding a Config with plain yaml.Unmarshal
// fills Name and Type only.
type ConnectorConfig struct {
	// Name is unique within the tenant (ignoring case) and matches the tenant id pattern.
	Name string `yaml:"name"`
	// Type selects the adapter (a key of the registry handed to Load).
	Type string `yaml:"type"`
	// Config is the adapter's decoded and validated configuration.
	Config connectors.Config `yaml:"-"`
	// Line is the line of the connector's entry in the file (for messages).
	Line int `yaml:"-"`
}

// Duration is a time.Duration written in YAML as a Go duration string such as
// "90s" or "1h". Empty, null and "0" mean 0; negative durations are rejected.
type Duration time.Duration

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	bad := func(msg string) error {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %s", n.Line, msg)}}
	}
	if n.Kind != yaml.ScalarNode {
		return bad("must be a duration such as 30m or 1h")
	}
	s := strings.TrimSpace(n.Value)
	if s == "" || s == "0" || n.ShortTag() == "!!null" {
		*d = 0
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return bad("must be a duration such as 30m or 1h")
	}
	if v < 0 {
		return bad("must not be negative")
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML implements yaml.Marshaler.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// String returns the Go duration string.
func (d Duration) String() string { return time.Duration(d).String() }

// Default returns the configuration used when there is no file: every default
// and no tenants.
func Default() *Config {
	c := &Config{}
	c.setDefaults()
	return c
}

func (c *Config) setDefaults() {
	if c.Listen == "" {
		c.Listen = DefaultListen
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.MaxResults == 0 {
		c.MaxResults = DefaultMaxResults
	}
	if c.Workers == 0 {
		c.Workers = DefaultWorkers
	}
	c.Log.Level = strings.ToLower(strings.TrimSpace(c.Log.Level))
	if c.Log.Level == "" {
		c.Log.Level = DefaultLogLevel
	}
	c.Log.Format = strings.ToLower(strings.TrimSpace(c.Log.Format))
	if c.Log.Format == "" {
		c.Log.Format = DefaultLogFormat
	}
	c.PublicURL = strings.TrimRight(c.PublicURL, "/")
	for i := range c.Tenants {
		if c.Tenants[i].DeletionThreshold == 0 {
			c.Tenants[i].DeletionThreshold = DefaultDeletionThreshold
		}
	}
}

// Load reads and checks the configuration file at path; see LoadBytes.
func Load(path string, getenv func(string) string, registry map[string]func() connectors.Config) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return LoadBytes(path, data, getenv, registry)
}

// LoadBytes parses data (named name in messages), expands `${VAR}` references
// with getenv, applies the SCIM_BRIDGE_* overrides and the defaults, decodes each
// connector entry into the Config that registry makes for its type, and validates
// everything. On failure it returns every problem at once (errors.Join), each as
// "<name>:<line>: <key path>: <message>" (or "$<VAR>: <key path>: <message>" for a
// bad override), in file order. Messages never contain a token, a secret or a
// value that came from the environment. getenv may be nil (no environment).
func LoadBytes(name string, data []byte, getenv func(string) string, registry map[string]func() connectors.Config) (*Config, error) {
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	l := &configLoader{
		file:     name,
		getenv:   getenv,
		registry: registry,
		lines:    map[string]int{},
		nodes:    map[string]*yaml.Node{},
		envSrc:   map[string]string{},
		done:     map[*yaml.Node]bool{},
		failed:   map[*yaml.Node]bool{},
		fromEnv:  map[*yaml.Node]bool{},
		secrets:  map[string]bool{},
	}
	cfg := &Config{}
	if root := l.parse(data); root != nil {
		l.decodeStruct(root, reflect.ValueOf(cfg).Elem(), "", nil)
	}
	l.applyEnv(cfg)
	cfg.setDefaults()
	for i := range cfg.Tenants {
		cfg.Tenants[i].Line = l.lineOf(fmt.Sprintf("tenants[%d]", i))
	}
	l.validate(cfg)
	if err := l.result(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// configError is one problem of a configuration.
type configError struct {
	where string // "file:line", "file" or "$VAR"
	env   bool
	line  int
	seq   int
	path  string
	msg   string
	node  *yaml.Node // value the problem is about, if known
}

func (e *configError) Error() string {
	if e.path == "" {
		return e.where + ": " + e.msg
	}
	return e.where + ": " + e.path + ": " + e.msg
}

// configLoader holds the state of one LoadBytes call.
type configLoader struct {
	file     string
	getenv   func(string) string
	registry map[string]func() connectors.Config

	errs   []*configError
	lines  map[string]int        // key path -> line of its key (or sequence item)
	nodes  map[string]*yaml.Node // key path -> value node
	envSrc map[string]string     // key path -> SCIM_BRIDGE_* variable that set it

	done    map[*yaml.Node]bool // scalars already expanded
	failed  map[*yaml.Node]bool // scalars whose expansion failed
	fromEnv map[*yaml.Node]bool // scalars with at least one ${VAR}
	secrets map[string]bool     // strings redacted from every message

	aliases int // alias expansions so far
}

// maxAliases bounds alias expansion (a "billion laughs" document).
const maxAliases = 10000

var yamlSyntaxLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parse returns the top-level mapping, or nil when the file is empty or broken.
func (l *configLoader) parse(data []byte) *yaml.Node {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if !errors.Is(err, io.EOF) {
			l.syntaxError(err)
		}
		return nil
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		l.addLine(extra.Line, "", nil, "a configuration file holds one YAML document, found another one")
	} else if !errors.Is(err, io.EOF) {
		l.syntaxError(err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil
	}
	root := doc.Content[0]
	switch {
	case root.Kind == yaml.MappingNode:
		return root
	case root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null":
		return nil
	default:
		l.addLine(root.Line, "", nil, "the configuration must be a mapping of keys to values")
		return nil
	}
}

func (l *configLoader) syntaxError(err error) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if m := yamlSyntaxLine.FindStringSubmatch(err.Error()); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
		// yaml.v3 reports parser (not scanner) errors with the 0-based line of
		// the enclosing construct: make it 1-based.
		if isYAMLParserProblem(msg) {
			line++
		}
	} else if strings.HasPrefix(msg, "did not find") || strings.HasPrefix(msg, "found ") ||
		strings.HasPrefix(msg, "could not find") || strings.HasPrefix(msg, "mapping values") {
		line = 1 // yaml.v3 omits "line 1"
	}
	l.addLine(line, "", nil, "syntax error: "+msg)
}

// isYAMLParserProblem reports whether msg is a yaml.v3 parser (not scanner) message.
func isYAMLParserProblem(msg string) bool {
	switch msg {
	case "did not find expected ',' or ']'",
		"did not find expected ',' or '}'",
		"did not find expected '-' indicator",
		"did not find expected <document start>",
		"did not find expected <stream-start>",
		"did not find expected key",
		"did not find expected node content",
		"found duplicate %TAG directive",
		"found duplicate %YAML directive",
		"found incompatible YAML document",
		"found undefined tag handle":
		return true
	}
	return false
}

// addLine records a problem at a file line (0: unknown).
func (l *configLoader) addLine(line int, path string, node *yaml.Node, msg string) {
	where := l.file
	if line > 0 {
		where = fmt.Sprintf("%s:%d", l.file, line)
	}
	l.errs = append(l.errs, &configError{where: where, line: line, seq: len(l.errs), path: path, msg: msg, node: node})
}

// fail records a problem with the value at path, located at the environment
// variable that set it, else at its line, else at its closest known parent's line.
func (l *configLoader) fail(path, msg string) {
	if env, ok := l.envSrc[path]; ok {
		l.errs = append(l.errs, &configError{where: "$" + env, env: true, seq: len(l.errs), path: path, msg: msg})
		return
	}
	l.addLine(l.lineOf(path), path, l.nodes[path], msg)
}

// lineOf returns the line of path or of its closest recorded parent.
func (l *configLoader) lineOf(path string) int {
	for {
		if line, ok := l.lines[path]; ok {
			return line
		}
		if path == "" {
			return 0
		}
		path = parentPath(path)
	}
}

// show quotes the value at path for a message, unless it came from the environment.
func (l *configLoader) show(path, value string) string {
	if n := l.nodes[path]; n != nil && l.fromEnv[n] {
		return "(value from the environment)"
	}
	return strconv.Quote(value)
}

// minRedact is the length from which a value from the environment is redacted
// from messages (shorter ones are not secrets and would mangle the text).
const minRedact = 6

// result returns the joined problems in file order, or nil.
func (l *configLoader) result() error {
	secrets := make([]string, 0, len(l.secrets))
	for s := range l.secrets {
		secrets = append(secrets, s)
	}
	// Longest first, so that a secret containing another is redacted whole.
	slices.SortFunc(secrets, func(a, b string) int { return cmp.Compare(len(b), len(a)) })
	var kept []*configError
	seen := map[string]bool{}
	for _, e := range l.errs {
		if e.node != nil && l.failed[e.node] {
			continue // a consequence of an unset variable, already reported
		}
		for _, s := range secrets {
			e.msg = redact(e.msg, s)
		}
		if seen[e.Error()] {
			continue
		}
		seen[e.Error()] = true
		kept = append(kept, e)
	}
	if len(kept) == 0 {
		return nil
	}
	slices.SortStableFunc(kept, func(a, b *configError) int {
		if a.env != b.env {
			if a.env {
				return 1
			}
			return -1
		}
		return cmp.Or(cmp.Compare(a.line, b.line), cmp.Compare(a.seq, b.seq))
	})
	errs := make([]error, len(kept))
	for i, e := range kept {
		errs[i] = e
	}
	return errors.Join(errs...)
}

// addSecret marks s as a string no message may contain. Strings shorter than
// minLen (at least 4) are not secrets worth mangling messages for.
func (l *configLoader) addSecret(s string, minLen int) {
	if s = strings.TrimSpace(s); len(s) >= max(minLen, 4) {
		l.secrets[s] = true
	}
}

// redact replaces each occurrence of secret in msg that is not part of a longer
// word (so that a token "short" does not turn "too short" into "too [redacted]"
// while a quoted or delimited token is always caught).
func redact(msg, secret string) string {
	var b strings.Builder
	for {
		i := strings.Index(msg, secret)
		if i < 0 {
			b.WriteString(msg)
			return b.String()
		}
		end := i + len(secret)
		inWord := (i > 0 && isWordByte(msg[i-1]) && isWordByte(secret[0])) ||
			(end < len(msg) && isWordByte(msg[end]) && isWordByte(secret[len(secret)-1]))
		if inWord {
			b.WriteString(msg[:i+1])
			msg = msg[i+1:]
			continue
		}
		b.WriteString(msg[:i])
		b.WriteString("[redacted]")
		msg = msg[end:]
	}
}

func isWordByte(c byte) bool {
	return c == '_' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

// isSecretKey reports whether a key path names a credential, by its last named
// key (list indexes skipped): token, secret, password, key or credential, but
// not a URL such as tokenUrl.
func isSecretKey(path string) bool {
	for path != "" {
		last := strings.ToLower(path[len(parentPath(path)):])
		if strings.HasPrefix(last, "[") && !strings.HasPrefix(last, `["`) {
			path = parentPath(path)
			continue
		}
		if strings.Contains(last, "url") {
			return false
		}
		for _, w := range []string{"token", "secret", "password", "key", "credential"} {
			if strings.Contains(last, w) {
				return true
			}
		}
		return false
	}
	return false
}

// parentPath strips the last segment of a key path: "a.b[2]" -> "a.b" -> "a" -> "".
func parentPath(p string) string {
	last, quoted := 0, false
	for i := 0; i < len(p); i++ {
		c := p[i]
		if quoted {
			if c == '\\' {
				i++
			} else if c == '"' {
				quoted = false
			}
			continue
		}
		switch c {
		case '"':
			quoted = true
		case '.', '[':
			last = i
		}
	}
	return p[:last]
}

// fieldPath joins a struct key to a path: "tenants[0]" + "id" -> "tenants[0].id".
func fieldPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// mapKeyPath joins a map key to a path: `groups` + `Design Team` -> `groups["Design Team"]`.
func mapKeyPath(path, key string) string { return path + "[" + strconv.Quote(key) + "]" }

func indexPath(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

// plainKey matches keys written as .key in generic paths.
var plainKey = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)

// anyKeyPath joins a key of a mapping whose Go type is unknown.
func anyKeyPath(path, key string) string {
	if plainKey.MatchString(key) {
		return fieldPath(path, key)
	}
	return mapKeyPath(path, key)
}
