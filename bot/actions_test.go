package bot_test

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"tocsin/bot"
)

// actionsView is calltree.actions of GET /api/v1/incidents/{id}.
type actionsView struct {
	Text    string    `json:"text"`
	By      string    `json:"by"`
	At      time.Time `json:"at"`
	Version int       `json:"version"`
}

func (d *daemon) actions(id string) *actionsView {
	d.t.Helper()
	var out struct {
		CallTree *struct {
			Actions *actionsView `json:"actions"`
		} `json:"calltree"`
	}
	if code := d.api("GET", "/api/v1/incidents/"+id, nil, &out); code != 200 || out.CallTree == nil {
		d.t.Fatalf("GET %s: %d", id, code)
	}
	return out.CallTree.Actions
}

// TestEnhancedActionAlert (issue 16): on a P1 the team writes the
// actions with /actions in Slack; the unit alert carries them, in German
// for wes under the form's German label, the team's text as written; the
// team amends them by replying to its own alert ("Maßnahmen:", quoting its
// reference): the amendment goes as an update to those already told, the
// API shows version 2 by the team member; a unit contact may not write
// them; the audit verifies.
func TestEnhancedActionAlert(t *testing.T) {
	d, _ := startTreeSandbox(t, nil)
	id := d.firstReport("act1@example.org", "Ransomware on www.sandbox.test, actively exploited", "Ransom notes on www.sandbox.test since 06:00.")
	tr := d.waitState(id, "team-alerted", "notified")
	primary := tr.step("team-alerted").Notified[0]
	slackIDs := map[string]string{"tara@sandbox.test": "U0TARA", "theo@sandbox.test": "U0THEO"}
	if a := d.actions(id); a != nil {
		t.Fatalf("actions before anyone wrote them: %+v", a)
	}

	// The team writes them in Slack: /actions ID opens a modal
	// (views.open), whose submission writes them, multi-line, as written.
	open := url.Values{"command": {"/actions"}, "text": {id}, "user_id": {slackIDs[primary]}, "trigger_id": {"a0"}}
	if code, _, _ := d.slackPost("/slack/commands", open, time.Now(), ""); code != 200 || d.chatCaptures("slack-views.open", `"callback_id": "actions:`+id+`"`) != 1 {
		t.Fatalf("/actions ID in Slack: %d, %d modals opened", code, d.chatCaptures("slack-views.open", ""))
	}
	v1 := "Prevent: block /admin at the WAF.\n  Patch: shop 4.2.1, https://dl.sandbox.test/shop-4.2.1.tgz, sha256 9f2c\nHow to tell: <script> in /var/log/shop"
	submit := func(user, text string) map[string]any {
		payload, _ := json.Marshal(map[string]any{"type": "view_submission", "user": map[string]any{"id": user},
			"view": map[string]any{"id": "V1" + user, "callback_id": "actions:" + id, "state": map[string]any{"values": map[string]any{"actions": map[string]any{"text": map[string]any{"value": text}}}}}})
		code, out, _ := d.slackPost("/slack/interactions", url.Values{"payload": {string(payload)}}, time.Now(), "")
		if code != 200 {
			t.Fatalf("view_submission: %d", code)
		}
		return out
	}
	if out := submit(slackIDs[primary], v1); out["response_action"] != "clear" {
		t.Fatalf("the modal's submission: %v", out)
	}
	if a := d.actions(id); a == nil || a.Version != 1 || a.Text != v1 || a.By != primary {
		t.Fatalf("actions after /actions: %+v", a)
	}
	// In Discord, /actions ID opens a modal (type 9) whose submission
	// (type 5) writes them again: version 2, as typed in the modal.
	discordIDs := map[string]string{"tara@sandbox.test": "300000000000000002", "theo@sandbox.test": "300000000000000003"}
	member := map[string]any{"user": map[string]any{"id": discordIDs[primary]}}
	code, out := d.discordPost(map[string]any{"type": 2, "id": "m1", "data": map[string]any{"name": "actions", "options": []any{map[string]any{"name": "id", "value": id}}},
		"member": member}, time.Now())
	data, _ := out["data"].(map[string]any)
	if code != 200 || out["type"] != 9.0 || data["custom_id"] != "actions:"+id {
		t.Fatalf("/actions ID in Discord: %d %v", code, out)
	}
	if a := d.actions(id); a.Version != 1 {
		t.Errorf("opening the modal wrote something: %+v", a)
	}
	v1 = "Prevent: block /admin at the WAF.\nPatch: shop 4.2.1, https://dl.sandbox.test/shop-4.2.1.tgz, sha256 9f2c\nHow to tell: <script> in /var/log/shop"
	code, out = d.discordPost(map[string]any{"type": 5, "id": "m2", "data": map[string]any{"custom_id": "actions:" + id, "components": []any{
		map[string]any{"type": 1, "components": []any{map[string]any{"type": 4, "custom_id": "text", "value": v1}}}}}, "member": member}, time.Now())
	if code != 200 || out["type"] != 4.0 {
		t.Fatalf("the modal's submission: %d %v", code, out)
	}
	if a := d.actions(id); a == nil || a.Version != 2 || a.Text != v1 || a.By != primary {
		t.Fatalf("actions after the modal: %+v", a)
	}
	// A unit contact may not write them: the modal says so.
	if out := submit("U0WES", "nothing to do"); out["response_action"] != "errors" {
		t.Errorf("wes's modal: %v", out)
	}
	wes := url.Values{"command": {"/actions"}, "text": {id + " nothing to do"}, "user_id": {"U0WES"}, "trigger_id": {"a2"}}
	if code, out, _ := d.slackPost("/slack/commands", wes, time.Now(), ""); code != 200 || out["response_type"] != "ephemeral" {
		t.Errorf("/actions from wes: %d %v", code, out)
	}

	// The team acknowledges: the unit alert goes to wes, in German, with
	// the actions.
	ack := url.Values{"command": {"/ack"}, "text": {id}, "user_id": {slackIDs[primary]}, "trigger_id": {"a3"}}
	if code, _, _ := d.slackPost("/slack/commands", ack, time.Now(), ""); code != 200 {
		t.Fatalf("/ack: %d", code)
	}
	d.waitState(id, "units-alerted:web", "notified")
	eventually(t, "wes's alert", 10*time.Second, func() bool { return len(d.pagedTo("wes@sandbox.test")) == 1 })
	alert := strings.ReplaceAll(decodedText(t, d.pagedTo("wes@sandbox.test")[0]), "\r\n", "\n")
	if !strings.Contains(alert, "Erforderliche Maßnahmen\n  Prevent: block /admin at the WAF.\n  Patch: shop 4.2.1") ||
		!strings.Contains(alert, "sha256 9f2c") || strings.Contains(alert, "Noch keine") || strings.Contains(alert, "AKTUALISIERUNG") {
		t.Errorf("wes's alert does not carry the actions under the German label:\n%s", alert)
	}

	// The team amends them by replying to its own alert.
	v2 := "Prevent: block /admin and /api at the WAF.\nPatch: shop 4.2.2 (4.2.1 is incomplete), sha256 77aa"
	d.sendMail(primary, report(primary, "amend1@sandbox.test", "Re: ["+id+"] action alert",
		"Maßnahmen:\n"+v2+"\n\nOn Tuesday the desk wrote:\n> Answer reference: "+tokenOf(t, d.pagedTo(primary)[0])))
	eventually(t, "version 3", 10*time.Second, func() bool { a := d.actions(id); return a != nil && a.Version == 3 })
	if a := d.actions(id); a.Text != v2 || a.By != primary {
		t.Errorf("version 3: %+v", a)
	}
	// Those already told get it as an update, in their language.
	eventually(t, "wes's update", 10*time.Second, func() bool { return len(d.pagedTo("wes@sandbox.test")) == 2 })
	update := decodedText(t, d.pagedTo("wes@sandbox.test")[1])
	if !strings.Contains(update, "AKTUALISIERUNG") || !strings.Contains(update, "(Version 3)") || !strings.Contains(update, "block /admin and /api") ||
		strings.Contains(update, "Answer reference") {
		t.Errorf("wes's update:\n%s", update)
	}
	// The card shows the current version; so does the desk's page.
	eventually(t, "the card with version 3", 10*time.Second, func() bool {
		return d.chatCaptures("slack-chat.update", "Actions (version 3)")+d.chatCaptures("slack-chat.postMessage", "Actions (version 3)") > 0
	})
	if code, page := d.deskPage("/incidents/" + id); code != 200 || !strings.Contains(page, "version 3") || !strings.Contains(page, "block /admin and /api") {
		t.Errorf("the incident page does not show the actions (%d)", code)
	}
	// The API (the sandbox's token is the officer's) writes version 4.
	var posted struct {
		CallTree struct {
			Actions actionsView `json:"actions"`
		} `json:"calltree"`
	}
	if code := d.api("POST", "/api/v1/incidents/"+id+"/actions", []byte(`{"text": "Restrict: isolate www from the payment network."}`), &posted); code != 200 ||
		posted.CallTree.Actions.Version != 4 || posted.CallTree.Actions.By != "officer@sandbox.test" {
		t.Errorf("POST actions: %d %+v", code, posted)
	}
	if code := d.api("POST", "/api/v1/incidents/"+id+"/actions", []byte(`{"text": " "}`), nil); code != 400 {
		t.Errorf("POST empty actions: %d", code)
	}
	eventually(t, "wes's second update", 10*time.Second, func() bool { return len(d.pagedTo("wes@sandbox.test")) == 3 })
	// An unauthenticated "Maßnahmen:" counts for nothing.
	d.sendMail(primary, report(primary, "amend2@sandbox.test", "Re: ["+id+"]", "Maßnahmen:\nnothing at all"))
	eventually(t, "the unsigned amendment refused", 10*time.Second, func() bool {
		for _, a := range d.incident(id).Audit {
			if a.Action == "answer-not-counted" && strings.Contains(a.Detail, "actions from") {
				return true
			}
		}
		return false
	})
	if a := d.actions(id); a.Version != 4 {
		t.Errorf("an unauthenticated amendment counted: %+v", a)
	}
	written := 0
	for _, a := range d.incident(id).Audit {
		if a.Action == "actions-written" {
			written++
		}
	}
	if written != 4 {
		t.Errorf("%d actions-written entries, want 4", written)
	}
	d.stop()
	if n, _, brk, err := bot.VerifyAudit(context.Background(), d.cfg); err != nil || brk != nil {
		t.Errorf("audit verify: %d, %v, %v", n, brk, err)
	}
}
