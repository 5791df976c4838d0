package postqueue

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestParseRecordedDump(t *testing.T) {
	f, err := os.Open("../../testdata/delivery/postqueue.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s, err := Parse(f, 0)
	if err != nil {
		t.Fatal(err)
	}
	type want struct {
		msgs, rcpts, size int64
		oldest            int64
	}
	wants := map[string]want{
		"active":   {2, 3, 8426, 1764100800},
		"incoming": {1, 3, 4211, 1764100860},
		"deferred": {4, 7, 17759, 1764100100},
		"hold":     {1, 1, 9000, 1764099000},
		"maildrop": {0, 0, 0, 0},
	}
	for q, w := range wants {
		got := s.Queues[q]
		if got == nil {
			t.Fatalf("queue %s missing", q)
		}
		var oldest int64
		if !got.OldestArrival.IsZero() {
			oldest = got.OldestArrival.Unix()
		}
		if got.Messages != w.msgs || got.Recipients != w.rcpts || got.SizeBytes != w.size || oldest != w.oldest {
			t.Errorf("queue %s = %+v (oldest %d), want %+v", q, *got, oldest, w)
		}
	}
	wantReasons := map[string]int64{"timeout": 1, "greylisting": 2, "mailbox_full": 1, "dns": 1, "tls": 1, "other": 1, "connection_refused": 0, "rate_limited": 0}
	for r, n := range wantReasons {
		if s.Deferrals[r] != n {
			t.Errorf("deferrals[%s] = %d, want %d (all: %v)", r, s.Deferrals[r], n, s.Deferrals)
		}
	}
	if s.Lines != 10 || s.Malformed != 2 {
		t.Errorf("lines %d malformed %d, want 10 and 2", s.Lines, s.Malformed)
	}
	if !strings.HasPrefix(s.FirstMalformed, "line 8:") {
		t.Errorf("first malformed = %q, want line 8", s.FirstMalformed)
	}
}

func TestBucket(t *testing.T) {
	cases := []struct{ text, want string }{
		{"connect to mx.example.jp[192.0.2.1]:25: Connection timed out", "timeout"},
		{"conversation with mx.example.jp[192.0.2.1] timed out while receiving the initial server greeting", "timeout"},
		{"connect to mx.example.jp[192.0.2.1]:25: Connection refused", "connection_refused"},
		{"host mx said: 450 4.2.0 <a@b.jp>: Recipient address rejected: Greylisted for 300 seconds", "greylisting"},
		{"host mx said: 452 4.2.2 Mailbox full", "mailbox_full"},
		{"host mx said: 552 5.2.2 user is over quota", "mailbox_full"},
		{"host mx said: 452 容量超過のため受信できません", "mailbox_full"},
		{"Host or domain name not found. Name service error for name=example.jp type=MX: Host not found, try again", "dns"},
		{"名前解決に失敗しました", "dns"},
		{"TLS is required, but was not offered by host mx.example.jp[192.0.2.1]", "tls"},
		{"Server certificate not verified", "tls"},
		{"サーバー証明書の検証に失敗しました", "tls"},
		{"host mx said: 421 4.7.0 Too many connections from your IP", "rate_limited"},
		{"host mx said: 421 接続がタイムアウトしました", "timeout"},
		{"host mx said: 450 しばらくしてから再送してください", "greylisting"},
		{"lost connection with mx.example.jp[192.0.2.1] while sending RCPT TO", "other"},
		{"", "other"},
	}
	for _, c := range cases {
		if got := Bucket(c.text); got != c.want {
			t.Errorf("Bucket(%q) = %s, want %s", c.text, got, c.want)
		}
	}
	for _, r := range bucketRules {
		found := false
		for _, known := range Reasons {
			found = found || known == r.reason
		}
		if !found {
			t.Errorf("bucket %s is not in Reasons", r.reason)
		}
	}
}

func TestParseFaults(t *testing.T) {
	good := `{"queue_name":"active","queue_id":"A1","arrival_time":1764100800,"message_size":10,"recipients":[{"address":"a@b.jp"}]}`
	cases := []struct {
		name      string
		in        string
		maxLine   int
		wantErr   string
		malformed int64
		active    int64
	}{
		{name: "empty queue", in: "", active: 0},
		{name: "blank lines and CRLF", in: "\r\n" + good + "\r\n\n", active: 1},
		{name: "no trailing newline", in: good, active: 1},
		{name: "only garbage", in: "Mail queue is empty\n", wantErr: "no valid postqueue -j line among 1 (first: line 1:"},
		{name: "html error page", in: "<html><body>502</body></html>\n", wantErr: "no valid"},
		{name: "wrong types", in: `{"queue_name":1}` + "\n" + good, malformed: 1, active: 1},
		{name: "missing arrival", in: `{"queue_name":"active","queue_id":"A"}` + "\n" + good, malformed: 1, active: 1},
		{name: "empty queue name", in: `{"queue_name":"","queue_id":"A","arrival_time":5}` + "\n" + good, malformed: 1, active: 1},
		{name: "escaped queue name", in: `{"queue_name":"\u0061ctive","queue_id":"A","arrival_time":5}` + "\n" + good, active: 2},
		{name: "two values on a line", in: good + good + "\n" + good, malformed: 1, active: 1},
		{name: "negative size", in: `{"queue_name":"active","queue_id":"A","arrival_time":5,"message_size":-1}` + "\n" + good, malformed: 1, active: 1},
		{name: "line over bound", in: `{"queue_name":"active","queue_id":"A","arrival_time":5,"sender":"` + strings.Repeat("x", 200000) + `"}` + "\n" + good, maxLine: 100000, malformed: 1, active: 1},
		{name: "long line within bound", in: `{"queue_name":"active","queue_id":"A","arrival_time":5,"sender":"` + strings.Repeat("x", 200000) + `"}` + "\n" + good, maxLine: 300000, active: 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := Parse(strings.NewReader(c.in), c.maxLine)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.Malformed != c.malformed || s.Queues["active"].Messages != c.active {
				t.Errorf("malformed %d active %d, want %d %d (%s)", s.Malformed, s.Queues["active"].Messages, c.malformed, c.active, s.FirstMalformed)
			}
		})
	}
}

// A queue name Postfix does not use is a corrupt or forged line: it is
// malformed, never counted under some queue (it would report messages that
// are not there), and it cannot grow the label set.
func TestParseUnknownQueueIsMalformed(t *testing.T) {
	f, err := os.Open("../../testdata/delivery/postqueue-unknown-queue.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s, err := Parse(f, 0)
	if err != nil {
		t.Fatal(err)
	}
	if s.Lines != 5 || s.Malformed != 3 {
		t.Errorf("lines %d malformed %d, want 5 and 3 (%s)", s.Lines, s.Malformed, s.FirstMalformed)
	}
	if want := `line 2: unknown queue_name "other"`; !strings.HasPrefix(s.FirstMalformed, want) {
		t.Errorf("first malformed = %q, want %q", s.FirstMalformed, want)
	}
	if len(s.Queues) != len(Queues) {
		t.Errorf("queues %v, want only %v", s.Queues, Queues)
	}
	if s.Queues["deferred"].Messages != 1 || s.Queues["active"].Messages != 1 || s.Deferrals["timeout"] != 1 {
		t.Errorf("deferred %+v active %+v deferrals %v", *s.Queues["deferred"], *s.Queues["active"], s.Deferrals)
	}

	var b strings.Builder
	for i := range 100 {
		fmt.Fprintf(&b, `{"queue_name":"q%d","queue_id":"A%d","arrival_time":1764100800,"message_size":1}`+"\n", i, i)
	}
	s, err = Parse(strings.NewReader(b.String()), 0)
	if !errors.Is(err, ErrGarbage) || s.Malformed != 100 || len(s.Queues) != len(Queues) {
		t.Errorf("err %v malformed %d queues %d", err, s.Malformed, len(s.Queues))
	}
}

type failingReader struct{ after io.Reader }

func (f failingReader) Read(p []byte) (int, error) {
	n, err := f.after.Read(p)
	if err == io.EOF {
		return n, errors.New("postqueue: fatal: Queue report unavailable")
	}
	return n, err
}

func TestParseReaderError(t *testing.T) {
	in := `{"queue_name":"active","queue_id":"A1","arrival_time":1764100800,"message_size":10}` + "\n"
	_, err := Parse(failingReader{strings.NewReader(in)}, 0)
	if err == nil || !strings.Contains(err.Error(), "Queue report unavailable") || !strings.Contains(err.Error(), "after line 1") {
		t.Fatalf("err = %v", err)
	}
}

// genDump produces n postqueue -j lines on the fly, so the benchmark
// measures the parser's memory, not the input's; it reuses one line buffer
// so its own allocations do not hide the parser's.
type genDump struct {
	n, i int
	line []byte
	rest []byte
	id   [20]byte
}

func (g *genDump) Read(p []byte) (int, error) {
	for len(g.rest) == 0 {
		if g.i >= g.n {
			return 0, io.EOF
		}
		q := Queues[g.i%3]
		b := append(g.line[:0], `{"queue_name": "`...)
		b = append(b, q...)
		b = append(b, `", "queue_id": "4XkT`...)
		id := strconv.AppendInt(g.id[:0], int64(g.i), 10)
		for range 11 - len(id) {
			b = append(b, '0')
		}
		b = append(b, id...)
		b = append(b, `", "arrival_time": `...)
		b = strconv.AppendInt(b, int64(1764100800+g.i%600), 10)
		b = append(b, `, "message_size": 4213, "forced_expire": false, "sender": "bosai@bosai-mie.jp", "recipients": [{"address": "user`...)
		b = strconv.AppendInt(b, int64(g.i), 10)
		b = append(b, `@三重.jp"`...)
		if q == "deferred" {
			b = append(b, `,"delay_reason":"connect to mx.example.jp[192.0.2.1]:25: Connection timed out"`...)
		}
		b = append(b, "}]}\n"...)
		g.line, g.rest = b, b
		g.i++
	}
	n := copy(p, g.rest)
	g.rest = g.rest[n:]
	return n, nil
}

func TestParseMillionBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("1M lines")
	}
	n := 1_000_000
	if raceEnabled {
		n = 50_000
	}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	stop := make(chan struct{})
	peak := make(chan uint64)
	go func() {
		var max uint64
		var ms runtime.MemStats
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				peak <- max
				return
			case <-tick.C:
				runtime.ReadMemStats(&ms)
				if ms.HeapInuse > max {
					max = ms.HeapInuse
				}
			}
		}
	}()
	s, err := Parse(&genDump{n: n}, 0)
	close(stop)
	p := <-peak
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	total := s.Queues["active"].Messages + s.Queues["incoming"].Messages + s.Queues["deferred"].Messages
	if total != int64(n) || s.Deferrals["timeout"] != int64(n/3) {
		t.Fatalf("total %d timeouts %d", total, s.Deferrals["timeout"])
	}
	// The input is ~250 MB; a parser that buffered it would need that much.
	if p > before.HeapInuse+64<<20 {
		t.Errorf("peak heap %d MiB over the baseline %d MiB", p>>20, before.HeapInuse>>20)
	}
	t.Logf("%d lines, peak heap in use %.1f MiB", n, float64(p)/(1<<20))
}

func BenchmarkParse1M(b *testing.B) {
	for b.Loop() {
		if _, err := Parse(&genDump{n: 1_000_000}, 0); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGenerate1M is the cost of producing the input alone, to be
// subtracted from BenchmarkParse1M.
func BenchmarkGenerate1M(b *testing.B) {
	for b.Loop() {
		if _, err := io.Copy(io.Discard, &genDump{n: 1_000_000}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseLine(b *testing.B) {
	g := &genDump{n: 3}
	lines, _ := io.ReadAll(g)
	ls := bytes.Split(bytes.TrimSpace(lines), []byte("\n"))
	b.SetBytes(int64(len(ls[2])))
	for i := 0; b.Loop(); i++ {
		if _, err := ParseLine(ls[2]); err != nil {
			b.Fatal(err)
		}
	}
}

func FuzzParse(f *testing.F) {
	data, _ := os.ReadFile("../../testdata/delivery/postqueue.jsonl")
	f.Add(data)
	f.Add([]byte(`{"queue_name":"deferred","queue_id":"A","arrival_time":1,"recipients":[{"delay_reason":"タイムアウト"}]}`))
	f.Add([]byte("\n\n\r\n"))
	unknown, _ := os.ReadFile("../../testdata/delivery/postqueue-unknown-queue.jsonl")
	f.Add(unknown)
	f.Add([]byte(`{"queue_name":"de\u0066erred","queue_id":"A","arrival_time":1,"recipients":[{"delay_reason":"TLS \u30bf\u30a4\u30e0\u30a2\u30a6\u30c8"}]}{}`))
	f.Add([]byte(`{"queue_name":"active","queue_id":"A","arrival_time":1,"recipients":[{"delay_reason":"\u0130 CONNECTION REFUSED \xff"}]}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		s, err := Parse(bytes.NewReader(in), 512)
		if s == nil {
			t.Fatal("nil summary")
		}
		var msgs int64
		for _, q := range s.Queues {
			if q.Messages < 0 || q.Recipients < 0 {
				t.Fatalf("negative counts %+v", q)
			}
			msgs += q.Messages
		}
		if msgs+s.Malformed != s.Lines {
			t.Fatalf("messages %d + malformed %d != lines %d", msgs, s.Malformed, s.Lines)
		}
		if err == nil && s.Lines > 0 && s.Malformed == s.Lines {
			t.Fatal("all lines malformed but no error")
		}
		for r := range s.Deferrals {
			if Bucket(r) == "" {
				t.Fatal("empty bucket")
			}
		}
		if len(s.Deferrals) != len(Reasons) {
			t.Fatalf("deferral buckets grew: %v", s.Deferrals)
		}
		if len(s.Queues) != len(Queues) {
			t.Fatalf("queues other than Postfix's: %v", s.Queues)
		}
		// Each line alone: the streaming decoder agrees with ParseLine
		// (json.Unmarshal and Bucket on strings), line by line.
		for _, line := range bytes.Split(in, []byte("\n")) {
			line = trimSpace(line)
			if len(line) == 0 {
				continue
			}
			one, _ := Parse(bytes.NewReader(line), len(line)+1)
			m, perr := ParseLine(line)
			if (perr == nil) != (one.Malformed == 0) {
				t.Fatalf("line %q: ParseLine error %v, Parse malformed %d (%s)", line, perr, one.Malformed, one.FirstMalformed)
			}
			if perr != nil {
				continue
			}
			q := one.Queues[m.QueueName]
			if q.Messages != 1 || q.Recipients != int64(len(m.Recipients)) || q.SizeBytes != m.MessageSize {
				t.Fatalf("line %q: Parse %+v, ParseLine %+v", line, *q, m)
			}
			want := map[string]int64{}
			for _, r := range m.Recipients {
				if r.DelayReason != "" {
					want[Bucket(r.DelayReason)]++
				}
			}
			for _, r := range Reasons {
				if one.Deferrals[r] != want[r] {
					t.Fatalf("line %q: deferrals %v, want %v", line, one.Deferrals, want)
				}
			}
		}
	})
}

// TestParseDumpFile summarises the dump named by POSTQUEUE_DUMP (make
// bench-delivery times it, and jq on the same file, under /usr/bin/time).
func TestParseDumpFile(t *testing.T) {
	p := os.Getenv("POSTQUEUE_DUMP")
	if p == "" {
		t.Skip("POSTQUEUE_DUMP not set")
	}
	if _, err := os.Stat(p); os.IsNotExist(err) {
		w, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(w, &genDump{n: 1_000_000}); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	begin := time.Now()
	s, err := Parse(f, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d lines (%d malformed) in %s", s.Lines, s.Malformed, time.Since(begin))
}
