package config

// CloudConfig holds the cloud status, capacity and maintenance sources (issue 5).
type CloudConfig struct{}

func (c *CloudConfig) setDefaults() {}

func (c *CloudConfig) validate(v *Validator, path string, cfg *Config) {}
