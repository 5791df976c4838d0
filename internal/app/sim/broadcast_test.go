package sim

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/itchyny/gojq"

	"github.com/bosaimail/bosaimail_exporter/internal/deliverystats"
	"github.com/bosaimail/bosaimail_exporter/internal/postqueue"
	"github.com/bosaimail/bosaimail_exporter/internal/testkit/mailtest"
)

func startBroadcaster(t *testing.T, o BroadcastOptions) (*Broadcaster, *httptest.Server) {
	t.Helper()
	b := NewBroadcaster(o)
	mux := http.NewServeMux()
	b.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		srv.Close()
		b.Close()
	})
	return b, srv
}

func defaultMapping(t *testing.T) *deliverystats.Mapping {
	t.Helper()
	m := &deliverystats.Mapping{}
	f := deliverystats.DefaultFields
	f.Each(m, func(name string, src *string, dst **gojq.Code) {
		q, err := gojq.Parse(*src)
		if err != nil {
			t.Fatal(err)
		}
		if *dst, err = gojq.Compile(q); err != nil {
			t.Fatal(err)
		}
	})
	return m
}

func getBody(t *testing.T, url string) []byte {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	return b
}

// waitFinished polls the statistics API (as the exporter reads it) until
// the broadcast finished, checking on the way that the queue dump and the
// statistics always account for every recipient.
func waitFinished(t *testing.T, srv *httptest.Server, id string, total int) deliverystats.Broadcast {
	t.Helper()
	m := defaultMapping(t)
	deadline := time.Now().Add(30 * time.Second)
	sawQueue := false
	for {
		bs, err := deliverystats.Decode(getBody(t, srv.URL+"/api/v1/broadcasts"), m)
		if err != nil {
			t.Fatalf("stats API not readable with the default mapping: %v", err)
		}
		var cur *deliverystats.Broadcast
		for i := range bs {
			if bs[i].ID == id {
				cur = &bs[i]
			}
		}
		if cur == nil {
			t.Fatalf("broadcast %s not listed", id)
		}
		if cur.Total != float64(total) || cur.Delivered+cur.Deferred+cur.Bounced > cur.Total {
			t.Fatalf("inconsistent statistics %+v", *cur)
		}
		if !cur.Finished.IsZero() {
			return *cur
		}
		s, err := postqueue.Parse(bytes.NewReader(getBody(t, srv.URL+"/api/v1/postqueue")), 0)
		if err != nil {
			t.Fatalf("queue dump not parseable: %v", err)
		}
		if s.Malformed != 0 {
			t.Fatalf("malformed dump lines: %s", s.FirstMalformed)
		}
		var queued int64
		for _, q := range s.Queues {
			queued += q.Recipients
		}
		sawQueue = sawQueue || queued > 0
		if queued > int64(total) {
			t.Fatalf("queue holds %d recipients of %d", queued, total)
		}
		if time.Now().After(deadline) {
			t.Fatalf("broadcast not finished: %+v (saw queue: %v)", *cur, sawQueue)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func startBroadcast(t *testing.T, srv *httptest.Server, req string) string {
	t.Helper()
	resp, err := http.Post(srv.URL+"/api/v1/broadcasts", "application/json", strings.NewReader(req))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct{ ID string }
	json.NewDecoder(resp.Body).Decode(&out)
	if resp.StatusCode != http.StatusAccepted || out.ID == "" {
		t.Fatalf("start: %d %+v", resp.StatusCode, out)
	}
	return out.ID
}

func TestBroadcastToMailpit(t *testing.T) {
	mp := mailtest.StartMailpit(t, mailtest.MailpitOptions{AllowedRecipients: "^user"})
	_, srv := startBroadcaster(t, BroadcastOptions{SMTPAddress: mp.SMTP, Rate: 2000, BatchSize: 50})
	id := startBroadcast(t, srv, `{"recipients": 400, "subject": "【避難指示】津市 訓練", "body": "直ちに避難してください。", "domain": "三重.jp", "invalid_every": 10}`)
	b := waitFinished(t, srv, id, 400)
	if b.Delivered != 360 || b.Bounced != 40 || b.Deferred != 0 {
		t.Fatalf("outcome %+v, want 360 delivered and 40 bounced by mailpit", b)
	}
	// 400 recipients in transactions of 50: mailpit stores 8 messages.
	if n := mp.MessageCount(t); n != 8 {
		t.Errorf("mailpit holds %d messages, want 8", n)
	}
	if subj := mp.Subjects(t); len(subj) == 0 || subj[0] != "【避難指示】津市 訓練" {
		t.Errorf("subjects %v", subj)
	}
	s, err := postqueue.Parse(bytes.NewReader(getBody(t, srv.URL+"/api/v1/postqueue")), 0)
	if err != nil || s.Lines != 0 {
		t.Errorf("queue after the broadcast: %d lines, %v", s.Lines, err)
	}
}

// With the SMTP server down every recipient is deferred with the reason an
// MTA logs (bucketed connection_refused); after the retries they bounce.
func TestBroadcastDeferredWhileServerDown(t *testing.T) {
	addr := mailtest.FreePort(t) // nothing listens there
	_, srv := startBroadcaster(t, BroadcastOptions{SMTPAddress: addr, Rate: 10000, BatchSize: 20, RetryDelay: 300 * time.Millisecond, MaxRetries: 1})
	id := startBroadcast(t, srv, `{"recipients": 60}`)
	deadline := time.Now().Add(10 * time.Second)
	for {
		s, err := postqueue.Parse(bytes.NewReader(getBody(t, srv.URL+"/api/v1/postqueue")), 0)
		if err != nil {
			t.Fatal(err)
		}
		if s.Queues["deferred"].Recipients == 60 {
			if s.Deferrals["connection_refused"] != 60 || s.Queues["deferred"].Messages != 3 {
				t.Fatalf("deferred queue %+v reasons %v", s.Queues["deferred"], s.Deferrals)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("recipients never all deferred: %+v", s.Queues["deferred"])
		}
		time.Sleep(10 * time.Millisecond)
	}
	b := waitFinished(t, srv, id, 60)
	if b.Bounced != 60 || b.Delivered != 0 {
		t.Fatalf("outcome %+v, want 60 bounced after the retries", b)
	}
}

func TestBroadcastBadRequests(t *testing.T) {
	_, srv := startBroadcaster(t, BroadcastOptions{SMTPAddress: "127.0.0.1:1", MaxRecipients: 1000})
	cases := []struct{ body, want string }{
		{`{"recipients": 0}`, "recipients: want 1 to 1000, got 0"},
		{`{"recipients": 5000}`, "recipients: want 1 to 1000, got 5000"},
		{`{"recipients": 5, "colour": "red"}`, "unknown field"},
		{`{"recipients": 5, "domain": "a@b"}`, "is not a domain"},
		{`{"recipients": 5, "subject": "a\r\nBcc: x@y"}`, "one line"},
		{`{"recipients": 5, "invalid_every": -1}`, "invalid_every"},
		{`not json`, "invalid broadcast request"},
	}
	for _, c := range cases {
		resp, err := http.Post(srv.URL+"/api/v1/broadcasts", "application/json", strings.NewReader(c.body))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), c.want) {
			t.Errorf("%s: %d %s, want 400 with %q", c.body, resp.StatusCode, b, c.want)
		}
	}
}

func TestBroadcastKeepsLastN(t *testing.T) {
	b, srv := startBroadcaster(t, BroadcastOptions{SMTPAddress: mailtest.FreePort(t), Keep: 3, RetryDelay: time.Hour})
	for range 5 {
		startBroadcast(t, srv, `{"recipients": 1}`)
	}
	if n := len(b.Stats()); n != 3 {
		t.Fatalf("remembered %d broadcasts, want 3", n)
	}
}
