package config

import (
	"cmp"
	"errors"
	"slices"
	"strconv"

	"gopkg.in/yaml.v3"
)

// Error is one problem of a configuration. Load and LoadBytes return every
// problem of a file at once, joined with errors.Join; errors.As finds the first,
// and the joined error's Unwrap() []error lists them all.
type Error struct {
	// File is the name of the file as given to Load (or LoadBytes).
	File string
	// Line is the 1-based line the problem is about; 0 when unknown or when the
	// value came from an environment variable.
	Line int
	// Env is the SCIM_BRIDGE_* variable the value came from, if any.
	Env string
	// Key is the key path, such as tenants[0].connectors[1].url; empty for a
	// problem of the whole file (a syntax error).
	Key string
	// Msg says what is wrong; it never holds a secret.
	Msg string

	seq  int        // order of discovery, for ties
	node *yaml.Node // value the problem is about, if known
}

// Error returns "<file>:<line>: <key>: <msg>", or "$<VAR>: <key>: <msg>" for a
// value from the environment.
func (e *Error) Error() string {
	where := e.File
	switch {
	case e.Env != "":
		where = "$" + e.Env
	case e.Line > 0:
		where = e.File + ":" + strconv.Itoa(e.Line)
	}
	if e.Key == "" {
		return where + ": " + e.Msg
	}
	return where + ": " + e.Key + ": " + e.Msg
}

// addLine records a problem at a file line (0: unknown).
func (l *loader) addLine(line int, path string, node *yaml.Node, msg string) {
	l.errs = append(l.errs, &Error{File: l.file, Line: line, Key: path, Msg: msg, seq: len(l.errs), node: node})
}

// fail records a problem with the value at path, located at the environment
// variable that set it, else at its line, else at its closest known parent's line.
func (l *loader) fail(path, msg string) {
	if env, ok := l.envSrc[path]; ok {
		l.errs = append(l.errs, &Error{File: l.file, Env: env, Key: path, Msg: msg, seq: len(l.errs)})
		return
	}
	l.addLine(l.lineOf(path), path, l.nodes[path], msg)
}

// lineOf returns the line of path or of its closest recorded parent.
func (l *loader) lineOf(path string) int {
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
func (l *loader) show(path, value string) string {
	if n := l.nodes[path]; n != nil && l.fromEnv[n] {
		return "(value from the environment)"
	}
	return strconv.Quote(value)
}

// result returns the joined problems in file order (problems of environment
// overrides last), or nil. Secrets are redacted, duplicates dropped, and so
// are the consequences of an unset variable (already reported).
func (l *loader) result() error {
	secrets := l.secretList()
	var kept []*Error
	seen := map[string]bool{}
	for _, e := range l.errs {
		if e.node != nil && l.failed[e.node] {
			continue
		}
		for _, s := range secrets {
			e.Msg = redact(e.Msg, s)
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
	slices.SortStableFunc(kept, func(a, b *Error) int {
		if (a.Env != "") != (b.Env != "") {
			if a.Env != "" {
				return 1
			}
			return -1
		}
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.seq, b.seq))
	})
	errs := make([]error, len(kept))
	for i, e := range kept {
		errs[i] = e
	}
	return errors.Join(errs...)
}

// Errors returns the problems held by an error of Load or LoadBytes, in order
// (nil when err holds none).
func Errors(err error) []*Error {
	var out []*Error
	for _, leaf := range flattenErrors(err) {
		if e := (*Error)(nil); errors.As(leaf, &e) {
			out = append(out, e)
		}
	}
	return out
}

// flattenErrors returns the leaves of a tree of joined errors.
func flattenErrors(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flattenErrors(e)...)
		}
		return out
	}
	return []error{err}
}
