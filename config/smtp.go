package config

// SMTPCheck is the SMTP dialog check (issue 3 fills in its fields).
type SMTPCheck struct{}

func (s *SMTPCheck) setDefaults() {}

func (s *SMTPCheck) validate(v *Validator, path string, cfg *Config) {}
