package maintenance

import (
	"os"
	"testing"
	"time"
)

// TestParseLedgerFeed reads the feed of approved planned stops that
// bosaimail_ledger serves (testdata/ledger-feed.ics is kept equal to it by
// the ledger's TestFeedGolden): the exporter must keep reading it.
func TestParseLedgerFeed(t *testing.T) {
	f, err := os.Open("testdata/ledger-feed.ics")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	jst := time.FixedZone("JST", 9*3600)
	events, err := ParseICS(f, jst)
	if err != nil {
		t.Fatal(err)
	}
	want := []Event{
		{UID: "maintenance-3@ledger.example.jp", Summary: "計画停止 delivery: OS パッチ適用, 再起動; 確認",
			Start: time.Date(2026, 10, 20, 1, 0, 0, 0, jst), End: time.Date(2026, 10, 20, 3, 0, 0, 0, jst)},
		{UID: "maintenance-2@ledger.example.jp", Summary: "計画停止 registration: クラウド事業者のメンテナンス",
			Start: time.Date(2026, 10, 21, 22, 0, 0, 0, jst), End: time.Date(2026, 10, 22, 0, 30, 0, 0, jst)},
	}
	if len(events) != len(want) {
		t.Fatalf("%d events, want %d: %+v", len(events), len(want), events)
	}
	for i, w := range want {
		g := events[i]
		if g.UID != w.UID || g.Summary != w.Summary || !g.Start.Equal(w.Start) || !g.End.Equal(w.End) || g.Rule != nil {
			t.Errorf("event %d = %+v, want %+v", i, g, w)
		}
	}
}
