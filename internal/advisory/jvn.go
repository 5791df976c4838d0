package advisory

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/bosaimail/bosaimail_exporter/internal/cpe"
)

// Namespaces of the MyJVN API's RSS 1.0 answer.
const (
	nsRSS    = "http://purl.org/rss/1.0/"
	nsSec    = "http://jvn.jp/rss/mod_sec/3.0/"
	nsStatus = "http://jvndb.jvn.jp/myjvn/Status"
)

// JVNStatus is the status:Status element that ends every MyJVN answer.
// MyJVN reports errors inside an HTTP 200 with RetCd=1.
type JVNStatus struct {
	Found       bool
	RetCd       int
	ErrCd       string
	ErrMsg      string
	TotalRes    int
	TotalResRet int
	FirstRes    int
}

// JVNError is an error that MyJVN reported in its status element.
type JVNError struct {
	Code string
	Msg  string
}

func (e *JVNError) Error() string {
	return fmt.Sprintf("MyJVN error %s: %s", e.Code, e.Msg)
}

type jvnItem struct {
	About      string `xml:"http://www.w3.org/1999/02/22-rdf-syntax-ns# about,attr"`
	Title      string `xml:"http://purl.org/rss/1.0/ title"`
	Link       string `xml:"http://purl.org/rss/1.0/ link"`
	Identifier string `xml:"http://jvn.jp/rss/mod_sec/3.0/ identifier"`
	References []struct {
		Source string `xml:"source,attr"`
		ID     string `xml:"id,attr"`
		URL    string `xml:",chardata"`
	} `xml:"http://jvn.jp/rss/mod_sec/3.0/ references"`
	CPEs []struct {
		Version string `xml:"version,attr"`
		Vendor  string `xml:"vendor,attr"`
		Product string `xml:"product,attr"`
		Name    string `xml:",chardata"`
	} `xml:"http://jvn.jp/rss/mod_sec/3.0/ cpe"`
	CVSS []struct {
		Score    string `xml:"score,attr"`
		Severity string `xml:"severity,attr"`
		Version  string `xml:"version,attr"`
	} `xml:"http://jvn.jp/rss/mod_sec/3.0/ cvss"`
	Date     string `xml:"http://purl.org/dc/elements/1.1/ date"`
	Issued   string `xml:"http://purl.org/dc/terms/ issued"`
	Modified string `xml:"http://purl.org/dc/terms/ modified"`
}

// DecodeJVN reads a MyJVN getVulnOverviewList answer and calls fn for each
// item. It returns the status element; a status with retCd=1 is returned as
// a *JVNError, and an answer without a status element (a truncated
// download) is an error. Items whose CPE names do not parse are still
// delivered, without those names: the entry must not be lost.
func DecodeJVN(r io.Reader, fn func(Advisory) error) (JVNStatus, error) {
	var st JVNStatus
	d := xml.NewDecoder(r)
	// MyJVN answers in UTF-8; refuse other declared charsets clearly.
	d.CharsetReader = func(label string, input io.Reader) (io.Reader, error) {
		if strings.EqualFold(label, "utf-8") || strings.EqualFold(label, "utf8") {
			return input, nil
		}
		return nil, fmt.Errorf("unsupported charset %q", label)
	}
	sawRoot := false
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return st, fmt.Errorf("JVN RSS at byte %d: %w", d.InputOffset(), err)
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		switch {
		case se.Name.Local == "RDF":
			sawRoot = true
		case !sawRoot:
			return st, fmt.Errorf("JVN RSS: root element is <%s>, not rdf:RDF (an HTML error page?)", se.Name.Local)
		case se.Name.Space == nsRSS && se.Name.Local == "item":
			var it jvnItem
			if err := d.DecodeElement(&it, &se); err != nil {
				return st, fmt.Errorf("JVN RSS item at byte %d: %w", d.InputOffset(), err)
			}
			a, err := it.advisory()
			if err != nil {
				return st, err
			}
			if err := fn(a); err != nil {
				if errors.Is(err, ErrStop) {
					return st, nil
				}
				return st, err
			}
		case se.Name.Space == nsStatus && se.Name.Local == "Status":
			st.Found = true
			for _, a := range se.Attr {
				switch a.Name.Local {
				case "retCd":
					st.RetCd, _ = strconv.Atoi(a.Value)
				case "errCd":
					st.ErrCd = a.Value
				case "errMsg":
					st.ErrMsg = a.Value
				case "totalRes":
					st.TotalRes, _ = strconv.Atoi(a.Value)
				case "totalResRet":
					st.TotalResRet, _ = strconv.Atoi(a.Value)
				case "firstRes":
					st.FirstRes, _ = strconv.Atoi(a.Value)
				}
			}
		}
	}
	if !sawRoot {
		return st, errors.New("JVN RSS: empty answer")
	}
	if !st.Found {
		return st, errors.New("JVN RSS: no status:Status element (truncated answer?)")
	}
	if st.RetCd != 0 {
		return st, &JVNError{Code: st.ErrCd, Msg: st.ErrMsg}
	}
	return st, nil
}

func (it jvnItem) advisory() (Advisory, error) {
	a := Advisory{
		ID:    strings.TrimSpace(it.Identifier),
		Title: strings.TrimSpace(it.Title),
		Link:  strings.TrimSpace(it.Link),
	}
	if a.ID == "" {
		return a, fmt.Errorf("JVN RSS item %q has no sec:identifier", it.About)
	}
	if a.Link == "" {
		a.Link = it.About
	}
	best := -1.0
	for _, c := range it.CVSS {
		v, _ := strconv.ParseFloat(c.Version, 64)
		if v > best {
			best, a.Severity = v, NormalizeSeverity(c.Severity)
		}
	}
	if a.Severity == "" {
		a.Severity = Unknown // unrated: not "none"
	}
	for _, ref := range it.References {
		id := strings.TrimSpace(ref.ID)
		if strings.EqualFold(ref.Source, "CVE") || strings.HasPrefix(id, "CVE-") {
			if id != "" {
				a.CVEs = append(a.CVEs, id)
			}
		}
	}
	a.Published = parseTime(it.Issued)
	if a.Published.IsZero() {
		a.Published = parseTime(it.Date)
	}
	a.Modified = parseTime(it.Modified)
	// JVN names products without versions (CPE 2.2 URIs): each name is a
	// product-level criterion.
	node := cpe.Node{Operator: "OR"}
	for _, c := range it.CPEs {
		n, err := cpe.Parse(c.Name)
		if err != nil {
			continue
		}
		node.Matches = append(node.Matches, cpe.Match{Criteria: n, Vulnerable: true})
	}
	if len(node.Matches) > 0 {
		a.Configs = []cpe.Config{{Operator: "OR", Nodes: []cpe.Node{node}}}
	}
	return a, nil
}
