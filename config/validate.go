package config

import (
	"crypto/x509"
	"fmt"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Problem is one validation failure, located in the file by its key path
// (e.g. "services[0].checks[1].http.url") and, when known, its line.
type Problem struct {
	File string
	Line int
	Path string
	Msg  string
}

func (p Problem) Error() string {
	loc := p.File
	if p.Line > 0 {
		loc = fmt.Sprintf("%s:%d", p.File, p.Line)
	}
	if p.Path == "" {
		return fmt.Sprintf("%s: %s", loc, p.Msg)
	}
	return fmt.Sprintf("%s: %s: %s", loc, p.Path, p.Msg)
}

// Problems is every validation failure of one file; a config is rejected
// when it has any, and all of them are reported at once so an operator can
// fix the file in one pass.
type Problems []Problem

func (ps Problems) Error() string {
	msgs := make([]string, len(ps))
	for i, p := range ps {
		msgs[i] = p.Error()
	}
	return strings.Join(msgs, "\n")
}

// Validator collects problems while each config section checks itself. It
// knows the line of every key path of the parsed document, so a section only
// names the path and the message.
type Validator struct {
	file     string
	lines    map[string]int
	problems Problems
	// rootPools shares one parsed pool among the TLS settings of a document
	// that trust the same CA (see ValidateTLS).
	rootPools map[string]*x509.CertPool
}

// NewValidator builds a validator for a document; root may be nil (tests that
// build a Config in code), in which case problems carry no line numbers.
func NewValidator(file string, root *yaml.Node) *Validator {
	v := &Validator{file: file, lines: map[string]int{}}
	if root != nil {
		if root.Kind == yaml.DocumentNode && len(root.Content) > 0 {
			root = root.Content[0]
		}
		indexLines(root, "", v.lines)
	}
	return v
}

// Errorf records a problem at path. The line is that of the path itself or
// of its nearest ancestor present in the document (defaults are not).
func (v *Validator) Errorf(path, format string, args ...any) {
	v.problems = append(v.problems, Problem{File: v.file, Line: v.line(path), Path: path, Msg: fmt.Sprintf(format, args...)})
}

// Err returns the collected problems, sorted by line, or nil.
func (v *Validator) Err() error {
	if len(v.problems) == 0 {
		return nil
	}
	sort.SliceStable(v.problems, func(i, j int) bool { return v.problems[i].Line < v.problems[j].Line })
	return v.problems
}

func (v *Validator) line(path string) int {
	for p := path; p != ""; p = parentPath(p) {
		if l, ok := v.lines[p]; ok {
			return l
		}
	}
	return 0
}

// Unique reports every name that occurs more than once in names; path(i)
// gives the key path of element i.
func (v *Validator) Unique(what string, names []string, path func(i int) string) {
	seen := map[string]int{}
	for i, n := range names {
		if n == "" {
			continue
		}
		if j, ok := seen[n]; ok {
			v.Errorf(path(i), "duplicate %s %q (first defined at %s)", what, n, path(j))
			continue
		}
		seen[n] = i
	}
}

func parentPath(p string) string {
	i := strings.LastIndexAny(p, ".[")
	if i <= 0 {
		return ""
	}
	return p[:i]
}

func indexLines(n *yaml.Node, path string, lines map[string]int) {
	if path != "" {
		lines[path] = n.Line
	}
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			p := k.Value
			if path != "" {
				p = path + "." + k.Value
			}
			lines[p] = k.Line
			indexLines(val, p, lines)
			lines[p] = k.Line
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			indexLines(c, fmt.Sprintf("%s[%d]", path, i), lines)
		}
	case yaml.AliasNode:
		if n.Alias != nil {
			indexLines(n.Alias, path, lines)
		}
	}
}
