package advisory

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/bosaimail/bosaimail_exporter/internal/cpe"
)

// NVDPage is the paging header of an NVD CVE API 2.0 answer.
type NVDPage struct {
	ResultsPerPage int    `json:"resultsPerPage"`
	StartIndex     int    `json:"startIndex"`
	TotalResults   int    `json:"totalResults"`
	Format         string `json:"format"`
	Version        string `json:"version"`
	// Count is how many vulnerabilities this page held.
	Count int `json:"-"`
}

type nvdCVSS struct {
	Type         string `json:"type"`
	BaseSeverity string `json:"baseSeverity"` // v2 keeps it here
	CVSSData     struct {
		BaseSeverity string  `json:"baseSeverity"`
		BaseScore    float64 `json:"baseScore"`
	} `json:"cvssData"`
}

type nvdCVE struct {
	CVE struct {
		ID             string `json:"id"`
		Published      string `json:"published"`
		LastModified   string `json:"lastModified"`
		VulnStatus     string `json:"vulnStatus"`
		CISAExploitAdd string `json:"cisaExploitAdd"`
		Descriptions   []struct {
			Lang  string `json:"lang"`
			Value string `json:"value"`
		} `json:"descriptions"`
		Metrics struct {
			V40 []nvdCVSS `json:"cvssMetricV40"`
			V31 []nvdCVSS `json:"cvssMetricV31"`
			V30 []nvdCVSS `json:"cvssMetricV30"`
			V2  []nvdCVSS `json:"cvssMetricV2"`
		} `json:"metrics"`
		Configurations []struct {
			Operator string `json:"operator"`
			Negate   bool   `json:"negate"`
			Nodes    []struct {
				Operator string `json:"operator"`
				Negate   bool   `json:"negate"`
				CPEMatch []struct {
					Vulnerable            bool   `json:"vulnerable"`
					Criteria              string `json:"criteria"`
					VersionStartIncluding string `json:"versionStartIncluding"`
					VersionStartExcluding string `json:"versionStartExcluding"`
					VersionEndIncluding   string `json:"versionEndIncluding"`
					VersionEndExcluding   string `json:"versionEndExcluding"`
				} `json:"cpeMatch"`
			} `json:"nodes"`
		} `json:"configurations"`
	} `json:"cve"`
}

// NVDDetailURL is where a CVE's NVD page lives.
const NVDDetailURL = "https://nvd.nist.gov/vuln/detail/"

// DecodeNVD reads one page of the NVD CVE API 2.0 and calls fn for each
// vulnerability that is not rejected. The page header is returned; an
// answer whose "vulnerabilities" array is cut off is an error.
func DecodeNVD(r io.Reader, fn func(Advisory) error) (NVDPage, error) {
	var page NVDPage
	d := json.NewDecoder(r)
	if err := expectDelim(d, '{', "NVD answer"); err != nil {
		return page, err
	}
	sawVulns := false
	for d.More() {
		key, err := objectKey(d, "NVD answer")
		if err != nil {
			return page, err
		}
		switch key {
		case "resultsPerPage", "startIndex", "totalResults", "format", "version":
			var raw json.RawMessage
			if err := d.Decode(&raw); err != nil {
				return page, fmt.Errorf("NVD answer: %s: %w", key, err)
			}
			var err error
			switch key {
			case "resultsPerPage":
				err = json.Unmarshal(raw, &page.ResultsPerPage)
			case "startIndex":
				err = json.Unmarshal(raw, &page.StartIndex)
			case "totalResults":
				err = json.Unmarshal(raw, &page.TotalResults)
			case "format":
				err = json.Unmarshal(raw, &page.Format)
			case "version":
				err = json.Unmarshal(raw, &page.Version)
			}
			if err != nil {
				return page, fmt.Errorf("NVD answer: %s: %w", key, err)
			}
		case "vulnerabilities":
			sawVulns = true
			if err := expectDelim(d, '[', "NVD vulnerabilities"); err != nil {
				return page, err
			}
			for d.More() {
				var v nvdCVE
				if err := d.Decode(&v); err != nil {
					return page, fmt.Errorf("NVD vulnerability %d (after byte %d): %w", page.Count, d.InputOffset(), err)
				}
				page.Count++
				a, ok, err := v.advisory()
				if err != nil {
					return page, fmt.Errorf("NVD vulnerability %d: %w", page.Count-1, err)
				}
				if !ok {
					continue
				}
				if err := fn(a); err != nil {
					if errors.Is(err, ErrStop) {
						return page, nil
					}
					return page, err
				}
			}
			if err := expectDelim(d, ']', "NVD vulnerabilities"); err != nil {
				return page, err
			}
		default:
			if err := skipValue(d); err != nil {
				return page, fmt.Errorf("NVD answer: %s: %w", key, err)
			}
		}
	}
	if err := expectDelim(d, '}', "NVD answer"); err != nil {
		return page, err
	}
	if !sawVulns {
		return page, errors.New("NVD answer has no vulnerabilities array")
	}
	return page, nil
}

func (v nvdCVE) advisory() (Advisory, bool, error) {
	c := v.CVE
	if c.ID == "" {
		return Advisory{}, false, errors.New("entry without cve.id")
	}
	if strings.EqualFold(c.VulnStatus, "Rejected") {
		return Advisory{}, false, nil
	}
	a := Advisory{
		ID:             c.ID,
		Link:           NVDDetailURL + c.ID,
		CVEs:           []string{c.ID},
		Published:      parseTime(c.Published),
		Modified:       parseTime(c.LastModified),
		KnownExploited: c.CISAExploitAdd != "",
		Severity:       Unknown, // until a CVSS metric rates it
	}
	for _, d := range c.Descriptions {
		if d.Lang == "en" {
			a.Title = truncate(d.Value, 200)
			break
		}
	}
	for _, set := range [][]nvdCVSS{c.Metrics.V40, c.Metrics.V31, c.Metrics.V30, c.Metrics.V2} {
		if s := pickSeverity(set); s != "" {
			a.Severity = s
			break
		}
	}
	for ci, conf := range c.Configurations {
		cc := cpe.Config{Operator: conf.Operator}
		for _, n := range conf.Nodes {
			node := cpe.Node{Operator: n.Operator, Negate: n.Negate}
			for _, m := range n.CPEMatch {
				mm, err := cpe.NewMatch(m.Criteria, m.Vulnerable, m.VersionStartIncluding, m.VersionStartExcluding, m.VersionEndIncluding, m.VersionEndExcluding)
				if err != nil {
					return a, false, fmt.Errorf("%s configuration %d: %w", c.ID, ci, err)
				}
				node.Matches = append(node.Matches, mm)
			}
			cc.Nodes = append(cc.Nodes, node)
		}
		if err := cc.Validate(); err != nil {
			return a, false, fmt.Errorf("%s configuration %d: %w", c.ID, ci, err)
		}
		a.Configs = append(a.Configs, cc)
	}
	return a, true, nil
}

// pickSeverity prefers the NVD's own (Primary) score over a CNA's.
func pickSeverity(set []nvdCVSS) string {
	var out string
	for _, m := range set {
		s := m.CVSSData.BaseSeverity
		if s == "" {
			s = m.BaseSeverity
		}
		if s == "" {
			continue
		}
		if m.Type == "Primary" {
			return NormalizeSeverity(s)
		}
		if out == "" {
			out = NormalizeSeverity(s)
		}
	}
	return out
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	// Cut at a rune boundary.
	for n > 0 && (s[n]&0xC0) == 0x80 {
		n--
	}
	return s[:n] + "…"
}

func expectDelim(d *json.Decoder, want json.Delim, what string) error {
	tok, err := d.Token()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("%s: truncated (expected %q)", what, want)
		}
		return fmt.Errorf("%s: %w", what, err)
	}
	if got, ok := tok.(json.Delim); !ok || got != want {
		return fmt.Errorf("%s: expected %q, found %v", what, want, tok)
	}
	return nil
}

func objectKey(d *json.Decoder, what string) (string, error) {
	tok, err := d.Token()
	if err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	key, ok := tok.(string)
	if !ok {
		return "", fmt.Errorf("%s: expected an object key, found %v", what, tok)
	}
	return key, nil
}

// skipValue discards one JSON value without keeping it.
func skipValue(d *json.Decoder) error {
	depth := 0
	for {
		tok, err := d.Token()
		if err != nil {
			return err
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
		if depth == 0 {
			return nil
		}
	}
}
