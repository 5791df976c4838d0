// Package mailbox reads and cleans a test mailbox over POP3 or IMAP, for
// the round-trip check. Every session is bounded by its context: when the
// context ends the connection is closed, so no library call can hang.
package mailbox

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync/atomic"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	pop3 "github.com/knadh/go-pop3"
)

// Options say how to reach the mailbox.
type Options struct {
	Protocol string // "pop3" or "imap"
	Address  string // host:port
	// TLS is "implicit", "starttls" (IMAP only) or "none".
	TLS       string
	TLSConfig *tls.Config
	Username  string
	Password  string
	// Folder is the IMAP mailbox (INBOX).
	Folder string
	// MaxMessageBytes: larger messages are listed but never fetched.
	MaxMessageBytes int64
}

// Message is one message of the mailbox.
type Message struct {
	// ID is stable across sessions: the POP3 UIDL, or the IMAP
	// UIDVALIDITY/UID pair.
	ID   string
	Size int64
}

// Session is an open, logged-in mailbox.
type Session interface {
	// List returns the messages in the mailbox.
	List(ctx context.Context) ([]Message, error)
	// Fetch returns the raw message (RFC 5322) with the given ID.
	Fetch(ctx context.Context, id string) ([]byte, error)
	// Delete marks messages for deletion; Close makes it final.
	Delete(ctx context.Context, ids []string) error
	// Close commits deletions and logs out.
	Close(ctx context.Context) error
}

// Step names where a session failed, for a bounded failure reason.
type Step string

// Steps of a mailbox session.
const (
	StepConnect Step = "connect"
	StepTLS     Step = "tls"
	StepLogin   Step = "auth"
	StepCommand Step = "mailbox"
)

// Error is a failed mailbox operation with the step it failed in.
type Error struct {
	Step Step
	Err  error
}

func (e *Error) Error() string { return fmt.Sprintf("mailbox %s: %v", e.Step, e.Err) }
func (e *Error) Unwrap() error { return e.Err }

func stepErr(step Step, err error) error {
	var me *Error
	if errors.As(err, &me) {
		return err
	}
	return &Error{Step: step, Err: err}
}

// maxSessionBytes bounds everything one session reads, whatever the server
// claims about sizes: listing a huge mailbox or a lying server cannot
// exhaust memory.
const maxSessionBytes = 64 << 20

// Open connects, negotiates TLS and logs in.
func Open(ctx context.Context, o Options) (Session, error) {
	var d net.Dialer
	raw, err := d.DialContext(ctx, "tcp", o.Address)
	if err != nil {
		return nil, stepErr(StepConnect, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		raw.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { raw.Close() })
	conn := &boundedConn{Conn: raw, left: maxSessionBytes}
	var c net.Conn = conn
	tlsConf := o.TLSConfig
	if tlsConf == nil {
		tlsConf = &tls.Config{}
	}
	if o.TLS == "implicit" {
		tc := tls.Client(conn, tlsConf.Clone())
		if err := tc.HandshakeContext(ctx); err != nil {
			stop()
			raw.Close()
			return nil, stepErr(StepTLS, err)
		}
		c = tc
	}
	var s Session
	switch o.Protocol {
	case "pop3":
		s, err = openPOP3(c, o)
	case "imap":
		s, err = openIMAP(c, o, tlsConf)
	default:
		err = stepErr(StepConnect, fmt.Errorf("unknown protocol %q", o.Protocol))
	}
	if err != nil {
		stop()
		raw.Close()
		return nil, err
	}
	return &closer{Session: s, stop: stop, raw: raw}, nil
}

// closer releases the context hook and the socket whatever the protocol
// did on Close.
type closer struct {
	Session
	stop func() bool
	raw  net.Conn
}

func (c *closer) Close(ctx context.Context) error {
	err := c.Session.Close(ctx)
	c.stop()
	c.raw.Close()
	return err
}

// boundedConn fails reads once a session has read more than its budget.
type boundedConn struct {
	net.Conn
	left int64
}

var errTooMuch = errors.New("mailbox server sent more than the session budget")

func (b *boundedConn) Read(p []byte) (int, error) {
	if atomic.LoadInt64(&b.left) <= 0 {
		return 0, errTooMuch
	}
	n, err := b.Conn.Read(p)
	atomic.AddInt64(&b.left, -int64(n))
	return n, err
}

// --- POP3 (github.com/knadh/go-pop3) ---

type pop3Session struct {
	c   *pop3.Conn
	max int64
	ids map[string]int // UIDL -> message number in this session
}

// connDialer hands go-pop3 the connection we already made (and secured),
// so our deadline, TLS config and read budget apply.
type connDialer struct{ c net.Conn }

func (d connDialer) Dial(string, string) (net.Conn, error) { return d.c, nil }

func openPOP3(c net.Conn, o Options) (Session, error) {
	host, portStr, _ := net.SplitHostPort(o.Address)
	port, _ := strconv.Atoi(portStr)
	client := pop3.New(pop3.Opt{Host: host, Port: port, Dialer: connDialer{c}})
	conn, err := client.NewConn()
	if err != nil {
		return nil, stepErr(StepConnect, fmt.Errorf("greeting: %w", err))
	}
	if err := conn.Auth(o.Username, o.Password); err != nil {
		conn.Quit()
		return nil, stepErr(StepLogin, err)
	}
	return &pop3Session{c: conn, max: o.MaxMessageBytes, ids: map[string]int{}}, nil
}

func (s *pop3Session) List(context.Context) ([]Message, error) {
	uids, err := s.c.Uidl(0)
	if err != nil {
		return nil, stepErr(StepCommand, fmt.Errorf("UIDL: %w", err))
	}
	sizes, err := s.c.List(0)
	if err != nil {
		return nil, stepErr(StepCommand, fmt.Errorf("LIST: %w", err))
	}
	bySeq := make(map[int]int64, len(sizes))
	for _, m := range sizes {
		bySeq[m.ID] = int64(m.Size)
	}
	out := make([]Message, 0, len(uids))
	for _, m := range uids {
		s.ids[m.UID] = m.ID
		out = append(out, Message{ID: m.UID, Size: bySeq[m.ID]})
	}
	return out, nil
}

func (s *pop3Session) Fetch(_ context.Context, id string) ([]byte, error) {
	n, ok := s.ids[id]
	if !ok {
		return nil, stepErr(StepCommand, fmt.Errorf("message %q not listed", id))
	}
	buf, err := s.c.RetrRaw(n)
	if err != nil {
		return nil, stepErr(StepCommand, fmt.Errorf("RETR %d: %w", n, err))
	}
	if int64(buf.Len()) > s.max {
		return nil, stepErr(StepCommand, fmt.Errorf("message %q is larger than %d bytes", id, s.max))
	}
	return buf.Bytes(), nil
}

func (s *pop3Session) Delete(_ context.Context, ids []string) error {
	for _, id := range ids {
		n, ok := s.ids[id]
		if !ok {
			continue
		}
		if err := s.c.Dele(n); err != nil {
			return stepErr(StepCommand, fmt.Errorf("DELE %d: %w", n, err))
		}
	}
	return nil
}

// Close sends QUIT, which is when a POP3 server really deletes.
func (s *pop3Session) Close(context.Context) error {
	if err := s.c.Quit(); err != nil {
		return stepErr(StepCommand, fmt.Errorf("QUIT: %w", err))
	}
	return nil
}

// --- IMAP (github.com/emersion/go-imap/v2) ---

type imapSession struct {
	c        *imapclient.Client
	max      int64
	validity uint32
	count    uint32
	uids     map[string]imap.UID
	deleted  bool
}

func openIMAP(c net.Conn, o Options, tlsConf *tls.Config) (Session, error) {
	var client *imapclient.Client
	if o.TLS == "starttls" {
		var err error
		client, err = imapclient.NewStartTLS(c, &imapclient.Options{TLSConfig: tlsConf.Clone()})
		if err != nil {
			return nil, stepErr(StepTLS, fmt.Errorf("STARTTLS: %w", err))
		}
	} else {
		client = imapclient.New(c, nil)
		if err := client.WaitGreeting(); err != nil {
			client.Close()
			return nil, stepErr(StepConnect, fmt.Errorf("greeting: %w", err))
		}
	}
	if err := client.Login(o.Username, o.Password).Wait(); err != nil {
		client.Close()
		return nil, stepErr(StepLogin, err)
	}
	sel, err := client.Select(o.Folder, nil).Wait()
	if err != nil {
		client.Close()
		return nil, stepErr(StepCommand, fmt.Errorf("SELECT %q: %w", o.Folder, err))
	}
	s := &imapSession{c: client, max: o.MaxMessageBytes, validity: sel.UIDValidity, count: sel.NumMessages, uids: map[string]imap.UID{}}
	return s, nil
}

func (s *imapSession) List(context.Context) ([]Message, error) {
	// Each poll is a new session, so the count SELECT reported is current.
	if s.count == 0 {
		return nil, nil
	}
	seq := imap.SeqSet{}
	seq.AddRange(1, 0) // 1:*
	bufs, err := s.c.Fetch(seq, &imap.FetchOptions{UID: true, RFC822Size: true}).Collect()
	if err != nil {
		return nil, stepErr(StepCommand, fmt.Errorf("FETCH: %w", err))
	}
	out := make([]Message, 0, len(bufs))
	for _, b := range bufs {
		id := fmt.Sprintf("%d/%d", s.validity, b.UID)
		s.uids[id] = b.UID
		out = append(out, Message{ID: id, Size: b.RFC822Size})
	}
	return out, nil
}

func (s *imapSession) Fetch(_ context.Context, id string) ([]byte, error) {
	uid, ok := s.uids[id]
	if !ok {
		return nil, stepErr(StepCommand, fmt.Errorf("message %q not listed", id))
	}
	section := &imap.FetchItemBodySection{Peek: true}
	bufs, err := s.c.Fetch(imap.UIDSetNum(uid), &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{section}}).Collect()
	if err != nil {
		return nil, stepErr(StepCommand, fmt.Errorf("UID FETCH %d: %w", uid, err))
	}
	if len(bufs) == 0 {
		return nil, stepErr(StepCommand, fmt.Errorf("UID FETCH %d: message is gone", uid))
	}
	body := bufs[0].FindBodySection(section)
	if int64(len(body)) > s.max {
		return nil, stepErr(StepCommand, fmt.Errorf("message %q is larger than %d bytes", id, s.max))
	}
	return body, nil
}

func (s *imapSession) Delete(_ context.Context, ids []string) error {
	var set imap.UIDSet
	for _, id := range ids {
		if uid, ok := s.uids[id]; ok {
			set.AddNum(uid)
		}
	}
	if len(set) == 0 {
		return nil
	}
	store := &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}
	if err := s.c.Store(set, store, nil).Close(); err != nil {
		return stepErr(StepCommand, fmt.Errorf("UID STORE \\Deleted: %w", err))
	}
	s.deleted = true
	return nil
}

// Close expunges what was marked and logs out.
func (s *imapSession) Close(context.Context) error {
	var err error
	if s.deleted {
		if e := s.c.Expunge().Close(); e != nil {
			err = stepErr(StepCommand, fmt.Errorf("EXPUNGE: %w", e))
		}
	}
	if e := s.c.Logout().Wait(); e != nil && err == nil && !errors.Is(e, io.EOF) {
		err = stepErr(StepCommand, fmt.Errorf("LOGOUT: %w", e))
	}
	s.c.Close()
	return err
}

// Timeout tells whether err is a deadline (as opposed to a refusal).
func Timeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout() || errors.Is(err, context.DeadlineExceeded)
}
