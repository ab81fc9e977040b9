package outbox

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"tocsin/bot/store"
	"tocsin/internal/printable"
	"tocsin/internal/printabletest"
	"tocsin/responders"
)

// TestWebhookIsSignedAndNtfyBuzzes: a json webhook carries an HMAC-SHA256
// over timestamp and body that the receiver can check with the shared
// secret; an ntfy one becomes a notification with a title, an urgent
// priority for a P1 and the incident's link; 5xx and 429 are retried,
// other refusals are not.
func TestWebhookIsSignedAndNtfyBuzzes(t *testing.T) {
	var got []*http.Request
	var bodies []string
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got, bodies = append(got, r), append(bodies, string(b))
		w.WriteHeader(status)
	}))
	defer srv.Close()
	now := time.Unix(1796140800, 0)
	w := Webhooks{Client: srv.Client(), Now: func() time.Time { return now }, Hooks: map[string]Hook{
		"ops":   {URL: srv.URL + "/ops", Format: "json", Secret: "s3cret-s3cret-s3cret"},
		"phone": {URL: srv.URL + "/phone", Format: "ntfy", Secret: "tk_abc"},
	}}
	page := []byte(`{"incident":"SEC-2026-0001","priority":"P1","kind":"alert","step":"Team alerted","needs":"ack","due":"2026-12-01T11:00:00Z","summary":"RCE\nin VPN","url":"https://desk.example.com/incidents/SEC-2026-0001"}`)
	it := store.OutboxItem{IdemKey: "ct:SEC-2026-0001:tell:1:a:2:pager", Payload: page}
	if err := w.Send(context.Background(), store.Hook("ops"), it); err != nil {
		t.Fatal(err)
	}
	mac := hmac.New(sha256.New, []byte("s3cret-s3cret-s3cret"))
	mac.Write([]byte("1796140800." + string(page)))
	if sig := got[0].Header.Get("X-Tocsin-Signature"); sig != "sha256="+hex.EncodeToString(mac.Sum(nil)) || bodies[0] != string(page) ||
		got[0].Header.Get("X-Tocsin-Timestamp") != "1796140800" {
		t.Errorf("json webhook: signature %q, body %q", sig, bodies[0])
	}
	if err := w.Send(context.Background(), store.Hook("phone"), it); err != nil {
		t.Fatal(err)
	}
	h := got[1].Header
	if h.Get("Title") != "P1 SEC-2026-0001 alert" || h.Get("Priority") != "urgent" || h.Get("Click") != "https://desk.example.com/incidents/SEC-2026-0001" ||
		h.Get("Authorization") != "Bearer tk_abc" || !strings.Contains(bodies[1], "Team alerted (ack by 2026-12-01 11:00 UTC)\nRCE in VPN") {
		t.Errorf("ntfy: headers %v body %q", h, bodies[1])
	}
	for code, temporary := range map[int]bool{http.StatusServiceUnavailable: true, http.StatusTooManyRequests: true, http.StatusForbidden: false} {
		status = code
		err := w.Send(context.Background(), store.Hook("ops"), it)
		if err == nil || responders.IsTemporary(err) != temporary {
			t.Errorf("status %d: %v, want temporary %v", code, err, temporary)
		}
	}
}

// TestWebhookTextIsInert (issue 15, section 7): a report's summary on a
// phone and a webhook server's refusal in the outbox's error reach them
// only through package printable: one line, no escape sequence or bidi
// override.
func TestWebhookTextIsInert(t *testing.T) {
	const hostile = printabletest.Hostile
	var bodies []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		bodies = append(bodies, string(b))
		if r.URL.Path == "/ops" {
			http.Error(w, hostile, http.StatusForbidden)
		}
	}))
	defer srv.Close()
	w := Webhooks{Client: srv.Client(), Now: time.Now, Hooks: map[string]Hook{
		"ops": {URL: srv.URL + "/ops", Format: "json"}, "phone": {URL: srv.URL + "/phone", Format: "ntfy"}}}
	page, _ := json.Marshal(map[string]string{"incident": "SEC-2026-0001", "priority": "P1", "step": "Team alerted", "summary": hostile})
	it := store.OutboxItem{IdemKey: "k", Payload: page}
	if err := w.Send(context.Background(), store.Hook("phone"), it); err != nil {
		t.Fatal(err)
	}
	_, summary, _ := strings.Cut(bodies[0], "\n")
	if bad := printable.Unsafe(summary); bad != "" || strings.Contains(summary, "\n") || !strings.Contains(summary, "pwned") {
		t.Errorf("ntfy summary %q keeps %s or a line break", summary, bad)
	}
	err := w.Send(context.Background(), store.Hook("ops"), it)
	if err == nil {
		t.Fatal("a refusal was taken for a delivery")
	}
	if bad := printable.Unsafe(err.Error()); bad != "" || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), "pwned") {
		t.Errorf("the refusal %q keeps %s or a line break", err, bad)
	}
}
