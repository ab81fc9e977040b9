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
}

func startChatCapture(dataDir string) (*chatCapture, string, error) {
	c := &chatCapture{dir: filepath.Join(dataDir, "chat")}
	if err := os.MkdirAll(c.dir, 0o700); err != nil {
		return nil, "", err
	}
	old, _ := filepath.Glob(filepath.Join(c.dir, "*.json"))
	c.next = len(old) + 1
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", fmt.Errorf("sandbox chat capture: %w", err)
	}
	c.srv = &http.Server{Handler: c, ReadHeaderTimeout: 10 * time.Second}
	go c.srv.Serve(ln)
	return c, "http://" + ln.Addr().String(), nil
}

func (c *chatCapture) ServeHTTP(w http.ResponseWriter, r *http.Request) {
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
			ts = fmt.Sprintf("%d.%06d", time.Now().Unix(), n)
		}
		if method == "chat.postMessage" {
			c.remember(slackHistoryFile, map[string]any{"channel": form.Get("channel"), "ts": ts, "metadata": rec["metadata"]})
		}
		json.NewEncoder(w).Encode(map[string]any{"ok": true, "channel": form.Get("channel"), "ts": ts})
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
			if old := c.discordNonce(parts[0], nonce); old != "" {
				id, op = old, "create-message-deduplicated"
			} else {
				c.remember(discordNonceFile, map[string]any{"channel": parts[0], "nonce": nonce, "id": id})
			}
		}
		c.keep(n, "discord-"+op, rec)
		json.NewEncoder(w).Encode(map[string]any{"id": id, "channel_id": parts[0]})
	default:
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"ok":false,"error":"unknown_method"}`)
	}
}

// The stand-ins' memory of what they made, kept under DATA/chat so that a
// restarted sandbox answers as the platforms would: Slack's channel
// history, Discord's nonces.
const (
	slackHistoryFile = "slack-channel-history.jsonl"
	discordNonceFile = "discord-nonces.jsonl"
)

func (c *chatCapture) remember(file string, rec map[string]any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f, err := os.OpenFile(filepath.Join(c.dir, file), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return
	}
	defer f.Close()
	b, _ := json.Marshal(rec)
	f.Write(append(b, '\n'))
	f.Sync()
}

func (c *chatCapture) recall(file string) []map[string]any {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, _ := os.ReadFile(filepath.Join(c.dir, file))
	var out []map[string]any
	for _, l := range strings.Split(string(b), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(l), &rec) == nil {
			out = append(out, rec)
		}
	}
	return out
}

// slackHistory is conversations.history: the channel's messages, newest
// first, with their metadata.
func (c *chatCapture) slackHistory(channel string) []map[string]any {
	all := c.recall(slackHistoryFile)
	out := []map[string]any{}
	for i := len(all) - 1; i >= 0; i-- {
		if all[i]["channel"] == channel {
			m := map[string]any{"type": "message", "ts": all[i]["ts"]}
			if md, ok := all[i]["metadata"]; ok && md != nil {
				m["metadata"] = md
			}
			out = append(out, m)
		}
	}
	return out
}

func (c *chatCapture) discordNonce(channel, nonce string) string {
	for _, rec := range c.recall(discordNonceFile) {
		if rec["channel"] == channel && rec["nonce"] == nonce {
			id, _ := rec["id"].(string)
			return id
		}
	}
	return ""
}

func (c *chatCapture) keep(n int, name string, rec any) {
	b, _ := json.MarshalIndent(rec, "", "  ")
	atomicfile.Write(filepath.Join(c.dir, fmt.Sprintf("%04d-%s.json", n, strings.ReplaceAll(name, "/", "_"))), append(b, '\n'), 0o600)
}
