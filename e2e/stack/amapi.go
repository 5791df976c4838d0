package stack

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Alert is an alert as Alertmanager's API v2 takes and returns it.
type Alert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	StartsAt     time.Time         `json:"startsAt,omitzero"`
	EndsAt       time.Time         `json:"endsAt,omitzero"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
	// Status is filled in answers only.
	Status *AlertStatus `json:"status,omitempty"`
}

// AlertStatus tells whether Alertmanager notifies about an alert.
type AlertStatus struct {
	State       string   `json:"state"` // active, suppressed, unprocessed
	InhibitedBy []string `json:"inhibitedBy"`
	SilencedBy  []string `json:"silencedBy"`
}

// PostAlerts sends alerts to Alertmanager as Prometheus would.
func (s *Stack) PostAlerts(ctx context.Context, alerts ...Alert) error {
	b, err := json.Marshal(alerts)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.AlertmanagerURL()+"/api/v2/alerts", bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	return s.do(req)
}

// AlertmanagerAlerts lists the alerts Alertmanager holds, inhibited and
// silenced ones included.
func (s *Stack) AlertmanagerAlerts(ctx context.Context) ([]Alert, error) {
	return getJSON[[]Alert](ctx, s.client, s.AlertmanagerURL()+"/api/v2/alerts?inhibited=true&silenced=true&active=true&unprocessed=true")
}

// PrometheusAlert is an alert as Prometheus' /api/v1/alerts reports it.
type PrometheusAlert struct {
	Labels   map[string]string `json:"labels"`
	State    string            `json:"state"` // pending, firing
	ActiveAt time.Time         `json:"activeAt"`
	Value    string            `json:"value"`
}

// PrometheusAlerts lists the pending and firing alerts of Prometheus.
func (s *Stack) PrometheusAlerts(ctx context.Context) ([]PrometheusAlert, error) {
	out, err := getJSON[struct {
		Data struct {
			Alerts []PrometheusAlert `json:"alerts"`
		} `json:"data"`
	}](ctx, s.client, s.PrometheusURL()+"/api/v1/alerts")
	return out.Data.Alerts, err
}

func getJSON[T any](ctx context.Context, client *http.Client, url string) (T, error) {
	var v T
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return v, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return v, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return v, err
	}
	if resp.StatusCode != http.StatusOK {
		return v, fmt.Errorf("GET %s: HTTP %d: %.200s", url, resp.StatusCode, body)
	}
	if err := json.Unmarshal(body, &v); err != nil {
		return v, fmt.Errorf("GET %s: %w", url, err)
	}
	return v, nil
}

// Query evaluates an instant PromQL query and returns the sample values.
func (s *Stack) Query(ctx context.Context, expr string) ([]float64, error) {
	return queryValues(ctx, s.client, s.PrometheusURL(), expr)
}

// queryValues evaluates an instant query on any Prometheus-compatible
// query API at base and returns the sample values.
func queryValues(ctx context.Context, client *http.Client, base, expr string) ([]float64, error) {
	out, err := getJSON[struct {
		Data struct {
			Result []struct {
				Value [2]json.RawMessage `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}](ctx, client, base+"/api/v1/query?query="+url.QueryEscape(expr))
	if err != nil {
		return nil, err
	}
	var vals []float64
	for _, r := range out.Data.Result {
		var str string
		if err := json.Unmarshal(r.Value[1], &str); err != nil {
			return nil, fmt.Errorf("query %q: %w", expr, err)
		}
		v, err := strconv.ParseFloat(str, 64)
		if err != nil {
			return nil, fmt.Errorf("query %q: %w", expr, err)
		}
		vals = append(vals, v)
	}
	return vals, nil
}
