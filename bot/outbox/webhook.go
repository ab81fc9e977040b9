package outbox

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"tocsin/bot/store"
	"tocsin/internal/printable"
	"tocsin/responders"
)

// Hook is a configured webhook with its secret resolved.
type Hook struct {
	URL    string
	Format string // json or ntfy
	Secret string
}

// Webhooks calls pagers and other webhooks: the item's payload is the
// page (JSON). Format json posts it as is, signed with HMAC-SHA256 in
// X-Tocsin-Signature ("sha256=" and the hex of the MAC of the body) with
// the time in X-Tocsin-Timestamp, which the MAC covers too ("TIMESTAMP." +
// body), so a captured request cannot be replayed later. Format ntfy
// publishes a notification that makes a phone buzz: the message as body,
// with Title, Priority, Tags and Click headers, the secret as its access
// token.
type Webhooks struct {
	Hooks  map[string]Hook
	Client *http.Client
	Now    func() time.Time
}

// page is the part of the payload ntfy needs (engine.Page).
type page struct {
	Incident string    `json:"incident"`
	Priority string    `json:"priority"`
	Kind     string    `json:"kind"`
	Step     string    `json:"step"`
	Needs    string    `json:"needs"`
	Due      time.Time `json:"due"`
	Summary  string    `json:"summary"`
	URL      string    `json:"url"`
}

// Send calls the webhook the destination names.
func (w Webhooks) Send(ctx context.Context, to store.Dest, it store.OutboxItem) error {
	h, ok := w.Hooks[to.ID]
	if !ok {
		return &responders.SendError{Temporary: true, Err: fmt.Errorf("webhook %q is not configured (any more); the item waits until it is", to.ID)}
	}
	body := it.Payload
	header := http.Header{}
	switch h.Format {
	case "ntfy":
		var p page
		if err := json.Unmarshal(it.Payload, &p); err != nil {
			return &responders.SendError{Err: fmt.Errorf("page payload: %w", err)}
		}
		body = []byte(fmt.Sprintf("%s (%s by %s)\n%s", p.Step, p.Needs, p.Due.UTC().Format("2006-01-02 15:04 UTC"), printable.Runes(printable.Line(p.Summary), 200)))
		// Header values carry only what Tocsin wrote, never report text.
		header.Set("Title", fmt.Sprintf("%s %s %s", p.Priority, p.Incident, p.Kind))
		header.Set("Priority", map[string]string{"P1": "urgent", "P2": "high", "P3": "default", "P4": "low"}[p.Priority])
		header.Set("Tags", "rotating_light")
		if strings.HasPrefix(p.URL, "https://") || strings.HasPrefix(p.URL, "http://") {
			header.Set("Click", p.URL)
		}
		if h.Secret != "" {
			header.Set("Authorization", "Bearer "+h.Secret)
		}
	default:
		header.Set("Content-Type", "application/json")
		ts := strconv.FormatInt(w.Now().Unix(), 10)
		mac := hmac.New(sha256.New, []byte(h.Secret))
		mac.Write([]byte(ts + "."))
		mac.Write(body)
		header.Set("X-Tocsin-Timestamp", ts)
		header.Set("X-Tocsin-Signature", "sha256="+hex.EncodeToString(mac.Sum(nil)))
		header.Set("X-Tocsin-Delivery", it.IdemKey)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.URL, bytes.NewReader(body))
	if err != nil {
		return &responders.SendError{Err: err}
	}
	req.Header = header
	resp, err := w.Client.Do(req)
	if err != nil {
		return &responders.SendError{Temporary: true, Err: fmt.Errorf("webhook %s: %w", to.ID, err)}
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	switch {
	case resp.StatusCode/100 == 2:
		return nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		se := &responders.SendError{Temporary: true, Err: fmt.Errorf("webhook %s: %s: %s", to.ID, resp.Status, printable.Runes(printable.Line(string(msg)), 200))}
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil {
			se.RetryAfter = time.Duration(s) * time.Second
		}
		return se
	}
	return &responders.SendError{Err: fmt.Errorf("webhook %s: %s: %s", to.ID, resp.Status, printable.Runes(printable.Line(string(msg)), 200))}
}
