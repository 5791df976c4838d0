package clamav

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var jst = time.FixedZone("JST", 9*3600)

func TestParseVersionReply(t *testing.T) {
	rec, err := os.ReadFile(filepath.Join("..", "..", "testdata", "security", "clamd-version.txt"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		reply   string
		want    Info
		wantErr string
	}{
		{reply: string(rec), want: Info{Engine: "1.4.3", Version: 27463, Built: time.Date(2026, 11, 19, 18, 21, 0, 0, jst)}},
		{reply: "ClamAV 0.103.11/26950/Mon Jul  3 07:26:03 2023\x00", want: Info{Engine: "0.103.11", Version: 26950, Built: time.Date(2023, 7, 3, 7, 26, 3, 0, jst)}},
		{reply: "ClamAV 1.0.5\n", wantErr: "no signature database version"},
		{reply: "UNKNOWN COMMAND\n", wantErr: "does not start with"},
		{reply: "ClamAV 1.0.5/abc/Mon Jul  3 07:26:03 2023", wantErr: "not a positive number"},
		{reply: "ClamAV 1.0.5/27000/yesterday", wantErr: "build time"},
		{reply: "ClamAV /27000/Mon Jul  3 07:26:03 2023", wantErr: "no engine version"},
	}
	for _, tt := range tests {
		got, err := ParseVersionReply(tt.reply, jst)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseVersionReply(%q) err = %v, want %q", tt.reply, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got.Engine != tt.want.Engine || got.Version != tt.want.Version || !got.Built.Equal(tt.want.Built) {
			t.Errorf("ParseVersionReply(%q) = %+v, %v; want %+v", tt.reply, got, err, tt.want)
		}
	}
}

func TestParseCVDHeader(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "security", "daily.cvd"))
	if err != nil {
		t.Fatal(err)
	}
	info, err := ParseCVDHeader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if info.Version != 27463 || info.Signatures != 2074911 || !info.Built.Equal(time.Unix(1795080060, 0)) {
		t.Errorf("info = %+v", info)
	}
	// Without stime the text build time is used.
	noStime := []byte(strings.Replace(string(data[:512]), ":1795080060", ":          ", 1))
	info, err = ParseCVDHeader(bytes.NewReader(noStime))
	if err != nil || !info.Built.Equal(time.Date(2026, 11, 19, 9, 21, 0, 0, time.UTC)) {
		t.Errorf("without stime: %+v, %v", info, err)
	}
	for _, tt := range []struct{ name, data, wantErr string }{
		{"short", "ClamAV-VDB:19 Nov", "shorter than"},
		{"not clamav", strings.Repeat("x", 512), "not a ClamAV database"},
		{"few fields", "ClamAV-VDB:a:b" + strings.Repeat(" ", 498), "fields"},
		{"bad version", "ClamAV-VDB:19 Nov 2026 04:21 -0500:x:1:90:md5:sig:b:1" + strings.Repeat(" ", 460), "version"},
	} {
		if _, err := ParseCVDHeader(strings.NewReader(tt.data)); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%s: err = %v, want %q", tt.name, err, tt.wantErr)
		}
	}
}

// serveClamd answers one VERSION command per connection like clamd does.
func serveClamd(t *testing.T, ln net.Listener, reply string) {
	t.Helper()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 64)
				n, _ := c.Read(buf)
				if string(buf[:n]) != "nVERSION\n" {
					c.Write([]byte("UNKNOWN COMMAND\n"))
					return
				}
				c.Write([]byte(reply))
			}()
		}
	}()
}

func TestQueryVersion(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer tcp.Close()
	serveClamd(t, tcp, "ClamAV 1.4.3/27463/Wed Nov 19 18:21:00 2026\n")
	sock := filepath.Join(t.TempDir(), "clamd.ctl")
	unix, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close()
	serveClamd(t, unix, "ClamAV 1.4.3/27464/Thu Nov 20 18:21:00 2026\n")

	info, err := QueryVersion(ctx, "tcp", tcp.Addr().String(), jst)
	if err != nil || info.Version != 27463 {
		t.Errorf("tcp: %+v, %v", info, err)
	}
	info, err = QueryVersion(ctx, "unix", sock, jst)
	if err != nil || info.Version != 27464 {
		t.Errorf("unix: %+v, %v", info, err)
	}

	// A clamd that accepts but never answers is bounded by the context.
	hang, _ := net.Listen("tcp", "127.0.0.1:0")
	defer hang.Close()
	go func() {
		c, err := hang.Accept()
		if err == nil {
			<-ctx.Done()
			c.Close()
		}
	}()
	short, cancel2 := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel2()
	if _, err := QueryVersion(short, "tcp", hang.Addr().String(), jst); err == nil {
		t.Error("hanging clamd: no error")
	}
}

func FuzzParseVersionReply(f *testing.F) {
	f.Add("ClamAV 1.4.3/27463/Wed Nov 19 18:21:00 2026\n")
	f.Add("ClamAV 1.0.5")
	f.Fuzz(func(t *testing.T, s string) {
		info, err := ParseVersionReply(s, jst)
		if err == nil && (info.Version <= 0 || info.Built.IsZero()) {
			t.Fatalf("accepted %q without version or time", s)
		}
	})
}

func FuzzParseCVDHeader(f *testing.F) {
	data, _ := os.ReadFile(filepath.Join("..", "..", "testdata", "security", "daily.cvd"))
	// Only the header is read: seeding the whole database makes every
	// mutation slow (a few hundred inputs in the fuzz budget, which
	// make test-fuzz refuses as not fuzzed).
	if len(data) > HeaderSize {
		data = data[:HeaderSize]
	}
	f.Add(data)
	f.Fuzz(func(t *testing.T, b []byte) {
		info, err := ParseCVDHeader(bytes.NewReader(b))
		if err == nil && (info.Version <= 0 || info.Built.IsZero()) {
			t.Fatalf("accepted header without version or time")
		}
	})
}

// A reply from a peer appears in an error bounded and quoted once: its
// parts are not quoted again, nor repeated by a wrapped parse error.
func TestVersionReplyQuotedOnce(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 500)
	for _, reply := range []string{
		"ClamAV 1.4.3/" + long + "/Wed Nov 19 18:21:00 2026",
		"ClamAV 1.4.3/27463/" + long,
		"ClamAV 1.4.3/27463/\"quoted\" \x00garbage",
		long,
	} {
		_, err := ParseVersionReply(reply, nil)
		if err == nil {
			t.Fatalf("reply %q accepted", reply)
		}
		msg := err.Error()
		if len(msg) > 200 {
			t.Errorf("error is %d bytes: %s", len(msg), msg)
		}
		if strings.Count(msg, "xxxxxxxxxx") > 8 || strings.Count(msg, `\"quoted\"`) > 1 || strings.Contains(msg, `\\\"`) {
			t.Errorf("the reply is quoted more than once: %s", msg)
		}
	}
}
