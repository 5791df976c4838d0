// Package canary makes and recognises the tags of round-trip canary mails.
//
// A tag names the service and check that sent it, when, and a random nonce:
//
//	BOSAIMAIL-CANARY:delivery/roundtrip/1764104138/9f3a0c1d2e4b5a69
//
// Service and check names cannot contain '/' or ':', so the tag parses back
// unambiguously. A tag is plain ASCII without spaces: header folding never
// splits it, and it survives any Japanese charset (ISO-2022-JP, Shift_JIS,
// EUC-JP keep ASCII as is), so it is found in the subject, a header or the
// body whatever the mail service did to the rest of the text.
package canary

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-message"
)

// Prefix starts every tag.
const Prefix = "BOSAIMAIL-CANARY:"

// Header is the header a canary sent over SMTP carries its tag in.
const Header = "X-Bosaimail-Canary"

// Tag identifies one canary mail.
type Tag struct {
	Service string
	Check   string
	Sent    time.Time // second resolution
	Nonce   string    // 16 lower-case hex digits
}

// New makes a fresh tag.
func New(service, check string, now time.Time) Tag {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return Tag{Service: service, Check: check, Sent: now.Truncate(time.Second), Nonce: hex.EncodeToString(b[:])}
}

func (t Tag) String() string {
	return fmt.Sprintf("%s%s/%s/%d/%s", Prefix, t.Service, t.Check, t.Sent.Unix(), t.Nonce)
}

// SameCheck tells whether o was sent by the same service and check.
func (t Tag) SameCheck(o Tag) bool { return t.Service == o.Service && t.Check == o.Check }

const namePattern = `[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}`

var tagRE = regexp.MustCompile(`BOSAIMAIL-CANARY:(` + namePattern + `)/(` + namePattern + `)/([0-9]{1,12})/([0-9a-f]{16})`)

// Parse reads one tag; s must be exactly a tag.
func Parse(s string) (Tag, error) {
	m := tagRE.FindStringSubmatchIndex(s)
	if m == nil || m[0] != 0 || m[1] != len(s) {
		return Tag{}, fmt.Errorf("not a canary tag: %q", truncate(s))
	}
	return fromMatch(s, m)
}

func fromMatch(s string, m []int) (Tag, error) {
	secs, err := strconv.ParseInt(s[m[6]:m[7]], 10, 64)
	if err != nil {
		return Tag{}, fmt.Errorf("canary tag %q: bad time: %v", truncate(s), err)
	}
	return Tag{Service: s[m[2]:m[3]], Check: s[m[4]:m[5]], Sent: time.Unix(secs, 0), Nonce: s[m[8]:m[9]]}, nil
}

// FindAll returns every distinct tag in text, in order of first appearance.
func FindAll(text []byte) []Tag {
	var out []Tag
	for _, m := range tagRE.FindAllSubmatchIndex(text, -1) {
		// A tag glued to more name characters is a different string (e.g.
		// a longer nonce); it is not ours.
		if m[1] < len(text) && isTagByte(text[m[1]]) {
			continue
		}
		t, err := fromMatch(string(text), m)
		if err != nil {
			continue
		}
		out = appendUnique(out, t)
	}
	return out
}

func isTagByte(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == '-' || c == '.'
}

func appendUnique(ts []Tag, t Tag) []Tag {
	for _, e := range ts {
		if e == t {
			return ts
		}
	}
	return append(ts, t)
}

// maxParts bounds how many MIME parts of one message are looked into.
const maxParts = 64

// Scan returns every tag a raw RFC 5322 message carries: in the raw text
// (the canary header, ASCII subjects and bodies), in MIME encoded-word
// headers (=?UTF-8?B?...?= subjects) and in base64 or quoted-printable text
// parts. raw is already bounded by the caller; a malformed message yields
// what could be read, never an error.
func Scan(raw []byte) []Tag {
	tags := FindAll(raw)
	ent, err := message.Read(bytes.NewReader(raw))
	if ent == nil || (err != nil && !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err)) {
		return tags
	}
	for _, t := range scanHeader(ent.Header) {
		tags = appendUnique(tags, t)
	}
	parts := 0
	_ = ent.Walk(func(_ []int, part *message.Entity, err error) error {
		if err != nil && !message.IsUnknownCharset(err) {
			return err
		}
		parts++
		if parts > maxParts {
			return errors.New("too many parts")
		}
		if parts > 1 {
			for _, t := range scanHeader(part.Header) {
				tags = appendUnique(tags, t)
			}
		}
		mt, _, _ := part.Header.ContentType()
		if mt != "" && !strings.HasPrefix(mt, "text/") {
			return nil
		}
		if part.MultipartReader() != nil {
			return nil
		}
		body, _ := io.ReadAll(io.LimitReader(part.Body, int64(len(raw))+1024))
		for _, t := range FindAll(body) {
			tags = appendUnique(tags, t)
		}
		return nil
	})
	return tags
}

// passThrough keeps the bytes of any charset: the tag is ASCII, which every
// charset a Japanese mail uses leaves unchanged.
var wordDecoder = &mime.WordDecoder{CharsetReader: func(_ string, r io.Reader) (io.Reader, error) { return r, nil }}

func scanHeader(h message.Header) []Tag {
	var tags []Tag
	fields := h.Fields()
	for fields.Next() {
		v := fields.Value()
		if !strings.Contains(v, "=?") {
			continue
		}
		dec, err := wordDecoder.DecodeHeader(v)
		if err != nil {
			continue
		}
		for _, t := range FindAll([]byte(dec)) {
			tags = appendUnique(tags, t)
		}
	}
	return tags
}

// Compose builds the canary mail sent over SMTP: the tag in its own header,
// in the subject and in the body. The Japanese subject is MIME-encoded and
// the body base64-encoded, so the message is 7-bit clean for any relay.
func Compose(t Tag, from string, to []string, now time.Time) []byte {
	subject := Subject(t)
	body := fmt.Sprintf("これは防災メール配信サービスの到達確認メール（自動送信）です。\r\n対応は不要です。確認後に自動で削除されます。\r\n\r\n%s\r\n送信時刻: %s\r\n",
		t, now.In(jst).Format("2006-01-02 15:04:05 MST"))
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: %s\r\n", from)
	fmt.Fprintf(&b, "To: %s\r\n", strings.Join(to, ", "))
	fmt.Fprintf(&b, "Subject: %s\r\n", mime.BEncoding.Encode("UTF-8", subject))
	fmt.Fprintf(&b, "Date: %s\r\n", now.Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Message-ID: <%s.%d@bosaimail-canary>\r\n", t.Nonce, t.Sent.Unix())
	fmt.Fprintf(&b, "%s: %s\r\n", Header, t)
	b.WriteString("Auto-Submitted: auto-generated\r\n")
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\n")
	enc := base64.StdEncoding.EncodeToString([]byte(body))
	for len(enc) > 76 {
		b.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	b.WriteString(enc + "\r\n")
	return b.Bytes()
}

// Subject and Text are what an HTTP delivery API is asked to send.
func Subject(t Tag) string { return fmt.Sprintf("【配信確認】防災メール到達確認 %s", t) }

// Text is the body of a canary sent through an HTTP delivery API.
func Text(t Tag) string {
	return fmt.Sprintf("これは防災メール配信サービスの到達確認メール（自動送信）です。対応は不要です。\n%s\n", t)
}

var jst = time.FixedZone("JST", 9*60*60)

func truncate(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}
