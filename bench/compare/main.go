// Command compare measures bosaimail_exporter against prometheus
// blackbox_exporter side by side, in one run, on 127.0.0.1: CPU per check
// (HTTP, HTTPS with a full TLS handshake each time, SMTP banner + EHLO +
// QUIT), the wall time of covering N checks (our one scrape against
// blackbox's N parallel /probe requests), and resident memory split into
// file-backed (binary pages) and anonymous (heap, stacks): idle after
// start, and the peak while checking.
//
// Each figure is measured --reps times on a fresh process of each exporter,
// alternating which one goes first, and printed as the median with the
// range (min-max); a ratio is taken within each repetition, then
// summarised. The targets count the connections and TLS handshakes (or
// EHLOs) they serve, and the run stops if either exporter does not do
// exactly one connection and one handshake per check: the comparison is
// only fair when both do the same work.
//
// Run it with `make bench`. Nothing here is asserted about speed: the
// machine is shared and noisy, so the figures are for the reader.
package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
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
	"sync/atomic"
	"time"

	"github.com/bosaimail/bosaimail_exporter/internal/testkit/testcerts"
)

var (
	exporterBin = flag.String("exporter", "bin/bosaimail_exporter", "bosaimail_exporter binary")
	alsoBin     = flag.String("also", "", "another build of bosaimail_exporter (e.g. with the AWS sources) measured in the same rotation and printed under each row")
	blackboxBin = flag.String("blackbox", "/usr/bin/prometheus-blackbox-exporter", "blackbox_exporter binary")
	checks      = flag.Int("checks", 200, "checks per scrape")
	large       = flag.Int("large", 1000, "checks of the extra http row for both exporters (0 to skip)")
	rounds      = flag.Int("rounds", 10, "measured scrapes (probe rounds) per process, after one warm-up")
	reps        = flag.Int("reps", 5, "fresh processes of each exporter per scenario, alternating order")
	only        = flag.String("scenarios", "http,https,smtp", "comma-separated scenarios")
)

func main() {
	flag.Parse()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// sample is what one process of one exporter did in one repetition.
type sample struct {
	cpuPerCheck time.Duration
	wall        time.Duration // median of the measured rounds
	idle        mem           // after start, before any check
	peak        mem           // highest seen while checking
	connsPerChk float64
	hsPerChk    float64
}

// mem is resident memory in bytes: total (VmRSS or VmHWM), file-backed
// (binary and other mapped files) and anonymous (heap, stacks).
type mem struct{ total, file, anon int64 }

type exporter struct {
	name string
	run  func(dir string, tg *targets, sc string, n int) (sample, error)
}

func run() error {
	if *reps < 1 || *rounds < 1 || *checks < 1 {
		return errors.New("--reps, --rounds and --checks must be positive")
	}
	dir, err := os.MkdirTemp("", "bosaimail-bench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	tg, err := startTargets(dir)
	if err != nil {
		return err
	}
	defer tg.stop()

	ours := exporter{"bosaimail_exporter", func(dir string, tg *targets, sc string, n int) (sample, error) {
		return runOurs(*exporterBin, dir, tg, sc, n)
	}}
	bbx := exporter{"blackbox_exporter", runBlackbox}
	also := exporter{"also", func(dir string, tg *targets, sc string, n int) (sample, error) {
		return runOurs(*alsoBin, dir, tg, sc, n)
	}}
	type row struct {
		sc string
		n  int
	}
	var rows []row
	for _, sc := range strings.Split(*only, ",") {
		rows = append(rows, row{strings.TrimSpace(sc), *checks})
	}
	if *large > 0 {
		rows = append(rows, row{"http", *large})
	}

	fmt.Printf("bosaimail_exporter vs blackbox_exporter on 127.0.0.1, %s\n", time.Now().UTC().Format(time.RFC3339))
	fmt.Printf("each cell: median [min-max] over %d fresh processes per exporter, order alternating; %d measured rounds per process after a warm-up\n", *reps, *rounds)
	fmt.Printf("ratio = ours / blackbox within a repetition (lower is better for us); RSS in MiB, file-backed + anonymous\n")
	fmt.Printf("ours: %s\n", describeBinary(*exporterBin))
	if *alsoBin != "" {
		fmt.Printf("also: %s (its own row below each scenario)\n", describeBinary(*alsoBin))
	}
	fmt.Println()
	fmt.Printf("%-6s %5s | %-40s | %-30s | %-28s %-28s | %-22s %-22s | %s\n",
		"check", "n", "CPU per check: ours / blackbox  ratio", "wall per round: ours / bbx ratio", "peak RSS ours (file+anon)", "peak RSS bbx (file+anon)", "idle RSS ours", "idle RSS bbx", "conn, handshake per check")
	for _, r := range rows {
		var o, b, a []sample
		for i := range *reps {
			order := []exporter{ours, bbx}
			if *alsoBin != "" {
				order = append(order, also)
			}
			// Rotate, so each exporter goes first as often as the others.
			k := i % len(order)
			order = append(order[k:], order[:k]...)
			for _, e := range order {
				s, err := e.run(dir, tg, r.sc, r.n)
				if err != nil {
					return fmt.Errorf("%s %s %d: %w", e.name, r.sc, r.n, err)
				}
				if s.connsPerChk != 1 || s.hsPerChk != 1 {
					return fmt.Errorf("%s %s: %.3f connections and %.3f handshakes per check at the target, want exactly 1 and 1: the comparison would not be fair",
						e.name, r.sc, s.connsPerChk, s.hsPerChk)
				}
				switch e.name {
				case ours.name:
					o = append(o, s)
				case bbx.name:
					b = append(b, s)
				default:
					a = append(a, s)
				}
			}
		}
		printRow(r.sc, r.n, o, b)
		if len(a) > 0 {
			printAlso(a, b)
		}
	}
	return nil
}

func printRow(sc string, n int, o, b []sample) {
	pick := func(ss []sample, f func(sample) float64) []float64 {
		out := make([]float64, len(ss))
		for i, s := range ss {
			out[i] = f(s)
		}
		return out
	}
	ratios := func(f func(sample) float64) []float64 {
		out := make([]float64, len(o))
		for i := range o {
			if d := f(b[i]); d > 0 {
				out[i] = f(o[i]) / d
			}
		}
		return out
	}
	cpu := func(s sample) float64 { return float64(s.cpuPerCheck) / 1e3 } // µs
	wall := func(s sample) float64 { return float64(s.wall) / 1e6 }       // ms
	mib := func(v int64) float64 { return float64(v) / (1 << 20) }
	rss := func(ss []sample, idle bool) string {
		m := func(s sample) mem { return s.peak }
		if idle {
			m = func(s sample) mem { return s.idle }
		}
		t := pick(ss, func(s sample) float64 { return mib(m(s).total) })
		f := pick(ss, func(s sample) float64 { return mib(m(s).file) })
		a := pick(ss, func(s sample) float64 { return mib(m(s).anon) })
		return fmt.Sprintf("%s (%.1f+%.1f)", spread(t, "%.1f"), median(f), median(a))
	}
	fmt.Printf("%-6s %5d | %-40s | %-30s | %-28s %-28s | %-22s %-22s | %.0f, %.0f\n", sc, n,
		fmt.Sprintf("%s / %s µs  %s", med(pick(o, cpu), "%.0f"), med(pick(b, cpu), "%.0f"), spread(ratios(cpu), "%.2f")),
		fmt.Sprintf("%s / %s ms %s", med(pick(o, wall), "%.0f"), med(pick(b, wall), "%.0f"), spread(ratios(wall), "%.2f")),
		rss(o, false), rss(b, false), rss(o, true), rss(b, true),
		median(pick(o, func(s sample) float64 { return s.connsPerChk })), median(pick(o, func(s sample) float64 { return s.hsPerChk })))
	// The per-exporter spreads of CPU and wall, for the reader who wants
	// to see whether one side alone was noisy.
	fmt.Printf("%-6s %5s |   ours %-33s |   ours %-23s |\n", "", "", spread(pick(o, cpu), "%.0f")+" µs", spread(pick(o, wall), "%.0f")+" ms")
	fmt.Printf("%-6s %5s |   bbx  %-33s |   bbx  %-23s |\n", "", "", spread(pick(b, cpu), "%.0f")+" µs", spread(pick(b, wall), "%.0f")+" ms")
}

// describeBinary names what was measured: size and the build settings that
// change it (tags such as noaws, cgo).
func describeBinary(path string) string {
	st, err := os.Stat(path)
	if err != nil {
		return err.Error()
	}
	desc := fmt.Sprintf("%s, %.1f MB", path, float64(st.Size())/1e6)
	out, err := exec.Command("go", "version", "-m", path).Output()
	if err != nil {
		return desc
	}
	tags, cgo := "none", "?"
	for l := range strings.SplitSeq(string(out), "\n") {
		f := strings.Fields(l)
		if len(f) == 2 && f[0] == "build" {
			if v, ok := strings.CutPrefix(f[1], "-tags="); ok && v != "" {
				tags = v
			}
			if v, ok := strings.CutPrefix(f[1], "CGO_ENABLED="); ok {
				cgo = v
			}
		}
	}
	return fmt.Sprintf("%s, build tags: %s, CGO_ENABLED=%s", desc, tags, cgo)
}

// printAlso gives the other build's figures under a row, with its CPU ratio
// to blackbox in the same repetitions.
func printAlso(a, b []sample) {
	cpu := func(s sample) float64 { return float64(s.cpuPerCheck) / 1e3 }
	var c, r, peak, idle, pf, pa []float64
	for i := range a {
		c = append(c, cpu(a[i]))
		if d := cpu(b[i]); d > 0 {
			r = append(r, cpu(a[i])/d)
		}
		peak = append(peak, float64(a[i].peak.total)/(1<<20))
		pf = append(pf, float64(a[i].peak.file)/(1<<20))
		pa = append(pa, float64(a[i].peak.anon)/(1<<20))
		idle = append(idle, float64(a[i].idle.total)/(1<<20))
	}
	fmt.Printf("%-6s %5s |   also %-33s |   %-28s | peak RSS %s (%.1f+%.1f), idle RSS %s\n", "", "",
		spread(c, "%.0f")+" µs ratio "+spread(r, "%.2f"), "", spread(peak, "%.1f"), median(pf), median(pa), spread(idle, "%.1f"))
}

func med(v []float64, format string) string { return fmt.Sprintf(format, median(v)) }

// spread prints "median [min-max]".
func spread(v []float64, format string) string {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return fmt.Sprintf(format+" ["+format+"-"+format+"]", median(s), s[0], s[len(s)-1])
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// targets are the servers both exporters check. They count connections
// accepted and handshakes completed (TLS, or EHLO for SMTP).
type targets struct {
	httpURL, httpsURL, smtpAddr string
	caFile                      string
	conns, handshakes           atomic.Int64
	stop                        func()
}

// countingListener counts accepted connections.
type countingListener struct {
	net.Listener
	n *atomic.Int64
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

func startTargets(dir string) (*targets, error) {
	tg := &targets{}
	var closers []func()
	tg.stop = func() {
		for _, c := range closers {
			c()
		}
	}
	body := []byte(`{"status":"ok"}`)
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write(body) })

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: h, ConnState: func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			// Plain HTTP has no handshake: one per connection, so the
			// check below holds for it too.
			tg.handshakes.Add(1)
		}
	}}
	go srv.Serve(countingListener{l, &tg.conns})
	closers = append(closers, func() { srv.Close() })
	tg.httpURL = "http://" + l.Addr().String() + "/health"

	ca, err := testcerts.NewCA()
	if err != nil {
		return nil, err
	}
	leaf, err := ca.Leaf([]string{"127.0.0.1"}, time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
	if err != nil {
		return nil, err
	}
	if tg.caFile, err = ca.WriteCAFile(dir); err != nil {
		return nil, err
	}
	tlsConf := &tls.Config{
		Certificates: []tls.Certificate{leaf},
		// Every check must pay for a full handshake: no resumption.
		SessionTicketsDisabled: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if !cs.DidResume {
				tg.handshakes.Add(1)
			}
			return nil
		},
	}
	tl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	tsrv := &http.Server{Handler: h}
	go tsrv.Serve(tls.NewListener(countingListener{tl, &tg.conns}, tlsConf))
	closers = append(closers, func() { tsrv.Close() })
	tg.httpsURL = "https://" + tl.Addr().String() + "/health"

	// An SMTP greeter: 220 banner, EHLO, QUIT.
	sl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	closers = append(closers, func() { sl.Close() })
	go func() {
		for {
			c, err := sl.Accept()
			if err != nil {
				return
			}
			tg.conns.Add(1)
			go serveSMTP(c, &tg.handshakes)
		}
	}()
	tg.smtpAddr = sl.Addr().String()
	return tg, nil
}

func serveSMTP(c net.Conn, ehlos *atomic.Int64) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
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
			ehlos.Add(1)
			io.WriteString(c, "250-bench.example.jp\r\n250 PIPELINING\r\n")
		case strings.HasPrefix(cmd, "QUIT"):
			io.WriteString(c, "221 bye\r\n")
			return
		default:
			io.WriteString(c, "250 ok\r\n")
		}
	}
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func ourCheck(tg *targets, sc string, i int) string {
	switch sc {
	case "http":
		return fmt.Sprintf("      - {name: c%d, kind: http, http: {url: %q}}\n", i, tg.httpURL)
	case "https":
		return fmt.Sprintf("      - {name: c%d, kind: http, http: {url: %q, tls_config: {ca_file: %q}}}\n", i, tg.httpsURL, tg.caFile)
	case "smtp":
		// Banner + EHLO + QUIT in plain text, as blackbox's tcp module does.
		return fmt.Sprintf("      - {name: c%d, kind: smtp, smtp: {address: %q, tls: none}}\n", i, tg.smtpAddr)
	}
	return ""
}

// process is one exporter process under measurement.
type process struct {
	cmd  *exec.Cmd
	addr string
}

func start(bin string, args []string, readyPath string) (*process, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, append(args, "--web.listen-address="+addr)...)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &process{cmd: cmd, addr: addr}
	if err := waitHTTP("http://" + addr + readyPath); err != nil {
		p.kill()
		return nil, err
	}
	return p, nil
}

func (p *process) kill() {
	p.cmd.Process.Kill()
	p.cmd.Wait()
}

func runOurs(bin, dir string, tg *targets, sc string, n int) (sample, error) {
	if ourCheck(tg, sc, 0) == "" {
		return sample{}, fmt.Errorf("unknown scenario %q", sc)
	}
	var b strings.Builder
	b.WriteString("services:\n  - name: bench\n    checks:\n")
	for i := range n {
		b.WriteString(ourCheck(tg, sc, i))
	}
	cfg := filepath.Join(dir, fmt.Sprintf("ours-%s-%d.yml", sc, n))
	if err := os.WriteFile(cfg, []byte(b.String()), 0o600); err != nil {
		return sample{}, err
	}
	p, err := start(bin, []string{"--config.file=" + cfg, "--storage.path=" + filepath.Join(dir, "state"), "--log.level=error"}, "/-/ready")
	if err != nil {
		return sample{}, err
	}
	defer p.kill()
	client := &http.Client{}
	scrape := func() (time.Duration, error) {
		req, _ := http.NewRequest(http.MethodGet, "http://"+p.addr+"/metrics", nil)
		req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", "60")
		begin := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		data, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		elapsed := time.Since(begin)
		if err != nil {
			return 0, err
		}
		up, down := 0, 0
		for l := range strings.SplitSeq(string(data), "\n") {
			if strings.HasPrefix(l, "bosaimail_check_up{") {
				if strings.HasSuffix(l, " 1") {
					up++
				} else {
					down++
				}
			}
		}
		if up != n || down != 0 {
			return 0, fmt.Errorf("%d of %d checks up; the comparison would be unfair: %s", up, n, firstFailure(string(data)))
		}
		return elapsed, nil
	}
	return measure(p.cmd.Process.Pid, tg, n, scrape)
}

func firstFailure(s string) string {
	for l := range strings.SplitSeq(s, "\n") {
		if strings.HasPrefix(l, "bosaimail_check_failures_total") {
			return l
		}
	}
	return ""
}

func runBlackbox(dir string, tg *targets, sc string, n int) (sample, error) {
	cfg := filepath.Join(dir, "blackbox.yml")
	bbcfg := fmt.Sprintf(`modules:
  http:
    prober: http
    timeout: 60s
    http: {preferred_ip_protocol: ip4}
  https:
    prober: http
    timeout: 60s
    http: {preferred_ip_protocol: ip4, tls_config: {ca_file: %q}}
  smtp:
    prober: tcp
    timeout: 60s
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
		return sample{}, err
	}
	target := map[string]string{"http": tg.httpURL, "https": tg.httpsURL, "smtp": tg.smtpAddr}[sc]
	if target == "" {
		return sample{}, fmt.Errorf("unknown scenario %q", sc)
	}
	p, err := start(*blackboxBin, []string{"--config.file=" + cfg, "--log.level=error"}, "/-/healthy")
	if err != nil {
		return sample{}, err
	}
	defer p.kill()
	probeURL := fmt.Sprintf("http://%s/probe?module=%s&target=%s", p.addr, sc, target)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: n, MaxConnsPerHost: 0}}
	defer client.CloseIdleConnections()
	round := func() (time.Duration, error) {
		var wg sync.WaitGroup
		var mu sync.Mutex
		var firstErr error
		begin := time.Now()
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, probeURL, nil)
				req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", "60")
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
	return measure(p.cmd.Process.Pid, tg, n, round)
}

// measure reads the idle memory, runs one warm-up round, then the measured
// ones while sampling resident memory, and counts what the targets served.
func measure(pid int, tg *targets, n int, round func() (time.Duration, error)) (sample, error) {
	var s sample
	time.Sleep(200 * time.Millisecond) // let start-up settle before reading idle memory
	idle, err := procMem(pid, false)
	if err != nil {
		return s, err
	}
	s.idle = idle
	stop := make(chan struct{})
	peakc := make(chan mem)
	go func() {
		var peak mem
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			if m, err := procMem(pid, false); err == nil {
				peak.file = max(peak.file, m.file)
				peak.anon = max(peak.anon, m.anon)
			}
			select {
			case <-stop:
				peakc <- peak
				return
			case <-tick.C:
			}
		}
	}()
	defer func() {
		if stop != nil {
			close(stop)
			<-peakc
		}
	}()
	if _, err := round(); err != nil {
		return s, err
	}
	cpu0, err := procCPU(pid)
	if err != nil {
		return s, err
	}
	conns0, hs0 := tg.conns.Load(), tg.handshakes.Load()
	var walls []float64
	for range *rounds {
		w, err := round()
		if err != nil {
			return s, err
		}
		walls = append(walls, float64(w))
	}
	cpu1, err := procCPU(pid)
	if err != nil {
		return s, err
	}
	total := float64(*rounds * n)
	s.connsPerChk = float64(tg.conns.Load()-conns0) / total
	s.hsPerChk = float64(tg.handshakes.Load()-hs0) / total
	close(stop)
	s.peak = <-peakc
	stop = nil
	hwm, err := procMem(pid, true)
	if err != nil {
		return s, err
	}
	s.peak.total = hwm.total
	s.cpuPerCheck = (cpu1 - cpu0) / time.Duration(*rounds*n)
	s.wall = time.Duration(median(walls))
	return s, nil
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

// procMem reads resident memory from /proc/PID/status: VmRSS (or VmHWM,
// the peak, when peak is set), RssFile and RssAnon.
func procMem(pid int, peak bool) (mem, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return mem{}, err
	}
	totalKey := "VmRSS:"
	if peak {
		totalKey = "VmHWM:"
	}
	var m mem
	for l := range strings.SplitSeq(string(data), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case totalKey:
			m.total = kb << 10
		case "RssFile:":
			m.file = kb << 10
		case "RssAnon:":
			m.anon = kb << 10
		}
	}
	if m.total == 0 {
		return m, fmt.Errorf("no %s in /proc/%d/status", totalKey, pid)
	}
	return m, nil
}
