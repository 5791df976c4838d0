// Package postqueue summarises the JSON-lines output of Postfix's
// `postqueue -j` (one JSON object per queued message) into per-queue counts
// and bucketed deferral reasons. It streams: memory stays bounded by the
// longest accepted line, whatever the number of messages, so a queue of a
// million entries during a broadcast backlog is summarised in one pass.
package postqueue

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Queues are the Postfix queues reported, always present in a Summary so a
// queue that empties shows 0 instead of vanishing.
var Queues = []string{"incoming", "active", "deferred", "hold", "maildrop"}

// Reasons are the bounded deferral-reason buckets (label values).
var Reasons = []string{"timeout", "connection_refused", "greylisting", "mailbox_full", "dns", "tls", "rate_limited", "other"}

// DefaultMaxLineBytes bounds one line. A message with thousands of
// recipients is a few hundred KiB; anything longer is malformed.
const DefaultMaxLineBytes = 4 << 20

// Queue is the summary of one Postfix queue.
type Queue struct {
	Messages   int64
	Recipients int64
	SizeBytes  int64
	// OldestArrival is the arrival time of the oldest message (zero if empty).
	OldestArrival time.Time
}

// ErrGarbage is returned when every line of a dump was malformed: the
// command printed something else than a queue (an error text, HTML).
var ErrGarbage = errors.New("no valid postqueue -j line")

// Summary is the result of parsing one dump.
type Summary struct {
	Queues map[string]*Queue
	// Deferrals counts deferred recipients by reason bucket.
	Deferrals map[string]int64
	// Lines is the number of non-empty lines read.
	Lines int64
	// Malformed lines were skipped; FirstMalformed describes the first one.
	Malformed      int64
	FirstMalformed string
}

// NewSummary returns a Summary with every known queue and reason at zero.
func NewSummary() *Summary {
	s := &Summary{Queues: map[string]*Queue{}, Deferrals: map[string]int64{}}
	for _, q := range Queues {
		s.Queues[q] = &Queue{}
	}
	for _, r := range Reasons {
		s.Deferrals[r] = 0
	}
	return s
}

// Message is the subset of a `postqueue -j` line that is summarised.
type Message struct {
	QueueName   string      `json:"queue_name"`
	QueueID     string      `json:"queue_id"`
	ArrivalTime int64       `json:"arrival_time"`
	MessageSize int64       `json:"message_size"`
	Recipients  []Recipient `json:"recipients"`
}

// Recipient is one recipient of a queued message. Its address is not
// decoded: the summary does not need it.
type Recipient struct {
	DelayReason string `json:"delay_reason"`
}

// ParseLine decodes one line and checks the fields a summary relies on.
func ParseLine(line []byte) (Message, error) {
	var e entry
	if err := json.Unmarshal(line, &e); err != nil {
		return Message{}, err
	}
	if err := e.check(); err != nil {
		return Message{}, err
	}
	m := Message{QueueName: e.Queue.name, ArrivalTime: e.ArrivalTime, MessageSize: e.MessageSize}
	if err := json.Unmarshal(e.ID.raw, &m.QueueID); err != nil {
		return Message{}, err
	}
	for i := range e.Recipients {
		r := Recipient{}
		if e.Recipients[i].Reason.raw != nil {
			if err := json.Unmarshal(e.Recipients[i].Reason.raw, &r.DelayReason); err != nil {
				return Message{}, err
			}
		}
		m.Recipients = append(m.Recipients, r)
	}
	return m, nil
}

// entry is how Parse decodes a line: the fields it needs are checked and
// reduced while decoding (queue name to a known queue, queue ID to
// presence, delay reason to its bucket), so a valid line allocates nothing
// however many recipients it has.
type entry struct {
	Queue       queueName   `json:"queue_name"`
	ID          queueID     `json:"queue_id"`
	ArrivalTime int64       `json:"arrival_time"`
	MessageSize int64       `json:"message_size"`
	Recipients  []recipient `json:"recipients"`
}

type recipient struct {
	Reason delayReason `json:"delay_reason"`
}

// reset empties e for the next line, keeping the recipients' storage.
func (e *entry) reset() {
	rs := e.Recipients[:cap(e.Recipients)]
	// encoding/json decodes into existing slice elements without zeroing
	// them: clear so a recipient never inherits the previous line's reason.
	clear(rs)
	*e = entry{Recipients: rs[:0]}
}

func (e *entry) check() error {
	switch {
	case e.Queue.name == "" && e.Queue.unknown == "":
		return errors.New("queue_name missing")
	case e.Queue.name == "":
		// A name Postfix does not use is a corrupt or forged line: counting
		// it under some queue would report messages that are not there.
		return fmt.Errorf("unknown queue_name %q (want one of %s)", e.Queue.unknown, strings.Join(Queues, ", "))
	case !e.ID.present:
		return errors.New("queue_id missing")
	case e.ArrivalTime <= 0:
		return fmt.Errorf("arrival_time %d is not a Unix time", e.ArrivalTime)
	case e.MessageSize < 0:
		return fmt.Errorf("message_size %d is negative", e.MessageSize)
	}
	return nil
}

// jsonString returns the contents of a JSON string literal without
// allocating when it has no escapes; escaped ones are decoded properly.
func jsonString(raw []byte) ([]byte, bool, error) {
	if len(raw) < 2 || raw[0] != '"' {
		return nil, false, fmt.Errorf("want a string, got %.40s", raw)
	}
	inner := raw[1 : len(raw)-1]
	if bytes.IndexByte(inner, '\\') < 0 {
		return inner, false, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, false, err
	}
	return []byte(s), true, nil
}

// queueName keeps the canonical name of a known queue, or the unknown name
// (bounded) for the error message.
type queueName struct {
	name    string
	unknown string
}

func (q *queueName) UnmarshalJSON(raw []byte) error {
	if string(raw) == "null" {
		return nil
	}
	b, _, err := jsonString(raw)
	if err != nil {
		return fmt.Errorf("queue_name: %w", err)
	}
	for _, known := range Queues {
		if string(b) == known {
			q.name = known
			return nil
		}
	}
	if len(b) == 0 {
		return nil // "queue_name missing"
	}
	if len(b) > 40 {
		b = b[:40]
	}
	q.unknown = string(b)
	return nil
}

// queueID records that a non-empty ID was present; the summary does not
// need the ID itself.
type queueID struct {
	present bool
	raw     []byte // only for ParseLine
}

func (q *queueID) UnmarshalJSON(raw []byte) error {
	if string(raw) == "null" {
		return nil
	}
	if _, _, err := jsonString(raw); err != nil {
		return fmt.Errorf("queue_id: %w", err)
	}
	q.present = string(raw) != `""`
	q.raw = raw
	return nil
}

// delayReason is the bucket of a recipient's deferral reason (index into
// Reasons plus one; 0 when there is none).
type delayReason struct {
	bucket uint8
	raw    []byte // only for ParseLine
}

func (d *delayReason) UnmarshalJSON(raw []byte) error {
	if string(raw) == "null" {
		return nil
	}
	b, _, err := jsonString(raw)
	if err != nil {
		return fmt.Errorf("delay_reason: %w", err)
	}
	d.raw = raw
	if len(b) > 0 {
		d.bucket = uint8(bucketIndex(b)) + 1
	}
	return nil
}

// Add counts one message into the summary. A message of a queue the
// summary does not know is not counted (Parse reports it as malformed).
func (s *Summary) Add(m *Message) {
	q := s.Queues[m.QueueName]
	if q == nil {
		return
	}
	q.add(m.ArrivalTime, m.MessageSize, int64(len(m.Recipients)))
	for i := range m.Recipients {
		if r := m.Recipients[i].DelayReason; r != "" {
			s.Deferrals[Bucket(r)]++
		}
	}
}

func (q *Queue) add(arrival, size, recipients int64) {
	q.Messages++
	q.Recipients += recipients
	q.SizeBytes += size
	at := time.Unix(arrival, 0)
	if q.OldestArrival.IsZero() || at.Before(q.OldestArrival) {
		q.OldestArrival = at
	}
}

func (s *Summary) addEntry(e *entry) {
	s.Queues[e.Queue.name].add(e.ArrivalTime, e.MessageSize, int64(len(e.Recipients)))
	for i := range e.Recipients {
		if b := e.Recipients[i].Reason.bucket; b > 0 {
			s.Deferrals[Reasons[b-1]]++
		}
	}
}

// lineDecoder decodes one line after another with one json.Decoder, so
// its buffers and scanner are reused instead of allocated per line as
// json.Unmarshal does.
type lineDecoder struct {
	src  lineSource
	dec  *json.Decoder
	base int64 // the decoder's input offset at the start of the line
}

type lineSource struct{ b []byte }

func (l *lineSource) Read(p []byte) (int, error) {
	if len(l.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, l.b)
	l.b = l.b[n:]
	return n, nil
}

func (d *lineDecoder) decode(line []byte, e *entry) error {
	if d.dec == nil {
		d.src.b, d.base = nil, 0
		d.dec = json.NewDecoder(&d.src)
	}
	d.src.b = line
	e.reset()
	err := d.dec.Decode(e)
	if err == nil && d.dec.InputOffset()-d.base != int64(len(line)) {
		err = errors.New("more than one JSON value on the line")
	}
	if err != nil {
		// The decoder keeps syntax errors and may hold the rest of the
		// line: start afresh (only malformed lines pay for it).
		d.dec = nil
		return err
	}
	d.base = d.dec.InputOffset()
	return e.check()
}

// Parse reads a whole dump. Malformed lines (bad JSON, missing fields,
// longer than maxLine) are counted and skipped: one bad line must not hide
// a backlog of a million good ones. An error is returned only when the
// reader fails (I/O, timeout, size bound) or when no line at all was usable
// while some were malformed (the output is garbage, not a queue).
func Parse(r io.Reader, maxLine int) (*Summary, error) {
	if maxLine <= 0 {
		maxLine = DefaultMaxLineBytes
	}
	s := NewSummary()
	br := bufio.NewReaderSize(r, 64<<10)
	var (
		long    []byte // a line longer than the reader's buffer, being collected
		tooLong bool
		lineNo  int64
		e       entry
		dec     lineDecoder
	)
	for {
		chunk, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			if !tooLong && len(long)+len(chunk) <= maxLine {
				long = append(long, chunk...)
			} else {
				tooLong, long = true, nil
			}
			continue
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return s, fmt.Errorf("reading queue dump after line %d: %w", lineNo, err)
		}
		line := chunk
		if long != nil {
			line = append(long, chunk...)
			long = nil
		}
		line = trimSpace(line)
		if tooLong || len(line) > 0 {
			lineNo++
			s.Lines++
			switch {
			case tooLong || len(line) > maxLine:
				s.malformed(lineNo, fmt.Sprintf("longer than %d bytes", maxLine))
			default:
				if perr := dec.decode(line, &e); perr != nil {
					s.malformed(lineNo, perr.Error())
				} else {
					s.addEntry(&e)
				}
			}
			tooLong = false
		}
		if errors.Is(err, io.EOF) {
			break
		}
	}
	if s.Malformed > 0 && s.Malformed == s.Lines {
		return s, fmt.Errorf("%w among %d (first: %s)", ErrGarbage, s.Lines, s.FirstMalformed)
	}
	return s, nil
}

func (s *Summary) malformed(line int64, msg string) {
	s.Malformed++
	if s.FirstMalformed == "" {
		if len(msg) > 200 {
			msg = msg[:200]
		}
		s.FirstMalformed = fmt.Sprintf("line %d: %s", line, msg)
	}
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r' || b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\r') {
		b = b[1:]
	}
	return b
}

// bucketRules are checked in order; the first match wins. TLS and DNS come
// before timeout because "TLS handshake timed out" is a TLS problem to the
// operator. Japanese texts are those of Japanese ISPs' and Postfix
// translations' deferral messages.
var bucketRules = []struct {
	reason string
	subs   []string
}{
	{"greylisting", []string{"greylist", "grey-list", "graylist", "gray-list", "4.7.1 try again later", "please try again later", "グレーリスト", "しばらくしてから再送", "時間をおいて再送"}},
	{"mailbox_full", []string{"mailbox full", "mailbox is full", "over quota", "quota exceeded", "exceeded storage", "insufficient storage", "4.2.2", "5.2.2", "メールボックスが一杯", "メールボックスがいっぱい", "容量超過", "容量を超え", "容量制限"}},
	{"rate_limited", []string{"too many connections", "too many messages", "rate limit", "rate-limit", "throttl", "4.7.0 too many", "421 4.7.28", "送信数が制限", "流量制限"}},
	{"tls", []string{"tls", "ssl", "certificate", "starttls", "証明書", "暗号化"}},
	{"dns", []string{"host or domain name not found", "name service error", "dns", "no mx", "nxdomain", "domain not found", "名前解決", "ドメインが見つかりません"}},
	{"connection_refused", []string{"connection refused", "接続が拒否", "接続を拒否"}},
	{"timeout", []string{"timed out", "timeout", "time out", "タイムアウト", "時間切れ"}},
}

// bucketSubs are bucketRules' substrings as bytes, for bucketIndex.
var bucketSubs = func() [][][]byte {
	out := make([][][]byte, len(bucketRules))
	for i, r := range bucketRules {
		for _, sub := range r.subs {
			out[i] = append(out[i], []byte(sub))
		}
	}
	return out
}()

var reasonIndex = func() map[string]int {
	m := map[string]int{}
	for i, r := range Reasons {
		m[r] = i
	}
	return m
}()

// Bucket maps a free-text deferral reason to one of Reasons.
func Bucket(reason string) string {
	lower := strings.ToLower(reason)
	for _, r := range bucketRules {
		for _, s := range r.subs {
			if strings.Contains(lower, s) {
				return r.reason
			}
		}
	}
	return "other"
}

// bucketIndex is Bucket for bytes, returning the index into Reasons. It
// lower-cases into a stack buffer; a reason that is long or has non-ASCII
// letters with a lower case takes Bucket's path (and its allocation).
func bucketIndex(reason []byte) int {
	var buf [512]byte
	if len(reason) > len(buf) {
		return reasonIndex[Bucket(string(reason))]
	}
	lower := buf[:len(reason)]
	for i := 0; i < len(reason); {
		c := reason[i]
		if c < utf8.RuneSelf {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			lower[i] = c
			i++
			continue
		}
		r, n := utf8.DecodeRune(reason[i:])
		if r == utf8.RuneError || unicode.ToLower(r) != r {
			return reasonIndex[Bucket(string(reason))]
		}
		copy(lower[i:], reason[i:i+n])
		i += n
	}
	for i, subs := range bucketSubs {
		for _, sub := range subs {
			if bytes.Contains(lower, sub) {
				return reasonIndex[bucketRules[i].reason]
			}
		}
	}
	return reasonIndex["other"]
}
