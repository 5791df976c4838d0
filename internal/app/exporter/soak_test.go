package exporter

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// flappingTarget cycles through the ways a peer misbehaves: fine, error
// status, hanging until the client gives up, garbage instead of HTTP, and a
// connection reset.
func flappingTarget(t *testing.T) *httptest.Server {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch n.Add(1) % 5 {
		case 0:
			io.WriteString(w, `{"status":"ok"}`)
		case 1:
			http.Error(w, "maintenance", http.StatusServiceUnavailable)
		case 2:
			<-r.Context().Done() // hang until the check's deadline
		case 3:
			conn, buf, _ := w.(http.Hijacker).Hijack()
			buf.WriteString("\x00\x01garbage that is not HTTP\r\n\r\n")
			buf.Flush()
			conn.Close()
		case 4:
			conn, _, _ := w.(http.Hijacker).Hijack()
			if tc, ok := conn.(*net.TCPConn); ok {
				tc.SetLinger(0) // RST instead of FIN
			}
			conn.Close()
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func openFDs() int {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(entries)
}

// settle polls until f() is at most limit or the deadline passes, and
// returns the last value (goroutines and sockets take a moment to go).
func settle(limit int, f func() int) int {
	deadline := time.Now().Add(10 * time.Second)
	v := f()
	for v > limit && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		v = f()
	}
	return v
}

// TestSoak scrapes many times while the targets flap, hang, send garbage
// and reset connections, with two concurrent scrapers (two Prometheus
// replicas) and config reloads in between, and checks that no goroutine or
// file descriptor leaks. BOSAIMAIL_SOAK sets the number of scrapes
// (`make soak` runs 10,000 without the race detector).
func TestSoak(t *testing.T) {
	scrapes := 400
	if v, err := strconv.Atoi(os.Getenv("BOSAIMAIL_SOAK")); err == nil && v > 0 {
		scrapes = v
	}
	flap := flappingTarget(t)
	steady := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, `{"status":"ok"}`) }))
	defer steady.Close()
	p := filepath.Join(t.TempDir(), "bosaimail.yml")
	cfg := fmt.Sprintf(`services:
  - name: delivery
    checks:
      - {name: flap, kind: http, timeout: 50ms, http: {url: %q, expect_json: ['.status == "ok"']}}
      - {name: steady, kind: http, timeout: 2s, http: {url: %q}}
      - {name: port, kind: tcp, timeout: 2s, tcp: {address: %q}}
`, flap.URL, steady.URL, flap.Listener.Addr().String())
	writeConfig(t, p, cfg)
	e := newExporter(t, p)

	doScrape(t, e, "5") // warm up pools and lazily started goroutines
	baseG := runtime.NumGoroutine()
	baseFD := openFDs()
	var var0 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&var0)

	var wg sync.WaitGroup
	var failures atomic.Int64
	for replica := 0; replica < 2; replica++ {
		wg.Add(1)
		go func(replica int) {
			defer wg.Done()
			for i := replica; i < scrapes; i += 2 {
				req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
				req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", "5")
				rec := httptest.NewRecorder()
				e.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					failures.Add(1)
				}
				if replica == 0 && i%200 == 0 {
					if err := e.Reload(); err != nil {
						t.Errorf("reload under load: %v", err)
					}
				}
			}
		}(replica)
	}
	wg.Wait()
	if f := failures.Load(); f > 0 {
		t.Fatalf("%d of %d scrapes failed", f, scrapes)
	}

	g := settle(baseG+2, runtime.NumGoroutine)
	fd := settle(baseFD+2, openFDs)
	var m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m1)
	t.Logf("%d scrapes: goroutines %d -> %d, fds %d -> %d, heap in use %.1f MB -> %.1f MB",
		scrapes, baseG, g, baseFD, fd, float64(var0.HeapInuse)/1e6, float64(m1.HeapInuse)/1e6)
	if g > baseG+2 {
		buf := make([]byte, 1<<20)
		n := runtime.Stack(buf, true)
		t.Fatalf("goroutine leak: %d before, %d after\n%s", baseG, g, buf[:n])
	}
	if fd > baseFD+2 {
		t.Fatalf("file descriptor leak: %d before, %d after", baseFD, fd)
	}
}
