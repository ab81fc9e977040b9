package bot_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"tocsin/bot"
	"tocsin/internal/gpgtest"
)

// sentTo are the mails sent to addr, by file name.
func (d *daemon) sentTo(addr string) [][]byte {
	var out [][]byte
	for _, b := range d.sent() {
		if headerOf(b, "X-Sandbox-Envelope-To") == "<"+addr+">" {
			out = append(out, b)
		}
	}
	return out
}

// TestReplyToTheReporterByAPIAndClose: the API's dry_run answers the
// rendered form and sends nothing; without it the form is queued and
// goes out signed; /close in chat sends the closure form (signed, it
// verifies) and says so; the audit verifies after it all.
func TestReplyToTheReporterByAPIAndClose(t *testing.T) {
	d, _ := startTreeSandbox(t, nil)
	id := d.firstReport("reply1@example.org", "SQL injection in the shop search", "The q parameter of https://shop.sandbox.test/search is injectable.")
	eventually(t, "the acknowledgement", 10*time.Second, func() bool { return len(d.sentTo("rita@example.org")) == 1 })

	var preview struct {
		Incident, Form, To, Lang, Subject, Body string
		Queued                                  bool
	}
	body, _ := json.Marshal(map[string]any{"form": "request-info", "text": "Which account did you test with?", "dry_run": true})
	if code := d.api("POST", "/api/v1/incidents/"+id+"/reply", body, &preview); code != 200 || preview.Queued || preview.To != "rita@example.org" ||
		!strings.Contains(preview.Body, "Which account did you test with?") || !strings.Contains(preview.Subject, id) {
		t.Fatalf("dry run: %d %+v", code, preview)
	}
	time.Sleep(300 * time.Millisecond)
	if n := len(d.sentTo("rita@example.org")); n != 1 {
		t.Fatalf("a dry run sent mail: %d to rita", n)
	}
	body, _ = json.Marshal(map[string]any{"form": "request-info", "text": "Which account did you test with?"})
	var sent struct{ Queued bool }
	if code := d.api("POST", "/api/v1/incidents/"+id+"/reply", body, &sent); code != 202 || !sent.Queued {
		t.Fatalf("send: %d %+v", code, sent)
	}
	eventually(t, "the request for information", 10*time.Second, func() bool { return len(d.sentTo("rita@example.org")) == 2 })
	body, _ = json.Marshal(map[string]any{"form": "poem", "text": "x"})
	if code := d.api("POST", "/api/v1/incidents/"+id+"/reply", body, nil); code != 400 {
		t.Errorf("an unknown form: %d", code)
	}

	_, out, _ := d.slackPost("/slack/commands", url.Values{"command": {"/close"}, "text": {id + " Fixed in release 4.2.1."}, "user_id": {"U0TARA"}, "trigger_id": {"close-1"}}, time.Now(), "")
	if d.incident(id).Status != "closed" {
		t.Fatalf("/close: %v", out)
	}
	eventually(t, "the closure form", 10*time.Second, func() bool { return len(d.sentTo("rita@example.org")) == 3 })
	var closure []byte
	for _, b := range d.sentTo("rita@example.org") {
		if strings.Contains(headerOf(b, "Subject"), "Closed") {
			closure = b
		}
	}
	if closure == nil {
		t.Fatal("no closure mail to rita")
	}
	g := d.importDeskKey(gpgtest.NewHome(t))
	signed := g.VerifyPGPMIME(closure[strings.Index(string(closure), "Mime-Version"):])
	if !strings.Contains(string(signed), "Fixed in release 4.2.1.") || !strings.Contains(string(signed), id) {
		t.Errorf("closure form: %s", signed)
	}
	answered := 0
	for _, a := range d.incident(id).Audit {
		if a.Action == "reporter-answered" {
			answered++
		}
	}
	if answered != 2 {
		t.Errorf("%d reporter-answered entries, want 2 (request-info, closure)", answered)
	}
	if _, _, brk, err := bot.VerifyAudit(context.Background(), d.cfg); err != nil || brk != nil {
		t.Errorf("audit verify: %v %+v", err, brk)
	}
}

// TestNoReplyToAForgedSender: a reporter whose From failed DMARC gets
// nothing from /reply (refused, typed) nor on close (which says so). (An
// automatic sender opens no incident: bot/act's
// TestReplyRefusedWhenNotWritable covers its refusal.)
func TestNoReplyToAForgedSender(t *testing.T) {
	d := startTrustingSandbox(t)
	d.sendMail("attacker@evil.test", "Authentication-Results: mx.sandbox.test; dkim=fail; spf=fail; dmarc=fail header.from=victim.example\r\n"+
		report("CFO <cfo@victim.example>", "x2@evil.test", "Urgent: data leak on shop.sandbox.test", "Please confirm."))
	d.settled(1)
	id := d.incidents()[0].ID
	body, _ := json.Marshal(map[string]any{"form": "status-update", "text": "x", "dry_run": true})
	var e struct{ Error string }
	if code := d.api("POST", "/api/v1/incidents/"+id+"/reply", body, &e); code != 400 || !strings.Contains(e.Error, "reporter-not-writable: dmarc-fail") {
		t.Errorf("reply to a forged sender: %d %+v", code, e)
	}
	if code := d.api("POST", "/api/v1/incidents/"+id+"/close", nil, nil); code != 200 {
		t.Errorf("close: %d", code)
	}
	time.Sleep(300 * time.Millisecond)
	if n := len(d.sent()); n != 0 {
		t.Errorf("%d mails sent to a forged sender", n)
	}
	if !auditHas(d, "no-answer", "closure form not sent") {
		t.Error("the close does not say the closure form was not sent")
	}
	if _, _, brk, err := bot.VerifyAudit(context.Background(), d.cfg); err != nil || brk != nil {
		t.Errorf("audit verify: %v %+v", err, brk)
	}
}

// TestReplyPreviewThenSendInChat: /reply answers only its sender with the
// rendered form and a Send button; the button of another account, or
// pressed twice, sends nothing; pressed by its sender it sends what was
// previewed. The same in Discord, by its component.
func TestReplyPreviewThenSendInChat(t *testing.T) {
	d, _ := startTreeSandbox(t, nil)
	id := d.firstReport("reply2@example.org", "SQL injection in the shop search", "The q parameter of https://shop.sandbox.test/search is injectable.")
	eventually(t, "the acknowledgement", 10*time.Second, func() bool { return len(d.sentTo("rita@example.org")) == 1 })
	answered := func() int {
		n := 0
		for _, a := range d.incident(id).Audit {
			if a.Action == "reporter-answered" {
				n++
			}
		}
		return n
	}
	_, out, _ := d.slackPost("/slack/commands", url.Values{"command": {"/reply"}, "text": {id + " status-update We patched the search."}, "user_id": {"U0TARA"}, "trigger_id": {"rp-1"}}, time.Now(), "")
	blocks, _ := out["blocks"].([]any)
	if out["response_type"] != "ephemeral" || !strings.Contains(fmt.Sprint(out["text"]), "We patched the search.") || len(blocks) != 2 {
		t.Fatalf("preview: %v", out)
	}
	button := blocks[1].(map[string]any)["elements"].([]any)[0].(map[string]any)
	action := fmt.Sprint(button["action_id"])
	if !strings.HasPrefix(action, "reply-send:"+id+":status-update:") {
		t.Fatalf("Send button %v", button)
	}
	press := func(user, trigger string) map[string]any {
		payload, _ := json.Marshal(map[string]any{"type": "block_actions", "trigger_id": trigger, "user": map[string]any{"id": user},
			"actions": []map[string]any{{"action_id": action, "type": "button"}}, "response_url": "http://127.0.0.1:1/unused"})
		_, out, _ := d.slackPost("/slack/interactions", url.Values{"payload": {string(payload)}}, time.Now(), "")
		return out
	}
	press("U0THEO", "rp-2") // not his preview
	if n := answered(); n != 0 {
		t.Fatalf("another's Send sent: %d", n)
	}
	press("U0TARA", "rp-3")
	eventually(t, "the status update", 10*time.Second, func() bool { return len(d.sentTo("rita@example.org")) == 2 })
	press("U0TARA", "rp-4") // twice
	if n := answered(); n != 1 {
		t.Errorf("%d reporter-answered entries after Send twice, want 1", n)
	}

	code, out := d.discordPost(map[string]any{"type": 2, "id": "dr1", "data": map[string]any{"name": "reply", "options": []map[string]any{
		{"name": "id", "type": 3, "value": id}, {"name": "text", "type": 3, "value": "request-info Which account did you use?"}}},
		"member": map[string]any{"user": map[string]any{"id": "300000000000000002"}}}, time.Now())
	data, _ := out["data"].(map[string]any)
	rows, _ := data["components"].([]any)
	if code != 200 || len(rows) != 1 || data["flags"] != 64.0 {
		t.Fatalf("Discord preview: %d %v", code, out)
	}
	custom := fmt.Sprint(rows[0].(map[string]any)["components"].([]any)[0].(map[string]any)["custom_id"])
	d.discordPost(map[string]any{"type": 3, "id": "dr2", "data": map[string]any{"custom_id": custom, "component_type": 2},
		"member": map[string]any{"user": map[string]any{"id": "300000000000000002"}}}, time.Now())
	eventually(t, "the request for information", 10*time.Second, func() bool { return len(d.sentTo("rita@example.org")) == 3 })
	if _, _, brk, err := bot.VerifyAudit(context.Background(), d.cfg); err != nil || brk != nil {
		t.Errorf("audit verify: %v %+v", err, brk)
	}
}

// TestReplyToAnEncryptedReportSaysNothingInClear: an answer to an
// encrypted report, sent unencrypted, does not repeat what it said; nor
// does its preview.
func TestReplyToAnEncryptedReportSaysNothingInClear(t *testing.T) {
	d := startSandbox(t)
	g := gpgtest.NewHome(t)
	g.GenKey("Olga <olga@example.org>", "ed25519")
	d.importDeskKey(g)
	d.sendMail("olga@example.org", olgasEncryptedReport(g))
	eventually(t, "the acknowledgement", 10*time.Second, func() bool { return len(d.sent()) == 1 })
	id := d.incidents()[0].ID
	var preview struct{ Subject, Body string }
	body, _ := json.Marshal(map[string]any{"form": "status-update", "text": "We are on it.", "dry_run": true})
	if code := d.api("POST", "/api/v1/incidents/"+id+"/reply", body, &preview); code != 200 || !strings.Contains(preview.Body, "We are on it.") {
		t.Fatalf("dry run: %d %+v", code, preview)
	}
	body, _ = json.Marshal(map[string]any{"form": "status-update", "text": "We are on it."})
	if code := d.api("POST", "/api/v1/incidents/"+id+"/reply", body, nil); code != 202 {
		t.Fatalf("send: %d", code)
	}
	eventually(t, "the status update", 10*time.Second, func() bool { return len(d.sent()) == 2 })
	shown := preview.Subject + preview.Body
	for _, b := range d.sent() {
		shown += string(b)
	}
	for _, secret := range []string{"Customer database", "CVE-2026-9999", "backup.example.com"} {
		if strings.Contains(shown, secret) {
			t.Errorf("the unencrypted answer or its preview repeats %q", secret)
		}
	}
}
