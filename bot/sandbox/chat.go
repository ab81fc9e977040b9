package sandbox

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"tocsin/internal/atomicfile"
)

// chatCapture stands in for Slack's Web API and Discord's REST API: it
// answers as they do and keeps each request body as DATA/chat/*.json, so
// the sandbox shows what would have been posted.
type chatCapture struct {
	dir  string
	mu   sync.Mutex
	next int
	srv  *http.Server
	// busy is the sandbox's count of writes under way (Servers.Close).
	busy *inflight
}

func startChatCapture(dataDir string, busy *inflight) (*chatCapture, string, error) {
	c := &chatCapture{dir: filepath.Join(dataDir, "chat"), busy: busy}
	if err := os.MkdirAll(c.dir, 0o700); err != nil {
		return nil, "", err
	}
	// Number on from the highest kept: a process killed between taking a
	// number and writing its file leaves a gap, so counting files would
	// reuse a number and overwrite a capture.
	old, _ := filepath.Glob(filepath.Join(c.dir, "*.json"))
	c.next = 1
	for _, f := range old {
		if n, err := strconv.Atoi(strings.SplitN(filepath.Base(f), "-", 2)[0]); err == nil && n >= c.next {
			c.next = n + 1
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", fmt.Errorf("sandbox chat capture: %w", err)
	}
	c.srv = &http.Server{Handler: c, ReadHeaderTimeout: 10 * time.Second}
	go c.srv.Serve(ln)
	return c, "http://" + ln.Addr().String(), nil
}

func (c *chatCapture) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !c.busy.enter() {
		http.Error(w, "sandbox closing", http.StatusServiceUnavailable)
		return
	}
	defer c.busy.leave()
	hookWrite()
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	c.mu.Lock()
	n := c.next
	c.next++
	c.mu.Unlock()
	switch {
	case r.URL.Path == "/slack/api/conversations.history":
		form, _ := url.ParseQuery(string(body))
		json.NewEncoder(w).Encode(map[string]any{"ok": true, "messages": c.slackHistory(form.Get("channel"))})
	case r.URL.Path == "/slack/api/conversations.open":
		// The app's direct conversation with a user: its id derived from
		// theirs, as for Discord.
		form, _ := url.ParseQuery(string(body))
		json.NewEncoder(w).Encode(map[string]any{"ok": true, "channel": map[string]any{"id": "D" + form.Get("users")}})
	case r.URL.Path == "/slack/api/views.open":
		// A modal (JSON, not a form): kept as sent.
		var rec map[string]any
		json.Unmarshal(body, &rec)
		c.keep(n, "slack-views.open", rec)
		json.NewEncoder(w).Encode(map[string]any{"ok": true, "view": map[string]any{"id": fmt.Sprintf("V%04d", n)}})
	case strings.HasPrefix(r.URL.Path, "/slack/api/"):
		method := strings.TrimPrefix(r.URL.Path, "/slack/api/")
		form, _ := url.ParseQuery(string(body))
		// Slack's Web API takes form fields; blocks and metadata are JSON
		// inside one.
		rec := map[string]any{}
		for k := range form {
			var v any
			if (k == "blocks" || k == "metadata") && json.Unmarshal([]byte(form.Get(k)), &v) == nil {
				rec[k] = v
			} else {
				rec[k] = form.Get(k)
			}
		}
		c.keep(n, "slack-"+method, rec)
		ts := form.Get("ts")
		if ts == "" {
			ts = slackTS(n)
		}
		json.NewEncoder(w).Encode(map[string]any{"ok": true, "channel": form.Get("channel"), "ts": ts})
	case r.URL.Path == "/discord/api/v9/users/@me/channels":
		// Create DM: one channel per user, its id derived from theirs.
		var rec map[string]any
		json.Unmarshal(body, &rec)
		user, _ := rec["recipient_id"].(string)
		c.keep(n, "discord-open-dm", rec)
		json.NewEncoder(w).Encode(map[string]any{"id": "dm" + user, "type": 1, "recipients": []map[string]any{{"id": user}}})
	case r.Method == http.MethodPut && strings.HasPrefix(r.URL.Path, "/discord/api/v9/applications/"):
		// Bulk overwrite of the application's commands: kept, and echoed
		// as Discord answers (the commands with ids).
		var cmds []map[string]any
		json.Unmarshal(body, &cmds)
		c.keep(n, "discord-register-commands", map[string]any{"commands": cmds})
		for i := range cmds {
			cmds[i]["id"] = fmt.Sprintf("%d", 1300000000000000000+i)
		}
		json.NewEncoder(w).Encode(cmds)
	case strings.HasPrefix(r.URL.Path, "/webhook/"):
		// A pager: kept with the headers that matter to its receiver.
		rec := map[string]any{"body": string(body)}
		for _, h := range []string{"Title", "Priority", "Tags", "Click", "X-Tocsin-Signature", "X-Tocsin-Timestamp"} {
			if v := r.Header.Get(h); v != "" {
				rec[h] = v
			}
		}
		c.keep(n, "webhook-"+strings.TrimPrefix(r.URL.Path, "/webhook/"), rec)
		io.WriteString(w, `{"ok":true}`)
	case strings.HasPrefix(r.URL.Path, "/discord/api/v9/channels/"):
		parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/discord/api/v9/channels/"), "/")
		var rec map[string]any
		json.Unmarshal(body, &rec)
		id := fmt.Sprintf("%d", 1100000000000000000+n)
		op := "create-message"
		if r.Method == http.MethodPatch && len(parts) == 3 {
			id, op = parts[2], "edit-message"
		}
		if nonce, _ := rec["nonce"].(string); op == "create-message" && nonce != "" && rec["enforce_nonce"] == true {
			// As Discord does: the same nonce again returns the message
			// the first request created, and creates none.
			if old := c.discordNonce(nonce); old != "" {
				id, op = old, "create-message-deduplicated"
			}
		}
		c.keep(n, "discord-"+op, rec)
		json.NewEncoder(w).Encode(map[string]any{"id": id, "channel_id": parts[0]})
	default:
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"ok":false,"error":"unknown_method"}`)
	}
}

// The stand-ins remember what they made from the captures themselves, so
// that a sandbox killed at any moment answers after a restart as the
// platforms would: a capture is there exactly when the call was answered.

// slackTS is the timestamp the Slack stand-in gives capture n.
func slackTS(n int) string { return fmt.Sprintf("1700000000.%06d", n) }

// captures returns the kept captures named like *-NAME.json, in order,
// with their numbers.
func (c *chatCapture) captures(name string) (nums []int, recs []map[string]any) {
	files, _ := filepath.Glob(filepath.Join(c.dir, "*-"+name+".json"))
	sort.Strings(files)
	for _, f := range files {
		n, err := strconv.Atoi(strings.SplitN(filepath.Base(f), "-", 2)[0])
		if err != nil {
			continue
		}
		b, _ := os.ReadFile(f)
		var rec map[string]any
		if json.Unmarshal(b, &rec) == nil {
			nums, recs = append(nums, n), append(recs, rec)
		}
	}
	return nums, recs
}

// slackHistory is conversations.history: the channel's messages, newest
// first, with their metadata.
func (c *chatCapture) slackHistory(channel string) []map[string]any {
	nums, recs := c.captures("slack-chat.postMessage")
	out := []map[string]any{}
	for i := len(recs) - 1; i >= 0; i-- {
		// A message posted to a user id is in the direct conversation
		// conversations.open names "D"+user.
		if ch, _ := recs[i]["channel"].(string); ch == channel || "D"+ch == channel {
			m := map[string]any{"type": "message", "ts": slackTS(nums[i])}
			if md, ok := recs[i]["metadata"]; ok {
				m["metadata"] = md
			}
			out = append(out, m)
		}
	}
	return out
}

// discordNonce returns the id of the message created with nonce, or "".
func (c *chatCapture) discordNonce(nonce string) string {
	nums, recs := c.captures("discord-create-message")
	for i, rec := range recs {
		// Discord scopes a nonce to its channel; the sandbox has one
		// channel, and Tocsin's nonces name theirs.
		if rec["nonce"] == nonce {
			return fmt.Sprintf("%d", 1100000000000000000+nums[i])
		}
	}
	return ""
}

func (c *chatCapture) keep(n int, name string, rec any) {
	b, _ := json.MarshalIndent(rec, "", "  ")
	atomicfile.Write(filepath.Join(c.dir, fmt.Sprintf("%04d-%s.json", n, strings.ReplaceAll(name, "/", "_"))), append(b, '\n'), 0o600)
}
