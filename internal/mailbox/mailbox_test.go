package mailbox

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/bosaimail/bosaimail_exporter/internal/testkit/mailtest"
)

func rawMail(subject string) []byte {
	return []byte(fmt.Sprintf("From: a@example.jp\r\nTo: box@example.jp\r\nSubject: %s\r\n\r\nbody of %s\r\n", subject, subject))
}

// exercise lists the mailbox, fetches every message, deletes the one whose
// subject is "delete me", and checks that exactly that one is gone in a
// new session.
func exercise(t *testing.T, o Options, count func() int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := Open(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 3 {
		t.Fatalf("listed %d messages, want 3", len(msgs))
	}
	var del []string
	var subjects []string
	for _, m := range msgs {
		if m.Size <= 0 || m.ID == "" {
			t.Errorf("bad listing %+v", m)
		}
		raw, err := s.Fetch(ctx, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		var subj string
		for _, cand := range []string{"delete me", "keep 1", "keep 2"} {
			if contains(raw, "Subject: "+cand) {
				subj = cand
			}
		}
		subjects = append(subjects, subj)
		if subj == "delete me" {
			del = append(del, m.ID)
		}
	}
	sort.Strings(subjects)
	if fmt.Sprint(subjects) != "[delete me keep 1 keep 2]" {
		t.Fatalf("fetched subjects %v", subjects)
	}
	if err := s.Delete(ctx, del); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 2 {
		t.Fatalf("%d messages left, want 2", n)
	}
	// IDs are stable across sessions.
	s, err = Open(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(ctx)
	again, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range again {
		found := false
		for _, old := range msgs {
			found = found || old.ID == m.ID
		}
		if !found {
			t.Errorf("ID %q changed between sessions", m.ID)
		}
	}
}

func contains(b []byte, s string) bool { return strings.Contains(string(b), s) }

func TestPOP3Mailpit(t *testing.T) {
	cert := mailtest.ValidCert(t)
	for _, tc := range []struct {
		name string
		tls  bool
	}{{"plain", false}, {"implicit TLS", true}} {
		t.Run(tc.name, func(t *testing.T) {
			o := mailtest.MailpitOptions{}
			if tc.tls {
				o.Cert, o.POP3TLS = cert, true
			}
			mp := mailtest.StartMailpit(t, o)
			for _, s := range []string{"keep 1", "delete me", "keep 2"} {
				mailtest.SendMail(t, mp.SMTP, "a@example.jp", []string{"box@example.jp"}, rawMail(s))
			}
			opts := Options{Protocol: "pop3", Address: mp.POP3, TLS: "none", Username: mp.User, Password: mp.Password, MaxMessageBytes: 1 << 20}
			if tc.tls {
				opts.TLS = "implicit"
				opts.TLSConfig = clientTLS(cert)
			}
			exercise(t, opts, func() int { return mp.MessageCount(t) })
		})
	}
}

func TestIMAPMemServer(t *testing.T) {
	cert := mailtest.ValidCert(t)
	for _, tc := range []struct {
		name     string
		tls      string
		withCert bool
		implicit bool
	}{
		{"plain", "none", false, false},
		{"starttls", "starttls", true, false},
		{"implicit TLS", "implicit", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c *mailtest.Cert
			if tc.withCert {
				c = cert
			}
			srv := mailtest.StartIMAP(t, c, tc.implicit)
			for _, s := range []string{"keep 1", "delete me", "keep 2"} {
				srv.Deliver(t, rawMail(s))
			}
			opts := Options{Protocol: "imap", Address: srv.Addr, TLS: tc.tls, TLSConfig: clientTLS(cert),
				Username: srv.User, Password: srv.Password, Folder: "INBOX", MaxMessageBytes: 1 << 20}
			exercise(t, opts, func() int { return srv.Count(t) })
		})
	}
}

func TestOpenFailures(t *testing.T) {
	mp := mailtest.StartMailpit(t, mailtest.MailpitOptions{})
	imapSrv := mailtest.StartIMAP(t, nil, false)
	stall := mailtest.ScriptedServer(t, func(c net.Conn) { io.Copy(io.Discard, c) })
	for _, tc := range []struct {
		name string
		o    Options
		step Step
	}{
		{"pop3 wrong password", Options{Protocol: "pop3", Address: mp.POP3, TLS: "none", Username: mp.User, Password: "nope"}, StepLogin},
		{"imap wrong password", Options{Protocol: "imap", Address: imapSrv.Addr, TLS: "none", Username: "canary", Password: "nope", Folder: "INBOX"}, StepLogin},
		{"imap starttls not offered", Options{Protocol: "imap", Address: imapSrv.Addr, TLS: "starttls", Username: "canary", Password: "x", Folder: "INBOX"}, StepTLS},
		{"pop3 server never greets", Options{Protocol: "pop3", Address: stall, TLS: "none", Username: "u", Password: "p"}, StepConnect},
		{"imap server never greets", Options{Protocol: "imap", Address: stall, TLS: "none", Username: "u", Password: "p"}, StepConnect},
		{"nothing listening", Options{Protocol: "pop3", Address: mailtest.FreePort(t), TLS: "none"}, StepConnect},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Only the silent server needs the deadline to expire; the
			// others get room so a loaded CI machine cannot turn their
			// login or TLS failure into a timeout at another step.
			deadline := 10 * time.Second
			if tc.o.Address == stall {
				deadline = 500 * time.Millisecond
			}
			ctx, cancel := context.WithTimeout(context.Background(), deadline)
			defer cancel()
			start := time.Now()
			s, err := Open(ctx, tc.o)
			if err == nil {
				s.Close(ctx)
				t.Fatal("opened")
			}
			if time.Since(start) > deadline+3*time.Second {
				t.Errorf("took %s despite a %s deadline", time.Since(start), deadline)
			}
			var me *Error
			if !errors.As(err, &me) || me.Step != tc.step {
				t.Errorf("error %v, want step %q", err, tc.step)
			}
		})
	}
}

func clientTLS(c *mailtest.Cert) *tls.Config {
	return &tls.Config{RootCAs: c.CAPool, ServerName: "127.0.0.1"}
}
