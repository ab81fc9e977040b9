package chatops

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
)

// TestSlackSocketMode: against a local server speaking Slack's Socket
// Mode (apps.connections.open, then the WebSocket with hello and an
// envelope), a slash command is answered in its acknowledgement by the
// same router; someone not on the roster is refused there too.
func TestSlackSocketMode(t *testing.T) {
	h, _ := newTestHandler(t, "[{name: Pia, email: pia@example.com, slack_id: U0PIA}]", "")
	h.socketOptions = []socketmode.Option{socketmode.OptionDebug(true), socketmode.OptionLog(log.New(testWriter{t}, "", 0))}

	acks := make(chan map[string]any, 4)
	up := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }} // Slack's client sends its own Origin
	mux := http.NewServeMux()
	var srv *httptest.Server
	mux.HandleFunc("/apps.connections.open", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer xapp-test" {
			w.Write([]byte(`{"ok":false,"error":"invalid_auth"}`))
			return
		}
		w.Write([]byte(`{"ok":true,"url":"ws` + strings.TrimPrefix(srv.URL, "http") + `/link"}`))
	})
	mux.HandleFunc("/link", func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		c.WriteJSON(map[string]any{"type": "hello", "num_connections": 1, "connection_info": map[string]any{"app_id": "A1"}})
		for i, user := range []string{"U0PIA", "U0NOBODY"} {
			c.WriteJSON(map[string]any{"type": "slash_commands", "envelope_id": []string{"e1", "e2"}[i], "accepts_response_payload": true,
				"payload": map[string]any{"command": "/tocsin", "text": "help", "user_id": user, "trigger_id": "t" + user, "team_id": "T1"}})
			var ack map[string]any
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			if err := c.ReadJSON(&ack); err != nil {
				return
			}
			acks <- ack
		}
		<-r.Context().Done()
	})
	srv = httptest.NewServer(mux)
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go h.RunSlackSocket(ctx, slack.New("xoxb-test", slack.OptionAPIURL(srv.URL+"/"), slack.OptionAppLevelToken("xapp-test")))
	for i, want := range []string{"/ack [ID]", "not on this desk's roster"} {
		select {
		case ack := <-acks:
			b, _ := json.Marshal(ack)
			if ack["envelope_id"] != []string{"e1", "e2"}[i] || !strings.Contains(string(b), want) {
				t.Errorf("ack %d: %s, want %q", i, b, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no acknowledgement %d over Socket Mode", i)
		}
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// TestSlackSocketModeButtonsAndRedeliveries (issue 15, section 1): a
// card's button pressed over Socket Mode (action_id "ack:ID", value the
// incident, as the card sends them) reaches the router as the command it
// names, not "unknown button"; an envelope delivered twice, or its
// payload again under a new envelope id, is acknowledged and acts once.
func TestSlackSocketModeButtonsAndRedeliveries(t *testing.T) {
	h, _ := newTestHandler(t, "[{name: Pia, email: pia@example.com, slack_id: U0PIA}]", "")
	h.socketOptions = []socketmode.Option{socketmode.OptionLog(log.New(testWriter{t}, "", 0))}
	ran := make(chan Command, 8)
	h.run = func(_ context.Context, c Command) Reply {
		ran <- c
		return Reply{Text: "done", Ephemeral: true}
	}
	slash := map[string]any{"command": "/ack", "text": "SEC-2026-0001", "user_id": "U0PIA", "trigger_id": "tslash", "team_id": "T1"}
	press := map[string]any{"type": "block_actions", "trigger_id": "tpress", "user": map[string]any{"id": "U0PIA"}, "response_url": "https://hooks.slack.com/actions/x",
		"actions": []map[string]any{{"action_id": "done:SEC-2026-0001", "value": "SEC-2026-0001", "type": "button", "block_id": "b1"}}}
	envelopes := []map[string]any{
		{"type": "slash_commands", "envelope_id": "e1", "accepts_response_payload": true, "payload": slash},
		{"type": "slash_commands", "envelope_id": "e1", "accepts_response_payload": true, "payload": slash, "retry_attempt": 1},
		{"type": "interactive", "envelope_id": "e2", "payload": press},
		{"type": "interactive", "envelope_id": "e2", "payload": press, "retry_attempt": 1},
		{"type": "interactive", "envelope_id": "e3", "payload": press},
	}
	acks := make(chan string, len(envelopes))
	up := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	mux := http.NewServeMux()
	var srv *httptest.Server
	mux.HandleFunc("/apps.connections.open", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"ok":true,"url":"ws` + strings.TrimPrefix(srv.URL, "http") + `/link"}`))
	})
	mux.HandleFunc("/link", func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		c.WriteJSON(map[string]any{"type": "hello", "num_connections": 1, "connection_info": map[string]any{"app_id": "A1"}})
		for _, env := range envelopes {
			c.WriteJSON(env)
			var ack map[string]any
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			if err := c.ReadJSON(&ack); err != nil {
				return
			}
			acks <- fmt.Sprint(ack["envelope_id"])
		}
		<-r.Context().Done()
	})
	srv = httptest.NewServer(mux)
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go h.RunSlackSocket(ctx, slack.New("xoxb-test", slack.OptionAPIURL(srv.URL+"/"), slack.OptionAppLevelToken("xapp-test")))
	for i, env := range envelopes {
		select {
		case got := <-acks:
			if got != env["envelope_id"] {
				t.Errorf("ack %d for envelope %s, want %s", i, got, env["envelope_id"])
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no acknowledgement %d over Socket Mode", i)
		}
	}
	var got []string
	for len(ran) > 0 {
		c := <-ran
		got = append(got, c.Name+" "+c.Incident+" "+c.RequestID)
	}
	if want := "[ack SEC-2026-0001 tslash done SEC-2026-0001 tpress]"; fmt.Sprint(got) != want {
		t.Errorf("commands carried out: %v, want %s", got, want)
	}
}
