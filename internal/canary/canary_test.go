package canary

import (
	"encoding/base64"
	"mime"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestTagRoundTrip(t *testing.T) {
	now := time.Date(2026, 11, 25, 21, 0, 0, 500, time.UTC)
	tag := New("delivery", "round-trip.1", now)
	if len(tag.Nonce) != 16 || !tag.Sent.Equal(now.Truncate(time.Second)) {
		t.Fatalf("bad tag %+v", tag)
	}
	got, err := Parse(tag.String())
	if err != nil {
		t.Fatal(err)
	}
	if got.Service != tag.Service || got.Check != tag.Check || !got.Sent.Equal(tag.Sent) || got.Nonce != tag.Nonce {
		t.Errorf("parsed %+v, want %+v", got, tag)
	}
	if New("a", "b", now).Nonce == tag.Nonce {
		t.Error("nonces repeat")
	}
}

func TestParseRejects(t *testing.T) {
	for _, s := range []string{
		"",
		"BOSAIMAIL-CANARY:",
		"BOSAIMAIL-CANARY:svc/chk/123/0123456789abcde",   // short nonce
		"BOSAIMAIL-CANARY:svc/chk/123/0123456789ABCDEF",  // upper-case nonce
		"BOSAIMAIL-CANARY:svc/chk/x/0123456789abcdef",    // bad time
		"BOSAIMAIL-CANARY:s:v/chk/123/0123456789abcdef",  // ':' in a name
		"xBOSAIMAIL-CANARY:svc/chk/123/0123456789abcdef", // not exactly a tag
		"BOSAIMAIL-CANARY:svc/chk/123/0123456789abcdef ",
	} {
		if _, err := Parse(s); err == nil {
			t.Errorf("Parse(%q) accepted", s)
		}
	}
}

func mustTag(t *testing.T, s string) Tag {
	t.Helper()
	tag, err := Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return tag
}

func TestScan(t *testing.T) {
	const a = "BOSAIMAIL-CANARY:delivery/roundtrip/1764104138/9f3a0c1d2e4b5a69"
	const b = "BOSAIMAIL-CANARY:delivery/roundtrip/1764104200/0000000000000001"
	tagA, tagB := mustTag(t, a), mustTag(t, b)
	now := time.Unix(1764104138, 0)
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	for _, tc := range []struct {
		name string
		raw  string
		want []Tag
	}{
		{"composed canary", string(Compose(tagA, "canary@example.jp", []string{"box@example.jp"}, now)), []Tag{tagA}},
		{"unrelated mail", "From: x@example.jp\r\nSubject: 台風情報\r\n\r\n避難してください\r\n", nil},
		{"encoded subject only",
			"Subject: " + mime.BEncoding.Encode("UTF-8", "【防災】配信確認 "+a) + "\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nbody\r\n", []Tag{tagA}},
		{"iso-2022-jp subject",
			"Subject: =?ISO-2022-JP?B?" + b64("\x1b$B%F%9%H\x1b(B "+a) + "?=\r\n\r\nbody\r\n", []Tag{tagA}},
		{"base64 body",
			"Content-Type: text/plain; charset=ISO-2022-JP\r\nContent-Transfer-Encoding: base64\r\n\r\n" + b64("\x1b$B%F%9%H\x1b(B\r\n"+a+"\r\n") + "\r\n", []Tag{tagA}},
		{"quoted-printable body split by a soft line break",
			"Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" + a[:30] + "=\r\n" + a[30:] + "\r\n", []Tag{tagA}},
		{"multipart with html",
			"MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=XX\r\n\r\n--XX\r\nContent-Type: text/html\r\nContent-Transfer-Encoding: base64\r\n\r\n" + b64("<p>"+b+"</p>") + "\r\n--XX--\r\n", []Tag{tagB}},
		{"two canaries in one mail", "Subject: " + a + "\r\n\r\n" + b + "\r\n" + a + "\r\n", []Tag{tagA, tagB}},
		{"tag glued to more characters is not ours", "Subject: " + a + "00\r\n\r\n", nil},
		{"not a message at all", "\x00\x01" + a + "\xff", []Tag{tagA}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Scan([]byte(tc.raw))
			if !reflect.DeepEqual(got, tc.want) && !(len(got) == 0 && len(tc.want) == 0) {
				t.Errorf("Scan = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestComposeIsSevenBit(t *testing.T) {
	msg := Compose(New("delivery", "rt", time.Now()), "a@example.jp", []string{"b@example.jp"}, time.Now())
	for i, c := range msg {
		if c > 127 {
			t.Fatalf("byte %d is 8-bit", i)
		}
	}
	for _, line := range strings.Split(string(msg), "\r\n") {
		if len(line) > 998 {
			t.Fatalf("line longer than RFC 5322 allows: %d", len(line))
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add("BOSAIMAIL-CANARY:delivery/roundtrip/1764104138/9f3a0c1d2e4b5a69")
	f.Add("BOSAIMAIL-CANARY:a/b/0/0000000000000000")
	f.Add("BOSAIMAIL-CANARY:")
	f.Fuzz(func(t *testing.T, s string) {
		tag, err := Parse(s)
		if err != nil {
			return
		}
		again, err := Parse(tag.String())
		if err != nil || again != tag {
			t.Fatalf("%q parsed to %+v, which does not round-trip (%v)", s, tag, err)
		}
	})
}

func FuzzScan(f *testing.F) {
	f.Add([]byte(Compose(New("delivery", "rt", time.Unix(1764104138, 0)), "a@example.jp", []string{"b@example.jp"}, time.Unix(1764104138, 0))))
	f.Add([]byte("Content-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\nContent-Transfer-Encoding: base64\r\n\r\nQk9TQUlNQUlMLUNBTkFSWTphL2IvMC8wMDAwMDAwMDAwMDAwMDAw\r\n--a--\r\n"))
	f.Add([]byte("Subject: =?UTF-8?Q?BOSAIMAIL-CANARY:a/b/1/0000000000000000?=\r\n\r\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		for _, tag := range Scan(raw) {
			if _, err := Parse(tag.String()); err != nil {
				t.Fatalf("Scan returned a tag that does not parse: %+v", tag)
			}
		}
	})
}
