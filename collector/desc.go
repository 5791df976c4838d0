package collector

import (
	"sort"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// DescInfo documents one metric; docs/metrics.md is generated from these so
// the reference cannot drift from the code.
type DescInfo struct {
	Name   string
	Help   string
	Type   string
	Labels []string
}

var (
	descsMu sync.Mutex
	descs   = map[string]DescInfo{}
)

// NewDesc creates a descriptor bosaimail_<subsystem>_<name> once, at package
// init, and records it for the metrics reference. The type defaults to
// gauge; use NewTypedDesc for counters and histograms.
func NewDesc(subsystem, name, help string, labels ...string) *prometheus.Desc {
	return NewTypedDesc("gauge", subsystem, name, help, labels...)
}

// NewTypedDesc is NewDesc with an explicit metric type for the reference.
func NewTypedDesc(typ, subsystem, name, help string, labels ...string) *prometheus.Desc {
	fq := prometheus.BuildFQName(Namespace, subsystem, name)
	descsMu.Lock()
	descs[fq] = DescInfo{Name: fq, Help: help, Type: typ, Labels: labels}
	descsMu.Unlock()
	return prometheus.NewDesc(fq, help, labels, nil)
}

// Descs returns every recorded metric, sorted by name.
func Descs() []DescInfo {
	descsMu.Lock()
	defer descsMu.Unlock()
	out := make([]DescInfo, 0, len(descs))
	for _, d := range descs {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Bool is the gauge value of a yes/no fact: 1 for true, 0 for false.
func Bool(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
