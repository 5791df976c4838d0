package stack

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// Mailbox is a client of one mailpit's HTTP API.
type Mailbox struct {
	// UI is the address of mailpit's web interface and API.
	UI     string
	client *http.Client
}

// Address is a mail address as mailpit reports it.
type Address struct {
	Name    string `json:"Name"`
	Address string `json:"Address"`
}

// Message is a received mail; Text and HTML are filled by Message().
type Message struct {
	ID      string    `json:"ID"`
	From    Address   `json:"From"`
	To      []Address `json:"To"`
	Subject string    `json:"Subject"`
	Created time.Time `json:"Created"`
	Text    string    `json:"Text"`
	HTML    string    `json:"HTML"`
}

// Recipients returns the To addresses.
func (m Message) Recipients() []string {
	var out []string
	for _, a := range m.To {
		out = append(out, a.Address)
	}
	return out
}

func (mb *Mailbox) get(ctx context.Context, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, mb.UI+path, nil)
	if err != nil {
		return err
	}
	resp, err := mb.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("mailpit %s: HTTP %d: %.200s", path, resp.StatusCode, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("mailpit %s: %w", path, err)
	}
	return nil
}

// Messages lists the received mails, newest first (summaries: no body).
func (mb *Mailbox) Messages(ctx context.Context) ([]Message, error) {
	var out struct {
		Messages []Message `json:"messages"`
	}
	err := mb.get(ctx, "/api/v1/messages?limit=500", &out)
	return out.Messages, err
}

// Message fetches one mail with its text and HTML parts.
func (mb *Mailbox) Message(ctx context.Context, id string) (Message, error) {
	var m Message
	err := mb.get(ctx, "/api/v1/message/"+url.PathEscape(id), &m)
	return m, err
}

// DeleteAll empties the mailbox.
func (mb *Mailbox) DeleteAll(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, mb.UI+"/api/v1/messages", nil)
	if err != nil {
		return err
	}
	resp, err := mb.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("mailpit delete: HTTP %d", resp.StatusCode)
	}
	return nil
}
