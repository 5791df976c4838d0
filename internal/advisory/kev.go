package advisory

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// KEVEntry is one entry of CISA's Known Exploited Vulnerabilities catalog.
type KEVEntry struct {
	CVEID         string `json:"cveID"`
	VendorProject string `json:"vendorProject"`
	Product       string `json:"product"`
	Name          string `json:"vulnerabilityName"`
	DateAdded     string `json:"dateAdded"`
	DueDate       string `json:"dueDate"`
	Ransomware    string `json:"knownRansomwareCampaignUse"`
}

// KEVCatalog is the catalog's header.
type KEVCatalog struct {
	Version  string
	Released time.Time
	// Declared is the catalog's own "count"; Count is how many entries were read.
	Declared int
	Count    int
}

// DecodeKEV reads the KEV catalog JSON and calls fn for each entry. A
// catalog whose entry count differs from its declared count (a truncated or
// altered download) is an error.
func DecodeKEV(r io.Reader, fn func(KEVEntry) error) (KEVCatalog, error) {
	var cat KEVCatalog
	d := json.NewDecoder(r)
	if err := expectDelim(d, '{', "KEV catalog"); err != nil {
		return cat, err
	}
	sawVulns, sawCount := false, false
	for d.More() {
		key, err := objectKey(d, "KEV catalog")
		if err != nil {
			return cat, err
		}
		switch key {
		case "catalogVersion":
			if err := d.Decode(&cat.Version); err != nil {
				return cat, fmt.Errorf("KEV catalog: catalogVersion: %w", err)
			}
		case "dateReleased":
			var s string
			if err := d.Decode(&s); err != nil {
				return cat, fmt.Errorf("KEV catalog: dateReleased: %w", err)
			}
			cat.Released = parseTime(s)
		case "count":
			sawCount = true
			if err := d.Decode(&cat.Declared); err != nil {
				return cat, fmt.Errorf("KEV catalog: count: %w", err)
			}
		case "vulnerabilities":
			sawVulns = true
			if err := expectDelim(d, '[', "KEV vulnerabilities"); err != nil {
				return cat, err
			}
			for d.More() {
				var e KEVEntry
				if err := d.Decode(&e); err != nil {
					return cat, fmt.Errorf("KEV entry %d: %w", cat.Count, err)
				}
				if e.CVEID == "" {
					return cat, fmt.Errorf("KEV entry %d has no cveID", cat.Count)
				}
				cat.Count++
				if err := fn(e); err != nil {
					return cat, err
				}
			}
			if err := expectDelim(d, ']', "KEV vulnerabilities"); err != nil {
				return cat, err
			}
		default:
			if err := skipValue(d); err != nil {
				return cat, fmt.Errorf("KEV catalog: %s: %w", key, err)
			}
		}
	}
	if err := expectDelim(d, '}', "KEV catalog"); err != nil {
		return cat, err
	}
	if !sawVulns {
		return cat, errors.New("KEV catalog has no vulnerabilities array")
	}
	if sawCount && cat.Declared != cat.Count {
		return cat, fmt.Errorf("KEV catalog declares %d entries but holds %d", cat.Declared, cat.Count)
	}
	return cat, nil
}
