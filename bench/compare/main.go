// Command compare measures bosaimail_exporter against prometheus
// blackbox_exporter side by side, in one run, on 127.0.0.1: CPU seconds per
// check (HTTP, HTTPS with a new TLS handshake each time, SMTP banner), peak
// RSS, and the wall time of covering N checks (our one scrape vs.
// blackbox's N parallel /probe requests). It prints the ratios.
//
// Run it with `make bench`. Nothing here is asserted: machines are noisy,
// so the figures are for the reader.
package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bosaimail/bosaimail_exporter/internal/testkit/testcerts"
)

var (
	exporterBin = flag.String("exporter", "bin/bosaimail_exporter", "bosaimail_exporter binary")
	blackboxBin = flag.String("blackbox", "/usr/bin/prometheus-blackbox-exporter", "blackbox_exporter binary")
	checks      = flag.Int("checks", 200, "checks per scrape")
	rounds      = flag.Int("rounds", 10, "scrapes (or probe rounds) per scenario")
	scale       = flag.Int("scale", 1000, "checks for the scale run of our exporter alone (0 to skip)")
	oursOnly    = flag.Bool("ours-only", false, "measure only bosaimail_exporter (HTTP checks), e.g. RSS after many scrapes")
)

func main() {
	flag.Parse()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type targets struct {
	httpURL, httpsURL, smtpAddr string
	caFile                      string
}

type result struct {
	cpuPerCheck time.Duration
	wallMedian  time.Duration
	peakRSS     int64
}

func run() error {
	dir, err := os.MkdirTemp("", "bosaimail-bench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	tg, stop, err := startTargets(dir)
	if err != nil {
		return err
	}
	defer stop()

	if *oursOnly {
		res, err := runOurs(dir, tg, "http", *checks, *rounds)
		if err != nil {
			return err
		}
		fmt.Printf("%d http checks, %d scrapes: median scrape %s, cpu/check %s, peak RSS %.1f MB\n",
			*checks, *rounds, res.wallMedian.Round(100*time.Microsecond), res.cpuPerCheck, float64(res.peakRSS)/1e6)
		return nil
	}
	fmt.Printf("bosaimail_exporter vs blackbox_exporter: %d checks x %d rounds per scenario, 127.0.0.1, %s\n\n", *checks, *rounds, time.Now().UTC().Format(time.RFC3339))
	fmt.Printf("%-12s %14s %14s %7s | %12s %12s %7s | %10s %10s\n", "scenario", "ours cpu/chk", "bbx cpu/chk", "ratio", "ours wall", "bbx wall", "ratio", "ours RSS", "bbx RSS")
	for _, sc := range scenarios() {
		ours, err := runOurs(dir, tg, sc, *checks, *rounds)
		if err != nil {
			return fmt.Errorf("ours %s: %w", sc, err)
		}
		bbx, err := runBlackbox(dir, tg, sc, *checks, *rounds)
		if err != nil {
			return fmt.Errorf("blackbox %s: %w", sc, err)
		}
		fmt.Printf("%-12s %14s %14s %6.2fx | %12s %12s %6.2fx | %8.1fMB %8.1fMB\n", sc,
			ours.cpuPerCheck, bbx.cpuPerCheck, ratio(ours.cpuPerCheck, bbx.cpuPerCheck),
			ours.wallMedian.Round(time.Millisecond), bbx.wallMedian.Round(time.Millisecond), ratio(ours.wallMedian, bbx.wallMedian),
			float64(ours.peakRSS)/1e6, float64(bbx.peakRSS)/1e6)
	}
	fmt.Println("\nratio = ours / blackbox (lower is better for us)")
	if *scale > 0 {
		res, err := runOurs(dir, tg, "http", *scale, 3)
		if err != nil {
			return fmt.Errorf("scale: %w", err)
		}
		fmt.Printf("\nscale: %d http checks in one scrape: median wall %s, cpu/check %s, peak RSS %.1f MB\n",
			*scale, res.wallMedian.Round(time.Millisecond), res.cpuPerCheck, float64(res.peakRSS)/1e6)
	}
	return nil
}

func ratio(a, b time.Duration) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func startTargets(dir string) (targets, func(), error) {
	var tg targets
	var closers []func()
	stop := func() {
		for _, c := range closers {
			c()
		}
	}
	body := []byte(`{"status":"ok"}`)
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write(body) })

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return tg, stop, err
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(l)
	closers = append(closers, func() { srv.Close() })
	tg.httpURL = "http://" + l.Addr().String() + "/health"

	ca, err := testcerts.NewCA()
	if err != nil {
		return tg, stop, err
	}
	leaf, err := ca.Leaf([]string{"127.0.0.1"}, time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
	if err != nil {
		return tg, stop, err
	}
	if tg.caFile, err = ca.WriteCAFile(dir); err != nil {
		return tg, stop, err
	}
	tl, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{leaf}})
	if err != nil {
		return tg, stop, err
	}
	tsrv := &http.Server{Handler: h}
	go tsrv.Serve(tl)
	closers = append(closers, func() { tsrv.Close() })
	tg.httpsURL = "https://" + tl.Addr().String() + "/health"

	// An SMTP greeter: 220 banner, then answers QUIT.
	sl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return tg, stop, err
	}
	closers = append(closers, func() { sl.Close() })
	go func() {
		for {
			c, err := sl.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				io.WriteString(c, "220 bench.example.jp ESMTP\r\n")
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					cmd := strings.ToUpper(strings.TrimSpace(line))
					switch {
					case strings.HasPrefix(cmd, "EHLO"), strings.HasPrefix(cmd, "HELO"):
						io.WriteString(c, "250-bench.example.jp\r\n250 PIPELINING\r\n")
					case strings.HasPrefix(cmd, "QUIT"):
						io.WriteString(c, "221 bye\r\n")
						return
					default:
						io.WriteString(c, "250 ok\r\n")
					}
				}
			}(c)
		}
	}()
	tg.smtpAddr = sl.Addr().String()
	return tg, stop, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func ourCheck(tg targets, sc string, i int) string {
	switch sc {
	case "http":
		return fmt.Sprintf("      - {name: c%d, kind: http, http: {url: %q}}\n", i, tg.httpURL)
	case "https":
		return fmt.Sprintf("      - {name: c%d, kind: http, http: {url: %q, tls_config: {ca_file: %q}}}\n", i, tg.httpsURL, tg.caFile)
	default:
		// Banner + EHLO + QUIT in plain text, as blackbox's tcp module does.
		return fmt.Sprintf("      - {name: c%d, kind: smtp, smtp: {address: %q, tls: none}}\n", i, tg.smtpAddr)
	}
}

func runOurs(dir string, tg targets, sc string, n, rounds int) (result, error) {
	var b strings.Builder
	b.WriteString("services:\n  - name: bench\n    checks:\n")
	for i := 0; i < n; i++ {
		b.WriteString(ourCheck(tg, sc, i))
	}
	cfg := filepath.Join(dir, "ours-"+sc+".yml")
	if err := os.WriteFile(cfg, []byte(b.String()), 0o600); err != nil {
		return result{}, err
	}
	port, err := freePort()
	if err != nil {
		return result{}, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cmd := exec.Command(*exporterBin, "--config.file="+cfg, "--web.listen-address="+addr, "--storage.path="+filepath.Join(dir, "state"), "--log.level=error")
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return result{}, err
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	if err := waitHTTP("http://" + addr + "/-/ready"); err != nil {
		return result{}, err
	}
	scrape := func() (time.Duration, error) {
		req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/metrics", nil)
		req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", "30")
		begin := time.Now()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err
		}
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		elapsed := time.Since(begin)
		up, down := 0, 0
		for _, l := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(l, "bosaimail_check_up{") {
				if strings.HasSuffix(l, " 1") {
					up++
				} else {
					down++
				}
			}
		}
		if up != n || down != 0 {
			return 0, fmt.Errorf("%d of %d checks up; the comparison would be unfair:\n%s", up, n, firstDown(string(data)))
		}
		return elapsed, nil
	}
	return measure(cmd.Process.Pid, n, rounds, scrape)
}

func firstDown(s string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, "bosaimail_check_failures_total") {
			return l
		}
	}
	return ""
}

func runBlackbox(dir string, tg targets, sc string, n, rounds int) (result, error) {
	cfg := filepath.Join(dir, "blackbox.yml")
	bbcfg := fmt.Sprintf(`modules:
  http:
    prober: http
    timeout: 30s
    http: {preferred_ip_protocol: ip4}
  https:
    prober: http
    timeout: 30s
    http: {preferred_ip_protocol: ip4, tls_config: {ca_file: %q}}
  smtp-banner:
    prober: tcp
    timeout: 30s
    tcp:
      preferred_ip_protocol: ip4
      query_response:
        - expect: "^220"
        - send: "EHLO bench\r"
        - expect: "^250 "
        - send: "QUIT\r"
        - expect: "^221"
`, tg.caFile)
	if err := os.WriteFile(cfg, []byte(bbcfg), 0o600); err != nil {
		return result{}, err
	}
	port, err := freePort()
	if err != nil {
		return result{}, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cmd := exec.Command(*blackboxBin, "--config.file="+cfg, "--web.listen-address="+addr, "--log.level=error")
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return result{}, err
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	if err := waitHTTP("http://" + addr + "/-/healthy"); err != nil {
		return result{}, err
	}
	target := map[string]string{"http": tg.httpURL, "https": tg.httpsURL, "smtp-banner": tg.smtpAddr}[sc]
	probeURL := fmt.Sprintf("http://%s/probe?module=%s&target=%s", addr, sc, target)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: n}}
	round := func() (time.Duration, error) {
		var wg sync.WaitGroup
		var mu sync.Mutex
		var firstErr error
		begin := time.Now()
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, probeURL, nil)
				req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", "30")
				resp, err := client.Do(req)
				if err == nil {
					data, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if !strings.Contains(string(data), "probe_success 1") {
						err = fmt.Errorf("probe failed:\n%s", data)
					}
				}
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		return time.Since(begin), firstErr
	}
	return measure(cmd.Process.Pid, n, rounds, round)
}

// measure runs one warm-up round, then the measured ones, and returns the
// process's CPU per check, the median wall time of a round and its peak RSS.
func measure(pid, n, rounds int, round func() (time.Duration, error)) (result, error) {
	if _, err := round(); err != nil {
		return result{}, err
	}
	cpu0, err := procCPU(pid)
	if err != nil {
		return result{}, err
	}
	var walls []time.Duration
	for r := 0; r < rounds; r++ {
		w, err := round()
		if err != nil {
			return result{}, err
		}
		walls = append(walls, w)
	}
	cpu1, _ := procCPU(pid)
	rss, _ := peakRSS(pid)
	return result{cpuPerCheck: (cpu1 - cpu0) / time.Duration(rounds*n), wallMedian: median(walls), peakRSS: rss}, nil
}

func waitHTTP(u string) error {
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(u)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s not ready", u)
}

// procCPU reads user+system CPU time of a process from /proc.
func procCPU(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(data)
	fields := strings.Fields(s[strings.LastIndex(s, ")")+2:])
	ut, _ := strconv.ParseInt(fields[11], 10, 64)
	st, _ := strconv.ParseInt(fields[12], 10, 64)
	const hz = 100 // USER_HZ on Linux
	return time.Duration(ut+st) * time.Second / hz, nil
}

// peakRSS reads VmHWM (peak resident set) of a process.
func peakRSS(pid int) (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, "VmHWM:") {
			kb, _ := strconv.ParseInt(strings.Fields(l)[1], 10, 64)
			return kb * 1024, nil
		}
	}
	return 0, fmt.Errorf("no VmHWM")
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// scenarios skips the SMTP one when the exporter has no smtp check kind.
func scenarios() []string {
	out, _ := exec.Command(*exporterBin, "--help").CombinedOutput()
	if strings.Contains(string(out), "roundtrip") {
		return []string{"http", "https", "smtp-banner"}
	}
	return []string{"http", "https"}
}
