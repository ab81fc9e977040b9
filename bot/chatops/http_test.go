package chatops

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tocsin/bot/act"
	"tocsin/bot/clock"
	"tocsin/bot/outbox"
	"tocsin/bot/store"
	"tocsin/config"
)

// TestSlowCommandAnswersLater: a command that takes longer than the
// platform waits is answered "working on it" at once, and its result is
// posted to Slack's response_url from the outbox.
func TestSlowCommandAnswersLater(t *testing.T) {
	h, st := newTestHandler(t, "", "s3cret-s3cret-s3cret")
	desk, log := h.Router.Desk.(*act.Desk), h.Log
	h.FastEnough = 20 * time.Millisecond
	h.run = func(context.Context, Command) Reply {
		time.Sleep(100 * time.Millisecond)
		return Reply{Text: "SEC-2026-0001 acknowledged by Pia"}
	}
	queued := make(chan struct{}, 1)
	desk.Queued = func() { queued <- struct{}{} }
	var got string
	slack := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = string(b)
	}))
	defer slack.Close()
	form := url.Values{"command": {"/ack"}, "text": {"SEC-2026-0001"}, "user_id": {"U0PIA"}, "trigger_id": {"t1"}, "response_url": {slack.URL + "/commands/T/1/x"}}
	body := []byte(form.Encode())
	ts, sig := SignSlack("s3cret-s3cret-s3cret", body, time.Now())
	req := httptest.NewRequest("POST", "/slack/commands", strings.NewReader(string(body)))
	req.Header.Set("X-Slack-Request-Timestamp", ts)
	req.Header.Set("X-Slack-Signature", sig)
	rec := httptest.NewRecorder()
	start := time.Now()
	h.Routes()["POST /slack/commands"](rec, req)
	if took := time.Since(start); took > 90*time.Millisecond || !strings.Contains(rec.Body.String(), "Working on it") {
		t.Fatalf("answered after %v: %s", took, rec.Body)
	}
	select {
	case <-queued:
	case <-time.After(5 * time.Second):
		t.Fatal("the late answer was not queued")
	}
	items, err := st.Claim(context.Background(), time.Now(), time.Minute, 10)
	if err != nil || len(items) != 1 {
		t.Fatalf("outbox %+v %v", items, err)
	}
	d := outbox.New(st, clock.System{}, log, map[string]outbox.Sender{"slack": outbox.Chat{Store: st, Log: log}}, nil)
	d.Deliver(context.Background(), items[0])
	var m map[string]any
	json.Unmarshal([]byte(got), &m)
	if m["text"] != "SEC-2026-0001 acknowledged by Pia" || m["response_type"] != "in_channel" {
		t.Errorf("response_url got %q", got)
	}
}

// newTestHandler is a handler on a fresh store whose roster has the people
// in peopleYAML (a YAML list, "" for none), verifying Slack requests with
// slackSecret.
func newTestHandler(t *testing.T, peopleYAML, slackSecret string) (*Handler, *store.Store) {
	t.Helper()
	st, err := store.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	yml := "desk: {address: security@example.com}\n"
	if peopleYAML != "" {
		yml += "people: " + peopleYAML + "\n"
	}
	cfg, err := config.Parse("c.yaml", []byte(yml))
	if err != nil {
		t.Fatal(err)
	}
	return NewHandler(&Router{Desk: &act.Desk{Config: cfg, Store: st, Clock: clock.System{}}, Clock: clock.System{}}, slackSecret, nil, slog.New(slog.DiscardHandler)), st
}

// TestSlowDiscordCommandIsDeferred: on Discord a slow command is answered
// with a deferred response (type 5), and its result is a follow-up to the
// interaction's webhook, from the outbox.
func TestSlowDiscordCommandIsDeferred(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	h, st := newTestHandler(t, "", "")
	h.discordKey = pub
	h.FastEnough = 20 * time.Millisecond
	h.run = func(context.Context, Command) Reply {
		time.Sleep(100 * time.Millisecond)
		return Reply{Text: "SEC-2026-0001 escalated", Ephemeral: true}
	}
	queued := make(chan struct{}, 1)
	h.Router.Desk.(*act.Desk).Queued = func() { queued <- struct{}{} }
	var path, got string
	discord := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		path, got = r.URL.Path, string(b)
	}))
	defer discord.Close()
	h.DiscordAPI = discord.URL + "/api/v9/"
	body, _ := json.Marshal(map[string]any{"type": 2, "id": "i9", "application_id": "99", "token": "itok",
		"data": map[string]any{"name": "help"}, "member": map[string]any{"user": map[string]any{"id": "2001"}}})
	ts, sig := SignDiscord(priv, body, time.Now())
	req := httptest.NewRequest("POST", "/discord/interactions", strings.NewReader(string(body)))
	req.Header.Set("X-Signature-Timestamp", ts)
	req.Header.Set("X-Signature-Ed25519", sig)
	rec := httptest.NewRecorder()
	h.Routes()["POST /discord/interactions"](rec, req)
	if !strings.Contains(rec.Body.String(), `"type":5`) {
		t.Fatalf("answered %s, want a deferred response", rec.Body)
	}
	select {
	case <-queued:
	case <-time.After(5 * time.Second):
		t.Fatal("the follow-up was not queued")
	}
	items, err := st.Claim(context.Background(), time.Now(), time.Minute, 10)
	if err != nil || len(items) != 1 {
		t.Fatalf("outbox %+v %v", items, err)
	}
	log := slog.New(slog.DiscardHandler)
	outbox.New(st, clock.System{}, log, map[string]outbox.Sender{"discord": outbox.Chat{Store: st, Log: log}}, nil).Deliver(context.Background(), items[0])
	if path != "/api/v9/webhooks/99/itok" || !strings.Contains(strings.ReplaceAll(got, `\\`, ""), "SEC-2026-0001 escalated") || !strings.Contains(got, `"flags":64`) {
		t.Errorf("follow-up to %s: %s", path, got)
	}
}
