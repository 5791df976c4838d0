// Package postqueue summarises the JSON-lines output of Postfix's
// `postqueue -j` (one JSON object per queued message) into per-queue counts
// and bucketed deferral reasons. It streams: memory stays bounded by the
// longest accepted line, whatever the number of messages, so a queue of a
// million entries during a broadcast backlog is summarised in one pass.
package postqueue

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
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
// decoded: the summary does not need it, and skipping it saves an
// allocation per recipient on a million-line queue.
type Recipient struct {
	DelayReason string `json:"delay_reason"`
}

// ParseLine decodes one line and checks the fields a summary relies on.
func ParseLine(line []byte) (Message, error) {
	var m Message
	err := parseInto(line, &m)
	return m, err
}

// parseInto decodes into m, reusing its recipient slice.
func parseInto(line []byte, m *Message) error {
	// encoding/json decodes into existing slice elements without zeroing
	// them: clear so a recipient never inherits the previous line's reason.
	rs := m.Recipients[:cap(m.Recipients)]
	clear(rs)
	*m = Message{Recipients: rs[:0]}
	if err := json.Unmarshal(line, m); err != nil {
		return err
	}
	switch {
	case m.QueueName == "":
		return errors.New("queue_name missing")
	case m.QueueID == "":
		return errors.New("queue_id missing")
	case m.ArrivalTime <= 0:
		return fmt.Errorf("arrival_time %d is not a Unix time", m.ArrivalTime)
	case m.MessageSize < 0:
		return fmt.Errorf("message_size %d is negative", m.MessageSize)
	}
	return nil
}

// Add counts one message into the summary.
func (s *Summary) Add(m *Message) {
	name := m.QueueName
	q := s.Queues[name]
	if q == nil {
		// Queue names come from Postfix; an unknown one is kept under
		// "other" so a corrupt name cannot grow the label set.
		name = "other"
		if q = s.Queues[name]; q == nil {
			q = &Queue{}
			s.Queues[name] = q
		}
	}
	q.Messages++
	q.Recipients += int64(len(m.Recipients))
	q.SizeBytes += m.MessageSize
	at := time.Unix(m.ArrivalTime, 0)
	if q.OldestArrival.IsZero() || at.Before(q.OldestArrival) {
		q.OldestArrival = at
	}
	for i := range m.Recipients {
		if r := m.Recipients[i].DelayReason; r != "" {
			s.Deferrals[Bucket(r)]++
		}
	}
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
		m       Message
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
				if perr := parseInto(line, &m); perr != nil {
					s.malformed(lineNo, perr.Error())
				} else {
					s.Add(&m)
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
