// Package e2e tests the alerting pipeline end to end with the real
// programs (see e2e/stack): Alertmanager's routing, inhibition, Japanese
// mail and heartbeat with alerts posted to it, and the whole chain from a
// fault injected into the simulated service to the mail in the contractor's
// mailbox.
package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bosaimail/bosaimail_exporter/e2e/stack"
	"github.com/bosaimail/bosaimail_exporter/internal/testkit/testbin"
)

// toolsDir is where the pinned programs are (prometheus, alertmanager,
// mailpit); a missing one skips the test, or fails it under CI.
//
// The end-to-end tests take minutes, so they run in `make e2e` (which sets
// BOSAIMAIL_E2E=1) and not a second time in the plain `go test ./...` of
// `make test-go`.
func toolsDir(t *testing.T, names ...string) string {
	t.Helper()
	if os.Getenv("BOSAIMAIL_E2E") == "" {
		t.Skip("end-to-end test: run make e2e (or set BOSAIMAIL_E2E=1)")
	}
	var dir string
	for _, n := range names {
		dir = filepath.Dir(testbin.Path(t, n))
	}
	return dir
}

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
)

// programs builds this repository's programs once per test binary, so the
// test always drives the code under test and never a stale ./bin.
func programs(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "bosaimail-e2e-bin-")
		if buildErr != nil {
			return
		}
		buildErr = testbin.Build(buildDir, "./cmd/bosaimail_exporter", "./cmd/bosaimail_sim", "./cmd/bosaimail_ledger", "./e2e/cmd/bosaimail_demo")
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildDir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// stopOnCleanup stops the stack when the test ends, printing the programs'
// logs if the test failed, and fails the test if a program had died or
// would not stop.
func stopOnCleanup(t *testing.T, s *stack.Stack) {
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("logs of the stack:\n%s", s.Logs(3000))
		}
		if err := s.Stop(); err != nil {
			t.Errorf("stopping the stack: %v", err)
		}
	})
}

// mailMatch describes mails a test waits for.
type mailMatch struct {
	to            string // one recipient address that must be among To
	subjectPrefix string
}

func (m mailMatch) matches(msg stack.Message) bool {
	return slices.Contains(msg.Recipients(), m.to) && strings.HasPrefix(msg.Subject, m.subjectPrefix)
}

func (m mailMatch) String() string { return fmt.Sprintf("to %s, subject %q...", m.to, m.subjectPrefix) }

// waitMail polls the mailbox until a mail matching m arrives, and returns
// it with its text and HTML.
func waitMail(ctx context.Context, t *testing.T, mb *stack.Mailbox, m mailMatch) stack.Message {
	t.Helper()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		msgs, err := mb.Messages(ctx)
		if err == nil {
			for _, msg := range msgs {
				if m.matches(msg) {
					full, err := mb.Message(ctx, msg.ID)
					if err != nil {
						t.Fatalf("reading mail %s: %v", msg.ID, err)
					}
					full.Created = msg.Created
					return full
				}
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no mail %s before the deadline; mailbox holds:\n%s", m, describe(ctx, mb))
		case <-tick.C:
		}
	}
}

// describe lists a mailbox for failure messages.
func describe(_ context.Context, mb *stack.Mailbox) string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	msgs, err := mb.Messages(ctx)
	if err != nil {
		return "  (cannot list: " + err.Error() + ")"
	}
	if len(msgs) == 0 {
		return "  (empty)"
	}
	var b strings.Builder
	for _, m := range msgs {
		fmt.Fprintf(&b, "  %s to %v: %s\n", m.Created.Format(time.TimeOnly), m.Recipients(), m.Subject)
	}
	return b.String()
}

// noMail fails if a mail matching any of ms is in the mailbox.
func noMail(ctx context.Context, t *testing.T, mb *stack.Mailbox, why string, ms ...func(stack.Message) bool) {
	t.Helper()
	msgs, err := mb.Messages(ctx)
	if err != nil {
		t.Fatalf("listing mail: %v", err)
	}
	for _, msg := range msgs {
		for _, m := range ms {
			if m(msg) {
				t.Errorf("%s, but this mail was sent: to %v: %s", why, msg.Recipients(), msg.Subject)
			}
		}
	}
}

// contains fails for every want missing from text, naming the part.
func contains(t *testing.T, part, text string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(text, w) {
			t.Errorf("%s lacks %q; it is:\n%s", part, w, text)
		}
	}
}

// poll calls f every interval until it returns true or ctx ends.
func poll(ctx context.Context, interval time.Duration, f func() bool) bool {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		if f() {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-tick.C:
		}
	}
}

// getJSONInto decodes the JSON answer of a GET to u (at most 16 MiB) into
// v; an answer other than 200 is an error that quotes its start.
func getJSONInto(ctx context.Context, u string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: HTTP %d: %.200s", u, resp.StatusCode, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("GET %s: %v: %.200s", u, err, b)
	}
	return nil
}
