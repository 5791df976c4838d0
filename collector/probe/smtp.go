package probe

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/bosaimail/bosaimail_exporter/config"
	"github.com/bosaimail/bosaimail_exporter/internal/fetch"
)

// SMTP-specific failure reasons: the step of the dialog that went wrong, so
// an operator sees at once whether the server refused to greet, broke off
// after EHLO, lost STARTTLS, or rejected the envelope.
const (
	ReasonBanner    = "banner"
	ReasonEHLO      = "ehlo"
	ReasonStartTLS  = "starttls"
	ReasonExtension = "extension"
	ReasonMail      = "mail"
	ReasonRcpt      = "rcpt"
	ReasonData      = "data"
)

func init() {
	registerProber(config.KindSMTP, probeSMTP)
}

// probeSMTP runs the SMTP dialog up to (never including) DATA: connect,
// banner, EHLO, STARTTLS, extensions, AUTH, MAIL FROM/RCPT TO, QUIT.
func probeSMTP(ctx context.Context, chk *config.Check, res *Result, chains *ChainMemo) error {
	s := chk.SMTP
	sess, err := OpenSMTP(ctx, &s.SMTPServer, res, chains)
	if err != nil {
		return err
	}
	defer sess.Close()
	c := sess.c

	for _, ext := range s.RequireExtensions {
		if ext == "STARTTLS" && s.TLS == config.MailTLSStartTLS {
			continue // already negotiated
		}
		if ok, _ := c.Extension(ext); !ok {
			return fetch.Errorf(ReasonExtension, "server does not advertise %s", ext)
		}
	}
	if s.MinMessageSize > 0 {
		if size, ok := c.MaxMessageSize(); ok && size > 0 && int64(size) < s.MinMessageSize {
			return fetch.Errorf(ReasonExtension, "server accepts messages up to %d bytes (SIZE), below min_message_size %d", size, s.MinMessageSize)
		}
	}
	if err := sess.Auth(s.Auth); err != nil {
		return err
	}
	if s.MailFrom != "" {
		start := time.Now()
		err := sess.Envelope(s.MailFrom, s.RcptTo)
		res.Phase("envelope", time.Since(start))
		if err != nil {
			return err
		}
		// Acceptance test only: abort the transaction, nothing is sent.
		if err := c.Reset(); err != nil {
			return fetch.Errorf(ReasonProtocol, "RSET: %v", err)
		}
	}
	start := time.Now()
	err = c.Quit()
	res.Phase("quit", time.Since(start))
	if err != nil {
		return fetch.Errorf(ReasonProtocol, "QUIT: %v", err)
	}
	return nil
}

// SMTPSession is an SMTP client after a successful greeting and EHLO (and
// TLS where configured), bounded by a context: when it ends, the
// connection is closed so no library call can outlive the deadline.
type SMTPSession struct {
	c    *smtp.Client
	res  *Result
	stop func() bool
}

// Close ends the session without QUIT.
func (s *SMTPSession) Close() {
	s.stop()
	s.c.Close()
}

// OpenSMTP connects and greets, timing each phase into res: connect, tls
// (implicit), banner, ehlo, starttls (STARTTLS command and handshake). The
// certificate served (implicit or after STARTTLS) is recorded in res, and
// its chain is verified through chains (SharedChainMemo of the caller's
// Env).
func OpenSMTP(ctx context.Context, srv *config.SMTPServer, res *Result, chains *ChainMemo) (*SMTPSession, error) {
	var d net.Dialer
	start := time.Now()
	raw, err := d.DialContext(ctx, "tcp", srv.Address)
	res.Phase("connect", time.Since(start))
	if err != nil {
		return nil, ClassifyError(ctx, err)
	}
	// Closing the socket is the only way to interrupt a blocked read in the
	// library; the deadline also bounds each command.
	stop := context.AfterFunc(ctx, func() { raw.Close() })
	fail := func(err error) (*SMTPSession, error) {
		stop()
		raw.Close()
		return nil, err
	}

	var tlsConf *tls.Config
	if srv.TLS != config.MailTLSNone {
		tlsConf = &tls.Config{}
		if srv.TLSClient != nil {
			tlsConf = srv.TLSClient.Clone()
		}
		host, _, _ := net.SplitHostPort(srv.Address)
		tlsConf = chains.verifyThrough(tlsConf, host)
	}
	var conn net.Conn = raw
	if srv.TLS == config.MailTLSImplicit {
		tc := tls.Client(raw, tlsConf)
		start = time.Now()
		err := tc.HandshakeContext(ctx)
		res.Phase("tls", time.Since(start))
		if err != nil {
			return fail(tlsFailure(ctx, "TLS handshake", err))
		}
		state := tc.ConnectionState()
		res.SetTLS(&state)
		conn = tc
	}

	tr := &writeTrace{Conn: conn}
	greetStart := time.Now()
	var c *smtp.Client
	var handshakeDone time.Time
	if srv.TLS == config.MailTLSStartTLS {
		// go-smtp runs banner, EHLO and STARTTLS in one call; the write
		// trace tells where it stopped, and VerifyConnection marks the end
		// of the handshake (which the library starts lazily on the next
		// command) and captures the certificate.
		next := tlsConf.VerifyConnection
		tlsConf.VerifyConnection = func(cs tls.ConnectionState) error {
			if next != nil {
				if err := next(cs); err != nil {
					return err
				}
			}
			handshakeDone = time.Now()
			res.SetTLS(&cs)
			return nil
		}
		c, err = smtp.NewClientStartTLS(tr, tlsConf)
		if err != nil {
			tr.phases(res, greetStart, time.Now(), "banner", "ehlo", "starttls")
			switch {
			case tr.writes == 0:
				return fail(SMTPFailure(ctx, ReasonBanner, "greeting", err))
			case tr.writes == 1 && !isSMTPError(err) && strings.Contains(err.Error(), "STARTTLS"):
				// go-smtp's own error after an EHLO answer without STARTTLS.
				return fail(fetch.Errorf(ReasonStartTLS, "server does not offer STARTTLS"))
			case tr.writes == 1:
				return fail(SMTPFailure(ctx, ReasonEHLO, "EHLO", err))
			default:
				return fail(SMTPFailure(ctx, ReasonStartTLS, "STARTTLS", err))
			}
		}
		c.CommandTimeout = commandTimeout(ctx)
		// The TLS handshake happens on this EHLO.
		err = c.Hello(srv.HeloName)
		now := time.Now()
		if handshakeDone.IsZero() {
			tr.phases(res, greetStart, now, "banner", "ehlo", "starttls")
			if err == nil {
				err = errors.New("no TLS handshake after STARTTLS")
			}
			c.Close()
			return fail(tlsFailure(ctx, "TLS handshake after STARTTLS", err))
		}
		tr.phases(res, greetStart, handshakeDone, "banner", "ehlo", "starttls")
		res.Phase("ehlo", now.Sub(handshakeDone))
		if err != nil {
			c.Close()
			return fail(SMTPFailure(ctx, ReasonEHLO, "EHLO after STARTTLS", err))
		}
	} else {
		c = smtp.NewClient(tr)
		c.CommandTimeout = commandTimeout(ctx)
		err = c.Hello(srv.HeloName)
		tr.phases(res, greetStart, time.Now(), "banner", "ehlo")
		if err != nil {
			c.Close()
			if tr.writes == 0 {
				return fail(SMTPFailure(ctx, ReasonBanner, "greeting", err))
			}
			return fail(SMTPFailure(ctx, ReasonEHLO, "EHLO", err))
		}
	}
	c.SubmissionTimeout = commandTimeout(ctx)
	return &SMTPSession{c: c, res: res, stop: stop}, nil
}

// auth logs in when configured; the password is read from its file on
// every run so a rotated secret is picked up without a reload.
func (s *SMTPSession) Auth(a *config.SMTPAuth) error {
	if a == nil {
		return nil
	}
	start := time.Now()
	defer func() { s.res.Phase("auth", time.Since(start)) }()
	if !s.c.SupportsAuth(a.Mechanism) {
		return fetch.Errorf(ReasonAuth, "server does not offer AUTH %s", a.Mechanism)
	}
	pw, err := config.ReadSecretFile(a.PasswordFile)
	if err != nil {
		return fetch.Errorf(ReasonAuth, "%v", err)
	}
	var mech sasl.Client
	if a.Mechanism == "LOGIN" {
		mech = sasl.NewLoginClient(a.Username, pw)
	} else {
		mech = sasl.NewPlainClient("", a.Username, pw)
	}
	if err := s.c.Auth(mech); err != nil {
		return SMTPFailure(nil, ReasonAuth, "AUTH", err)
	}
	return nil
}

// envelope runs MAIL FROM and RCPT TO.
func (s *SMTPSession) Envelope(from string, to []string) error {
	if err := s.c.Mail(from, nil); err != nil {
		return SMTPFailure(nil, ReasonMail, "MAIL FROM", err)
	}
	for _, rcpt := range to {
		if err := s.c.Rcpt(rcpt, nil); err != nil {
			return SMTPFailure(nil, ReasonRcpt, fmt.Sprintf("RCPT TO <%s>", rcpt), err)
		}
	}
	return nil
}

// SMTPFailure names the step that failed; a deadline hit is a timeout
// whatever the step (ctx may be nil when the caller's ctx decides later).
func SMTPFailure(ctx context.Context, reason, step string, err error) error {
	if ctx != nil && ctx.Err() != nil {
		return fetch.Errorf(ReasonTimeout, "%s: %v", step, err)
	}
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return fetch.Errorf(reason, "%s: server answered %d %s", step, se.Code, OneLine(se.Message))
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fetch.Errorf(ReasonTimeout, "%s: %v", step, err)
	}
	return fetch.Errorf(reason, "%s: %v", step, err)
}

func isSMTPError(err error) bool {
	var se *smtp.SMTPError
	return errors.As(err, &se)
}

func tlsFailure(ctx context.Context, step string, err error) error {
	if ctx.Err() != nil {
		return fetch.Errorf(ReasonTimeout, "%s: %v", step, err)
	}
	return fetch.Errorf(ReasonTLS, "%s: %v", step, err)
}

// commandTimeout bounds each SMTP command by what is left of ctx (go-smtp
// otherwise waits five minutes per command).
func commandTimeout(ctx context.Context) time.Duration {
	if dl, ok := ctx.Deadline(); ok {
		if d := time.Until(dl); d > 0 {
			return d
		}
		return time.Millisecond
	}
	return time.Minute
}

func OneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " / ")
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

// writeTrace notes when the client writes on the connection. Writes are
// the client's turns in the dialog, so the time of the first write ends the
// banner, the second ends EHLO (STARTTLS is sent), and so on.
type writeTrace struct {
	net.Conn
	writes int
	at     [2]time.Time
	read   int64
}

// smtpMaxDialogBytes bounds what a server may send over one dialog (the TLS
// handshake included): go-smtp reads a reply line without a length limit,
// so a server that never ends its line would grow memory until the
// deadline. Real dialogs read a few KB.
const smtpMaxDialogBytes = 1 << 20

func (w *writeTrace) Read(b []byte) (int, error) {
	if w.read >= smtpMaxDialogBytes {
		return 0, fmt.Errorf("server sent more than %d bytes in one dialog", smtpMaxDialogBytes)
	}
	if left := smtpMaxDialogBytes - w.read; int64(len(b)) > left {
		b = b[:left]
	}
	n, err := w.Conn.Read(b)
	w.read += int64(n)
	return n, err
}

func (w *writeTrace) Write(b []byte) (int, error) {
	if w.writes < len(w.at) {
		w.at[w.writes] = time.Now()
	}
	w.writes++
	return w.Conn.Write(b)
}

// phases splits [start, end] at the recorded writes into the named phases;
// phases the dialog never reached are not recorded.
func (w *writeTrace) phases(res *Result, start, end time.Time, names ...string) {
	prev := start
	for i, name := range names {
		t := end
		last := i == len(names)-1
		if !last && i < w.writes && i < len(w.at) {
			t = w.at[i]
		}
		if t.Before(prev) {
			t = prev
		}
		res.Phase(name, t.Sub(prev))
		if !last && i >= w.writes {
			return
		}
		prev = t
	}
}

// Deliver sends msg as the DATA of the envelope set by Envelope and ends
// the session with QUIT.
func (s *SMTPSession) Deliver(ctx context.Context, msg []byte) error {
	w, err := s.c.Data()
	if err != nil {
		return SMTPFailure(ctx, ReasonData, "DATA", err)
	}
	if _, err := w.Write(msg); err != nil {
		return SMTPFailure(ctx, ReasonData, "DATA", err)
	}
	if err := w.Close(); err != nil {
		return SMTPFailure(ctx, ReasonData, "end of DATA", err)
	}
	// The mail is accepted; a failing QUIT does not undo that.
	_ = s.c.Quit()
	return nil
}
