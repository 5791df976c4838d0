package logging

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/alecthomas/kingpin/v2"
)

// decodeLines reads JSON log lines.
func decodeLines(t *testing.T, b *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("not a JSON line: %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

// The slog bridge writes lines shaped like every other line: one "ts", the
// real caller, the level filter applied.
func TestSlogLinesMatchTheOthers(t *testing.T) {
	var b bytes.Buffer
	l, err := Slog(Config{Level: "info", Format: "json"}, &b)
	if err != nil {
		t.Fatal(err)
	}
	l.Debug("filtered out")
	l.With("address", ":9742").Info("Listening on", "http2", false)
	lines := decodeLines(t, &b)
	if len(lines) != 1 {
		t.Fatalf("want 1 line (debug filtered), got %v", lines)
	}
	m := lines[0]
	if _, ok := m["time"]; ok {
		t.Errorf("record time logged besides ts: %v", m)
	}
	if m["level"] != "info" || m["msg"] != "Listening on" || m["address"] != ":9742" || m["ts"] == nil {
		t.Errorf("line = %v", m)
	}
	if c, _ := m["caller"].(string); !strings.HasPrefix(c, "logging_test.go:") {
		t.Errorf("caller = %q, want the call site", c)
	}
}

// A standard library error line (http.Server.ErrorLog) is one error line
// whose message is the whole text, host:port included.
func TestStdError(t *testing.T) {
	var b bytes.Buffer
	l, err := New(Config{Format: "json"}, &b)
	if err != nil {
		t.Fatal(err)
	}
	StdError(l, "http").Printf("http: TLS handshake error from 127.0.0.1:51162: EOF")
	m := decodeLines(t, &b)[0]
	if m["level"] != "error" || m["component"] != "http" || m["msg"] != "http: TLS handshake error from 127.0.0.1:51162: EOF" {
		t.Errorf("line = %v", m)
	}
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		args []string
		ok   bool
	}{
		{[]string{"--log.level=debug", "--log.format=json"}, true},
		{[]string{"--log.level=verbose"}, false},
		{[]string{"--log.format=xml"}, false},
	} {
		app := kingpin.New("test", "")
		var c Config
		AddFlags(app, &c)
		_, err := Parse(app, tc.args, &c, &bytes.Buffer{})
		if (err == nil) != tc.ok {
			t.Errorf("%v: err = %v", tc.args, err)
		}
	}
}
