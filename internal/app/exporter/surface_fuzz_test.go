package exporter

import (
	"net/http"
	"testing"
	"time"
)

// FuzzScrapeTimeout: whatever X-Prometheus-Scrape-Timeout-Seconds a
// client sends, the scrape deadline is positive and never above the cap.
func FuzzScrapeTimeout(f *testing.F) {
	for _, s := range []string{"10", "0.5", "", "-1", "NaN", "Inf", "+Inf", "1e309", "9223372036854775807", "0x10", "1_0", "5e-324"} {
		f.Add(s, int64(500*time.Millisecond))
	}
	f.Fuzz(func(t *testing.T, header string, offset int64) {
		if offset < 0 {
			offset = -offset
		}
		e := &Exporter{opts: Options{DefaultTimeout: 10 * time.Second, MaxTimeout: 120 * time.Second, TimeoutOffset: time.Duration(offset % int64(time.Minute))}}
		h := http.Header{}
		h.Set("X-Prometheus-Scrape-Timeout-Seconds", header)
		got := e.ScrapeTimeout(h)
		if got < 0 || got > e.opts.MaxTimeout {
			t.Fatalf("header %q, offset %s: deadline %s", header, e.opts.TimeoutOffset, got)
		}
		if got == 0 && header != "" {
			// Only a sub-nanosecond ask may round to nothing.
			if e2 := (&Exporter{opts: Options{DefaultTimeout: 10 * time.Second, MaxTimeout: 120 * time.Second}}).ScrapeTimeout(h); e2 > time.Microsecond {
				t.Fatalf("header %q, offset %s: zero deadline", header, e.opts.TimeoutOffset)
			}
		}
	})
}
