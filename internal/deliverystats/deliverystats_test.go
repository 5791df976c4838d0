package deliverystats

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/itchyny/gojq"
)

func compile(t testing.TB, f Fields) *Mapping {
	t.Helper()
	m := &Mapping{}
	f.Each(m, func(name string, src *string, dst **gojq.Code) {
		if *src == "" {
			return
		}
		q, err := gojq.Parse(*src)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		c, err := gojq.Compile(q)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		*dst = c
	})
	return m
}

func TestDecodeDefaultMapping(t *testing.T) {
	body, err := os.ReadFile("../../testdata/delivery/stats.json")
	if err != nil {
		t.Fatal(err)
	}
	bs, err := Decode(body, compile(t, DefaultFields))
	if err != nil {
		t.Fatal(err)
	}
	if len(bs) != 3 {
		t.Fatalf("got %d broadcasts", len(bs))
	}
	jst := time.FixedZone("JST", 9*3600)
	want := []Broadcast{
		{ID: "20261125-1002-tsunami", Total: 50000, Delivered: 31000, Deferred: 1200, Bounced: 300, Complaints: 2, Started: time.Date(2026, 11, 25, 10, 2, 0, 0, jst)},
		{ID: "20261124-0815-kouu", Total: 12000, Delivered: 11850, Bounced: 150, Complaints: 1, Started: time.Unix(1795475700, 0), Finished: time.Unix(1795476180, 0)},
		{ID: "20261120-0600-test", Total: 100, Delivered: 100, Started: time.Date(2026, 11, 20, 6, 0, 0, 0, jst), Finished: time.Date(2026, 11, 20, 6, 1, 30, 0, jst)},
	}
	for i, w := range want {
		g := bs[i]
		if g.ID != w.ID || g.Total != w.Total || g.Delivered != w.Delivered || g.Deferred != w.Deferred || g.Bounced != w.Bounced ||
			g.Complaints != w.Complaints || !g.Started.Equal(w.Started) || !g.Finished.Equal(w.Finished) {
			t.Errorf("broadcast %d = %+v, want %+v", i, g, w)
		}
	}
	if q := bs[0].Queued(); q != 17500 {
		t.Errorf("queued = %v, want 17500", q)
	}
}

func TestDecodeVendorMapping(t *testing.T) {
	body, err := os.ReadFile("../../testdata/delivery/stats-vendor.json")
	if err != nil {
		t.Fatal(err)
	}
	m := compile(t, Fields{
		Broadcasts: ".data.haishin[]", ID: ".haishin_no", Total: ".kensu.taisho",
		Delivered: ".kensu.soushin_zumi", Bounced: ".kensu.error", Started: ".kaishi", Finished: ".shuryo",
	})
	bs, err := Decode(body, m)
	if err != nil {
		t.Fatal(err)
	}
	if len(bs) != 1 || bs[0].ID != "10234" || bs[0].Total != 8000 || bs[0].Delivered != 7990 || bs[0].Bounced != 10 ||
		bs[0].Finished.Sub(bs[0].Started) != 400*time.Second {
		t.Fatalf("got %+v", bs)
	}
}

func TestDecodeErrors(t *testing.T) {
	m := compile(t, DefaultFields)
	cases := []struct{ name, body, want string }{
		{"not json", `<html>502 Bad Gateway</html>`, "statistics are not JSON"},
		{"broadcasts not a list", `{"broadcasts": 5}`, "broadcasts expression"},
		{"missing id", `{"broadcasts":[{"recipients_total":1,"delivered":0,"started_at":1}]}`, "broadcast 0: id: want a string or number, got null"},
		{"id too long", `{"broadcasts":[{"id":"` + strings.Repeat("a", 200) + `","recipients_total":1,"delivered":0,"started_at":1}]}`, "want 1 to 128 printable bytes"},
		{"id control char", `{"broadcasts":[{"id":"a\nb","recipients_total":1,"delivered":0,"started_at":1}]}`, "printable"},
		{"total missing", `{"broadcasts":[{"id":"x","delivered":0,"started_at":1}]}`, `broadcast 0 ("x"): total: want a number, got null`},
		{"total text", `{"broadcasts":[{"id":"x","recipients_total":"many","delivered":0,"started_at":1}]}`, `total: "many" is not a number`},
		{"negative", `{"broadcasts":[{"id":"x","recipients_total":5,"delivered":-1,"started_at":1}]}`, "delivered: -1 is negative"},
		{"bad started", `{"broadcasts":[{"id":"x","recipients_total":5,"delivered":1,"started_at":"yesterday"}]}`, `started: "yesterday" is neither RFC 3339`},
		{"no started", `{"broadcasts":[{"id":"x","recipients_total":5,"delivered":1}]}`, "started: missing"},
		{"finished before started", `{"broadcasts":[{"id":"x","recipients_total":5,"delivered":1,"started_at":2000,"finished_at":1000}]}`, "finished"},
		{"second one bad", `{"broadcasts":[{"id":"x","recipients_total":5,"delivered":1,"started_at":1},{"id":"y","recipients_total":true,"delivered":1,"started_at":1}]}`, `broadcast 1 ("y"): total: want a number, got a boolean`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Decode([]byte(c.body), m)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want %q", err, c.want)
			}
		})
	}
}

func TestDecodeMillisecondsAndQueuedClamp(t *testing.T) {
	bs, err := Decode([]byte(`{"broadcasts":[{"id":7,"recipients_total":10,"delivered":9,"deferred":2,"bounced":1,"started_at":1764032400000}]}`), compile(t, DefaultFields))
	if err != nil {
		t.Fatal(err)
	}
	if !bs[0].Started.Equal(time.Unix(1764032400, 0)) || bs[0].Queued() != 0 || bs[0].ID != "7" {
		t.Fatalf("got %+v queued %v", bs[0], bs[0].Queued())
	}
}

func TestLatest(t *testing.T) {
	var bs []Broadcast
	for i := range 10 {
		bs = append(bs, Broadcast{ID: string(rune('a' + i)), Started: time.Unix(int64(1000+i), 0)})
	}
	bs = append(bs, Broadcast{ID: "j", Started: time.Unix(1, 0)}) // duplicate id, older
	got := Latest(bs, 3)
	if len(got) != 3 || got[0].ID != "j" || got[1].ID != "i" || got[2].ID != "h" || !got[0].Started.Equal(time.Unix(1009, 0)) {
		t.Fatalf("got %+v", got)
	}
}

func FuzzDecode(f *testing.F) {
	body, _ := os.ReadFile("../../testdata/delivery/stats.json")
	f.Add(body)
	f.Add([]byte(`{"broadcasts":[{"id":1e400,"recipients_total":"NaN","delivered":0,"started_at":-5}]}`))
	m := compile(f, DefaultFields)
	f.Fuzz(func(t *testing.T, in []byte) {
		bs, err := Decode(in, m)
		if err != nil {
			return
		}
		for _, b := range bs {
			if b.ID == "" || len(b.ID) > MaxIDBytes || b.Total < 0 || b.Queued() < 0 || b.Started.IsZero() {
				t.Fatalf("invalid broadcast accepted: %+v", b)
			}
		}
		if got := Latest(bs, 5); len(got) > 5 {
			t.Fatal("Latest not bounded")
		}
	})
}
