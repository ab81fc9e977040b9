package bot_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message/mail"

	"tocsin/internal/printable"
	"tocsin/internal/printabletest"
)

// hostile is issue 15's finding.
const hostile = printabletest.Hostile

// encodedWord is s as an RFC 2047 encoded word, as a mail client writes a
// subject or display name it cannot send as ASCII.
func encodedWord(s string) string {
	return "=?utf-8?b?" + base64.StdEncoding.EncodeToString([]byte(s)) + "?="
}

// injected reports a line of text that the hostile string added: one that
// starts with what followed its CR LF.
func injected(text string) string {
	for _, l := range strings.Split(text, "\n") {
		if l = strings.TrimSpace(l); strings.HasPrefix(l, "Bcc:") || strings.HasPrefix(l, "Answer reference: 0123456789") {
			return l
		}
	}
	return ""
}

// TestHostileTextIsInertEverywhere (issue 15, section 7): a report whose
// subject, sender name and body carry the hostile string, assigned and
// noted in chat, reaches every output only through package printable: the
// /assign mail body and the acknowledgement's subject and To name, the
// chat cards and call-tree direct messages, the desk's pages (the audit
// entries among them) keep none of its control characters, bidi overrides
// or injected lines.
func TestHostileTextIsInertEverywhere(t *testing.T) {
	d, _ := startTreeSandbox(t, nil)
	d.sendMail("rita@example.org", report(encodedWord("Rita "+hostile)+" <rita@example.org>", "esc1@example.org", encodedWord("XSS in www.sandbox.test "+hostile), "Steps: "+hostile))
	d.waitIncidents(1)
	id := d.incidents()[0].ID
	slack := func(command, text, trigger string) string {
		_, out, _ := d.slackPost("/slack/commands", url.Values{"command": {command}, "text": {text}, "user_id": {"U0TARA"}, "trigger_id": {trigger}}, time.Now(), "")
		return out["text"].(string)
	}
	if got := slack("/assign", id+" <@U0WES|wes>", "esc-a"); !strings.Contains(got, "Wes Web is responsible") {
		t.Fatalf("/assign: %q", got)
	}
	if got := slack("/note", id+" "+hostile, "esc-n"); !strings.Contains(got, "Noted") {
		t.Fatalf("/note: %q", got)
	}

	t.Run("mail body", func(t *testing.T) {
		var body string
		eventually(t, "the /assign mail to wes", 10*time.Second, func() bool {
			for _, m := range d.pagedTo("wes@sandbox.test") {
				if text := decodedText(t, m); strings.Contains(text, "verantwortlich gemacht") { // wes reads German
					body = strings.ReplaceAll(text, "\r\n", "\n") // the mail's line ends
				}
			}
			return body != ""
		})
		if bad := printable.Unsafe(body); bad != "" {
			t.Errorf("the /assign mail body keeps %s:\n%q", bad, body)
		}
		if l := injected(body); l != "" {
			t.Errorf("the /assign mail body has an injected line %q", l)
		}
		if !strings.Contains(body, printabletest.Shown) {
			t.Errorf("the /assign mail body does not show the subject's escapes: %q", body)
		}
	})

	t.Run("mail header", func(t *testing.T) {
		var raw []byte
		eventually(t, "the acknowledgement to rita", 10*time.Second, func() bool {
			raw = nil
			for _, m := range d.sent() {
				if strings.Trim(headerOf(m, "X-Sandbox-Envelope-To"), "<>") == "rita@example.org" {
					raw = m
				}
			}
			return raw != nil
		})
		mr, err := mail.CreateReader(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		subject, err := mr.Header.Subject()
		if err != nil || !strings.Contains(subject, "Received") {
			t.Fatalf("subject %q: %v", subject, err)
		}
		to, err := mr.Header.AddressList("To")
		if err != nil || len(to) != 1 || to[0].Address != "rita@example.org" {
			t.Fatalf("To %v: %v", to, err)
		}
		for field, v := range map[string]string{"Subject": subject, "To name": to[0].Name} {
			if bad := printable.Unsafe(v); bad != "" || strings.ContainsAny(v, "\r\n") {
				t.Errorf("%s %q keeps %s or a line break", field, v, bad)
			}
		}
		for _, h := range []string{"Bcc", "Cc", "Answer reference"} {
			if v := headerOf(raw, h); v != "" {
				t.Errorf("injected header %s: %q", h, v)
			}
		}
	})

	t.Run("cards and direct messages", func(t *testing.T) {
		eventually(t, "the Slack and Discord cards and pages", 10*time.Second, func() bool {
			return d.chatCaptures("slack-chat.postMessage", "pwned") >= 2 && d.chatCaptures("discord-create-message", "pwned") >= 2
		})
		files, _ := filepath.Glob(filepath.Join(d.cfg.DataDir, "chat", "*.json"))
		seen := 0
		for _, f := range files {
			b, _ := os.ReadFile(f)
			var v any
			if err := json.Unmarshal(b, &v); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			for _, s := range chatStrings(v) {
				if !strings.Contains(s, "pwned") {
					continue
				}
				seen++
				// The posters break mentions with a zero-width space: that one
				// is theirs, the rest must be gone.
				if bad := printable.Unsafe(strings.ReplaceAll(s, "\u200b", "")); bad != "" || strings.Contains(s, "\n"+"Bcc:") {
					t.Errorf("%s keeps %s: %q", filepath.Base(f), bad, s)
				}
				for _, ping := range []string{"<!channel>", "@everyone"} {
					if strings.Contains(s, ping) {
						t.Errorf("%s can ping %s: %q", filepath.Base(f), ping, s)
					}
				}
			}
		}
		if seen == 0 {
			t.Error("no chat message quoted the subject")
		}
	})

	t.Run("chat replies", func(t *testing.T) {
		// /status quotes the subject back to the channel, on both platforms.
		replies := map[string]string{"slack": slack("/status", id, "esc-s")}
		_, out := d.discordPost(map[string]any{"type": 2, "id": "esc-d", "data": map[string]any{"name": "status", "options": []map[string]any{{"name": "id", "type": 3, "value": id}}},
			"member": map[string]any{"user": map[string]any{"id": "300000000000000002"}}}, time.Now())
		if data, ok := out["data"].(map[string]any); ok {
			replies["discord"], _ = data["content"].(string)
		}
		for platform, got := range replies {
			if !strings.Contains(got, "pwned") {
				t.Errorf("%s /status does not quote the subject: %q", platform, got)
			}
			if bad := printable.Unsafe(strings.ReplaceAll(got, "\u200b", "")); bad != "" || strings.Contains(got, "<!channel>") || strings.Contains(got, "@everyone") {
				t.Errorf("%s /status keeps %s or a broadcast: %q", platform, bad, got)
			}
		}
	})

	t.Run("pages", func(t *testing.T) {
		for _, path := range []string{"/", "/incidents/" + id} {
			code, page := d.deskPage(path)
			if code != 200 || !strings.Contains(page, "pwned") {
				t.Fatalf("%s: %d, the subject not shown", path, code)
			}
			if bad := printable.Unsafe(page); bad != "" {
				t.Errorf("%s keeps %s", path, bad)
			}
		}
		// The audit entry of the /note shows it, escaped like the rest.
		if _, page := d.deskPage("/incidents/" + id); strings.Count(page, printabletest.Shown) < 3 {
			t.Errorf("the incident page does not show the subject, the report and the note with their escapes visible")
		}
	})
}

// chatStrings is every string in a decoded chat capture.
func chatStrings(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, e := range v {
			out = append(out, chatStrings(e)...)
		}
		return out
	case map[string]any:
		var out []string
		for _, e := range v {
			out = append(out, chatStrings(e)...)
		}
		return out
	}
	return nil
}
