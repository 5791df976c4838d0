package config

// JobsConfig holds the scheduled jobs, backups and integrity checks (issue 6).
type JobsConfig struct{}

func (c *JobsConfig) setDefaults() {}

func (c *JobsConfig) validate(v *Validator, path string, cfg *Config) {}
