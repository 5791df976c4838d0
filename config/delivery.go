package config

// DeliveryConfig holds the mail queue and delivery statistics sources (issue 12).
type DeliveryConfig struct{}

func (c *DeliveryConfig) setDefaults() {}

func (c *DeliveryConfig) validate(v *Validator, path string, cfg *Config) {}
