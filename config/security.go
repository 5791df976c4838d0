package config

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/itchyny/gojq"

	"github.com/bosaimail/bosaimail_exporter/internal/cpe"
)

// SecurityConfig holds the software inventory, advisory feeds, antivirus and
// findings (issue 7). docs/security.md describes each key.
type SecurityConfig struct {
	// Inventory is the middleware in use: what advisories are matched
	// against and what bosaimail_software_info exposes.
	Inventory []Software `yaml:"inventory"`
	// ObserveInterval is how often observed versions are read back.
	ObserveInterval Duration `yaml:"observe_interval"`
	// Advisories configures the vulnerability feeds.
	Advisories AdvisoryConfig `yaml:"advisories"`
	// Antivirus lists the signature databases to watch.
	Antivirus []Antivirus `yaml:"antivirus"`
	// Findings lists security findings feeds.
	Findings []FindingsFeed `yaml:"findings"`
}

// Software is one inventory entry.
type Software struct {
	// Product is the label value (httpd, postfix, dovecot...).
	Product string `yaml:"product"`
	Vendor  string `yaml:"vendor"`
	Version string `yaml:"version"`
	// CPE is the CPE 2.3 name (or 2.2 URI) of this exact version.
	CPE string `yaml:"cpe"`
	// Purl is an optional package URL (pkg:rpm/redhat/httpd@2.4.58), kept for
	// the inventory report.
	Purl string `yaml:"purl"`
	// Observed, when set, reads the running version so that the declared one
	// cannot drift silently.
	Observed *ObservedVersion `yaml:"observed"`

	// Name is the parsed CPE.
	Name cpe.Name `yaml:"-"`
}

// ObservedVersion reads the running version from a health endpoint's JSON
// or from a file. Exactly one of URL and File is set.
type ObservedVersion struct {
	URL  URL    `yaml:"url"`
	File string `yaml:"file"`
	// JQ extracts the version from a JSON body (e.g. '.versions.httpd').
	JQ string `yaml:"jq"`
	// Regexp extracts the version from a text body: its first group.
	Regexp string `yaml:"regexp"`

	Code         *gojq.Code     `yaml:"-"`
	Pattern      *regexp.Regexp `yaml:"-"`
	ResolvedFile string         `yaml:"-"`
}

// AdvisoryConfig configures the advisory feeds. A feed is used when its
// enabled key is true.
type AdvisoryConfig struct {
	JVN FeedConfig `yaml:"jvn"`
	NVD FeedConfig `yaml:"nvd"`
	KEV FeedConfig `yaml:"kev"`
	// AcknowledgementsFile records decisions (patched, not applicable...);
	// an acknowledged advisory leaves the open count.
	AcknowledgementsFile string `yaml:"acknowledgements_file"`
	// MaxListed bounds the _info series of open critical/high advisories.
	MaxListed int `yaml:"max_listed"`
	// MaxBodyBytes bounds one downloaded page.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`

	ResolvedAcknowledgementsFile string `yaml:"-"`
}

// FeedConfig is one advisory feed.
type FeedConfig struct {
	Enabled  bool     `yaml:"enabled"`
	URL      URL      `yaml:"url"`
	Interval Duration `yaml:"interval"`
	Timeout  Duration `yaml:"timeout"`
	// PageSize is maxCountItem (JVN, at most 50) or resultsPerPage (NVD, at
	// most 2000).
	PageSize int `yaml:"page_size"`
	// RequestInterval spaces page requests to honour the feed's rate limit
	// (NVD: 6s without an API key, 0.6s with one).
	RequestInterval Duration `yaml:"request_interval"`
	// APIKeyFile holds the NVD API key.
	APIKeyFile string `yaml:"api_key_file"`
}

// Antivirus is one signature database to watch. Exactly one of Clamd,
// Database and File is set.
type Antivirus struct {
	Engine string `yaml:"engine"`
	// Clamd is "tcp://127.0.0.1:3310" or "unix:///run/clamav/clamd.ctl".
	Clamd string `yaml:"clamd"`
	// Database is a ClamAV daily.cvd or daily.cld file.
	Database string `yaml:"database"`
	// File is any file whose modification time is the signature update
	// time (other engines).
	File     string   `yaml:"file"`
	Interval Duration `yaml:"interval"`
	Timeout  Duration `yaml:"timeout"`
	// TimeZone is the zone clamd prints its signature build time in: the
	// zone of the host clamd runs on (IANA name such as Asia/Tokyo or UTC,
	// or an offset such as +09:00). Default Asia/Tokyo.
	TimeZone string `yaml:"time_zone"`

	// Location is TimeZone, parsed.
	Location     *time.Location `yaml:"-"`
	ClamdNetwork string         `yaml:"-"`
	ClamdAddress string         `yaml:"-"`
	ResolvedPath string         `yaml:"-"`
}

// FindingsFeed is one source of security findings.
type FindingsFeed struct {
	Name string `yaml:"name"`
	// Kind is aws_securityhub, jsonl_file or http.
	Kind     string   `yaml:"kind"`
	Interval Duration `yaml:"interval"`
	Timeout  Duration `yaml:"timeout"`

	// AWS Security Hub.
	Region string `yaml:"region"`
	// Endpoint overrides the service endpoint (VPC endpoint, tests).
	Endpoint URL `yaml:"endpoint"`

	// jsonl_file: a file of one JSON finding per line.
	Path string `yaml:"path"`
	// http: a URL answering a JSON array of findings or JSON lines.
	URL URL `yaml:"url"`
	// BearerTokenFile authenticates the http feed.
	BearerTokenFile string `yaml:"bearer_token_file"`

	// Severity is a jq expression giving the finding's severity word
	// (mapped to critical|high|medium|low|none, or unknown when absent or not one of these); default '.severity'.
	Severity string `yaml:"severity"`
	// Active is a jq expression that is true for an active finding;
	// default 'true'.
	Active string `yaml:"active"`

	SeverityCode *gojq.Code `yaml:"-"`
	ActiveCode   *gojq.Code `yaml:"-"`
	ResolvedPath string     `yaml:"-"`
}

// Default feed locations.
const (
	DefaultJVNURL = "https://jvndb.jvn.jp/myjvn"
	DefaultNVDURL = "https://services.nvd.nist.gov/rest/json/cves/2.0"
	DefaultKEVURL = "https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json"
)

func mustSecURL(s string) URL {
	u, err := ParseURL(s)
	if err != nil {
		panic(err)
	}
	return URL{u}
}

func (c *SecurityConfig) setDefaults() {
	if c.ObserveInterval == 0 {
		c.ObserveInterval = Duration(5 * time.Minute)
	}
	a := &c.Advisories
	for _, f := range []struct {
		fc       *FeedConfig
		url      string
		interval time.Duration
		page     int
		gap      time.Duration
	}{
		{&a.JVN, DefaultJVNURL, 6 * time.Hour, 50, time.Second},
		{&a.NVD, DefaultNVDURL, 6 * time.Hour, 2000, 6 * time.Second},
		{&a.KEV, DefaultKEVURL, 6 * time.Hour, 0, 0},
	} {
		if f.fc.URL.IsZero() {
			f.fc.URL = mustSecURL(f.url)
		}
		if f.fc.Interval == 0 {
			f.fc.Interval = Duration(f.interval)
		}
		if f.fc.Timeout == 0 {
			f.fc.Timeout = Duration(5 * time.Minute)
		}
		if f.fc.PageSize == 0 {
			f.fc.PageSize = f.page
		}
		if f.fc.RequestInterval == 0 {
			f.fc.RequestInterval = Duration(f.gap)
		}
	}
	if a.NVD.APIKeyFile != "" && a.NVD.RequestInterval == Duration(6*time.Second) {
		a.NVD.RequestInterval = Duration(600 * time.Millisecond)
	}
	if a.MaxListed == 0 {
		a.MaxListed = 50
	}
	if a.MaxBodyBytes == 0 {
		a.MaxBodyBytes = 64 << 20
	}
	for i := range c.Antivirus {
		av := &c.Antivirus[i]
		if av.Interval == 0 {
			av.Interval = Duration(5 * time.Minute)
		}
		if av.Timeout == 0 {
			av.Timeout = Duration(10 * time.Second)
		}
	}
	for i := range c.Findings {
		f := &c.Findings[i]
		if f.Interval == 0 {
			f.Interval = Duration(5 * time.Minute)
		}
		if f.Timeout == 0 {
			f.Timeout = Duration(time.Minute)
		}
		if f.Severity == "" {
			f.Severity = ".severity"
			if f.Kind == "aws_securityhub" {
				f.Severity = ".Severity.Label"
			}
		}
		if f.Active == "" {
			f.Active = "true"
		}
	}
}

func (c *SecurityConfig) validate(v *Validator, path string, cfg *Config) {
	names := make([]string, len(c.Inventory))
	for i := range c.Inventory {
		s := &c.Inventory[i]
		p := fmt.Sprintf("%s.inventory[%d]", path, i)
		names[i] = s.Product
		v.CheckName(p+".product", s.Product)
		if s.Version == "" {
			v.Errorf(p+".version", "version is required for product %q", s.Product)
		}
		if s.CPE == "" {
			v.Errorf(p+".cpe", "cpe is required for product %q (e.g. cpe:2.3:a:apache:http_server:2.4.58:*:*:*:*:*:*:*)", s.Product)
		} else if n, err := cpe.Parse(s.CPE); err != nil {
			v.Errorf(p+".cpe", "%v", err)
		} else {
			s.Name = n
			if n.Version != s.Version && n.Version != cpe.Any && cpe.CompareVersions(n.Version, s.Version) != 0 {
				v.Errorf(p+".cpe", "cpe version %q differs from version %q", n.Version, s.Version)
			}
			if n.Version == cpe.Any {
				// The version key completes a version-less CPE.
				s.Name.Version = strings.ToLower(s.Version)
			}
		}
		if o := s.Observed; o != nil {
			op := p + ".observed"
			if o.URL.IsZero() == (o.File == "") {
				v.Errorf(op, "exactly one of url and file must be set")
			}
			if (o.JQ == "") == (o.Regexp == "") {
				v.Errorf(op, "exactly one of jq and regexp must be set")
			}
			if o.JQ != "" {
				code, err := CompileJQ(o.JQ)
				if err != nil {
					v.Errorf(op+".jq", "%v", err)
				}
				o.Code = code
			}
			if o.Regexp != "" {
				re, err := regexp.Compile(o.Regexp)
				if err != nil {
					v.Errorf(op+".regexp", "invalid regexp %q: %v", o.Regexp, err)
				} else if re.NumSubexp() < 1 {
					v.Errorf(op+".regexp", "regexp %q needs a group that captures the version", o.Regexp)
				}
				o.Pattern = re
			}
			o.ResolvedFile = cfg.Resolve(o.File)
		}
	}
	v.Unique("product", names, func(i int) string { return fmt.Sprintf("%s.inventory[%d].product", path, i) })

	a := &c.Advisories
	ap := path + ".advisories"
	if a.JVN.Enabled && a.JVN.PageSize > 50 {
		v.Errorf(ap+".jvn.page_size", "MyJVN returns at most 50 items per request, not %d", a.JVN.PageSize)
	}
	if a.NVD.Enabled && a.NVD.PageSize > 2000 {
		v.Errorf(ap+".nvd.page_size", "the NVD API returns at most 2000 results per page, not %d", a.NVD.PageSize)
	}
	v.SecretFile(ap+".nvd.api_key_file", &a.NVD.APIKeyFile, cfg)
	if (a.JVN.Enabled || a.NVD.Enabled) && len(c.Inventory) == 0 {
		v.Errorf(ap, "advisory feeds need a software inventory to match against")
	}
	if a.MaxListed < 0 || a.MaxListed > 1000 {
		v.Errorf(ap+".max_listed", "max_listed must be between 0 and 1000, not %d", a.MaxListed)
	}
	if a.AcknowledgementsFile != "" {
		a.ResolvedAcknowledgementsFile = cfg.Resolve(a.AcknowledgementsFile)
		if _, err := LoadAcknowledgements(a.ResolvedAcknowledgementsFile); err != nil {
			v.Errorf(ap+".acknowledgements_file", "%v", err)
		}
	}

	engines := make([]string, len(c.Antivirus))
	for i := range c.Antivirus {
		av := &c.Antivirus[i]
		p := fmt.Sprintf("%s.antivirus[%d]", path, i)
		engines[i] = av.Engine
		v.CheckName(p+".engine", av.Engine)
		set := 0
		for _, s := range []string{av.Clamd, av.Database, av.File} {
			if s != "" {
				set++
			}
		}
		if set != 1 {
			v.Errorf(p, "exactly one of clamd, database and file must be set")
		}
		switch {
		case strings.HasPrefix(av.Clamd, "tcp://"):
			av.ClamdNetwork, av.ClamdAddress = "tcp", strings.TrimPrefix(av.Clamd, "tcp://")
			ValidateHostPort(v, p+".clamd", av.ClamdAddress)
		case strings.HasPrefix(av.Clamd, "unix://"):
			av.ClamdNetwork, av.ClamdAddress = "unix", cfg.Resolve(strings.TrimPrefix(av.Clamd, "unix://"))
		case av.Clamd != "":
			v.Errorf(p+".clamd", "clamd %q must be tcp://host:port or unix:///path", av.Clamd)
		}
		av.ResolvedPath = cfg.Resolve(av.Database + av.File)
		loc, err := ParseTimeZone(av.TimeZone)
		if err != nil {
			v.Errorf(p+".time_zone", "%v", err)
		}
		av.Location = loc
	}
	v.Unique("antivirus engine", engines, func(i int) string { return fmt.Sprintf("%s.antivirus[%d].engine", path, i) })

	fnames := make([]string, len(c.Findings))
	for i := range c.Findings {
		f := &c.Findings[i]
		p := fmt.Sprintf("%s.findings[%d]", path, i)
		fnames[i] = f.Name
		v.CheckName(p+".name", f.Name)
		switch f.Kind {
		case "aws_securityhub":
			if f.Region == "" {
				v.Errorf(p+".region", "region is required for aws_securityhub")
			}
		case "jsonl_file":
			if f.Path == "" {
				v.Errorf(p+".path", "path is required for jsonl_file")
			}
			f.ResolvedPath = cfg.Resolve(f.Path)
		case "http":
			if f.URL.IsZero() {
				v.Errorf(p+".url", "url is required for http")
			}
			v.SecretFile(p+".bearer_token_file", &f.BearerTokenFile, cfg)
		default:
			v.Errorf(p+".kind", "kind %q is not one of aws_securityhub, jsonl_file, http", f.Kind)
		}
		var err error
		if f.SeverityCode, err = CompileJQ(f.Severity); err != nil {
			v.Errorf(p+".severity", "%v", err)
		}
		if f.ActiveCode, err = CompileJQ(f.Active); err != nil {
			v.Errorf(p+".active", "%v", err)
		}
	}
	v.Unique("findings feed", fnames, func(i int) string { return fmt.Sprintf("%s.findings[%d].name", path, i) })
}

// Acknowledgement records a decision about one advisory.
type Acknowledgement struct {
	// ID is the advisory (JVNDB-2026-012345) or CVE identifier; a CVE
	// acknowledgement also covers JVN entries that reference the CVE.
	ID string `yaml:"id"`
	// Product limits the decision to one inventory product; empty means all.
	Product string `yaml:"product"`
	// Status is patched, not_applicable, mitigated or accepted.
	Status string `yaml:"status"`
	Reason string `yaml:"reason"`
	// Date is when the decision was made (YYYY-MM-DD).
	Date string `yaml:"date"`
	By   string `yaml:"by"`
	// Expires, when set (YYYY-MM-DD), ends the decision: the advisory is
	// open again from that day (for "accepted" risks that must be reviewed).
	Expires string `yaml:"expires"`

	ExpiresAt time.Time `yaml:"-"`
}

type secAckFile struct {
	Acknowledgements []Acknowledgement `yaml:"acknowledgements"`
}

// LoadAcknowledgements reads and checks an acknowledgement file. Errors
// name the file, line and key.
func LoadAcknowledgements(path string) ([]Acknowledgement, error) {
	data, err := ReadFileBounded(path, MaxFileBytes, "acknowledgement file")
	if err != nil {
		return nil, err
	}
	return ParseAcknowledgements(path, data)
}

// ParseAcknowledgements checks the content of an acknowledgement file;
// path is used in errors.
func ParseAcknowledgements(path string, data []byte) ([]Acknowledgement, error) {
	var af secAckFile
	root, err := DecodeStrict(path, data, &af)
	if err != nil {
		return nil, err
	}
	v := NewValidator(path, root)
	for i := range af.Acknowledgements {
		a := &af.Acknowledgements[i]
		p := fmt.Sprintf("acknowledgements[%d]", i)
		if a.ID == "" {
			v.Errorf(p+".id", "id is required")
		}
		switch a.Status {
		case "patched", "not_applicable", "mitigated", "accepted":
		default:
			v.Errorf(p+".status", "status %q is not one of patched, not_applicable, mitigated, accepted", a.Status)
		}
		if strings.TrimSpace(a.Reason) == "" {
			v.Errorf(p+".reason", "a reason is required: the open count may only fall through a recorded decision")
		}
		if _, err := time.Parse("2006-01-02", a.Date); err != nil {
			v.Errorf(p+".date", "date %q is not YYYY-MM-DD", a.Date)
		}
		if a.Expires != "" {
			t, err := time.ParseInLocation("2006-01-02", a.Expires, Tokyo)
			if err != nil {
				v.Errorf(p+".expires", "expires %q is not YYYY-MM-DD", a.Expires)
			}
			a.ExpiresAt = t
		}
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	return af.Acknowledgements, nil
}
