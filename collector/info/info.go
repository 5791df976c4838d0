// Package info exposes the names people use for what is watched: the
// system's name and each service's display name from the configuration.
// Rules, mails, dashboards and the report join on these series so an
// operator reads 緊急情報メール配信 where the machines use `delivery`.
package info

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bosaimail/bosaimail_exporter/collector"
)

var (
	systemInfoDesc = collector.NewDesc("system", "info",
		"Always 1; name is the watched system's name (global.system_name, e.g. 防災みえメール配信サービス). Absent when not configured.", "name")
	serviceInfoDesc = collector.NewDesc("service", "info",
		"Always 1 per configured service; name is its display name (services[].description, or the service ID when empty).", "service", "name")
)

func init() {
	collector.Register("info", true, newInfoCollector)
}

type infoCollector struct {
	system   string
	services [][2]string
}

func newInfoCollector(env collector.Env) (collector.Collector, error) {
	c := &infoCollector{system: env.Config.Global.SystemName}
	for _, s := range env.Config.Services {
		name := s.Description
		if name == "" {
			name = s.Name
		}
		c.services = append(c.services, [2]string{s.Name, name})
	}
	return c, nil
}

func (c *infoCollector) Update(_ context.Context, ch chan<- prometheus.Metric) error {
	if c.system != "" {
		ch <- prometheus.MustNewConstMetric(systemInfoDesc, prometheus.GaugeValue, 1, c.system)
	}
	for _, s := range c.services {
		ch <- prometheus.MustNewConstMetric(serviceInfoDesc, prometheus.GaugeValue, 1, s[0], s[1])
	}
	return nil
}
