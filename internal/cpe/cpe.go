// Package cpe parses CPE names (2.3 formatted strings and 2.2 URIs, the
// form JVN iPedia still publishes) and decides whether an inventory entry
// falls under an advisory's applicability statement: attribute matching,
// version ranges (start/end, including/excluding) and AND/OR configuration
// nodes with vulnerable=false platform entries.
package cpe

import (
	"fmt"
	"net/url"
	"strings"
)

// Any is the logical value ANY ("*" in 2.3, empty in 2.2).
const Any = "*"

// NA is the logical value NOT APPLICABLE ("-").
const NA = "-"

// Name is a CPE name reduced to the attributes that matching uses. Values
// are lower-case and unescaped; Any and NA are kept as "*" and "-".
type Name struct {
	Part      string // a (application), o (operating system), h (hardware)
	Vendor    string
	Product   string
	Version   string
	Update    string
	Edition   string
	Language  string
	SWEdition string
	TargetSW  string
	TargetHW  string
	Other     string
}

// String returns the 2.3 formatted string.
func (n Name) String() string {
	fields := []string{n.Part, n.Vendor, n.Product, n.Version, n.Update, n.Edition, n.Language, n.SWEdition, n.TargetSW, n.TargetHW, n.Other}
	for i, f := range fields {
		fields[i] = escape23(f)
	}
	return "cpe:2.3:" + strings.Join(fields, ":")
}

// Parse accepts a CPE 2.3 formatted string ("cpe:2.3:a:apache:http_server:2.4.58:*:*:*:*:*:*:*")
// or a CPE 2.2 URI ("cpe:/a:apache:http_server:2.4.58").
func Parse(s string) (Name, error) {
	s = strings.TrimSpace(s)
	switch {
	case strings.HasPrefix(strings.ToLower(s), "cpe:2.3:"):
		return parse23(s[len("cpe:2.3:"):], s)
	case strings.HasPrefix(strings.ToLower(s), "cpe:/"):
		return parse22(s[len("cpe:/"):], s)
	}
	return Name{}, fmt.Errorf("cpe %q: neither a 2.3 formatted string (cpe:2.3:...) nor a 2.2 URI (cpe:/...)", s)
}

func parse23(rest, orig string) (Name, error) {
	var fields []string
	var cur strings.Builder
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		switch c {
		case '\\':
			if i+1 >= len(rest) {
				return Name{}, fmt.Errorf("cpe %q: dangling escape at the end", orig)
			}
			i++
			cur.WriteByte(rest[i])
		case ':':
			fields = append(fields, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	fields = append(fields, cur.String())
	if len(fields) != 11 {
		return Name{}, fmt.Errorf("cpe %q: a 2.3 name has 11 attributes after cpe:2.3:, found %d", orig, len(fields))
	}
	for i, f := range fields {
		if f == "" {
			return Name{}, fmt.Errorf("cpe %q: attribute %d is empty (use * for any)", orig, i+1)
		}
		fields[i] = strings.ToLower(f)
	}
	n := Name{fields[0], fields[1], fields[2], fields[3], fields[4], fields[5], fields[6], fields[7], fields[8], fields[9], fields[10]}
	return n, n.checkPart(orig)
}

func parse22(rest, orig string) (Name, error) {
	parts := strings.Split(rest, ":")
	if len(parts) > 7 {
		return Name{}, fmt.Errorf("cpe %q: a 2.2 URI has at most 7 components, found %d", orig, len(parts))
	}
	vals := make([]string, 7)
	for i := range vals {
		vals[i] = Any
		if i < len(parts) {
			v, err := url.PathUnescape(parts[i])
			if err != nil {
				return Name{}, fmt.Errorf("cpe %q: component %d: %v", orig, i+1, err)
			}
			switch v {
			case "":
				v = Any
			case "-":
				v = NA
			}
			vals[i] = strings.ToLower(v)
		}
	}
	n := Name{Part: vals[0], Vendor: vals[1], Product: vals[2], Version: vals[3], Update: vals[4], Edition: vals[5], Language: vals[6],
		SWEdition: Any, TargetSW: Any, TargetHW: Any, Other: Any}
	// A packed edition "~edition~sw_edition~target_sw~target_hw~other"
	// carries the 2.3 extended attributes.
	if strings.HasPrefix(n.Edition, "~") {
		p := strings.Split(n.Edition[1:], "~")
		if len(p) != 5 {
			return Name{}, fmt.Errorf("cpe %q: packed edition needs 5 ~-separated values", orig)
		}
		for i := range p {
			if p[i] == "" {
				p[i] = Any
			}
		}
		n.Edition, n.SWEdition, n.TargetSW, n.TargetHW, n.Other = p[0], p[1], p[2], p[3], p[4]
	}
	return n, n.checkPart(orig)
}

func (n Name) checkPart(orig string) error {
	switch n.Part {
	case "a", "o", "h", Any:
		return nil
	}
	return fmt.Errorf("cpe %q: part must be a, o or h, not %q", orig, n.Part)
}

func escape23(s string) string {
	if s == Any || s == NA {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		// Only the separator and the escape itself must be quoted for the
		// name to parse back; NVD leaves '.', '-' and the like bare.
		if c == ':' || c == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
	return b.String()
}

// attrMatch compares one attribute of a criterion (pattern) with the
// inventory's value. ANY in the pattern matches everything; a trailing or
// leading * in a 2.3 value is a wildcard. An inventory value of ANY is
// matched only by ANY, so an unspecified inventory attribute never claims a
// specific advisory.
func attrMatch(pattern, value string) bool {
	if pattern == Any || pattern == value {
		return true
	}
	if value == Any || value == NA || pattern == NA {
		return false
	}
	if strings.HasPrefix(pattern, "*") && strings.HasSuffix(pattern, "*") && len(pattern) > 1 {
		return strings.Contains(value, pattern[1:len(pattern)-1])
	}
	if strings.HasSuffix(pattern, "*") {
		return strings.HasPrefix(value, pattern[:len(pattern)-1])
	}
	if strings.HasPrefix(pattern, "*") {
		return strings.HasSuffix(value, pattern[1:])
	}
	return false
}
