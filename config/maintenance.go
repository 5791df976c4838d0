package config

// MaintenanceWindow is one planned stop of a service (issue 4 fills it in).
type MaintenanceWindow struct{}

func (w *MaintenanceWindow) setDefaults() {}

func (w *MaintenanceWindow) validate(v *Validator, path string, cfg *Config) {}

// MaintenanceConfig holds calendar sources shared by all services, such as
// iCalendar files (issue 4).
type MaintenanceConfig struct{}

func (m *MaintenanceConfig) setDefaults() {}

func (m *MaintenanceConfig) validate(v *Validator, path string, cfg *Config) {}
