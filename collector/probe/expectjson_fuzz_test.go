package probe

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/bosaimail/bosaimail_exporter/config"
)

// FuzzExpectJSON: whatever body a peer sends, the expect_json expressions
// of a check give up or down within the check's deadline, never a panic;
// a body that is not JSON is down, and the healthy body is up.
func FuzzExpectJSON(f *testing.F) {
	f.Add([]byte(`{"status":"ok","database":"ok","queue":{"depth":3}}`))
	f.Add([]byte(`{"status":"degraded"}`))
	f.Add([]byte(`[1,2,3]`))
	f.Add([]byte(`{"status":null}`))
	f.Add([]byte(`1e999`))
	f.Add([]byte(`{"queue":{"depth":18446744073709551616}}`))
	h := &config.HTTPCheck{ExpectJSON: []string{`.status == "ok"`, `(.queue.depth // 0) < 1000`, `[.. | numbers] | length >= 0`}}
	for _, src := range h.ExpectJSON {
		code, err := config.CompileJQ(src)
		if err != nil {
			f.Fatal(err)
		}
		h.JSONExpectations = append(h.JSONExpectations, code)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err := checkJSON(ctx, h, body)
		if err == nil && !json.Valid(body) {
			t.Fatalf("a body that is not JSON passed: %q", body)
		}
		if ctx.Err() != nil {
			t.Fatalf("expect_json outlived its deadline on %q", body)
		}
	})
}
