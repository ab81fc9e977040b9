package chatops

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"tocsin/responders"
)

// TestDiscordGateway: against a local server speaking Discord's gateway
// (Hello, Identify, READY, an INTERACTION_CREATE dispatch) and its REST
// callback, a command is answered through the callback by the same
// router, ephemeral and with no mentions.
func TestDiscordGateway(t *testing.T) {
	h, _ := newTestHandler(t, "[{name: Pia, email: pia@example.com, discord_id: \"200000000000000001\"}]", "")

	answers := make(chan map[string]any, 2)
	identified := make(chan bool, 1)
	up := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	var srv *httptest.Server
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v9/gateway", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"url":"ws` + strings.TrimPrefix(srv.URL, "http") + `/gw"}`))
	})
	mux.HandleFunc("POST /api/v9/interactions/{id}/{token}/callback", func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		b, _ := io.ReadAll(r.Body)
		json.Unmarshal(b, &body)
		body["path"] = r.URL.Path
		answers <- body
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("/gw/", func(w http.ResponseWriter, r *http.Request) { // discordgo asks for URL + "/?v=9&encoding=json"
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		c.WriteJSON(map[string]any{"op": 10, "d": map[string]any{"heartbeat_interval": 45000}})
		var identify map[string]any
		if c.ReadJSON(&identify) != nil || identify["op"] != 2.0 {
			return
		}
		d, _ := identify["d"].(map[string]any)
		identified <- d["token"] == "Bot discord-token"
		c.WriteJSON(map[string]any{"op": 0, "s": 1, "t": "READY", "d": map[string]any{"v": 10, "session_id": "s1",
			"user": map[string]any{"id": "1", "username": "tocsin"}, "guilds": []any{}, "application": map[string]any{"id": "99"}}})
		for i, user := range []string{"200000000000000001", "200000000000000999"} {
			c.WriteJSON(map[string]any{"op": 0, "s": 2 + i, "t": "INTERACTION_CREATE", "d": map[string]any{
				"id": []string{"500", "501"}[i], "application_id": "99", "type": 2, "token": "tok" + user, "version": 1,
				"data":   map[string]any{"id": "700", "name": "help", "type": 1},
				"member": map[string]any{"user": map[string]any{"id": user, "username": "u"}}}})
		}
		for {
			if _, _, err := c.ReadMessage(); err != nil { // heartbeats, until the desk closes
				return
			}
		}
	})
	srv = httptest.NewServer(mux)
	defer srv.Close()
	d, err := responders.NewDiscord("discord-token", srv.URL+"/api/v9/")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go h.RunDiscordGateway(ctx, d.Session())
	select {
	case ok := <-identified:
		if !ok {
			t.Fatal("identified without the bot token")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the desk never identified on the gateway")
	}
	// discordgo runs handlers concurrently: the answers may come in either
	// order; each is known by its interaction's id in the callback's path.
	want := map[string]string{"500": "/ack \\[ID\\]", "501": "not on this desk's roster"}
	for range 2 {
		select {
		case a := <-answers:
			data, _ := a["data"].(map[string]any)
			content, _ := data["content"].(string)
			content = strings.ReplaceAll(content, "\u200b", "")
			path, _ := a["path"].(string)
			id := strings.Split(strings.TrimPrefix(path, "/api/v9/interactions/"), "/")[0]
			if a["type"] != 4.0 || data["flags"] != 64.0 || want[id] == "" || !strings.Contains(content, want[id]) {
				t.Errorf("answer to %s: %v, want %q", id, a, want[id])
			}
			delete(want, id)
		case <-time.After(10 * time.Second):
			t.Fatalf("no answer through the REST callback; still waiting for %v", want)
		}
	}
}
