// Package all links every collector area into a program: importing it
// registers all collectors and their --collector.<name> flags.
package all

import (
	_ "github.com/bosaimail/bosaimail_exporter/collector/cloud"       // cloud status, capacity, maintenance
	_ "github.com/bosaimail/bosaimail_exporter/collector/delivery"    // MTA queue, delivery statistics, SES
	_ "github.com/bosaimail/bosaimail_exporter/collector/info"        // system and service display names
	_ "github.com/bosaimail/bosaimail_exporter/collector/jobs"        // scheduled jobs, backups, integrity
	_ "github.com/bosaimail/bosaimail_exporter/collector/maintenance" // planned stops (計画停止)
	_ "github.com/bosaimail/bosaimail_exporter/collector/probe"       // per-scrape http, smtp, tcp checks
	_ "github.com/bosaimail/bosaimail_exporter/collector/roundtrip"   // mail round trip
	_ "github.com/bosaimail/bosaimail_exporter/collector/security"    // advisories, antivirus, findings, inventory
)
