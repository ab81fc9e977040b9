package bot_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"tocsin/bot"
)

// TestTheTiersDoTheirWork is issue 16's proof, one significant event on
// the fake clock through the real pipeline, every tier doing its work by
// the way a person would:
//   - a P1 on www.sandbox.test; the team writes the actions in a Slack
//     modal and amends them by replying to its own alert;
//   - the unit's alert carries the amended actions, in German for wes;
//   - the unit is removed by mistake and added back: its alert goes out
//     again;
//   - the owner answers that the patch fails: his step shows blocked, the
//     team on call is told by mail and chat, and answers with new actions
//     that reach him as an update;
//   - the assets are fixed one by one (a mail answer, then /done in
//     Slack) and validated one by one by the team's scan;
//   - the E+24h status report to the CIO lists the assets;
//   - the reporter gets a request for information (previewed, then sent)
//     and, at close, the closure form;
//   - the audit chain verifies after it all.
func TestTheTiersDoTheirWork(t *testing.T) {
	d, _ := startTreeSandbox(t, nil)
	id := d.firstReport("tiers1@example.org", "Ransomware on www.sandbox.test, actively exploited", "Ransom notes on https://www.sandbox.test/ since 06:00.")
	tr := d.waitState(id, "team-alerted", "notified")
	primary := tr.step("team-alerted").Notified[0]
	slackIDs := map[string]string{"tara@sandbox.test": "U0TARA", "theo@sandbox.test": "U0THEO"}
	trigger := 0
	slash := func(user, command, text string) map[string]any {
		t.Helper()
		trigger++
		code, out, _ := d.slackPost("/slack/commands", url.Values{"command": {command}, "text": {text}, "user_id": {user}, "trigger_id": {fmt.Sprint("tw", trigger)}}, time.Now(), "")
		if code != 200 {
			t.Fatalf("%s %s from %s: %d %v", command, text, user, code, out)
		}
		return out
	}
	answer := func(from, msgID, text string, alert []byte) {
		t.Helper()
		d.sendMail(from, report(from, msgID, "Re: ["+id+"]", text+"\n\nOn Tuesday the desk wrote:\n> Answer reference: "+tokenOf(t, alert)))
	}
	germanRef := regexp.MustCompile(`Antwortkennung: ([a-z0-9]{10})`)
	latestTo := func(addr string) []byte {
		t.Helper()
		m := d.pagedTo(addr)
		if len(m) == 0 {
			t.Fatalf("nothing sent to %s", addr)
		}
		return m[len(m)-1]
	}

	// The team writes the actions in the Slack modal...
	slash(slackIDs[primary], "/actions", id)
	if d.chatCaptures("slack-views.open", `"callback_id": "actions:`+id+`"`) != 1 {
		t.Fatal("/actions ID opened no modal")
	}
	v1 := "Prevent: block /admin at the WAF.\nPatch: shop 4.2.1, https://dl.sandbox.test/shop-4.2.1.tgz, sha256 9f2c"
	payload, _ := json.Marshal(map[string]any{"type": "view_submission", "user": map[string]any{"id": slackIDs[primary]},
		"view": map[string]any{"id": "VTW1", "callback_id": "actions:" + id, "state": map[string]any{"values": map[string]any{"actions": map[string]any{"text": map[string]any{"value": v1}}}}}})
	if code, out, _ := d.slackPost("/slack/interactions", url.Values{"payload": {string(payload)}}, time.Now(), ""); code != 200 || out["response_action"] != "clear" {
		t.Fatalf("the modal's submission: %d %v", code, out)
	}
	// ...and amends them by replying to its own alert.
	v2 := "Prevent: block /admin and /api at the WAF.\nPatch: shop 4.2.2 (4.2.1 is incomplete), sha256 77aa"
	eventually(t, "the primary's alert", 10*time.Second, func() bool { return len(d.pagedTo(primary)) > 0 })
	answer(primary, "tw-amend@sandbox.test", "Actions:\n"+v2, latestTo(primary))
	eventually(t, "the amended actions", 10*time.Second, func() bool { a := d.actions(id); return a != nil && a.Version == 2 })
	if a := d.actions(id); a.Text != v2 || a.By != primary {
		t.Fatalf("actions after the amendment: %+v", a)
	}
	slash(slackIDs[primary], "/ack", id)

	// The unit alert carries them, in German for wes.
	d.waitState(id, "units-alerted:web", "notified")
	eventually(t, "wes's alert", 10*time.Second, func() bool { return len(d.pagedTo("wes@sandbox.test")) == 1 })
	alert := strings.ReplaceAll(decodedText(t, latestTo("wes@sandbox.test")), "\r\n", "\n")
	if !strings.Contains(alert, "Erforderliche Maßnahmen\n  Prevent: block /admin and /api at the WAF.") || germanRef.FindStringSubmatch(alert) == nil {
		t.Fatalf("wes's alert does not carry the amended actions in German:\n%s", alert)
	}

	// Removed by mistake, added back: its alert goes out again.
	slash(slackIDs[primary], "/affects", id+" -web wrong unit")
	if s := d.tree(id).step("units-alerted:web"); s.State != "skipped" {
		t.Fatalf("units-alerted:web after its unit was removed: %s", s.State)
	}
	slash(slackIDs[primary], "/affects", id+" +web it is ours after all")
	d.waitState(id, "units-alerted:web", "notified")
	eventually(t, "wes's second alert", 10*time.Second, func() bool { return len(d.pagedTo("wes@sandbox.test")) == 2 })
	ref := germanRef.FindStringSubmatch(decodedText(t, latestTo("wes@sandbox.test")))[1]
	d.sendMail("wes@sandbox.test", report("wes@sandbox.test", "tw-wes1@sandbox.test", "AW: ["+id+"]", "Bestätigt\n\n> Antwortkennung: "+ref))
	d.waitState(id, "owners-told:web", "notified")

	// The owner is blocked; the team is told and answers with new actions.
	otto := d.alertFor("otto@sandbox.test", "Owners and administrators told")
	answer("otto@sandbox.test", "tw-otto1@sandbox.test", "The patch fails to install on www-2, need help from the CIRT", otto)
	s := d.waitState(id, "owners-told:web", "blocked").step("owners-told:web")
	if s.Blocked == nil || s.Blocked.By != "otto@sandbox.test" || !strings.Contains(s.Blocked.Text, "www-2") {
		t.Fatalf("owners-told:web after otto's blocker: %+v", s.Blocked)
	}
	eventually(t, "the team on call told of otto's blocker by mail and chat", 10*time.Second, func() bool {
		m, c := d.teamToldOf(id)
		return m && c
	})
	told := len(d.pagedTo("otto@sandbox.test"))
	v3 := "Patch: on www-2 remove shop 4.1 first (apt purge shop), then install 4.2.2."
	if out := slash(slackIDs[primary], "/actions", id+" "+v3); d.actions(id).Version != 3 {
		t.Fatalf("/actions ID TEXT: %v", out)
	}
	eventually(t, "otto's update", 10*time.Second, func() bool {
		for _, m := range d.pagedTo("otto@sandbox.test")[told:] {
			if strings.Contains(decodedText(t, m), "apt purge shop") {
				return true
			}
		}
		return false
	})
	answer("otto@sandbox.test", "tw-otto2@sandbox.test", "ack", otto)
	if s := d.waitState(id, "owners-told:web", "acknowledged").step("owners-told:web"); s.Blocked != nil {
		t.Errorf("otto's ack left the blocker: %+v", s.Blocked)
	}

	// The team adds www-2; the owner fixes the assets one by one.
	slash(slackIDs[primary], "/asset", id+" web:www-2 affected same build, found by the scan")
	if a := d.assets(id); a["www.sandbox.test"].State != "affected" || a["www-2"].State != "affected" || a["www-2"].Unit != "web" {
		t.Fatalf("assets before the fixes: %+v", a)
	}
	d.waitState(id, "fix-installed:web", "notified")
	answer("otto@sandbox.test", "tw-otto3@sandbox.test", "done www.sandbox.test patched to 4.2.2", d.alertFor("otto@sandbox.test", "Fix tested and installed"))
	eventually(t, "www.sandbox.test fixed", 10*time.Second, func() bool { return d.assets(id)["www.sandbox.test"].State == "fixed" })
	if s := d.tree(id).step("fix-installed:web"); s.State != "notified" {
		t.Errorf("fix-installed:web %s with www-2 still open", s.State)
	}
	slash("U0OTTO", "/done", id+" www-2 patched after the purge")
	tr = d.waitState(id, "unit-confirmed:web", "notified")
	if s := tr.step("fix-installed:web"); s.State != "done" || fmt.Sprint(s.DoneBy) != "[otto@sandbox.test]" {
		t.Errorf("fix-installed:web %+v after the last asset", s)
	}
	var confirm []byte
	eventually(t, "wes's confirmation request", 10*time.Second, func() bool {
		confirm = latestTo("wes@sandbox.test")
		return len(d.pagedTo("wes@sandbox.test")) >= 3 && germanRef.Match([]byte(decodedText(t, confirm)))
	})
	ref = germanRef.FindStringSubmatch(decodedText(t, confirm))[1]
	d.sendMail("wes@sandbox.test", report("wes@sandbox.test", "tw-wes2@sandbox.test", "AW: ["+id+"]", "erledigt\n\n> Antwortkennung: "+ref))

	// The team validates each asset by its scan, then its step.
	tr = d.waitState(id, "team-validated", "notified")
	validator := tr.step("team-validated").Notified[0]
	slash(slackIDs[validator], "/done", id+" www.sandbox.test rescan clean")
	// The other by a mail answer with the scan's output attached.
	valAlert := d.alertFor(validator, "Team validated the fixes")
	scan := "Nmap scan report for www-2.sandbox.test\n443/tcp open https shop 4.2.2\n"
	d.sendMail(validator, "From: "+validator+"\nTo: security@sandbox.test\nSubject: Re: ["+id+"]\nMessage-ID: <tw-scan@sandbox.test>\n"+
		"MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b1\n\n--b1\nContent-Type: text/plain; charset=utf-8\n\n"+
		"done www-2 rescan clean\n\n> Answer reference: "+tokenOf(t, valAlert)+"\n--b1\nContent-Type: text/plain; name=scan-www-2.txt\n"+
		"Content-Disposition: attachment; filename=scan-www-2.txt\n\n"+scan+"--b1--\n")
	eventually(t, "www-2 validated by mail", 10*time.Second, func() bool { return d.assets(id)["www-2"].State == "validated" })
	for name, a := range d.assets(id) {
		if a.State != "validated" || a.By != validator {
			t.Errorf("%s after the scan: %+v", name, a)
		}
	}
	// The evidence names the file kept with the answer, whole.
	if ev := d.assets(id)["www-2"].Evidence; len(ev) != 1 || ev[0].Name != "scan-www-2.txt" || len(ev[0].SHA256) != 64 {
		t.Errorf("www-2's evidence: %+v", ev)
	} else if kept, err := os.ReadFile(filepath.Join(d.cfg.DataDir, "blobs", ev[0].SHA256[:2], ev[0].SHA256)); err != nil ||
		fmt.Sprintf("%x", sha256.Sum256(kept)) != ev[0].SHA256 || !strings.Contains(string(kept), "443/tcp open https shop 4.2.2") {
		t.Errorf("the scan output kept as %s: %v %q", ev[0].SHA256, err, kept)
	}
	answer(validator, "tw-val@sandbox.test", "done scanned, all patched", valAlert)

	// The status report to the CIO lists the assets.
	d.waitState(id, "status-report", "done")
	eventually(t, "the status report to the CIO", 10*time.Second, func() bool { return len(d.pagedTo("cio@sandbox.test")) == 1 })
	if text := decodedText(t, latestTo("cio@sandbox.test")); !strings.Contains(text, "www.sandbox.test (web)") || !strings.Contains(text, "www-2 (web)") || !strings.Contains(text, "scan-www-2.txt") {
		t.Errorf("the status report does not list the assets:\n%s", text)
	}

	// The reporter: a request for information, previewed then sent; the
	// closure form at close.
	out := slash(slackIDs[primary], "/reply", id+" request-info Which build of the shop did you see?")
	blocks, _ := out["blocks"].([]any)
	if out["response_type"] != "ephemeral" || len(blocks) != 2 {
		t.Fatalf("/reply preview: %v", out)
	}
	button := blocks[1].(map[string]any)["elements"].([]any)[0].(map[string]any)
	press, _ := json.Marshal(map[string]any{"type": "block_actions", "trigger_id": "tw-send", "user": map[string]any{"id": slackIDs[primary]},
		"actions": []map[string]any{{"action_id": button["action_id"], "type": "button"}}, "response_url": "http://127.0.0.1:1/unused"})
	d.slackPost("/slack/interactions", url.Values{"payload": {string(press)}}, time.Now(), "")
	slash(slackIDs[primary], "/close", id+" Fixed and validated on every system.")
	sentForm := func(prefix string) bool {
		for _, o := range d.incident(id).Outbox {
			if strings.HasPrefix(o.Key, prefix) && o.Recipient == "rita@example.org" && o.State == "sent" {
				return true
			}
		}
		return false
	}
	eventually(t, "the request for information and the closure to rita", 10*time.Second, func() bool {
		return sentForm("reply:"+id+":request-info:") && sentForm("closure:"+id)
	})
	if st := d.incident(id).Status; st != "closed" {
		t.Errorf("status after /close: %s", st)
	}
	d.stop()
	if n, _, brk, err := bot.VerifyAudit(context.Background(), d.cfg); err != nil || brk != nil {
		t.Errorf("audit verify: %d, %v, %v", n, brk, err)
	}
}
