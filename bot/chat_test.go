package bot_test

import (
	"database/sql"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack/slacktest"

	"tocsin/bot"
	"tocsin/config"
)

type chatCall struct {
	at   time.Time
	op   string
	body string
}

type chatLog struct {
	mu    sync.Mutex
	calls []chatCall
}

func (l *chatLog) add(op, body string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, chatCall{time.Now(), op, body})
	return len(l.calls)
}

func (l *chatLog) get() []chatCall {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]chatCall(nil), l.calls...)
}

// TestIncidentCardsInSlackAndDiscord: with both platforms configured, an
// incident becomes one card on each, edited in place when a reply is
// threaded; Slack's 429 is honoured (the retry waits Retry-After); a
// subject written to ping everyone pings no one.
func TestIncidentCardsInSlackAndDiscord(t *testing.T) {
	var slackLog, discordLog chatLog
	slackAPI := slacktest.NewTestServer(func(c slacktest.Customize) {
		for _, m := range []string{"chat.postMessage", "chat.update"} {
			c.Handle("/"+m, func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				n := slackLog.add(m, string(b))
				if n == 1 { // the first call meets a rate limit
					w.Header().Set("Retry-After", "3")
					w.WriteHeader(http.StatusTooManyRequests)
					return
				}
				form, _ := url.ParseQuery(string(b))
				json.NewEncoder(w).Encode(map[string]any{"ok": true, "channel": form.Get("channel"), "ts": "1700000000.000100"})
			})
		}
	})
	slackAPI.Start()
	t.Cleanup(slackAPI.Stop)
	discordAPI := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		discordLog.add(r.Method+" "+r.URL.Path, string(b))
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":"1200000000000000001","channel_id":"900000000000000001"}`)
	}))
	t.Cleanup(discordAPI.Close)

	cfg := bot.SandboxConfig(t.TempDir(), "127.0.0.1:0")
	cfg.Slack = &config.Slack{Token: config.Secret{Password: "xoxb-test"}, Channel: "C0DESK", APIURL: slackAPI.GetAPIURL()}
	cfg.Discord = &config.Discord{Token: config.Secret{Password: "tok"}, ChannelID: "900000000000000001", APIURL: discordAPI.URL + "/api/v9/"}
	cfg.Playbooks = []config.Playbook{} // the card, without a call tree's pages
	d := startDaemon(t, cfg)

	evil := "<!channel> @here <@U024BE7LH> <!subteam^SAZ94GDB8> @everyone <@&1234> urgent: RCE in VPN"
	d.sendMail("eve@example.org", report("eve@example.org", "e1@example.org", evil, "Details follow."))
	eventually(t, "the Slack card after the rate limit", 15*time.Second, func() bool { return len(slackLog.get()) == 2 })
	calls := slackLog.get()
	if wait := calls[1].at.Sub(calls[0].at); wait < 2900*time.Millisecond {
		t.Errorf("retried after %v; Slack asked for 3s", wait)
	}
	id := d.incidents()[0].ID
	d.sendMail("eve@example.org", report("eve@example.org", "e2@example.org", "Re: ["+id+"] more", "PoC attached."))
	eventually(t, "the card updates", 15*time.Second, func() bool { return len(slackLog.get()) == 3 && len(discordLog.get()) == 2 })

	s, dc := slackLog.get(), discordLog.get()
	if s[2].op != "chat.update" || !strings.Contains(s[2].body, "ts=1700000000.000100") {
		t.Errorf("second Slack call %s %s, want chat.update of the first card", s[2].op, s[2].body)
	}
	if dc[0].op != "POST /api/v9/channels/900000000000000001/messages" || dc[1].op != "PATCH /api/v9/channels/900000000000000001/messages/1200000000000000001" {
		t.Errorf("Discord calls %q, %q; want a post, then an edit of it", dc[0].op, dc[1].op)
	}
	for _, c := range append(s[1:], dc...) {
		body := c.body
		if strings.HasPrefix(c.op, "chat.") {
			form, _ := url.ParseQuery(body)
			body = form.Get("blocks") + form.Get("text")
		}
		for _, bad := range []string{"<!channel>", "<!subteam", "<@U024BE7LH>", "<@&1234>", "@here", "@everyone"} {
			if strings.Contains(body, bad) {
				t.Errorf("%s carries %q: %s", c.op, bad, body)
			}
		}
		if !strings.Contains(body, "RCE in VPN") {
			t.Errorf("%s lacks the subject", c.op)
		}
	}
	if !strings.Contains(dc[1].body, `"Messages","value":"2"`) {
		t.Errorf("the edited Discord card does not count two messages: %s", dc[1].body)
	}
	// The outcome is recorded just after the platform answered.
	eventually(t, "the card metrics", 5*time.Second, func() bool {
		_, metrics := getBody(t, "http://"+d.addrs.HTTP+"/metrics")
		return strings.Contains(metrics, "tocsin_chat_cards_retried_total 1") && strings.Contains(metrics, "tocsin_chat_cards_sent_total 4")
	})
}

// TestCardAppearsOnceAfterCrash: the platforms answered a card post but
// the daemon died before recording it (simulated: the chat_cards row is
// gone and the outbox item is due again, as after a kill -9). The retry
// finds the card (Slack: message metadata in the channel history;
// Discord: the enforced nonce) and edits it: no second card.
func TestCardAppearsOnceAfterCrash(t *testing.T) {
	d := startSandbox(t)
	d.sendMail("ivy@example.org", report("ivy@example.org", "i1@example.org", "Stored XSS in comments", "details"))
	chatFiles := func(pattern string) int {
		f, _ := filepath.Glob(filepath.Join(d.cfg.DataDir, "chat", pattern))
		return len(f)
	}
	eventually(t, "both cards", 10*time.Second, func() bool {
		return chatFiles("*-slack-chat.postMessage.json") == 1 && chatFiles("*-discord-create-message.json") == 1
	})
	d.settled(1)
	db, err := sql.Open("sqlite", "file:"+filepath.Join(d.cfg.DataDir, "tocsin.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`DELETE FROM chat_cards`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE outbox SET state = 'pending', next_at = 0, done_at = 0 WHERE kind = 'card'`); err != nil {
		t.Fatal(err)
	}
	// A reply wakes the dispatcher and queues one more card update.
	d.sendMail("ivy@example.org", report("ivy@example.org", "i2@example.org", "Re: Stored XSS in comments", "more details", "In-Reply-To: <i1@example.org>"))
	eventually(t, "the card edits", 10*time.Second, func() bool {
		return chatFiles("*-slack-chat.update.json") >= 1 && chatFiles("*-discord-edit-message.json") >= 1
	})
	d.settled(2)
	if n := chatFiles("*-slack-chat.postMessage.json"); n != 1 {
		t.Errorf("%d Slack cards posted, want 1", n)
	}
	if n := chatFiles("*-discord-create-message.json"); n != 1 {
		t.Errorf("%d Discord cards created, want 1", n)
	}
	if n := chatFiles("*-discord-create-message-deduplicated.json"); n != 1 {
		t.Errorf("%d repeated Discord creates answered by nonce, want 1", n)
	}
}
