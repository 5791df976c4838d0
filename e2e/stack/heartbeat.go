package stack

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// Heartbeat stands in for the external dead man's switch service (such as
// healthchecks.io): Alertmanager's heartbeat receiver posts the Watchdog to
// it. It records every ping; a real service alarms when they stop.
type Heartbeat struct {
	URL string

	srv *http.Server

	mu     sync.Mutex
	pings  int
	last   time.Time
	alerts []string
}

// HeartbeatStatus is what the receiver has seen.
type HeartbeatStatus struct {
	Pings int
	Last  time.Time
	// Alerts are the alert names of the last ping.
	Alerts []string
}

func startHeartbeat(port int) (*Heartbeat, error) {
	l, err := net.Listen("tcp", addr(port))
	if err != nil {
		return nil, err
	}
	h := &Heartbeat{URL: "http://" + l.Addr().String() + "/ping/bosaimail"}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /ping/bosaimail", h.ping)
	h.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go h.srv.Serve(l)
	return h, nil
}

// ping accepts Alertmanager's webhook payload (version 4).
func (h *Heartbeat) ping(w http.ResponseWriter, r *http.Request) {
	var msg struct {
		Alerts []struct {
			Labels map[string]string `json:"labels"`
		} `json:"alerts"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&msg); err != nil {
		http.Error(w, "invalid webhook payload: "+err.Error(), http.StatusBadRequest)
		return
	}
	var names []string
	for _, a := range msg.Alerts {
		names = append(names, a.Labels["alertname"])
	}
	h.mu.Lock()
	h.pings++
	h.last = time.Now()
	h.alerts = names
	h.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

// Status returns the pings seen so far.
func (h *Heartbeat) Status() HeartbeatStatus {
	h.mu.Lock()
	defer h.mu.Unlock()
	return HeartbeatStatus{Pings: h.pings, Last: h.last, Alerts: append([]string(nil), h.alerts...)}
}

func (h *Heartbeat) close() { h.srv.Close() }
