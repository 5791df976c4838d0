package config

// SecurityConfig holds the software inventory, advisory feeds, antivirus and findings (issue 7).
type SecurityConfig struct{}

func (c *SecurityConfig) setDefaults() {}

func (c *SecurityConfig) validate(v *Validator, path string, cfg *Config) {}
