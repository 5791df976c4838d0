package ledger

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	bolt "go.etcd.io/bbolt"
)

// Message is Alertmanager's webhook payload (version 4).
type Message struct {
	Version           string            `json:"version"`
	GroupKey          string            `json:"groupKey"`
	TruncatedAlerts   int               `json:"truncatedAlerts"`
	Status            string            `json:"status"`
	Receiver          string            `json:"receiver"`
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	ExternalURL       string            `json:"externalURL"`
	Alerts            []WebhookAlert    `json:"alerts"`
}

// WebhookAlert is one alert of a webhook payload.
type WebhookAlert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

// Limits of a webhook payload: Alertmanager's own payloads are far below.
const (
	maxAlertsPerMessage = 1000
	maxLabelBytes       = 4096
)

// ParseMessage decodes and checks a webhook payload. Every problem is an
// error naming the alert and field; nothing is stored from a payload with
// an error.
func ParseMessage(r io.Reader) (*Message, error) {
	dec := json.NewDecoder(r)
	var m Message
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("not an Alertmanager webhook payload: %v", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("not an Alertmanager webhook payload: data after the JSON object")
	}
	if m.Version != "4" {
		return nil, fmt.Errorf("version %q: only Alertmanager's webhook version \"4\" is understood", m.Version)
	}
	if len(m.Alerts) == 0 {
		return nil, fmt.Errorf("alerts: empty")
	}
	if len(m.Alerts) > maxAlertsPerMessage {
		return nil, fmt.Errorf("alerts: %d alerts, at most %d in one payload", len(m.Alerts), maxAlertsPerMessage)
	}
	for i, a := range m.Alerts {
		where := fmt.Sprintf("alerts[%d]", i)
		if a.Status != "firing" && a.Status != "resolved" {
			return nil, fmt.Errorf("%s.status: %q, want firing or resolved", where, a.Status)
		}
		if a.Labels["alertname"] == "" {
			return nil, fmt.Errorf("%s.labels: no alertname", where)
		}
		size := 0
		for k, v := range a.Labels {
			size += len(k) + len(v)
			if !model.LabelName(k).IsValid() {
				return nil, fmt.Errorf("%s.labels: invalid label name %q", where, k)
			}
		}
		for k, v := range a.Annotations {
			size += len(k) + len(v)
		}
		if size > 16*maxLabelBytes {
			return nil, fmt.Errorf("%s: labels and annotations of %d bytes", where, size)
		}
		if a.StartsAt.IsZero() || a.StartsAt.Year() < 2000 || a.StartsAt.Year() > 9999 {
			return nil, fmt.Errorf("%s.startsAt: missing or out of range (%s)", where, a.StartsAt.Format(time.RFC3339))
		}
		if a.Status == "resolved" && (a.EndsAt.IsZero() || a.EndsAt.Before(a.StartsAt)) {
			return nil, fmt.Errorf("%s.endsAt: a resolved alert needs an end not before its start", where)
		}
	}
	return &m, nil
}

// IngestResult counts what a payload did.
type IngestResult struct {
	Opened, Attached, Resolved, Duplicate, Ignored int
}

// opensIncident tells whether an alert opens a 障害票 by itself: critical
// alerts do (a service down, an integrity violation, an exporter down);
// others only join the open 障害票 of their service.
func opensIncident(labels map[string]string) bool { return labels["severity"] == "critical" }

// incidentKey is what alerts of one incident share.
func incidentKey(labels map[string]string) string {
	if s := labels["service"]; s != "" {
		return "service:" + s
	}
	return "alert:" + labels["alertname"]
}

func alertKey(fp string, startsAt time.Time) []byte {
	return []byte(fp + "|" + startsAt.UTC().Format(time.RFC3339Nano))
}

// Ingest applies a webhook payload in one transaction. Alerts are known by
// fingerprint and start time, so the same notification delivered again
// (an Alertmanager retry, the second Alertmanager of a cluster) changes
// nothing; an alert of a key whose 障害票 is firing or resolved less than
// merge ago joins that 障害票.
func (s *Store) Ingest(m *Message, merge time.Duration, now time.Time) (IngestResult, error) {
	var res IngestResult
	err := s.db.Update(func(tx *bolt.Tx) error {
		res = IngestResult{}
		for _, a := range m.Alerts {
			if err := ingestAlert(tx, a, sender(m.ExternalURL), merge, now, &res); err != nil {
				return err
			}
		}
		return nil
	})
	return res, err
}

// maxSenders bounds the Alertmanagers remembered per alert.
const maxSenders = 8

func sender(externalURL string) string {
	if len(externalURL) > 256 {
		return externalURL[:256]
	}
	return externalURL
}

// noteSender records that sender delivered the alert; it reports whether
// that is new.
func noteSender(inc *Incident, fp string, startsAt time.Time, sender string) bool {
	for i := range inc.Alerts {
		r := &inc.Alerts[i]
		if r.Fingerprint == fp && r.StartsAt.Equal(startsAt) && sender != "" && !contains(r.Senders, sender) && len(r.Senders) < maxSenders {
			r.Senders = append(r.Senders, sender)
			return true
		}
	}
	return false
}

func ingestAlert(tx *bolt.Tx, a WebhookAlert, sender string, merge time.Duration, now time.Time, res *IngestResult) error {
	alerts, incidents, byKey := tx.Bucket(bucketAlerts), tx.Bucket(bucketIncidents), tx.Bucket(bucketByKey)
	fp := model.LabelSet(toLabelSet(a.Labels)).Fingerprint().String()
	akey := alertKey(fp, a.StartsAt)
	resolved := a.Status == "resolved"
	name := a.Labels["alertname"]

	var rec alertRecord
	known, err := getJSON(alerts, akey, &rec)
	if err != nil {
		return err
	}
	var inc Incident
	if known {
		if ok, err := getJSON(incidents, itob(rec.Incident), &inc); err != nil || !ok {
			return fmt.Errorf("alert %s refers to a missing incident %d (%v)", akey, rec.Incident, err)
		}
		if rec.Resolved || !resolved {
			res.Duplicate++
			if noteSender(&inc, fp, a.StartsAt, sender) {
				return putJSON(incidents, itob(inc.ID), &inc)
			}
			return nil
		}
	} else {
		key := incidentKey(a.Labels)
		found := false
		if id := byKey.Get([]byte(key)); id != nil {
			if ok, err := getJSON(incidents, id, &inc); err != nil {
				return err
			} else if ok && (inc.Firing || !a.StartsAt.After(inc.ResolvedAt.Add(merge))) {
				found = true
			}
		}
		if !found {
			if !opensIncident(a.Labels) {
				res.Ignored++
				return nil
			}
			id, err := incidents.NextSequence()
			if err != nil {
				return err
			}
			inc = Incident{
				ID: id, Key: key, Service: a.Labels["service"], Title: title(a),
				StartedAt: a.StartsAt, Fields: Fields{Event: a.Annotations["summary"], Status: "対応中"},
			}
			if err := byKey.Put([]byte(key), itob(id)); err != nil {
				return err
			}
			if err := addHistory(tx, 'I', id, Change{At: now, User: "Alertmanager", Field: "起票", New: name + " " + a.StartsAt.In(jst).Format("2006-01-02 15:04:05")}); err != nil {
				return err
			}
			res.Opened++
		} else {
			if err := addHistory(tx, 'I', inc.ID, Change{At: now, User: "Alertmanager", Field: "アラート追加", New: name + " " + a.StartsAt.In(jst).Format("2006-01-02 15:04:05")}); err != nil {
				return err
			}
			res.Attached++
		}
		inc.Alerts = append(inc.Alerts, AlertRef{
			Name: name, Fingerprint: fp, Severity: a.Labels["severity"], Summary: a.Annotations["summary"],
			Labels: a.Labels, StartsAt: a.StartsAt,
		})
		if a.StartsAt.Before(inc.StartedAt) {
			inc.StartedAt = a.StartsAt
		}
	}
	noteSender(&inc, fp, a.StartsAt, sender)
	for i := range inc.Alerts {
		r := &inc.Alerts[i]
		if r.Fingerprint == fp && r.StartsAt.Equal(a.StartsAt) && resolved {
			r.Resolved, r.EndsAt = true, a.EndsAt
		}
	}
	wasFiring := inc.Firing
	inc.Firing, inc.ResolvedAt = false, time.Time{}
	for _, r := range inc.Alerts {
		if !r.Resolved {
			inc.Firing = true
		} else if r.EndsAt.After(inc.ResolvedAt) {
			inc.ResolvedAt = r.EndsAt
		}
	}
	if inc.Firing {
		inc.ResolvedAt = time.Time{}
	} else if wasFiring || !known {
		res.Resolved++
		if err := addHistory(tx, 'I', inc.ID, Change{At: now, User: "Alertmanager", Field: "復旧", New: inc.ResolvedAt.In(jst).Format("2006-01-02 15:04:05")}); err != nil {
			return err
		}
	}
	inc.UpdatedAt = now
	if err := putJSON(alerts, akey, alertRecord{Incident: inc.ID, Resolved: resolved}); err != nil {
		return err
	}
	return putJSON(incidents, itob(inc.ID), &inc)
}

func title(a WebhookAlert) string {
	var b strings.Builder
	b.WriteString(a.Labels["alertname"])
	if s := a.Labels["service"]; s != "" {
		b.WriteString(" (" + s + ")")
	}
	return b.String()
}

func toLabelSet(m map[string]string) model.LabelSet {
	ls := make(model.LabelSet, len(m))
	for k, v := range m {
		ls[model.LabelName(k)] = model.LabelValue(v)
	}
	return ls
}

// readBounded reads at most limit bytes; more is an error.
func readBounded(r io.Reader, limit int64) ([]byte, error) {
	var buf bytes.Buffer
	n, err := io.Copy(&buf, io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if n > limit {
		return nil, errTooLarge
	}
	return buf.Bytes(), nil
}

var errTooLarge = fmt.Errorf("payload too large")
