package config

import (
	"crypto/tls"
	"fmt"
	"regexp"

	"github.com/itchyny/gojq"
	commoncfg "github.com/prometheus/common/config"
)

// Cloud source types.
const (
	CloudStatuspage  = "statuspage"   // Atlassian Statuspage v2 summary.json
	CloudGoogleCloud = "google_cloud" // status.cloud.google.com incidents.json
	CloudAzure       = "azure"        // Azure Resource Health availabilityStatuses
	CloudAWSHealth   = "aws_health"   // AWS Health DescribeEvents
	CloudAWSSES      = "aws_ses"      // Amazon SES (v2) GetAccount sending quota
	CloudFeed        = "feed"         // RSS/Atom notices with keyword rules
	CloudJSON        = "json"         // any JSON API mapped with jq
)

// CloudConfig holds the cloud status, capacity and maintenance sources
// (issue 5). Each source refreshes in the background on its own interval.
type CloudConfig struct {
	Sources []CloudSource `yaml:"sources"`
}

// CloudSource is one provider status, health or quota source. Which keys
// apply depends on Type; a key another type would use is an error, so a
// typo cannot silently do nothing.
type CloudSource struct {
	// Name becomes the provider label.
	Name     string   `yaml:"name"`
	Type     string   `yaml:"type"`
	Interval Duration `yaml:"interval"`
	Timeout  Duration `yaml:"timeout"`
	// MaxBodyBytes bounds a response (default global.max_body_bytes;
	// 32 MiB for google_cloud, whose incidents.json carries its history).
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// URL of the payload (statuspage, google_cloud, feed, json); for azure
	// the Resource Manager base (default https://management.azure.com).
	URL URL `yaml:"url"`
	// Components selects what is reported: Statuspage component names,
	// Google Cloud product titles, Azure resource names, AWS service codes
	// (EC2, SES). Empty selects everything the provider lists.
	Components []string `yaml:"components"`
	// Locations narrows Google Cloud incidents (asia-northeast1) and AWS
	// Health events (ap-northeast-1) to these.
	Locations []string `yaml:"locations"`
	// MaintenanceServices opts in: maintenance this provider announces for
	// the selected components is a planned stop of these services.
	MaintenanceServices []string `yaml:"maintenance_services"`

	TLSConfig commoncfg.TLSConfig `yaml:"tls_config"`
	// BearerTokenFile (azure, json) is read on every refresh so that an
	// external token refresher can rotate it.
	BearerTokenFile string `yaml:"bearer_token_file"`
	// SubscriptionID and APIVersion (azure).
	SubscriptionID string `yaml:"subscription_id"`
	APIVersion     string `yaml:"api_version"`
	// Region and Endpoint (aws_health, aws_ses). Credentials come from the
	// SDK's standard chain (environment, shared files, instance role).
	Region   string `yaml:"region"`
	Endpoint URL    `yaml:"endpoint"`
	// Rules and MaxAge (feed).
	Rules  []CloudFeedRule `yaml:"rules"`
	MaxAge Duration        `yaml:"max_age"`
	// Metrics (json).
	Metrics []CloudJSONMetric `yaml:"metrics"`

	TLSClient *tls.Config `yaml:"-"`
}

// CloudFeedRule maps feed items matching a regular expression.
type CloudFeedRule struct {
	Match     string `yaml:"match"`
	Category  string `yaml:"category"` // issue | maintenance | notification | ignore
	Component string `yaml:"component"`
	Status    string `yaml:"status"` // state of Component; default by category

	Regexp *regexp.Regexp `yaml:"-"`
}

// CloudJSONMetric maps one jq query of a JSON source to a value.
type CloudJSONMetric struct {
	Name     string             `yaml:"name"`
	Query    string             `yaml:"query"`
	ValueMap map[string]float64 `yaml:"value_map"`
	// Quota, when set, exports the value as bosaimail_cloud_quota_used_ratio{quota=Quota}
	// (the query must yield the used fraction, 0..1).
	Quota string `yaml:"quota"`

	Code *gojq.Code `yaml:"-"`
}

var componentStatuses = map[string]bool{"operational": true, "degraded": true, "partial_outage": true, "major_outage": true, "maintenance": true, "unknown": true}

func (c *CloudConfig) setDefaults() {
	for i := range c.Sources {
		s := &c.Sources[i]
		if s.Interval == 0 {
			s.Interval = Duration(5 * 60e9)
			if s.Type == CloudAWSSES || s.Type == CloudJSON {
				s.Interval = Duration(60e9)
			}
		}
		if s.Timeout == 0 {
			s.Timeout = Duration(30e9)
		}
		if s.MaxBodyBytes == 0 && s.Type == CloudGoogleCloud {
			s.MaxBodyBytes = 32 << 20
		}
		if s.Type == CloudAzure && s.APIVersion == "" {
			s.APIVersion = "2022-10-01"
		}
		if s.Type == CloudAzure && s.URL.IsZero() {
			s.URL.URL, _ = ParseURL("https://management.azure.com")
		}
		if s.Type == CloudFeed && s.MaxAge == 0 {
			s.MaxAge = Duration(7 * 24 * 3600e9)
		}
	}
}

func (c *CloudConfig) validate(v *Validator, path string, cfg *Config) {
	names := make([]string, len(c.Sources))
	for i := range c.Sources {
		names[i] = c.Sources[i].Name
		c.Sources[i].validate(v, fmt.Sprintf("%s.sources[%d]", path, i), cfg)
	}
	v.Unique("cloud source", names, func(i int) string { return fmt.Sprintf("%s.sources[%d].name", path, i) })
}

func (s *CloudSource) validate(v *Validator, path string, cfg *Config) {
	v.CheckName(path+".name", s.Name)
	if s.Interval <= 0 {
		v.Errorf(path+".interval", "must be positive")
	}
	if s.MaxBodyBytes == 0 {
		// Global defaults are set by now; setDefaults cannot see them.
		s.MaxBodyBytes = cfg.Global.MaxBodyBytes
	}
	if s.MaxBodyBytes <= 0 {
		v.Errorf(path+".max_body_bytes", "must be positive")
	}
	if s.Timeout <= 0 || s.Timeout > s.Interval {
		v.Errorf(path+".timeout", "must be positive and not longer than the interval (%s)", s.Interval)
	}
	for i, svc := range s.MaintenanceServices {
		if cfg.Service(svc) == nil {
			v.Errorf(fmt.Sprintf("%s.maintenance_services[%d]", path, i), "unknown service %q", svc)
		}
	}
	// only reports keys that the type does not use.
	only := func(key string, set bool, types ...string) {
		if !set {
			return
		}
		for _, t := range types {
			if s.Type == t {
				return
			}
		}
		v.Errorf(path+"."+key, "not used by a %q source (only by %v)", s.Type, types)
	}
	only("url", !s.URL.IsZero(), CloudStatuspage, CloudGoogleCloud, CloudAzure, CloudFeed, CloudJSON)
	only("locations", len(s.Locations) > 0, CloudGoogleCloud, CloudAWSHealth)
	only("components", len(s.Components) > 0, CloudStatuspage, CloudGoogleCloud, CloudAzure, CloudAWSHealth)
	only("maintenance_services", len(s.MaintenanceServices) > 0, CloudStatuspage, CloudAzure, CloudAWSHealth)
	only("bearer_token_file", s.BearerTokenFile != "", CloudAzure, CloudJSON)
	only("subscription_id", s.SubscriptionID != "", CloudAzure)
	only("region", s.Region != "", CloudAWSHealth, CloudAWSSES)
	only("endpoint", !s.Endpoint.IsZero(), CloudAWSHealth, CloudAWSSES)
	only("rules", len(s.Rules) > 0, CloudFeed)
	only("metrics", len(s.Metrics) > 0, CloudJSON)

	switch s.Type {
	case CloudStatuspage, CloudGoogleCloud, CloudFeed, CloudJSON:
		if s.URL.IsZero() {
			v.Errorf(path+".url", "a url is required for a %q source", s.Type)
		}
	case CloudAzure:
		if s.SubscriptionID == "" {
			v.Errorf(path+".subscription_id", "a subscription_id is required for an azure source")
		}
		if s.BearerTokenFile == "" {
			v.Errorf(path+".bearer_token_file", "a bearer_token_file is required for an azure source")
		}
	case CloudAWSHealth, CloudAWSSES:
		if s.Region == "" {
			v.Errorf(path+".region", "a region is required (AWS Health's global endpoint is us-east-1)")
		}
	case "":
		v.Errorf(path+".type", "a type is required (statuspage, google_cloud, azure, aws_health, aws_ses, feed or json)")
	default:
		v.Errorf(path+".type", "unknown type %q (want statuspage, google_cloud, azure, aws_health, aws_ses, feed or json)", s.Type)
	}
	v.SecretFile(path+".bearer_token_file", &s.BearerTokenFile, cfg)
	if s.Type == CloudFeed && len(s.Rules) == 0 {
		v.Errorf(path+".rules", "a feed source needs at least one rule")
	}
	for i := range s.Rules {
		s.Rules[i].validate(v, fmt.Sprintf("%s.rules[%d]", path, i))
	}
	if s.Type == CloudJSON && len(s.Metrics) == 0 {
		v.Errorf(path+".metrics", "a json source needs at least one metric")
	}
	mnames := make([]string, len(s.Metrics))
	for i := range s.Metrics {
		mnames[i] = s.Metrics[i].Name
		s.Metrics[i].validate(v, fmt.Sprintf("%s.metrics[%d]", path, i))
	}
	v.Unique("metric", mnames, func(i int) string { return fmt.Sprintf("%s.metrics[%d].name", path, i) })
	s.TLSClient = ValidateTLS(v, path+".tls_config", &s.TLSConfig, cfg)
}

func (r *CloudFeedRule) validate(v *Validator, path string) {
	if r.Match == "" {
		v.Errorf(path+".match", "a regular expression is required")
	} else if re, err := regexp.Compile(r.Match); err != nil {
		v.Errorf(path+".match", "invalid regular expression %q: %v", r.Match, err)
	} else {
		r.Regexp = re
	}
	switch r.Category {
	case "issue", "maintenance", "notification":
	case "ignore":
		if r.Component != "" || r.Status != "" {
			v.Errorf(path+".category", "an ignore rule takes no component or status")
		}
	default:
		v.Errorf(path+".category", "unknown category %q (want issue, maintenance, notification or ignore)", r.Category)
	}
	if r.Status == "" && r.Category != "ignore" {
		r.Status = map[string]string{"issue": "degraded", "maintenance": "maintenance", "notification": "operational"}[r.Category]
	}
	if r.Status != "" && !componentStatuses[r.Status] {
		v.Errorf(path+".status", "unknown status %q (want operational, degraded, partial_outage, major_outage, maintenance or unknown)", r.Status)
	}
}

func (m *CloudJSONMetric) validate(v *Validator, path string) {
	v.CheckName(path+".name", m.Name)
	if m.Query == "" {
		v.Errorf(path+".query", "a jq query is required")
	} else if code, err := CompileJQ(m.Query); err != nil {
		v.Errorf(path+".query", "%v", err)
	} else {
		m.Code = code
	}
	if m.Quota != "" {
		v.CheckName(path+".quota", m.Quota)
	}
}
