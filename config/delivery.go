package config

import (
	"crypto/tls"
	"strings"
	"time"

	"github.com/itchyny/gojq"
	commoncfg "github.com/prometheus/common/config"

	"github.com/bosaimail/bosaimail_exporter/internal/deliverystats"
)

// DeliveryConfig holds the mail queue and delivery statistics sources (issue 12).
type DeliveryConfig struct {
	// Queue reads the MTA's queue (Postfix `postqueue -j` JSON lines).
	Queue *QueueSource `yaml:"queue"`
	// Stats reads the mail service's own delivery-statistics JSON API.
	Stats *StatsSource `yaml:"stats"`
	// SES reads Amazon SES sending statistics (GetSendStatistics).
	SES *SESSource `yaml:"ses"`
}

// QueueSource is where the `postqueue -j` output comes from: exactly one
// of Command, File and URL.
type QueueSource struct {
	// Command runs locally, e.g. ["/usr/sbin/postqueue", "-j"].
	Command []string `yaml:"command"`
	// File is a dump an agent writes (e.g. from cron).
	File string `yaml:"file"`
	// URL serves the dump over HTTP(S) (an agent on the mail host).
	URL             URL                 `yaml:"url"`
	TLS             commoncfg.TLSConfig `yaml:"tls_config"`
	BearerTokenFile string              `yaml:"bearer_token_file"`
	Interval        Duration            `yaml:"interval"`
	Timeout         Duration            `yaml:"timeout"`
	// MaxBytes bounds one dump (a million queued messages are ~300 MB).
	MaxBytes int64 `yaml:"max_bytes"`
	// MaxLineBytes bounds one line; longer lines are counted as malformed.
	MaxLineBytes int `yaml:"max_line_bytes"`

	ResolvedFile string      `yaml:"-"`
	TLSClient    *tls.Config `yaml:"-"`
}

// StatsSource is the service's delivery-statistics API.
type StatsSource struct {
	URL             URL                 `yaml:"url"`
	TLS             commoncfg.TLSConfig `yaml:"tls_config"`
	BearerTokenFile string              `yaml:"bearer_token_file"`
	Interval        Duration            `yaml:"interval"`
	Timeout         Duration            `yaml:"timeout"`
	MaxBytes        int64               `yaml:"max_bytes"`
	// KeepLast bounds the broadcasts exported (label cardinality): the most
	// recently started ones.
	KeepLast int `yaml:"keep_last"`
	// Fields are jq expressions mapping the service's JSON; unset ones take
	// the defaults of docs/delivery.md. Optional fields (deferred, bounced,
	// complaints, finished) that yield null count as absent.
	Fields deliverystats.Fields `yaml:"fields"`

	Mapping   *deliverystats.Mapping `yaml:"-"`
	TLSClient *tls.Config            `yaml:"-"`
}

// SESSource is Amazon SES's GetSendStatistics.
type SESSource struct {
	Region string `yaml:"region"`
	// Endpoint overrides the regional endpoint (VPC endpoint, tests).
	Endpoint URL `yaml:"endpoint"`
	// Static credentials from two files; without them the AWS SDK's
	// default credential chain applies (environment, shared files, SSO,
	// the EC2/ECS role), as for the cloud aws_* sources.
	AccessKeyIDFile     string `yaml:"access_key_id_file"`
	SecretAccessKeyFile string `yaml:"secret_access_key_file"`
	// Window is how far back the 15-minute data points are summed for the
	// ratios (SES judges reputation over a representative volume).
	Window   Duration `yaml:"window"`
	Interval Duration `yaml:"interval"`
	Timeout  Duration `yaml:"timeout"`
}

func (c *DeliveryConfig) setDefaults() {
	if q := c.Queue; q != nil {
		setDur(&q.Interval, 15*time.Second)
		setDur(&q.Timeout, 10*time.Second)
		if q.MaxBytes == 0 {
			q.MaxBytes = 1 << 30
		}
		if q.MaxLineBytes == 0 {
			q.MaxLineBytes = 4 << 20
		}
	}
	if s := c.Stats; s != nil {
		setDur(&s.Interval, 15*time.Second)
		setDur(&s.Timeout, 10*time.Second)
		if s.MaxBytes == 0 {
			s.MaxBytes = 8 << 20
		}
		if s.KeepLast == 0 {
			s.KeepLast = 5
		}
		s.Fields.FillDefaults()
	}
	if s := c.SES; s != nil {
		setDur(&s.Window, 24*time.Hour)
		setDur(&s.Interval, 5*time.Minute)
		setDur(&s.Timeout, 20*time.Second)
	}
}

func setDur(d *Duration, def time.Duration) {
	if *d == 0 {
		*d = Duration(def)
	}
}

func (c *DeliveryConfig) validate(v *Validator, path string, cfg *Config) {
	if q := c.Queue; q != nil {
		p := path + ".queue"
		n := 0
		if len(q.Command) > 0 {
			n++
			if !strings.HasPrefix(q.Command[0], "/") {
				v.Errorf(p+".command", "command %q must be an absolute path (the exporter does not search PATH)", q.Command[0])
			}
		}
		if q.File != "" {
			n++
			q.ResolvedFile = cfg.Resolve(q.File)
		}
		if !q.URL.IsZero() {
			n++
			validateHTTPSource(v, p, q.URL, &q.TLS, &q.BearerTokenFile, &q.TLSClient, cfg)
		}
		if n != 1 {
			v.Errorf(p, "set exactly one of command, file and url (got %d)", n)
		}
		validateIntervals(v, p, q.Interval, q.Timeout)
		if q.MaxBytes < 0 || q.MaxLineBytes < 0 {
			v.Errorf(p+".max_bytes", "size bounds must be positive")
		}
	}
	if s := c.Stats; s != nil {
		p := path + ".stats"
		if s.URL.IsZero() {
			v.Errorf(p+".url", "required")
		} else {
			validateHTTPSource(v, p, s.URL, &s.TLS, &s.BearerTokenFile, &s.TLSClient, cfg)
		}
		validateIntervals(v, p, s.Interval, s.Timeout)
		if s.KeepLast < 1 || s.KeepLast > 50 {
			v.Errorf(p+".keep_last", "must be between 1 and 50 (each broadcast is a set of series), got %d", s.KeepLast)
		}
		if s.MaxBytes < 0 {
			v.Errorf(p+".max_bytes", "must be positive")
		}
		s.Mapping = &deliverystats.Mapping{}
		s.Fields.Each(s.Mapping, func(name string, src *string, dst **gojq.Code) {
			code, err := CompileJQ(*src)
			if err != nil {
				v.Errorf(p+".fields."+name, "%v", err)
				return
			}
			*dst = code
		})
	}
	if s := c.SES; s != nil {
		p := path + ".ses"
		if s.Region == "" {
			v.Errorf(p+".region", "required (e.g. ap-northeast-1)")
		}
		switch {
		case s.AccessKeyIDFile == "" && s.SecretAccessKeyFile == "":
			// The SDK's default credential chain: environment, shared
			// config and credentials files, SSO, the instance role.
		case s.AccessKeyIDFile == "" || s.SecretAccessKeyFile == "":
			v.Errorf(p, "give both access_key_id_file and secret_access_key_file, or neither (then the AWS SDK's default credential chain is used)")
		default:
			v.SecretFile(p+".access_key_id_file", &s.AccessKeyIDFile, cfg)
			v.SecretFile(p+".secret_access_key_file", &s.SecretAccessKeyFile, cfg)
		}
		validateIntervals(v, p, s.Interval, s.Timeout)
		if s.Window.D() < 15*time.Minute || s.Window.D() > 14*24*time.Hour {
			v.Errorf(p+".window", "must be between 15m and 14d (SES keeps two weeks of 15-minute points), got %s", s.Window)
		}
	}
}

func validateHTTPSource(v *Validator, p string, u URL, t *commoncfg.TLSConfig, tokenFile *string, tc **tls.Config, cfg *Config) {
	if u.Scheme != "http" && u.Scheme != "https" {
		v.Errorf(p+".url", "scheme %q: want http or https", u.Scheme)
	}
	*tc = ValidateTLS(v, p+".tls_config", t, cfg)
	v.SecretFile(p+".bearer_token_file", tokenFile, cfg)
}

func validateIntervals(v *Validator, p string, interval, timeout Duration) {
	if interval.D() < time.Second {
		v.Errorf(p+".interval", "must be at least 1s, got %s", interval)
	}
	if timeout.D() <= 0 || timeout.D() > interval.D()*4 {
		v.Errorf(p+".timeout", "must be positive and at most four intervals, got %s", timeout)
	}
}
