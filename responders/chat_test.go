package responders

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack/slacktest"
)

// evil is a report subject written to ping everyone it can on both
// platforms, to smuggle a link, and (issue 15) to carry a screen clear, an
// OSC title, a C1 CSI and a CR LF.
const evil = "<!channel> <!here> @everyone @Here <@U024BE7LH> <!subteam^SAZ94GDB8> <@&123456789012345678> <#C024BE7LR> " +
	"<https://evil.example/login|Reset your password> [click](https://evil.example) *urgent* `x` \u202eevil\u202c" +
	" \x1b[2J\x1b]0;title\x07 \u009b31m\r\nBcc: x"

// inert are the characters no chat text may keep (issue 15): ESC, BEL,
// the C1 CSI, CR and the right-to-left override.
var inert = []string{"\x1b", "\x07", "\u009b", "\r", "\u202e"}

func evilCard() Card {
	return Card{IncidentID: "SEC-2026-0042", Summary: evil, Priority: "P1", Definition: "critical", Category: "incident",
		Status: "new", Reporter: "@channel <mallory@evil.example>", Opened: time.Date(2026, 11, 23, 9, 15, 0, 0, time.UTC),
		Messages: 1, URL: "https://desk.example.com/incidents/SEC-2026-0042", Version: 1}
}

// pingsIn lists every way text could still notify or link in Slack.
func slackPings(text string) []string {
	var found []string
	for _, bad := range append([]string{"<!", "<@", "<#", "<http", "@channel", "@here", "@everyone", "@Here"}, inert...) {
		if strings.Contains(text, bad) {
			found = append(found, bad)
		}
	}
	return found
}

type slackCall struct {
	method string
	form   url.Values
}

func slackServer(t *testing.T, respond func(method string, w http.ResponseWriter) bool) (*slacktest.Server, *[]slackCall) {
	var mu sync.Mutex
	var calls []slackCall
	handler := func(method string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			r.ParseForm()
			mu.Lock()
			calls = append(calls, slackCall{method, r.PostForm})
			mu.Unlock()
			if respond != nil && respond(method, w) {
				return
			}
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"ok":true,"channel":"`+r.PostForm.Get("channel")+`","ts":"1700000000.000100"}`)
		}
	}
	ts := slacktest.NewTestServer(func(c slacktest.Customize) {
		c.Handle("/chat.postMessage", handler("chat.postMessage"))
		c.Handle("/chat.update", handler("chat.update"))
		c.Handle("/conversations.open", func(w http.ResponseWriter, r *http.Request) {
			r.ParseForm()
			mu.Lock()
			calls = append(calls, slackCall{"conversations.open", r.PostForm})
			mu.Unlock()
			json.NewEncoder(w).Encode(map[string]any{"ok": true, "channel": map[string]any{"id": "D" + r.PostForm.Get("users")}})
		})
		// conversations.history with the posted messages' metadata, as
		// Slack answers with include_all_metadata.
		c.Handle("/conversations.history", func(w http.ResponseWriter, r *http.Request) {
			r.ParseForm()
			mu.Lock()
			calls = append(calls, slackCall{"conversations.history", r.PostForm})
			var msgs []map[string]any
			for i, c := range calls {
				if c.method == "chat.postMessage" {
					var md any
					json.Unmarshal([]byte(c.form.Get("metadata")), &md)
					msgs = append([]map[string]any{{"type": "message", "ts": fmt.Sprintf("1700000000.%06d", i), "metadata": md}}, msgs...)
				}
			}
			mu.Unlock()
			json.NewEncoder(w).Encode(map[string]any{"ok": true, "messages": msgs})
		})
	})
	ts.Start()
	t.Cleanup(ts.Stop)
	return ts, &calls
}

// TestSlackCardCannotPing: a malicious subject reaches Slack with every
// mention and link made inert; the card has Acknowledge, Done and Escalate buttons; an
// update edits the same message.
func TestSlackCardCannotPing(t *testing.T) {
	ts, calls := slackServer(t, nil)
	s := NewSlack("xoxb-test", ts.GetAPIURL())
	ref, err := s.Post(context.Background(), "C0TOCSIN", evilCard())
	if err != nil {
		t.Fatal(err)
	}
	if ref != "C0TOCSIN/1700000000.000100" {
		t.Errorf("ref %q", ref)
	}
	c := evilCard()
	c.Status = "acknowledged"
	if err := s.Update(context.Background(), ref, c); err != nil {
		t.Fatal(err)
	}
	if len(*calls) != 2 || (*calls)[0].method != "chat.postMessage" || (*calls)[1].method != "chat.update" || (*calls)[1].form.Get("ts") != "1700000000.000100" {
		t.Fatalf("calls %+v", *calls)
	}
	for _, call := range *calls {
		var blocks any
		if err := json.Unmarshal([]byte(call.form.Get("blocks")), &blocks); err != nil {
			t.Fatalf("blocks: %v", err)
		}
		var texts []string
		var walk func(any)
		walk = func(v any) {
			switch v := v.(type) {
			case map[string]any:
				if v["type"] == "mrkdwn" && v["text"] != nil && !strings.HasPrefix(v["text"].(string), "<https://desk.example.com/") {
					if v["verbatim"] != true {
						t.Errorf("mrkdwn text without verbatim: %v", v["text"])
					}
					texts = append(texts, v["text"].(string))
				}
				if v["type"] == "plain_text" {
					texts = append(texts, v["text"].(string))
				}
				for _, x := range v {
					walk(x)
				}
			case []any:
				for _, x := range v {
					walk(x)
				}
			}
		}
		walk(blocks)
		texts = append(texts, call.form.Get("text"))
		for _, text := range texts {
			if bad := slackPings(text); len(bad) > 0 {
				t.Errorf("%s: %q still has %q", call.method, text, bad)
			}
		}
		all := strings.Join(texts, "\n")
		for _, want := range []string{"&lt;!channel&gt;", "SEC-2026-0042", "Ack", "Escalate"} {
			if !strings.Contains(all, want) {
				t.Errorf("%s lacks %q", call.method, want)
			}
		}
		if call.form.Get("unfurl_links") != "false" || call.form.Get("unfurl_media") != "false" {
			t.Errorf("%s unfurls links", call.method)
		}
		for _, action := range []string{"ack", "done", "escalate"} {
			if !strings.Contains(call.form.Get("blocks"), `"action_id":"`+action+`:SEC-2026-0042","value":"SEC-2026-0042"`) {
				t.Errorf("%s has no %s button for the incident: %s", call.method, action, call.form.Get("blocks"))
			}
		}
	}
}

// TestSlackFindsItsCard: a card carries metadata naming its incident, and
// Find recognises it in the channel's history, as after a crash between
// Slack's answer and our record of it.
func TestSlackFindsItsCard(t *testing.T) {
	ts, calls := slackServer(t, nil)
	s := NewSlack("xoxb-test", ts.GetAPIURL())
	if ref, err := s.Find(context.Background(), "C0TOCSIN", "SEC-2026-0042"); err != nil || ref != "" {
		t.Fatalf("Find before any post: %q, %v", ref, err)
	}
	if _, err := s.Post(context.Background(), "C0TOCSIN", evilCard()); err != nil {
		t.Fatal(err)
	}
	var md struct {
		EventType    string         `json:"event_type"`
		EventPayload map[string]any `json:"event_payload"`
	}
	json.Unmarshal([]byte((*calls)[1].form.Get("metadata")), &md)
	if md.EventType != "tocsin_incident_card" || md.EventPayload["incident"] != "SEC-2026-0042" {
		t.Errorf("metadata %+v", md)
	}
	ref, err := s.Find(context.Background(), "C0TOCSIN", "SEC-2026-0042")
	if err != nil || ref != "C0TOCSIN/1700000000.000001" {
		t.Errorf("Find after the post: %q, %v", ref, err)
	}
	if ref, _ := s.Find(context.Background(), "C0TOCSIN", "SEC-2026-0043"); ref != "" {
		t.Errorf("Find of another incident: %q", ref)
	}
	if (*calls)[2].form.Get("include_all_metadata") != "1" {
		t.Errorf("history asked without metadata: %v", (*calls)[2].form)
	}
}

func TestSlackErrors(t *testing.T) {
	ts, _ := slackServer(t, func(method string, w http.ResponseWriter) bool {
		if method == "chat.postMessage" {
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(http.StatusTooManyRequests)
			return true
		}
		io.WriteString(w, `{"ok":false,"error":"channel_not_found"}`)
		return true
	})
	s := NewSlack("xoxb-test", ts.GetAPIURL())
	_, err := s.Post(context.Background(), "C0TOCSIN", evilCard())
	var se *SendError
	if !errors.As(err, &se) || !se.Temporary || se.RetryAfter != 7*time.Second {
		t.Errorf("429: got %#v, want temporary with RetryAfter 7s", err)
	}
	err = s.Update(context.Background(), "C0TOCSIN/1.2", evilCard())
	if !errors.As(err, &se) || se.Temporary || !strings.Contains(err.Error(), "channel_not_found") {
		t.Errorf("channel_not_found: got %v, want permanent", err)
	}
}

// discordAPI is a local server speaking Discord's REST API for channel
// messages.
type discordAPI struct {
	mu       sync.Mutex
	requests []string // "METHOD PATH"
	bodies   []map[string]any
	status   int // non-zero: answer with this
	body     string
}

func (d *discordAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body map[string]any
	json.NewDecoder(r.Body).Decode(&body)
	d.mu.Lock()
	d.requests = append(d.requests, r.Method+" "+r.URL.Path)
	d.bodies = append(d.bodies, body)
	status, reply := d.status, d.body
	d.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if r.Header.Get("Authorization") != "Bot discord-token" {
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"message": "401: Unauthorized", "code": 0}`)
		return
	}
	if status != 0 {
		w.WriteHeader(status)
		io.WriteString(w, reply)
		return
	}
	if r.URL.Path == "/api/v9/users/@me/channels" {
		// Create DM: the channel with the recipient, as Discord answers.
		json.NewEncoder(w).Encode(map[string]any{"id": "1300000000000000001", "type": 1,
			"recipients": []map[string]any{{"id": body["recipient_id"], "username": "alice"}}})
		return
	}
	parts := strings.Split(r.URL.Path, "/")
	id := "1100000000000000001"
	if r.Method == http.MethodPatch {
		id = parts[len(parts)-1]
	}
	json.NewEncoder(w).Encode(map[string]any{"id": id, "channel_id": parts[4], "content": ""})
}

func TestDiscordCardCannotPing(t *testing.T) {
	api := &discordAPI{}
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	d, err := NewDiscord("discord-token", srv.URL+"/api/v9/")
	if err != nil {
		t.Fatal(err)
	}
	ref, err := d.Post(context.Background(), "900000000000000001", evilCard())
	if err != nil {
		t.Fatal(err)
	}
	if ref != "900000000000000001/1100000000000000001" {
		t.Errorf("ref %q", ref)
	}
	if err := d.Update(context.Background(), ref, evilCard()); err != nil {
		t.Fatal(err)
	}
	want := []string{"POST /api/v9/channels/900000000000000001/messages", "PATCH /api/v9/channels/900000000000000001/messages/1100000000000000001"}
	if strings.Join(api.requests, ",") != strings.Join(want, ",") {
		t.Fatalf("requests %v, want %v", api.requests, want)
	}
	// The create carries the incident's nonce, enforced, so that a repeat
	// after a crash returns the same message instead of a second card.
	if n := api.bodies[0]["nonce"]; n != CardNonce("900000000000000001", "SEC-2026-0042") || len(n.(string)) > 25 || api.bodies[0]["enforce_nonce"] != true {
		t.Errorf("create: nonce %v enforce_nonce %v", n, api.bodies[0]["enforce_nonce"])
	}
	for i, body := range api.bodies {
		am, _ := body["allowed_mentions"].(map[string]any)
		if parse, ok := am["parse"].([]any); !ok || len(parse) != 0 {
			t.Errorf("%s: allowed_mentions %v, want parse: []", api.requests[i], body["allowed_mentions"])
		}
		raw, _ := json.Marshal(body["embeds"])
		var embeds []struct {
			Title, Description string
			Fields             []struct{ Name, Value string }
		}
		json.Unmarshal(raw, &embeds)
		if len(embeds) != 1 {
			t.Fatalf("embeds %s", raw)
		}
		texts := []string{embeds[0].Title, embeds[0].Description}
		for _, f := range embeds[0].Fields {
			texts = append(texts, f.Value)
		}
		for _, text := range texts {
			for _, bad := range append([]string{"<@", "<#", "@everyone", "@here", "@Here", "@channel", "]("}, inert...) {
				if strings.Contains(text, bad) {
					t.Errorf("%s: %q still has %q", api.requests[i], text, bad)
				}
			}
		}
		if len([]rune(embeds[0].Title)) > 256 {
			t.Errorf("title of %d runes", len([]rune(embeds[0].Title)))
		}
		if c := string(mustJSON(body["components"])); !strings.Contains(c, `"custom_id":"ack:SEC-2026-0042"`) || !strings.Contains(c, `"custom_id":"done:SEC-2026-0042"`) {
			t.Errorf("no Acknowledge and Done buttons: %s", c)
		}
	}
}

func mustJSON(v any) []byte { b, _ := json.Marshal(v); return b }

func TestDiscordErrors(t *testing.T) {
	api := &discordAPI{status: http.StatusTooManyRequests, body: `{"message": "You are being rate limited.", "retry_after": 1.5, "global": false}`}
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	d, _ := NewDiscord("discord-token", srv.URL+"/api/v9/")
	_, err := d.Post(context.Background(), "900000000000000001", evilCard())
	var se *SendError
	if !errors.As(err, &se) || !se.Temporary || se.RetryAfter != 1500*time.Millisecond {
		t.Errorf("429: got %v, want temporary with RetryAfter 1.5s", err)
	}
	api.status, api.body = http.StatusForbidden, `{"message": "Missing Access", "code": 50001}`
	_, err = d.Post(context.Background(), "900000000000000001", evilCard())
	if !errors.As(err, &se) || se.Temporary || !strings.Contains(err.Error(), "Missing Access") {
		t.Errorf("403: got %v, want permanent saying Missing Access", err)
	}
}

func TestEscapingCapsWithoutBreakingEscapes(t *testing.T) {
	long := strings.Repeat("a&", 200)
	if got := slackText(long, 101); len([]rune(got)) > 101 || strings.HasSuffix(strings.TrimSuffix(got, "…"), "&am") || !strings.HasSuffix(got, "…") {
		t.Errorf("slack cap: %q", got[len(got)-20:])
	}
	got := discordText(strings.Repeat("a*", 200), 101)
	if len([]rune(got)) > 101 || strings.HasSuffix(strings.TrimSuffix(got, "…"), `a\`) {
		t.Errorf("discord cap left half an escape: %q", got[len(got)-20:])
	}
	if got := discordText("line one\nline two\x00", 100); got != "line one line two␀" { // NUL made visible
		t.Errorf("controls: %q", got)
	}
}

// TestDirectMessagesCannotPing: a direct message (a page) reaches the one
// user it is for, in Slack by their user id and in Discord through the DM
// channel Discord opens, and report text in it notifies nobody else.
func TestDirectMessagesCannotPing(t *testing.T) {
	ts, calls := slackServer(t, nil)
	s := NewSlack("xoxb-test", ts.GetAPIURL())
	if err := s.Direct(context.Background(), "U0ALICE", "SEC-2026-0042 needs you: "+evil, "k1", false); err != nil {
		t.Fatal(err)
	}
	if len(*calls) != 1 || (*calls)[0].method != "chat.postMessage" || (*calls)[0].form.Get("channel") != "U0ALICE" {
		t.Fatalf("slack calls %+v", *calls)
	}
	if text := (*calls)[0].form.Get("text"); !strings.Contains(text, "SEC-2026-0042") || len(slackPings(text)) > 0 {
		t.Errorf("slack DM text %q still pings: %v", text, slackPings(text))
	}

	// Sent again (Slack may have posted it before an earlier attempt
	// died): found by its key in the conversation, not posted twice; a
	// page under another key is posted.
	if err := s.Direct(context.Background(), "U0ALICE", "SEC-2026-0042 needs you", "k1", true); err != nil {
		t.Fatal(err)
	}
	if err := s.Direct(context.Background(), "U0ALICE", "SEC-2026-0043 needs you", "k2", true); err != nil {
		t.Fatal(err)
	}
	var posts []string
	for _, c := range *calls {
		if c.method == "chat.postMessage" {
			posts = append(posts, c.form.Get("text"))
		}
	}
	if len(posts) != 2 || !strings.Contains(posts[1], "SEC-2026-0043") {
		t.Errorf("after two retried pages (one already sent) Slack got posts %q; want the first page once and the second", posts)
	}
	if (*calls)[1].method != "conversations.open" || (*calls)[1].form.Get("users") != "U0ALICE" {
		t.Errorf("the retry did not look in the direct conversation first: %+v", (*calls)[1])
	}

	api := &discordAPI{}
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	d, _ := NewDiscord("discord-token", srv.URL+"/api/v9/")
	if err := d.Direct(context.Background(), "200000000000000001", "SEC-2026-0042 needs you: "+evil, "k1", false); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(api.requests) != "[POST /api/v9/users/@me/channels POST /api/v9/channels/1300000000000000001/messages]" {
		t.Fatalf("discord requests %v", api.requests)
	}
	if api.bodies[0]["recipient_id"] != "200000000000000001" {
		t.Errorf("DM opened with %v", api.bodies[0])
	}
	msg := api.bodies[1]
	if n, _ := msg["nonce"].(string); n == "" || msg["enforce_nonce"] != true {
		t.Errorf("DM without an enforced nonce: %v", msg)
	}
	am, _ := msg["allowed_mentions"].(map[string]any)
	if parse, ok := am["parse"].([]any); !ok || len(parse) != 0 {
		t.Errorf("allowed_mentions %v, want parse: []", msg["allowed_mentions"])
	}
	if content, _ := msg["content"].(string); !strings.Contains(content, "needs you") || strings.Contains(content, "@everyone") || strings.Contains(content, "](https") || strings.ContainsAny(content, strings.Join(inert, "")) {
		t.Errorf("discord DM content %q", content)
	}
}
