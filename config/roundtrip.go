package config

// RoundTripCheck sends a canary mail and waits for it in a mailbox (issue 3
// fills in its fields).
type RoundTripCheck struct{}

func (r *RoundTripCheck) setDefaults() {}

func (r *RoundTripCheck) validate(v *Validator, path string, cfg *Config) {}
