package chatops

import (
	"context"
	"encoding/json"
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
