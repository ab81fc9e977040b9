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
	case strings.HasPrefix(r.URL.Path, "/slack/api/"):
		method := strings.TrimPrefix(r.URL.Path, "/slack/api/")
		form, _ := url.ParseQuery(string(body))
		// Slack's Web API takes form fields; blocks is JSON inside one.
		rec := map[string]any{}
		for k := range form {
			var v any
			if k == "blocks" && json.Unmarshal([]byte(form.Get(k)), &v) == nil {
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
		json.NewEncoder(w).Encode(map[string]any{"ok": true, "channel": form.Get("channel"), "ts": ts})
	case strings.HasPrefix(r.URL.Path, "/discord/api/v9/channels/"):
		parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/discord/api/v9/channels/"), "/")
		var rec any
		json.Unmarshal(body, &rec)
		id := fmt.Sprintf("%d", 1100000000000000000+n)
		op := "create-message"
		if r.Method == http.MethodPatch && len(parts) == 3 {
			id, op = parts[2], "edit-message"
		}
		c.keep(n, "discord-"+op, rec)
		json.NewEncoder(w).Encode(map[string]any{"id": id, "channel_id": parts[0]})
	default:
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"ok":false,"error":"unknown_method"}`)
	}
}

func (c *chatCapture) keep(n int, name string, rec any) {
	b, _ := json.MarshalIndent(rec, "", "  ")
	atomicfile.Write(filepath.Join(c.dir, fmt.Sprintf("%04d-%s.json", n, strings.ReplaceAll(name, "/", "_"))), append(b, '\n'), 0o600)
}
