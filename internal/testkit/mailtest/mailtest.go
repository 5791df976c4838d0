// Package mailtest starts real mail components for tests: mailpit (SMTP,
// POP3 and its HTTP API) on loopback ports, and TLS certificates made on the
// spot (valid, expired, for the wrong host). It is imported by tests only.
package mailtest

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bosaimail/bosaimail_exporter/internal/testkit/testbin"
	"github.com/bosaimail/bosaimail_exporter/internal/testkit/testcerts"
)

// Tool returns the path of a pinned tool (see internal/testbin).
func Tool(t testing.TB, name string) string { return testbin.Path(t, name) }

// FreePort returns a loopback address with a port nobody listens on now.
func FreePort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// Mailpit is a running mailpit.
type Mailpit struct {
	SMTP, POP3, HTTP string
	// User and Password log in to POP3 (and SMTP when SMTPAuth was set).
	User, Password string
	// PasswordFile holds Password, for configs that read secrets from files.
	PasswordFile string
}

// MailpitOptions adjust a mailpit.
type MailpitOptions struct {
	// Cert serves STARTTLS on SMTP (and TLS on POP3 when POP3TLS).
	Cert    *Cert
	POP3TLS bool
	// SMTPAuth requires AUTH with User/Password.
	SMTPAuth bool
	// AllowedRecipients is a regexp; others are rejected at RCPT TO.
	AllowedRecipients string
}

// StartMailpit runs mailpit on free loopback ports until the test ends.
func StartMailpit(t testing.TB, o MailpitOptions) *Mailpit {
	t.Helper()
	bin := Tool(t, "mailpit")
	dir := t.TempDir()
	m := &Mailpit{SMTP: FreePort(t), POP3: FreePort(t), HTTP: FreePort(t), User: "canary", Password: "s3cret-pw"}
	m.PasswordFile = filepath.Join(dir, "password")
	if err := os.WriteFile(m.PasswordFile, []byte(m.Password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	auth := filepath.Join(dir, "auth")
	if err := os.WriteFile(auth, []byte(m.User+":"+m.Password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{
		"--disable-version-check", "--quiet",
		"--listen", m.HTTP, "--smtp", m.SMTP, "--pop3", m.POP3,
		"--pop3-auth-file", auth,
		"--database", filepath.Join(dir, "mailpit.db"),
		"--smtp-disable-rdns",
	}
	if o.Cert != nil {
		cert, key := CertFiles(t, o.Cert)
		args = append(args, "--smtp-tls-cert", cert, "--smtp-tls-key", key)
		if o.POP3TLS {
			args = append(args, "--pop3-tls-cert", cert, "--pop3-tls-key", key)
		}
	}
	if o.SMTPAuth {
		args = append(args, "--smtp-auth-file", auth)
		if o.Cert == nil {
			args = append(args, "--smtp-auth-allow-insecure")
		}
	}
	if o.AllowedRecipients != "" {
		args = append(args, "--smtp-allowed-recipients", o.AllowedRecipients)
	}
	cmd := exec.Command(bin, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + m.HTTP + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && dialable(m.SMTP) && dialable(m.POP3) {
				return m
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("mailpit did not become ready: %s", out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func dialable(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// MessageCount asks mailpit's HTTP API how many messages it holds.
func (m *Mailpit) MessageCount(t testing.TB) int {
	t.Helper()
	resp, err := http.Get("http://" + m.HTTP + "/api/v1/messages?limit=1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v struct {
		Total int `json:"total"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v.Total
}

// Subjects lists the subjects of the stored messages (newest first).
func (m *Mailpit) Subjects(t testing.TB) []string {
	t.Helper()
	resp, err := http.Get("http://" + m.HTTP + "/api/v1/messages?limit=500")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v struct {
		Messages []struct {
			Subject string `json:"Subject"`
		} `json:"messages"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		t.Fatal(err)
	}
	out := make([]string, len(v.Messages))
	for i, msg := range v.Messages {
		out[i] = msg.Subject
	}
	return out
}

// Cert is a server certificate and the throwaway CA that signed it
// (internal/testcerts).
type Cert struct {
	TLS    tls.Certificate
	Leaf   *x509.Certificate
	CAPool *x509.CertPool
	ca     *testcerts.CA
}

// NewCert issues a leaf for hosts (DNS names or IPs) valid in
// [notBefore, notAfter], signed by a new CA.
func NewCert(t testing.TB, notBefore, notAfter time.Time, hosts ...string) *Cert {
	t.Helper()
	ca, err := testcerts.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.Leaf(hosts, notBefore, notAfter)
	if err != nil {
		t.Fatal(err)
	}
	return &Cert{TLS: leaf, Leaf: leaf.Leaf, CAPool: ca.Pool(), ca: ca}
}

// ValidCert is valid now for 127.0.0.1 and localhost for 30 days.
func ValidCert(t testing.TB) *Cert {
	return NewCert(t, time.Now().Add(-time.Hour), time.Now().Add(30*24*time.Hour).Truncate(time.Second), "127.0.0.1", "localhost")
}

// CertFiles writes the certificate chain and key into a temp dir and
// returns their paths.
func CertFiles(t testing.TB, c *Cert) (cert, key string) {
	t.Helper()
	cert, key, err := testcerts.WriteKeyPair(t.TempDir(), "server", c.TLS)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

// CAFile writes the CA certificate and returns its path.
func CAFile(t testing.TB, c *Cert) string {
	t.Helper()
	p, err := c.ca.WriteCAFile(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// ServerTLS is a server config presenting the certificate.
func ServerTLS(c *Cert) *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{c.TLS}, MinVersion: tls.VersionTLS12}
}

// ScriptedServer accepts connections on loopback and lets handle drive
// each one; it is for peers that misbehave on purpose (554 greeting,
// dropped connection, a stall) where a real server cannot be made to.
func ScriptedServer(t testing.TB, handle func(c net.Conn)) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() {
		close(done)
		l.Close()
	})
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(30 * time.Second))
				go func() {
					<-done
					c.Close()
				}()
				handle(c)
			}()
		}
	}()
	return l.Addr().String()
}

// Lines writes CRLF-terminated lines.
func Lines(c net.Conn, lines ...string) {
	fmt.Fprint(c, strings.Join(lines, "\r\n")+"\r\n")
}
