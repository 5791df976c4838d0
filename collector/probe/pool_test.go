package probe

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bosaimail/bosaimail_exporter/config"
)

// waveServer answers requests in waves: a wave is released once as many
// requests are in flight as the pool should allow (or the last check has
// arrived), after a short pause that lets any request beyond the bound
// arrive and be counted. The pause only makes an oversized pool easier to
// catch; nothing is timed. A pool smaller than its bound never fills a
// wave and its checks time out.
type waveServer struct {
	mu                     sync.Mutex
	want, total            int
	inflight, max, arrived int
	wave                   chan struct{}
	pending                bool
}

func (s *waveServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.inflight++
	s.arrived++
	s.max = max(s.max, s.inflight)
	wave := s.wave
	if !s.pending && (s.inflight >= s.want || s.arrived == s.total) {
		s.pending = true
		time.AfterFunc(20*time.Millisecond, func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			close(wave)
			s.wave = make(chan struct{})
			s.pending = false
		})
	}
	s.mu.Unlock()
	select {
	case <-wave:
	case <-r.Context().Done():
	}
	s.mu.Lock()
	s.inflight--
	s.mu.Unlock()
	io.WriteString(w, "ok")
}

func TestCheckConcurrencyBound(t *testing.T) {
	cases := []struct {
		name        string
		concurrency int // 0: the default
		checks      int
		want        int
	}{
		{"bound of 3 over 10 checks", 3, 10, 3},
		{"bound of 1", 1, 4, 1},
		{"default over 70 checks", 0, 70, config.DefaultCheckConcurrency},
		{"fewer checks than the bound", 32, 5, 5},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := &waveServer{want: tc.want, total: tc.checks, wave: make(chan struct{})}
			ts := httptest.NewServer(srv)
			defer ts.Close()
			var checks []string
			for i := range tc.checks {
				checks = append(checks, fmt.Sprintf(`{name: c%d, kind: http, timeout: 20s, http: {url: "%s/"}}`, i, ts.URL))
			}
			global := ""
			if tc.concurrency > 0 {
				global = fmt.Sprintf("global: {check_concurrency: %d}\n", tc.concurrency)
			}
			reg := runChecks(t, global+"services: [{name: s, checks: ["+strings.Join(checks, ",")+"]}]", 60*time.Second)
			mfs, err := reg.Gather()
			if err != nil {
				t.Fatal(err)
			}
			up := 0
			for _, mf := range mfs {
				if mf.GetName() == "bosaimail_check_up" {
					for _, m := range mf.GetMetric() {
						up += int(m.GetGauge().GetValue())
					}
				}
			}
			srv.mu.Lock()
			defer srv.mu.Unlock()
			if srv.max > tc.want {
				t.Errorf("%d checks in flight at once, want at most %d", srv.max, tc.want)
			}
			if srv.max < tc.want || up != tc.checks {
				t.Errorf("%d in flight at most and %d of %d checks up: the pool did not run %d at once", srv.max, up, tc.checks, tc.want)
			}
		})
	}
}
