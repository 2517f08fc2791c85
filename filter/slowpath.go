package filter

import (
	"errors"
	"strings"

	fp "github.com/scim2/filter-parser/v2"
)

// slowFilter parses s with the generic parser. The generic grammar follows
// erratum 4690 of RFC 7644 and allows at most two terms inside a value filter;
// when s does not parse, each value filter is parsed on its own as a full
// filter (RFC 7644 §3.4.2.2: valFilter may be any logical expression) and
// grafted into the tree parsed with placeholders.
func slowFilter(s string) (fp.Expression, error) {
	s = upperHexEscapes(s)
	e, err := parseGenericFilter(s)
	if err == nil {
		return e, nil
	}
	outer, inners, ok := splitValueFilters(s)
	if !ok {
		return nil, err
	}
	e2, err2 := parseGenericFilter(outer)
	if err2 != nil {
		return nil, err
	}
	if graftValueFilters(e2, &inners) != nil || len(inners) != 0 {
		return nil, err
	}
	return e2, nil
}

// slowPath is slowFilter for PATCH paths.
func slowPath(s string) (fp.Path, error) {
	s = upperHexEscapes(s)
	p, err := parseGenericPath(s)
	if err == nil {
		return p, nil
	}
	outer, inners, ok := splitValueFilters(s)
	if !ok || len(inners) != 1 {
		return fp.Path{}, err
	}
	p2, err2 := parseGenericPath(outer)
	if err2 != nil || p2.ValueExpression == nil {
		return fp.Path{}, err
	}
	inner, ierr := parseGenericFilter(inners[0])
	if ierr != nil {
		return fp.Path{}, err
	}
	p2.ValueExpression = inner
	return p2, nil
}

// upperHexEscapes upper-cases the hex digits of \u escapes inside string
// literals: JSON allows either case, the generic parser only upper case.
func upperHexEscapes(s string) string {
	if !strings.Contains(s, `\u`) {
		return s
	}
	b := []byte(s)
	inString := false
	for i := 0; i < len(b); i++ {
		switch {
		case !inString:
			inString = b[i] == '"'
		case b[i] == '"':
			inString = false
		case b[i] == '\\' && i+1 < len(b):
			i++
			if b[i] != 'u' {
				continue
			}
			for j := i + 1; j < len(b) && j <= i+4; j++ {
				if b[j] >= 'a' && b[j] <= 'f' {
					b[j] -= 'a' - 'A'
				}
			}
		}
	}
	return string(b)
}

// valueFilterPlaceholder replaces the inside of brackets in splitValueFilters.
const valueFilterPlaceholder = "x pr"

// splitValueFilters returns s with the inside of every "[...]" (outside
// string literals) replaced by a placeholder, and the insides in order. ok is
// false when brackets nest or do not balance, or when there are none.
func splitValueFilters(s string) (outer string, inners []string, ok bool) {
	var b strings.Builder
	open := -1 // index after the current '[', or -1
	last := 0  // start of the part of s not yet copied to b
	ok = true
	forEachOutsideStrings(s, func(i int, c byte) bool {
		switch c {
		case '[':
			if open >= 0 {
				ok = false
				return false
			}
			open = i + 1
		case ']':
			if open < 0 {
				ok = false
				return false
			}
			b.WriteString(s[last:open])
			b.WriteString(valueFilterPlaceholder)
			inners = append(inners, strings.Trim(s[open:i], " "))
			last, open = i, -1
		}
		return true
	})
	if !ok {
		return "", nil, false
	}
	if open >= 0 || len(inners) == 0 {
		return "", nil, false
	}
	b.WriteString(s[last:])
	return b.String(), inners, true
}

// graftValueFilters replaces, in text order, the value filter of each value
// path of e by the parsed next element of *inners.
func graftValueFilters(e fp.Expression, inners *[]string) error {
	switch e := e.(type) {
	case *fp.LogicalExpression:
		if err := graftValueFilters(e.Left, inners); err != nil {
			return err
		}
		return graftValueFilters(e.Right, inners)
	case *fp.NotExpression:
		return graftValueFilters(e.Expression, inners)
	case *fp.ValuePath:
		if len(*inners) == 0 {
			return errors.New("value filter count mismatch")
		}
		inner, err := parseGenericFilter((*inners)[0])
		if err != nil {
			return err
		}
		*inners = (*inners)[1:]
		e.ValueFilter = inner
	}
	return nil
}

// parseGenericFilter runs the generic parser; a panic inside it is reported
// as a syntax error rather than taking the server down.
func parseGenericFilter(s string) (e fp.Expression, err error) {
	defer func() {
		if r := recover(); r != nil {
			e, err = nil, errors.New("unparsable input")
		}
	}()
	e, err = fp.ParseFilterNumber([]byte(s))
	if err != nil {
		return nil, syntaxError(err)
	}
	if e == nil {
		return nil, errors.New("empty expression")
	}
	return e, nil
}

// parseGenericPath is parseGenericFilter for PATCH paths (RFC 7644 §3.5.2).
func parseGenericPath(s string) (p fp.Path, err error) {
	defer func() {
		if r := recover(); r != nil {
			p, err = fp.Path{}, errors.New("unparsable input")
		}
	}()
	p, err = fp.ParsePathNumber([]byte(s))
	if err != nil {
		return fp.Path{}, syntaxError(err)
	}
	return p, nil
}

// syntaxError replaces a generic parser error, whose text names parser
// internals and positions that are not reliable, with a plain one.
func syntaxError(error) error {
	return errors.New("syntax error")
}
