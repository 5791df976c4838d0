package cpe

import (
	"fmt"
	"strings"
)

// CompareVersions orders two version strings the way vendors number
// releases: split at '.', '-', '_', '+' and at digit/letter boundaries;
// numeric pieces compare as numbers, others as text; a missing piece is
// smaller than a present one, except that a letter suffix that starts a
// pre-release ("rc", "beta", "alpha", "pre", "dev") sorts before the bare
// release. "1.1.1w" > "1.1.1", "2.4.9" < "2.4.10", "8.0.0-rc1" < "8.0.0".
func CompareVersions(a, b string) int {
	pa, pb := versionPieces(a), versionPieces(b)
	for i := 0; i < len(pa) || i < len(pb); i++ {
		switch {
		case i >= len(pa):
			if isPre(pb[i]) {
				return 1
			}
			return -1
		case i >= len(pb):
			if isPre(pa[i]) {
				return -1
			}
			return 1
		}
		if c := comparePiece(pa[i], pb[i]); c != 0 {
			return c
		}
	}
	return 0
}

func isPre(p string) bool {
	for _, pre := range []string{"alpha", "beta", "rc", "pre", "dev"} {
		if p == pre {
			return true
		}
	}
	return false
}

func versionPieces(v string) []string {
	v = strings.ToLower(strings.TrimSpace(v))
	var out []string
	start := 0
	kind := func(c byte) int {
		switch {
		case c >= '0' && c <= '9':
			return 1
		case c == '.' || c == '-' || c == '_' || c == '+' || c == ':' || c == '~':
			return 0
		}
		return 2
	}
	for i := 0; i <= len(v); i++ {
		if i == len(v) || kind(v[i]) == 0 || (i > start && kind(v[i]) != kind(v[i-1])) {
			if i > start {
				out = append(out, v[start:i])
			}
			start = i
			if i < len(v) && kind(v[i]) == 0 {
				start = i + 1
			}
		}
	}
	return out
}

func comparePiece(a, b string) int {
	an, bn := isNum(a), isNum(b)
	switch {
	case an && bn:
		a, b = strings.TrimLeft(a, "0"), strings.TrimLeft(b, "0")
		if len(a) != len(b) {
			if len(a) < len(b) {
				return -1
			}
			return 1
		}
		return strings.Compare(a, b)
	case an: // a number sorts after a pre-release word, before other words
		if isPre(b) {
			return 1
		}
		return -1
	case bn:
		if isPre(a) {
			return -1
		}
		return 1
	}
	return strings.Compare(a, b)
}

func isNum(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// Match is one applicability criterion (NVD's cpeMatch, or a JVN sec:cpe
// with a version).
type Match struct {
	Criteria              Name
	Vulnerable            bool
	VersionStartIncluding string
	VersionStartExcluding string
	VersionEndIncluding   string
	VersionEndExcluding   string
}

// NewMatch parses a criterion string with its range bounds.
func NewMatch(criteria string, vulnerable bool, startIncl, startExcl, endIncl, endExcl string) (Match, error) {
	n, err := Parse(criteria)
	if err != nil {
		return Match{}, err
	}
	return Match{n, vulnerable, startIncl, startExcl, endIncl, endExcl}, nil
}

func (m Match) hasRange() bool {
	return m.VersionStartIncluding != "" || m.VersionStartExcluding != "" || m.VersionEndIncluding != "" || m.VersionEndExcluding != ""
}

// Matches tells whether the inventory name n falls under the criterion.
func (m Match) Matches(n Name) bool {
	c := m.Criteria
	if !attrMatch(c.Part, n.Part) || !attrMatch(c.Vendor, n.Vendor) || !attrMatch(c.Product, n.Product) {
		return false
	}
	if m.hasRange() {
		// A range is given with version ANY in the criterion; the inventory
		// must name a concrete version to be judged.
		if n.Version == Any || n.Version == NA {
			return false
		}
		if c.Version != Any && c.Version != NA && !attrMatch(c.Version, n.Version) {
			return false
		}
		v := n.Version
		if m.VersionStartIncluding != "" && CompareVersions(v, m.VersionStartIncluding) < 0 {
			return false
		}
		if m.VersionStartExcluding != "" && CompareVersions(v, m.VersionStartExcluding) <= 0 {
			return false
		}
		if m.VersionEndIncluding != "" && CompareVersions(v, m.VersionEndIncluding) > 0 {
			return false
		}
		if m.VersionEndExcluding != "" && CompareVersions(v, m.VersionEndExcluding) >= 0 {
			return false
		}
	} else if c.Version != Any && !(c.Version == NA && !m.Vulnerable) {
		// NVD writes platform entries as "windows:-" meaning the platform
		// in general, so a vulnerable=false NA version matches any version.
		if n.Version == Any {
			return false
		}
		if !strings.Contains(c.Version, "*") {
			if CompareVersions(c.Version, n.Version) != 0 {
				return false
			}
		} else if !attrMatch(c.Version, n.Version) {
			return false
		}
	}
	// The remaining attributes narrow the criterion (e.g. update "sp1",
	// target_sw "wordpress"); an inventory that leaves them unset is taken
	// as matching, since inventories rarely record them.
	for _, p := range [][2]string{{c.Update, n.Update}, {c.Edition, n.Edition}, {c.Language, n.Language}, {c.SWEdition, n.SWEdition}, {c.TargetSW, n.TargetSW}, {c.TargetHW, n.TargetHW}, {c.Other, n.Other}} {
		if p[1] == Any || p[0] == Any || p[0] == NA && p[1] == NA {
			continue
		}
		if !attrMatch(p[0], p[1]) {
			return false
		}
	}
	return true
}

// Node is one configuration node: CPE criteria joined by an operator.
type Node struct {
	Operator string // "OR" (default) or "AND"
	Negate   bool
	Matches  []Match
}

// Config is one applicability configuration: nodes joined by an operator.
// NVD's "running on/with" configurations are Operator AND with a node of
// vulnerable criteria and a node of vulnerable=false platform criteria.
type Config struct {
	Operator string
	Nodes    []Node
}

// Affected returns the indexes of inventory entries that the configuration
// declares vulnerable: entries matched by a vulnerable criterion of a node
// that holds, in a configuration that holds as a whole. Platform criteria
// (vulnerable=false) make a node or configuration hold but never mark an
// entry as affected.
func (c Config) Affected(inventory []Name) []int {
	holds := make([]bool, len(c.Nodes))
	hits := make([][]int, len(c.Nodes))
	for i, node := range c.Nodes {
		holds[i], hits[i] = node.eval(inventory)
	}
	and := strings.EqualFold(c.Operator, "AND")
	all, any := true, false
	for _, h := range holds {
		all = all && h
		any = any || h
	}
	if len(c.Nodes) == 0 || (and && !all) || (!and && !any) {
		return nil
	}
	seen := map[int]bool{}
	var out []int
	for i, h := range holds {
		if !h {
			continue
		}
		for _, idx := range hits[i] {
			if !seen[idx] {
				seen[idx] = true
				out = append(out, idx)
			}
		}
	}
	return out
}

func (n Node) eval(inventory []Name) (bool, []int) {
	and := strings.EqualFold(n.Operator, "AND")
	var vulnHits []int
	all, any := true, false
	for _, m := range n.Matches {
		matched := false
		for i, inv := range inventory {
			if m.Matches(inv) {
				matched = true
				if m.Vulnerable {
					vulnHits = append(vulnHits, i)
				}
			}
		}
		all = all && matched
		any = any || matched
	}
	holds := any
	if and {
		holds = all && len(n.Matches) > 0
	}
	if n.Negate {
		// A negated node states where the issue does NOT apply; it can
		// only hold as a condition, never name an affected entry.
		return !holds, nil
	}
	if !holds {
		return false, nil
	}
	return true, vulnHits
}

// Validate reports a configuration that cannot be evaluated.
func (c Config) Validate() error {
	for _, op := range []string{c.Operator} {
		if op != "" && !strings.EqualFold(op, "AND") && !strings.EqualFold(op, "OR") {
			return fmt.Errorf("configuration operator %q is neither AND nor OR", op)
		}
	}
	for i, n := range c.Nodes {
		if n.Operator != "" && !strings.EqualFold(n.Operator, "AND") && !strings.EqualFold(n.Operator, "OR") {
			return fmt.Errorf("node %d operator %q is neither AND nor OR", i, n.Operator)
		}
	}
	return nil
}
