package bot_test

import (
	"crypto/ed25519"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"tocsin/bot"
	"tocsin/bot/chatops"
	"tocsin/internal/gpgtest"
)

// slackPost posts a form to a Slack endpoint signed as Slack would (at
// at, with the sandbox's signing secret unless secret is given).
func (d *daemon) slackPost(path string, form url.Values, at time.Time, secret string) (int, map[string]any, http.Header) {
	d.t.Helper()
	if secret == "" {
		secret = d.info.SlackSigningSecret
	}
	body := []byte(form.Encode())
	ts, sig := chatops.SignSlack(secret, body, at)
	return d.chatPost(path, body, "application/x-www-form-urlencoded", http.Header{"X-Slack-Request-Timestamp": {ts}, "X-Slack-Signature": {sig}})
}

func (d *daemon) chatPost(path string, body []byte, ct string, h http.Header) (int, map[string]any, http.Header) {
	d.t.Helper()
	req, _ := http.NewRequest("POST", "http://"+d.addrs.HTTP+path, strings.NewReader(string(body)))
	req.Header = h
	req.Header.Set("Content-Type", ct)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		d.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out map[string]any
	json.Unmarshal(b, &out)
	return resp.StatusCode, out, h
}

// discordPost posts an interaction signed with the sandbox's application
// key, as Discord would.
func (d *daemon) discordPost(v any, at time.Time) (int, map[string]any) {
	d.t.Helper()
	seed, _ := hex.DecodeString(d.info.DiscordPrivateKey)
	body, _ := json.Marshal(v)
	ts, sig := chatops.SignDiscord(ed25519.NewKeyFromSeed(seed), body, at)
	code, out, _ := d.chatPost("/discord/interactions", body, "application/json", http.Header{"X-Signature-Timestamp": {ts}, "X-Signature-Ed25519": {sig}})
	return code, out
}

// TestChatCommandsAndButtons: the team member on call acknowledges with
// /ack in Slack, the unit contact with the card's button in Discord; a
// forged, a stale and a replayed request are refused with 401 and change
// nothing; someone not linked to the roster, or not on the team for
// /close, gets an ephemeral refusal that is audited.
func TestChatCommandsAndButtons(t *testing.T) {
	d, _ := startTreeSandbox(t, nil)
	id := d.firstReport("chat1@example.org", "Ransomware on pay.sandbox.test, actively exploited", "Ransom notes.")
	tr := d.waitState(id, "team-alerted", "notified")
	primary := tr.step("team-alerted").Notified[0]
	slackIDs := map[string]string{"tara@sandbox.test": "U0TARA", "theo@sandbox.test": "U0THEO"}
	ack := url.Values{"command": {"/ack"}, "text": {""}, "user_id": {slackIDs[primary]}, "trigger_id": {"t1"}, "response_url": {"https://hooks.slack.com/x"}}

	// Refused: another secret, ten minutes old, a PING signed by another key.
	if code, _, _ := d.slackPost("/slack/commands", ack, time.Now(), "not-the-secret"); code != 401 {
		t.Errorf("forged Slack request: %d", code)
	}
	if code, _, _ := d.slackPost("/slack/commands", ack, time.Now().Add(-10*time.Minute), ""); code != 401 {
		t.Errorf("stale Slack request: %d", code)
	}
	_, other, _ := ed25519.GenerateKey(nil)
	body, _ := json.Marshal(map[string]any{"type": 1})
	ts, sig := chatops.SignDiscord(other, body, time.Now())
	if code, _, _ := d.chatPost("/discord/interactions", body, "application/json", http.Header{"X-Signature-Timestamp": {ts}, "X-Signature-Ed25519": {sig}}); code != 401 {
		t.Errorf("Discord request signed by another key: %d", code)
	}
	if code, _ := d.discordPost(map[string]any{"type": 1, "id": "old"}, time.Now().Add(-10*time.Minute)); code != 401 {
		t.Errorf("Discord request signed ten minutes ago: %d", code)
	}
	if s := d.tree(id).step("team-alerted"); s.State != "notified" {
		t.Fatalf("a refused request changed the tree: %+v", s)
	}
	if n := d.metric("tocsin_chat_requests_refused_total"); n != 4 {
		t.Errorf("%v refusals counted, want 4", n)
	}
	if code, out := d.discordPost(map[string]any{"type": 1, "id": "p1"}, time.Now()); code != 200 || out["type"] != 1.0 {
		t.Errorf("Discord PING: %d %v", code, out)
	}

	// Someone not linked: refused, audited.
	stranger := url.Values{"command": {"/tocsin"}, "text": {"ack " + id}, "user_id": {"U0NOBODY"}, "trigger_id": {"t0"}}
	if code, out, _ := d.slackPost("/slack/commands", stranger, time.Now(), ""); code != 200 || out["response_type"] != "ephemeral" || !strings.Contains(out["text"].(string), "not on this desk") {
		t.Errorf("unlinked user: %d %v", code, out)
	}

	// The team member on call: /ack without an id is about their open step.
	code, out, h := d.slackPost("/slack/commands", ack, time.Now(), "")
	if code != 200 || out["response_type"] != "in_channel" || !strings.Contains(out["text"].(string), "acknowledged") {
		t.Fatalf("/ack: %d %v", code, out)
	}
	tr = d.waitState(id, "team-alerted", "acknowledged")
	if fmt.Sprint(tr.step("team-alerted").AckedBy) != "["+primary+"]" {
		t.Errorf("acked_by %v", tr.step("team-alerted").AckedBy)
	}
	var raw struct {
		Audit []struct {
			Action, Platform string
			RequestID        string `json:"request_id"`
		} `json:"audit"`
	}
	d.api("GET", "/api/v1/incidents/"+id, nil, &raw)
	typed := false
	for _, a := range raw.Audit {
		typed = typed || a.Action == "step-ack" && a.Platform == "slack" && a.RequestID == "t1"
	}
	if !typed {
		t.Errorf("the /ack's audit entry does not name its platform and request: %+v", raw.Audit)
	}
	// The same request again is a replay.
	if code, _, _ := d.chatPost("/slack/commands", []byte(ack.Encode()), "application/x-www-form-urlencoded", h); code != 401 {
		t.Errorf("replayed Slack request: %d", code)
	}

	// The unit contact presses Acknowledge on the Discord card.
	d.waitState(id, "units-alerted:payments", "notified")
	code, out = d.discordPost(map[string]any{"type": 3, "id": "i2", "data": map[string]any{"custom_id": "ack:" + id, "component_type": 2},
		"member": map[string]any{"user": map[string]any{"id": "300000000000000004"}}}, time.Now())
	if code != 200 || out["type"] != 4.0 {
		t.Fatalf("button: %d %v", code, out)
	}
	d.waitState(id, "units-alerted:payments", "acknowledged")

	// /status in Discord, and /close by someone not on the team.
	code, out = d.discordPost(map[string]any{"type": 2, "id": "i3", "data": map[string]any{"name": "status", "options": []map[string]any{{"name": "id", "type": 3, "value": id}}},
		"member": map[string]any{"user": map[string]any{"id": "300000000000000004"}}}, time.Now())
	data, _ := out["data"].(map[string]any)
	if code != 200 || data["flags"] != 64.0 || !strings.Contains(data["content"].(string), "significant") {
		t.Errorf("/status: %d %v", code, out)
	}
	// The contact escalates their next step at once: the backup is told.
	d.waitState(id, "owners-told:payments", "notified")
	esc := url.Values{"command": {"/escalate"}, "text": {id + " olga is on leave"}, "user_id": {"U0UMA"}, "trigger_id": {"t4"}}
	if _, out, _ := d.slackPost("/slack/commands", esc, time.Now(), ""); !strings.Contains(out["text"].(string), "escalated by Uma") {
		t.Errorf("/escalate: %v", out)
	}
	prio := url.Values{"command": {"/priority"}, "text": {id + " P2"}, "user_id": {"U0UMA"}, "trigger_id": {"t5"}}
	if _, out, _ := d.slackPost("/slack/commands", prio, time.Now(), ""); !strings.Contains(out["text"].(string), "Only the response team") {
		t.Errorf("/priority by a unit contact: %v", out)
	}
	closing := url.Values{"command": {"/close"}, "text": {id}, "user_id": {"U0UMA"}, "trigger_id": {"t3"}}
	if _, out, _ := d.slackPost("/slack/commands", closing, time.Now(), ""); !strings.Contains(out["text"].(string), "Only the response team") {
		t.Errorf("/close by a unit contact: %v", out)
	}
	refusals := 0
	for _, a := range d.incident(id).Audit {
		if a.Action == "chat-refused" {
			refusals++
		}
	}
	if refusals != 3 {
		t.Errorf("%d refusals audited on %s, want 3 (the stranger's /ack, the contact's /priority and /close)", refusals, id)
	}
	if tr := d.tree(id); len(tr.step("owners-told:payments").EscalatedTo) != 1 {
		t.Errorf("owners-told after /escalate: %+v", tr.step("owners-told:payments"))
	}
}

// TestLinkAChatAccount: an account not in the config asks to act as a
// roster person; the code goes to that person's roster address, signed;
// only the account that asked can use it, and then acts as them.
func TestLinkAChatAccount(t *testing.T) {
	d, _ := startTreeSandbox(t, nil)
	id := d.firstReport("link1@example.org", "XSS in www.sandbox.test", "details")
	n := 0
	say := func(user, text string) string {
		n++ // every request is a new one (the same bytes in the same second would be a replay)
		_, out, _ := d.slackPost("/slack/commands", url.Values{"command": {"/tocsin"}, "text": {text}, "user_id": {user}, "trigger_id": {fmt.Sprint("t", n)}}, time.Now(), "")
		s, _ := out["text"].(string)
		return s
	}
	if got := say("U0WESNEW", "status "+id); !strings.Contains(got, "not on this desk's roster") {
		t.Fatalf("unlinked: %q", got)
	}
	if got := say("U0WESNEW", "link nobody@example.org"); !strings.Contains(got, "a code was mailed") {
		t.Errorf("link to a stranger's address: %q (must not say whether it is on the roster)", got)
	}
	if got := say("U0WESNEW", "link wes@sandbox.test"); !strings.Contains(got, "a code was mailed") {
		t.Fatalf("link: %q", got)
	}
	var code string
	eventually(t, "the code mailed to wes", 10*time.Second, func() bool {
		for _, m := range d.pagedTo("wes@sandbox.test") {
			if c := regexp.MustCompile(`/tocsin link (\d{8})`).FindStringSubmatch(decodedText(t, m)); c != nil {
				code = c[1]
			}
		}
		return code != ""
	})
	g := d.importDeskKey(gpgtest.NewHome(t))
	m := d.pagedTo("wes@sandbox.test")[0]
	g.VerifyPGPMIME(m[strings.Index(string(m), "Mime-Version"):])
	if got := say("U0MALLORY", "link "+code); !strings.Contains(got, "does not link") {
		t.Errorf("another account used wes's code: %q", got)
	}
	if got := say("U0WESNEW", "link 00000000"); !strings.Contains(got, "does not link") {
		t.Errorf("wrong code: %q", got)
	}
	// Linked, and answered in wes's roster language.
	if got := say("U0WESNEW", "link "+code); !strings.Contains(got, "Verknüpft: Dieses Konto handelt jetzt als wes@sandbox.test") {
		t.Fatalf("right code: %q", got)
	}
	if got := say("U0WESNEW", "status "+id); !strings.Contains(got, id) {
		t.Errorf("linked account's /status: %q", got)
	}
}

// TestReportTakenInChat: /report files what someone said on the phone
// through the same pipeline as mail, the taker as its sender; the same
// request again files nothing new.
func TestReportTakenInChat(t *testing.T) {
	d, _ := startTreeSandbox(t, nil)
	form := url.Values{"command": {"/report"}, "text": {"Caller from Acme: ransom note on pay.sandbox.test, actively exploited since 06:00"},
		"user_id": {"U0UMA"}, "trigger_id": {"rep-1"}}
	_, out, _ := d.slackPost("/slack/commands", form, time.Now(), "")
	text, _ := out["text"].(string)
	m := regexp.MustCompile(`Filed as (SEC-\d{4}-\d{4})`).FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("/report: %v", out)
	}
	inc := d.incident(m[1])
	if inc.Reporter != "uma@sandbox.test" || inc.Priority != "P1" {
		t.Errorf("incident %+v", inc)
	}
	if tr := d.tree(m[1]); tr.Playbook != "significant-event" {
		t.Errorf("the P1 taken by phone runs %q", tr.Playbook)
	}
	form.Set("trigger_id", "rep-1") // Slack retried the same request (new signature, same id)
	time.Sleep(1100 * time.Millisecond)
	d.slackPost("/slack/commands", form, time.Now(), "")
	if n := len(d.incidents()); n != 1 {
		t.Errorf("%d incidents after the same /report twice", n)
	}
}

// TestChatScenario (issue 11's proof, on the fake clock): a P1 report →
// the team member on call acknowledges with the Slack card's button → the
// unit contact runs /done in Discord → the cards in both platforms show
// both → the E+24h status report goes out.
func TestChatScenario(t *testing.T) {
	d, _ := startTreeSandbox(t, nil)
	id := d.firstReport("scen1@example.org", "Ransomware on pay.sandbox.test, actively exploited", "Ransom notes.")
	primary := d.waitState(id, "team-alerted", "notified").step("team-alerted").Notified[0]
	slackID := map[string]string{"tara@sandbox.test": "U0TARA", "theo@sandbox.test": "U0THEO"}[primary]
	payload, _ := json.Marshal(map[string]any{"type": "block_actions", "trigger_id": "s1", "user": map[string]any{"id": slackID},
		"actions": []map[string]any{{"action_id": "ack", "value": id, "type": "button"}}, "response_url": "http://127.0.0.1:1/unused"})
	if code, out, _ := d.slackPost("/slack/interactions", url.Values{"payload": {string(payload)}}, time.Now(), ""); code != 200 || !strings.Contains(fmt.Sprint(out["text"]), "acknowledged") {
		t.Fatalf("Slack button: %d %v", code, out)
	}
	// Issue 15, section 8: the Acknowledge press is audited as an ack, not
	// as "pressed Escalate on the card".
	var raw struct {
		Audit []struct {
			Action, Detail string
			RequestID      string `json:"request_id"`
		} `json:"audit"`
	}
	d.api("GET", "/api/v1/incidents/"+id, nil, &raw)
	var pressed []string
	for _, a := range raw.Audit {
		if a.RequestID == "s1" {
			pressed = append(pressed, a.Action)
			if strings.Contains(strings.ToLower(a.Detail), "escalate") {
				t.Errorf("the Acknowledge press is audited as %q: %s", a.Action, a.Detail)
			}
		}
	}
	// The press's ack, and what the engine did for it (issue 16: every
	// entry of the request carries its id).
	if fmt.Sprint(pressed) != "[step-ack step-started]" {
		t.Errorf("the Acknowledge press's audit entries: %v, want [step-ack step-started]", pressed)
	}
	d.waitState(id, "units-alerted:payments", "notified")
	code, out := d.discordPost(map[string]any{"type": 2, "id": "d1", "data": map[string]any{"name": "done", "options": []map[string]any{{"name": "id", "type": 3, "value": id}}},
		"member": map[string]any{"user": map[string]any{"id": "300000000000000004"}}}, time.Now())
	if data, _ := out["data"].(map[string]any); code != 200 || !strings.Contains(fmt.Sprint(data["content"]), "done by Uma") {
		t.Fatalf("Discord /done: %d %v", code, out)
	}
	d.waitState(id, "units-alerted:payments", "done")
	eventually(t, "both cards showing both answers", 10*time.Second, func() bool {
		return d.chatCaptures("slack-chat.update", primary+" acked") > 0 && d.chatCaptures("slack-chat.update", "uma") > 0 &&
			d.chatCaptures("discord-edit-message", "acked") > 0 && d.chatCaptures("discord-edit-message", "uma") > 0
	})
	d.advance(24 * time.Hour)
	d.waitState(id, "status-report", "done")
	eventually(t, "the E+24h status report", 10*time.Second, func() bool { return len(d.pagedTo("cio@sandbox.test")) == 1 })
}

// TestAssign: the team assigns someone by a mention; they are told by a
// signed mail, the incident and its cards name them; others may not.
func TestAssign(t *testing.T) {
	d, _ := startTreeSandbox(t, nil)
	id := d.firstReport("as1@example.org", "XSS in www.sandbox.test", "details")
	assign := func(user, who, trigger string) string {
		_, out, _ := d.slackPost("/slack/commands", url.Values{"command": {"/assign"}, "text": {id + " " + who}, "user_id": {user}, "trigger_id": {trigger}}, time.Now(), "")
		return fmt.Sprint(out["text"])
	}
	if got := assign("U0UMA", "@wes", "a1"); !strings.Contains(got, "Only the response team") {
		t.Errorf("a unit contact assigned: %q", got)
	}
	if got := assign("U0TARA", "<@U0WES|wes>", "a2"); !strings.Contains(got, "Wes Web is responsible") {
		t.Fatalf("/assign: %q", got)
	}
	var inc map[string]any
	d.api("GET", "/api/v1/incidents/"+id, nil, &inc)
	if inc["assignee"] != "wes@sandbox.test" {
		t.Errorf("assignee %v", inc["assignee"])
	}
	// Told in their roster language (German), by the assigned form.
	eventually(t, "wes told", 10*time.Second, func() bool {
		for _, m := range d.pagedTo("wes@sandbox.test") {
			if text := decodedText(t, m); strings.Contains(text, "Tara Team hat Sie für den Vorfall "+id) && strings.Contains(text, "/incidents/"+id) {
				return true
			}
		}
		return false
	})
	eventually(t, "the card naming wes", 10*time.Second, func() bool { return d.chatCaptures("slack-chat.update", "wes@sandbox.test") > 0 })
}

// TestEveryCommandOnBothPlatforms: each command, typed in Slack and in
// Discord by someone allowed to, gives the answer the router gives: the
// same command value from both wire formats.
func TestEveryCommandOnBothPlatforms(t *testing.T) {
	d, _ := startTreeSandbox(t, nil)
	id := d.firstReport("every1@example.org", "Ransomware on pay.sandbox.test, actively exploited", "Ransom notes.")
	primary := d.waitState(id, "team-alerted", "notified").step("team-alerted").Notified[0]
	slackID := map[string]string{"tara@sandbox.test": "U0TARA", "theo@sandbox.test": "U0THEO"}[primary]
	discordID := map[string]string{"tara@sandbox.test": "300000000000000002", "theo@sandbox.test": "300000000000000003"}[primary]
	n := 0
	slackSays := func(name, text string) string {
		n++
		_, out, _ := d.slackPost("/slack/commands", url.Values{"command": {"/" + name}, "text": {text}, "user_id": {slackID}, "trigger_id": {fmt.Sprint("e", n)}}, time.Now(), "")
		return fmt.Sprint(out["text"])
	}
	discordSays := func(name, idOpt, text string) string {
		n++
		var opts []map[string]any
		if idOpt != "" {
			opts = append(opts, map[string]any{"name": "id", "type": 3, "value": idOpt})
		}
		if text != "" {
			opts = append(opts, map[string]any{"name": "text", "type": 3, "value": text})
		}
		_, out := d.discordPost(map[string]any{"type": 2, "id": fmt.Sprint("e", n), "data": map[string]any{"name": name, "options": opts},
			"member": map[string]any{"user": map[string]any{"id": discordID}}}, time.Now())
		data, _ := out["data"].(map[string]any)
		return strings.ReplaceAll(strings.ReplaceAll(fmt.Sprint(data["content"]), "\\", ""), "\u200b", "")
	}
	e := d.tree(id).EventAt
	for _, c := range []struct {
		name, id, text, want string
	}{
		{"help", "", "", "/ack [ID]"},
		{"oncall", "", "payments", "unit payments contact"},
		{"status", id, "", "significant"},
		{"note", id, "caller says the ransom note appeared at 06:00", "Noted on"},
		{"ack", id, "", "acknowledged"},
		{"priority", id, "P1", "priority set to P1"},
		{"event", id, e.Add(-time.Hour).Format(time.RFC3339), "E set to"},
		{"affects", id, "+web", "affected units changed"},
		{"assign", id, "@uma", "responsible"}, // the second time: already responsible, no mail
		{"escalate", id, "web contact unreachable", "escalated by"},
		{"done", id, "validated, all clean", "done by"},
		{"report", "", "Walk-in at the service desk: phishing page on shop.sandbox.test", "Filed as"},
		{"notify", id, "sandbox-isp the C2 host is theirs", "drafted by"},
		{"approve", id, "D1", "a second person must approve"}, // the caller drafted it
		{"close", id, "", "closed by"},
	} {
		for _, platform := range []string{"slack", "discord"} {
			if c.name == "close" && platform == "discord" || c.name == "done" && platform == "discord" || c.name == "ack" && platform == "discord" || c.name == "report" && platform == "discord" {
				continue // once is enough where it changes the incident for good
			}
			var got string
			if platform == "slack" {
				got = slackSays(c.name, strings.TrimSpace(c.id+" "+c.text))
			} else {
				got = discordSays(c.name, c.id, c.text)
			}
			if !strings.Contains(got, c.want) {
				t.Errorf("/%s in %s: %q, want %q", c.name, platform, got, c.want)
			}
		}
	}
	if got := discordSays("tocsin", "", "status "+id); !strings.Contains(got, id) {
		t.Errorf("/tocsin status in Discord: %q", got)
	}
}

// TestReplayRefusedAfterRestart: what recent requests were (a hash of
// the platform, the signed timestamp and the body) is kept in the store,
// so a captured request replayed after the daemon restarted is still
// refused. Issue 15, section 1: a replay is recognised by what was
// verified, never by the signature header's text, so the same Slack and
// Discord request with the hex signature upper-cased (which both
// verifiers accept) is a replay too, before and after a restart, and
// changes nothing.
func TestReplayRefusedAfterRestart(t *testing.T) {
	dir := t.TempDir()
	d := startDaemon(t, bot.SandboxConfig(dir, "127.0.0.1:0"))
	id := d.firstReport("replay1@example.org", "XSS in www.sandbox.test", "details")
	form := url.Values{"command": {"/note"}, "text": {id + " from slack"}, "user_id": {"U0UMA"}, "trigger_id": {"r1"}}
	code, _, h := d.slackPost("/slack/commands", form, time.Now(), "")
	if code != 200 {
		t.Fatalf("first Slack request: %d", code)
	}
	seed, _ := hex.DecodeString(d.info.DiscordPrivateKey)
	dbody, _ := json.Marshal(map[string]any{"type": 2, "id": "r2", "data": map[string]any{"name": "note", "options": []map[string]any{
		{"name": "id", "type": 3, "value": id}, {"name": "text", "type": 3, "value": "from discord"}}},
		"member": map[string]any{"user": map[string]any{"id": "300000000000000004"}}})
	dts, dsig := chatops.SignDiscord(ed25519.NewKeyFromSeed(seed), dbody, time.Now())
	if code, _, _ := d.chatPost("/discord/interactions", dbody, "application/json", http.Header{"X-Signature-Timestamp": {dts}, "X-Signature-Ed25519": {dsig}}); code != 200 {
		t.Fatalf("first Discord request: %d", code)
	}
	notes := func() int {
		n := 0
		for _, a := range d.incident(id).Audit {
			if a.Action == "note" {
				n++
			}
		}
		return n
	}
	if n := notes(); n != 2 {
		t.Fatalf("%d notes after the first requests, want 2", n)
	}
	replays := func(when string) {
		t.Helper()
		if code, _, _ := d.chatPost("/slack/commands", []byte(form.Encode()), "application/x-www-form-urlencoded", h); code != 401 {
			t.Errorf("Slack replay %s: %d, want 401", when, code)
		}
		upper := http.Header{"X-Slack-Request-Timestamp": {h.Get("X-Slack-Request-Timestamp")}, "X-Slack-Signature": {"v0=" + strings.ToUpper(strings.TrimPrefix(h.Get("X-Slack-Signature"), "v0="))}}
		if code, _, _ := d.chatPost("/slack/commands", []byte(form.Encode()), "application/x-www-form-urlencoded", upper); code != 401 {
			t.Errorf("Slack replay %s with the signature upper-cased: %d, want 401", when, code)
		}
		if code, _, _ := d.chatPost("/discord/interactions", dbody, "application/json", http.Header{"X-Signature-Timestamp": {dts}, "X-Signature-Ed25519": {strings.ToUpper(dsig)}}); code != 401 {
			t.Errorf("Discord replay %s with the signature upper-cased: %d, want 401", when, code)
		}
		if n := notes(); n != 2 {
			t.Errorf("%d notes after the replays %s, want 2", n, when)
		}
	}
	replays("before a restart")
	d.stop()
	d = startDaemon(t, bot.SandboxConfig(dir, "127.0.0.1:0"))
	replays("after a restart")
}

// deskAudit is the desk's own audit log (entries on no incident), as
// "action request_id" lines, read from the store.
func (d *daemon) deskAudit() []string {
	d.t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(d.cfg.DataDir, "tocsin.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		d.t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT action, request_id FROM audit WHERE COALESCE(incident_id, 0) = 0 ORDER BY id`)
	if err != nil {
		d.t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var action, req string
		rows.Scan(&action, &req)
		out = append(out, action+" "+req)
	}
	return out
}

// linkCodes are the link codes mailed to addr, oldest first, once there
// are n.
func (d *daemon) linkCodes(addr string, n int) []string {
	d.t.Helper()
	var codes []string
	eventually(d.t, fmt.Sprintf("%d link codes mailed to %s", n, addr), 10*time.Second, func() bool {
		codes = nil
		for _, m := range d.pagedTo(addr) {
			if c := regexp.MustCompile(`/tocsin link (\d{8})`).FindStringSubmatch(decodedText(d.t.(*testing.T), m)); c != nil {
				codes = append(codes, c[1])
			}
		}
		return len(codes) >= n
	})
	return codes
}

// TestLinkCodesAreBounded (issue 15, section 2): failed tries are counted
// durably, so after 5 wrong codes even the right one is refused; at most
// 3 codes an hour are mailed for one address and asked for by one chat
// account; unlinking (/tocsin unlink, or asking for a new link while
// linked) and relinking each write their audit entry.
func TestLinkCodesAreBounded(t *testing.T) {
	d, _ := startTreeSandbox(t, nil)
	say := func(user, text, trigger string) string {
		t.Helper()
		code, out, _ := d.slackPost("/slack/commands", url.Values{"command": {"/tocsin"}, "text": {text}, "user_id": {user}, "trigger_id": {trigger}}, time.Now(), "")
		if code != 200 {
			t.Fatalf("/tocsin %s: HTTP %d", text, code)
		}
		return fmt.Sprint(out["text"])
	}
	say("U0WESNEW", "link wes@sandbox.test", "w0")
	right := d.linkCodes("wes@sandbox.test", 1)[0]
	for i := range 5 {
		wrong := fmt.Sprintf("%08d", (i+1)*1111111)
		if wrong == right {
			wrong = "99999999"
		}
		say("U0WESNEW", "link "+wrong, fmt.Sprint("w", i+1))
	}
	say("U0WESNEW", "link "+right, "w6")
	if got := say("U0WESNEW", "status", "w7"); !strings.Contains(got, "not on this desk's roster") {
		t.Errorf("after 5 wrong codes the right one linked the account: /status answers %q", got)
	}

	// Link requests: the account has asked once; two more are mailed, the
	// rest (by it, and by another account for the same address) are not.
	for i, user := range []string{"U0WESNEW", "U0WESNEW", "U0WESNEW", "U0WESNEW", "U0MALLORY"} {
		say(user, "link wes@sandbox.test", fmt.Sprint("r", i))
	}
	d.linkCodes("wes@sandbox.test", 3)
	d.settled(0)
	if n := len(d.pagedTo("wes@sandbox.test")); n != 3 {
		t.Errorf("%d link codes mailed to wes in an hour, want 3", n)
	}

	// Link, unlink, relink, and a new link asked for while linked.
	say("U0OTTONEW", "link otto@sandbox.test", "o1")
	say("U0OTTONEW", "link "+d.linkCodes("otto@sandbox.test", 1)[0], "o2")
	say("U0OTTONEW", "unlink", "o3")
	if got := say("U0OTTONEW", "status", "o4"); !strings.Contains(got, "not on this desk's roster") {
		t.Errorf("after /tocsin unlink: /status answers %q", got)
	}
	say("U0OTTONEW", "link otto@sandbox.test", "o5")
	say("U0OTTONEW", "link "+d.linkCodes("otto@sandbox.test", 2)[1], "o6")
	say("U0OTTONEW", "link bea@sandbox.test", "o7")

	got := map[string][]string{}
	for _, e := range d.deskAudit() {
		action, req, _ := strings.Cut(e, " ")
		got[req] = append(got[req], action)
	}
	for req, want := range map[string]string{
		"w1": "[chat-link-refused]", "w5": "[chat-link-refused]", "w6": "[chat-link-refused]",
		"r0": "[chat-link-requested]", "r1": "[chat-link-requested]", "r2": "[chat-link-refused]", "r4": "[chat-link-refused]",
		"o2": "[chat-linked]", "o3": "[chat-unlinked]", "o6": "[chat-linked]", "o7": "[chat-unlinked chat-link-requested]",
	} {
		if fmt.Sprint(got[req]) != want {
			t.Errorf("audit of request %s: %v, want %s", req, got[req], want)
		}
	}
}

// TestEscalateAndCloseRefusals pins issue 15 §6 (a payments owner
// escalated a web-shop incident and paged the team), §8 (a manual
// escalation showed its step overdue before the deadline; an incident
// without a call tree could not be closed) and §4 (closing twice wrote
// two "closed" entries).
func TestEscalateAndCloseRefusals(t *testing.T) {
	d, _ := startTreeSandbox(t, nil)
	id := d.firstReport("esc1@example.org", "Ransomware on www.sandbox.test, actively exploited", "Ransom notes.")
	d.waitState(id, "team-alerted", "notified")
	slack := func(user, name, text, trigger string) string {
		_, out, _ := d.slackPost("/slack/commands", url.Values{"command": {"/" + name}, "text": {text}, "user_id": {user}, "trigger_id": {trigger}}, time.Now(), "")
		return fmt.Sprint(out["text"])
	}
	refused := func(ref string) int {
		n := 0
		for _, a := range d.incident(ref).Audit {
			if a.Action == "chat-refused" && strings.Contains(a.Detail, "/escalate") {
				n++
			}
		}
		return n
	}
	// olga owns payments' systems: the web shop's incident is not hers.
	slack("U0OLGA", "escalate", id+" paging everyone", "x1")
	if n := refused(id); n != 1 {
		t.Errorf("%d refused /escalate audited, want 1", n)
	}
	if s := d.tree(id).step("team-alerted"); len(s.EscalatedTo) != 0 || s.State != "notified" {
		t.Errorf("team-alerted after an outsider's /escalate: escalated to %v, %s; want nobody, notified", s.EscalatedTo, s.State)
	}
	// wes is the web unit's contact: in the tree. Before the deadline the
	// step is escalated, not overdue.
	slack("U0WES", "escalate", id+" the team is unreachable", "x2")
	s := d.tree(id).step("team-alerted")
	if len(s.EscalatedTo) != 1 || s.State != "notified" {
		t.Errorf("team-alerted after the contact's early /escalate: escalated to %v, %s; want the secondary, notified", s.EscalatedTo, s.State)
	}
	if n := refused(id); n != 1 {
		t.Errorf("%d refused /escalate audited after the contact's, want still 1", n)
	}

	// Closing twice: one entry; the second says it was already closed.
	closes := func(ref string) int {
		n := 0
		for _, a := range d.incident(ref).Audit {
			if a.Action == "closed" {
				n++
			}
		}
		return n
	}
	slack("U0SAM", "close", id, "x3")
	if got := slack("U0SAM", "close", id, "x4"); !strings.Contains(got, "already closed") {
		t.Errorf("closing again: %q", got)
	}
	if n := closes(id); n != 1 {
		t.Errorf("%d closed entries after closing twice, want 1", n)
	}

	// A report no playbook runs for closes too, once.
	d.sendMail("pat@example.org", report("pat@example.org", "plain1@example.org", "Question about your newsletter", "How do I unsubscribe?"))
	d.waitIncidents(2)
	var other string
	for _, inc := range d.incidents() {
		if inc.ID != id {
			other = inc.ID
		}
	}
	var out map[string]any
	if code := d.api("GET", "/api/v1/incidents/"+other, nil, &out); code != 200 || out["calltree"] != nil {
		t.Fatalf("%s: %d, calltree %v; want one without a tree", other, code, out["calltree"])
	}
	if code := d.api("POST", "/api/v1/incidents/"+other+"/close", nil, &out); code != 200 || out["status"] != "closed" {
		t.Errorf("closing an incident without a call tree: %d %v", code, out)
	}
	if code := d.api("POST", "/api/v1/incidents/"+other+"/close", nil, &out); code != 400 {
		t.Errorf("closing it again: %d %v, want 400", code, out)
	}
	if n := closes(other); n != 1 {
		t.Errorf("%d closed entries on %s, want 1", n, other)
	}
}

// TestTheOtherTeamMemberTakesTheStep pins issue 16: the team member not
// on call takes the team's step with the card's Acknowledge (Discord) or
// /ack ID (Slack): it counts, audited as taken for the one paged.
func TestTheOtherTeamMemberTakesTheStep(t *testing.T) {
	d, _ := startTreeSandbox(t, nil)
	id := d.firstReport("take1@example.org", "Ransomware on pay.sandbox.test, actively exploited", "Ransom notes.")
	tr := d.waitState(id, "team-alerted", "notified")
	primary := tr.step("team-alerted").Notified[0]
	other, slack, discord := "theo@sandbox.test", "U0THEO", "300000000000000003"
	if primary == other {
		other, slack, discord = "tara@sandbox.test", "U0TARA", "300000000000000002"
	}
	code, out := d.discordPost(map[string]any{"type": 3, "id": "i9", "data": map[string]any{"custom_id": "ack:" + id, "component_type": 2},
		"member": map[string]any{"user": map[string]any{"id": discord}}}, time.Now())
	if code != 200 || strings.Contains(fmt.Sprint(out), "No open step") {
		t.Fatalf("%s's Acknowledge: %d %v", other, code, out)
	}
	tr = d.waitState(id, "team-alerted", "acknowledged")
	if s := tr.step("team-alerted"); fmt.Sprint(s.AckedBy) != "["+other+"]" || fmt.Sprint(s.Notified) != "["+primary+"]" {
		t.Errorf("team-alerted: acked by %v, notified %v", s.AckedBy, s.Notified)
	}
	found := false
	for _, a := range d.incident(id).Audit {
		found = found || a.Action == "step-ack" && strings.Contains(a.Detail, "(taken by "+other+" for "+primary+")")
	}
	if !found {
		t.Errorf("no step-ack of %s taken for %s: %+v", other, primary, d.incident(id).Audit)
	}
	// Another incident, by /ack ID in Slack.
	d.sendMail("rita@example.org", report("rita@example.org", "take2@example.org", "Ransomware on web.sandbox.test, actively exploited", "Ransom notes."))
	d.waitIncidents(2)
	id2 := d.incidents()[0].ID // the newest
	d.waitState(id2, "team-alerted", "notified")
	ack := url.Values{"command": {"/ack"}, "text": {id2}, "user_id": {slack}, "trigger_id": {"t9"}, "response_url": {"https://hooks.slack.com/x"}}
	if code, out, _ := d.slackPost("/slack/commands", ack, time.Now(), ""); code != 200 || !strings.Contains(fmt.Sprint(out["text"]), "acknowledged") {
		t.Fatalf("%s's /ack %s: %d %v", other, id2, code, out)
	}
	d.waitState(id2, "team-alerted", "acknowledged")
}
