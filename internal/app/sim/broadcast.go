package sim

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
	"golang.org/x/time/rate"
)

// BroadcastOptions configure the broadcast mode: one alert mail to N
// registered addresses, delivered to a real SMTP server (mailpit) at a
// fixed rate, as the service's MTA would during an evacuation order.
type BroadcastOptions struct {
	// SMTPAddress receives the mail (host:port).
	SMTPAddress string
	// Rate is the delivery rate in recipients per second.
	Rate float64
	// From is the envelope and header sender.
	From string
	// BatchSize is the recipients per SMTP transaction (and per message in
	// the queue dump), like an MTA's per-destination recipient limit.
	BatchSize int
	// RetryDelay is how long deferred recipients wait before their retry;
	// MaxRetries retries later turn them into bounces.
	RetryDelay time.Duration
	MaxRetries int
	// Keep bounds the broadcasts remembered (and listed by the API).
	Keep int
	// MaxRecipients bounds one broadcast.
	MaxRecipients int
	// SMTPTimeout bounds one SMTP transaction.
	SMTPTimeout time.Duration
}

// Broadcaster runs broadcasts and serves their statistics API and a
// Postfix-style `postqueue -j` dump of what is still queued.
type Broadcaster struct {
	o      BroadcastOptions
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu         sync.Mutex
	broadcasts []*broadcast // oldest first
}

type broadcast struct {
	id, subject, body, domain string
	invalidEvery              int
	total                     int
	next                      int // index of the first recipient not yet attempted
	inFlight                  int // recipients of the current SMTP transaction
	delivered, bounced        int
	complaints                int
	deferred                  map[int]string // recipient index -> reason
	started, finished         time.Time
}

// NewBroadcaster applies defaults; call Close to stop running broadcasts.
func NewBroadcaster(o BroadcastOptions) *Broadcaster {
	if o.Rate <= 0 {
		o.Rate = 100
	}
	if o.From == "" {
		o.From = "bosai@example.jp"
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 50
	}
	if o.RetryDelay <= 0 {
		o.RetryDelay = 5 * time.Second
	}
	if o.MaxRetries <= 0 {
		o.MaxRetries = 2
	}
	if o.Keep <= 0 {
		o.Keep = 10
	}
	if o.MaxRecipients <= 0 {
		o.MaxRecipients = 1_000_000
	}
	if o.SMTPTimeout <= 0 {
		o.SMTPTimeout = 30 * time.Second
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Broadcaster{o: o, ctx: ctx, cancel: cancel}
}

// Close stops every running broadcast and waits for them.
func (b *Broadcaster) Close() {
	b.cancel()
	b.wg.Wait()
}

// Register mounts the broadcast API:
//
//	POST /api/v1/broadcasts        start one: {"recipients": N, "subject": "...", "body": "...",
//	                               "domain": "example.jp", "invalid_every": 0}
//	GET  /api/v1/broadcasts        delivery statistics (the exporter's default stats mapping)
//	GET  /api/v1/postqueue         what is still queued, as `postqueue -j` JSON lines
func (b *Broadcaster) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST /api/v1/broadcasts", b.start)
	mux.HandleFunc("GET /api/v1/broadcasts", b.stats)
	mux.HandleFunc("GET /api/v1/postqueue", b.queue)
}

// BroadcastRequest starts a broadcast.
type BroadcastRequest struct {
	Recipients int    `json:"recipients"`
	Subject    string `json:"subject"`
	Body       string `json:"body"`
	// Domain of the generated addresses user00001@<domain>...
	Domain string `json:"domain"`
	// InvalidEvery makes every Nth address nouserNNNNN@<domain>, which a
	// server that only accepts user* rejects (a bounce).
	InvalidEvery int `json:"invalid_every"`
}

func (b *Broadcaster) start(w http.ResponseWriter, r *http.Request) {
	var req BroadcastRequest
	dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		bcError(w, http.StatusBadRequest, "invalid broadcast request: %v", err)
		return
	}
	if req.Domain == "" {
		req.Domain = "example.jp"
	}
	if req.Subject == "" {
		req.Subject = "【避難指示】訓練配信"
	}
	switch {
	case req.Recipients < 1 || req.Recipients > b.o.MaxRecipients:
		bcError(w, http.StatusBadRequest, "recipients: want 1 to %d, got %d", b.o.MaxRecipients, req.Recipients)
		return
	case req.InvalidEvery < 0:
		bcError(w, http.StatusBadRequest, "invalid_every: must not be negative")
		return
	case strings.ContainsAny(req.Domain, "@<>\r\n \t"):
		bcError(w, http.StatusBadRequest, "domain %q is not a domain", req.Domain)
		return
	case strings.ContainsAny(req.Subject, "\r\n"):
		bcError(w, http.StatusBadRequest, "subject must be one line")
		return
	}
	var id [6]byte
	rand.Read(id[:])
	bc := &broadcast{
		id: time.Now().Format("20060102-150405-") + hex.EncodeToString(id[:]), subject: req.Subject, body: req.Body,
		domain: req.Domain, invalidEvery: req.InvalidEvery, total: req.Recipients,
		deferred: map[int]string{}, started: time.Now(),
	}
	b.mu.Lock()
	b.broadcasts = append(b.broadcasts, bc)
	if len(b.broadcasts) > b.o.Keep {
		b.broadcasts = b.broadcasts[len(b.broadcasts)-b.o.Keep:]
	}
	b.mu.Unlock()
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		b.run(bc)
	}()
	bcJSON(w, http.StatusAccepted, map[string]any{"id": bc.id, "recipients": bc.total})
}

func (bc *broadcast) address(i int) string {
	if bc.invalidEvery > 0 && (i+1)%bc.invalidEvery == 0 {
		return fmt.Sprintf("nouser%05d@%s", i+1, bc.domain)
	}
	return fmt.Sprintf("user%05d@%s", i+1, bc.domain)
}

// run delivers the broadcast at the configured rate, then retries the
// deferred recipients; those still deferred after MaxRetries bounce.
func (b *Broadcaster) run(bc *broadcast) {
	lim := rate.NewLimiter(rate.Limit(b.o.Rate), b.o.BatchSize)
	for {
		b.mu.Lock()
		first := bc.next
		n := min(b.o.BatchSize, bc.total-first)
		bc.next += n
		bc.inFlight = n
		b.mu.Unlock()
		if n == 0 {
			break
		}
		if err := lim.WaitN(b.ctx, n); err != nil {
			return
		}
		idx := make([]int, n)
		for i := range idx {
			idx[i] = first + i
		}
		b.send(bc, idx)
	}
	for retry := 0; retry < b.o.MaxRetries; retry++ {
		b.mu.Lock()
		idx := make([]int, 0, len(bc.deferred))
		for i := range bc.deferred {
			idx = append(idx, i)
		}
		b.mu.Unlock()
		if len(idx) == 0 {
			break
		}
		sort.Ints(idx)
		t := time.NewTimer(b.o.RetryDelay)
		select {
		case <-b.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		for len(idx) > 0 {
			n := min(b.o.BatchSize, len(idx))
			if err := lim.WaitN(b.ctx, n); err != nil {
				return
			}
			b.send(bc, idx[:n])
			idx = idx[n:]
		}
	}
	b.mu.Lock()
	bc.bounced += len(bc.deferred)
	clear(bc.deferred)
	bc.finished = time.Now()
	b.mu.Unlock()
}

// send delivers one SMTP transaction and records each recipient's outcome:
// 2xx delivered, 5xx bounced, anything else (4xx, no connection) deferred
// with the reason text an MTA would log.
func (b *Broadcaster) send(bc *broadcast, idx []int) {
	outcome := make([]string, len(idx)) // "" delivered, "5"+text bounced, "4"+text deferred
	err := b.transaction(bc, idx, outcome)
	b.mu.Lock()
	defer b.mu.Unlock()
	bc.inFlight = 0
	for i, r := range idx {
		o := outcome[i]
		if o == "" && err != nil {
			o = "4" + err.Error()
		}
		switch {
		case o == "":
			bc.delivered++
			delete(bc.deferred, r)
		case o[0] == '5':
			bc.bounced++
			delete(bc.deferred, r)
		default:
			bc.deferred[r] = o[1:]
		}
	}
}

func (b *Broadcaster) transaction(bc *broadcast, idx []int, outcome []string) error {
	ctx, cancel := context.WithTimeout(b.ctx, b.o.SMTPTimeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", b.o.SMTPAddress)
	if err != nil {
		return fmt.Errorf("connect to %s: %v", b.o.SMTPAddress, err)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	c := smtp.NewClient(conn)
	defer c.Close()
	c.CommandTimeout = b.o.SMTPTimeout
	host := b.o.SMTPAddress
	if err := c.Hello("bosaimail-sim.localhost"); err != nil {
		return fmt.Errorf("host %s said: %v (in reply to EHLO command)", host, err)
	}
	if err := c.Mail(b.o.From, nil); err != nil {
		return fmt.Errorf("host %s said: %v (in reply to MAIL FROM command)", host, err)
	}
	accepted := 0
	for i, r := range idx {
		if err := c.Rcpt(bc.address(r), nil); err != nil {
			var se *smtp.SMTPError
			if errors.As(err, &se) && se.Code >= 500 {
				outcome[i] = fmt.Sprintf("5host %s said: %d %s (in reply to RCPT TO command)", host, se.Code, se.Message)
				continue
			}
			outcome[i] = fmt.Sprintf("4host %s said: %v (in reply to RCPT TO command)", host, err)
			continue
		}
		accepted++
	}
	if accepted == 0 {
		return c.Quit()
	}
	wc, err := c.Data()
	if err != nil {
		return fmt.Errorf("host %s said: %v (in reply to DATA command)", host, err)
	}
	if _, err := wc.Write(bcCompose(bc, b.o.From)); err != nil {
		return fmt.Errorf("lost connection with %s while sending message body: %v", host, err)
	}
	if err := wc.Close(); err != nil {
		return fmt.Errorf("host %s said: %v (in reply to end of DATA command)", host, err)
	}
	return c.Quit()
}

func bcCompose(bc *broadcast, from string) []byte {
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "From: %s <%s>\r\n", mime.BEncoding.Encode("UTF-8", "防災メール"), from)
	fmt.Fprintf(&buf, "To: undisclosed-recipients:;\r\n")
	fmt.Fprintf(&buf, "Subject: %s\r\n", mime.BEncoding.Encode("UTF-8", bc.subject))
	fmt.Fprintf(&buf, "Date: %s\r\n", time.Now().Format(time.RFC1123Z))
	fmt.Fprintf(&buf, "X-Broadcast-ID: %s\r\n", bc.id)
	buf.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\n")
	enc := base64.StdEncoding.EncodeToString([]byte(bc.body))
	for len(enc) > 76 {
		buf.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	buf.WriteString(enc + "\r\n")
	return buf.Bytes()
}

// BroadcastStats is one entry of the statistics API.
type BroadcastStats struct {
	ID              string     `json:"id"`
	Title           string     `json:"title"`
	RecipientsTotal int        `json:"recipients_total"`
	Delivered       int        `json:"delivered"`
	Deferred        int        `json:"deferred"`
	Bounced         int        `json:"bounced"`
	Complaints      int        `json:"complaints"`
	StartedAt       time.Time  `json:"started_at"`
	FinishedAt      *time.Time `json:"finished_at"`
}

// Stats returns the remembered broadcasts, newest first.
func (b *Broadcaster) Stats() []BroadcastStats {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]BroadcastStats, 0, len(b.broadcasts))
	for i := len(b.broadcasts) - 1; i >= 0; i-- {
		bc := b.broadcasts[i]
		s := BroadcastStats{ID: bc.id, Title: bc.subject, RecipientsTotal: bc.total, Delivered: bc.delivered,
			Deferred: len(bc.deferred), Bounced: bc.bounced, Complaints: bc.complaints, StartedAt: bc.started}
		if !bc.finished.IsZero() {
			f := bc.finished
			s.FinishedAt = &f
		}
		out = append(out, s)
	}
	return out
}

func (b *Broadcaster) stats(w http.ResponseWriter, _ *http.Request) {
	bcJSON(w, http.StatusOK, map[string]any{"generated_at": time.Now(), "broadcasts": b.Stats()})
}

// queueLine is one line of `postqueue -j`.
type queueLine struct {
	QueueName    string           `json:"queue_name"`
	QueueID      string           `json:"queue_id"`
	ArrivalTime  int64            `json:"arrival_time"`
	MessageSize  int              `json:"message_size"`
	ForcedExpire bool             `json:"forced_expire"`
	Sender       string           `json:"sender"`
	Recipients   []queueRecipient `json:"recipients"`
}

type queueRecipient struct {
	Address     string `json:"address"`
	DelayReason string `json:"delay_reason,omitempty"`
}

// queue writes what is still queued as Postfix would list it: the
// transaction under way in "active", recipients not yet attempted in
// "incoming" messages of BatchSize, deferred ones in "deferred" with their
// reasons. The dump is streamed; the lock is held per broadcast only.
func (b *Broadcaster) queue(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/x-ndjson")
	b.mu.Lock()
	bcs := append([]*broadcast(nil), b.broadcasts...)
	b.mu.Unlock()
	enc := json.NewEncoder(w)
	for _, bc := range bcs {
		b.mu.Lock()
		next, inFlight, total := bc.next, bc.inFlight, bc.total
		deferred := make([]int, 0, len(bc.deferred))
		for i := range bc.deferred {
			deferred = append(deferred, i)
		}
		sort.Ints(deferred)
		reasons := make([]string, len(deferred))
		for k, i := range deferred {
			reasons[k] = bc.deferred[i]
		}
		b.mu.Unlock()
		size := len(bcCompose(bc, b.o.From))
		line := func(queue string, seq int, rcpts []queueRecipient) error {
			return enc.Encode(queueLine{QueueName: queue, QueueID: fmt.Sprintf("%s%06X", strings.ToUpper(bc.id[len(bc.id)-6:]), seq),
				ArrivalTime: bc.started.Unix(), MessageSize: size, Sender: b.o.From, Recipients: rcpts})
		}
		seq := 0
		if inFlight > 0 {
			rcpts := make([]queueRecipient, 0, inFlight)
			for i := next - inFlight; i < next; i++ {
				rcpts = append(rcpts, queueRecipient{Address: bc.address(i)})
			}
			if line("active", seq, rcpts) != nil {
				return
			}
			seq++
		}
		for start := next; start < total; start += b.o.BatchSize {
			rcpts := make([]queueRecipient, 0, b.o.BatchSize)
			for i := start; i < min(start+b.o.BatchSize, total); i++ {
				rcpts = append(rcpts, queueRecipient{Address: bc.address(i)})
			}
			if line("incoming", seq, rcpts) != nil {
				return
			}
			seq++
		}
		for len(deferred) > 0 {
			n := min(b.o.BatchSize, len(deferred))
			rcpts := make([]queueRecipient, n)
			for k := range n {
				rcpts[k] = queueRecipient{Address: bc.address(deferred[k]), DelayReason: reasons[k]}
			}
			if line("deferred", seq, rcpts) != nil {
				return
			}
			seq++
			deferred, reasons = deferred[n:], reasons[n:]
		}
	}
}

func bcJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

func bcError(w http.ResponseWriter, code int, format string, args ...any) {
	bcJSON(w, code, map[string]string{"error": fmt.Sprintf(format, args...)})
}
