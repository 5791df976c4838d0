package mailtest

import (
	"bytes"
	"crypto/tls"
	"io"
	"log"
	"net"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
	"github.com/emersion/go-smtp"
)

// IMAP is a running in-memory IMAP server (go-imap/v2's imapmemserver, a
// real IMAP implementation) with one user and an INBOX.
type IMAP struct {
	Addr           string
	User, Password string
	user           *imapmemserver.User
}

// StartIMAP serves IMAP on loopback until the test ends. With cert, STARTTLS
// is offered, or (implicit) TLS is spoken from the first byte.
func StartIMAP(t testing.TB, cert *Cert, implicit bool) *IMAP {
	t.Helper()
	m := &IMAP{User: "canary", Password: "s3cret-pw"}
	mem := imapmemserver.New()
	m.user = imapmemserver.NewUser(m.User, m.Password)
	if err := m.user.Create("INBOX", nil); err != nil {
		t.Fatal(err)
	}
	mem.AddUser(m.user)
	opts := &imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return mem.NewSession(), nil, nil
		},
		Caps:         imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapIMAP4rev2: {}},
		InsecureAuth: true,
		Logger:       log.New(io.Discard, "", 0),
	}
	var l net.Listener
	var err error
	switch {
	case cert != nil && implicit:
		l, err = tls.Listen("tcp", "127.0.0.1:0", ServerTLS(cert))
	default:
		if cert != nil {
			opts.TLSConfig = ServerTLS(cert)
		}
		l, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		t.Fatal(err)
	}
	srv := imapserver.New(opts)
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	m.Addr = l.Addr().String()
	return m
}

type literal struct{ *bytes.Reader }

func (l literal) Size() int64 { return int64(l.Len()) }

// Deliver puts a raw message into INBOX.
func (m *IMAP) Deliver(t testing.TB, raw []byte) {
	t.Helper()
	if _, err := m.user.Append("INBOX", literal{bytes.NewReader(raw)}, &imap.AppendOptions{}); err != nil {
		t.Fatal(err)
	}
}

// Count returns how many messages INBOX holds.
func (m *IMAP) Count(t testing.TB) int {
	t.Helper()
	st, err := m.user.Status("INBOX", &imap.StatusOptions{NumMessages: true})
	if err != nil {
		t.Fatal(err)
	}
	return int(*st.NumMessages)
}

// SendMail submits a raw message over plain SMTP (to mailpit), without
// STARTTLS even when offered.
func SendMail(t testing.TB, addr, from string, to []string, raw []byte) {
	t.Helper()
	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.SendMail(from, to, bytes.NewReader(raw)); err != nil {
		t.Fatal(err)
	}
	c.Quit()
}
