package bot_test

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"tocsin/bot"
)

// teamToldOf reports whether the outbox of incident id holds the blocked
// notice about its step by mail to someone of the team, and by chat.
func (d *daemon) teamToldOf(id string) (mail, chat bool) {
	for _, o := range d.incident(id).Outbox {
		if !strings.HasPrefix(o.Key, "blocked:"+id+":") {
			continue
		}
		switch {
		case strings.HasSuffix(o.Key, ":slack"), strings.HasSuffix(o.Key, ":discord"):
			chat = true
		case o.Recipient == "tara@sandbox.test" || o.Recipient == "theo@sandbox.test":
			mail = true
		}
	}
	return mail, chat
}

// TestBlockedAnswersByMail pins issue 16 "Blockers go somewhere": wes's
// German answer and otto's English one, each quoting their reference,
// that say the work fails and they need help, mark their steps blocked
// with who and what (the API's blocked), tell the team member on call by
// mail and chat at once; a later ack clears it; the deadline still
// escalates; the audit verifies after it all.
func TestBlockedAnswersByMail(t *testing.T) {
	d, _ := startTreeSandbox(t, nil)
	id := d.firstReport("block1@example.org", "Ransomware on www.sandbox.test, actively exploited", "Ransom notes.")
	primary := d.waitState(id, "team-alerted", "notified").step("team-alerted").Notified[0]
	alert := d.alertFor(primary, "Team alerted, works on the enhanced alert")
	d.sendMail(primary, report(primary, "b-ack@sandbox.test", "Re: ["+id+"]", "ack\n\n> Answer reference: "+tokenOf(t, alert)))
	d.waitState(id, "units-alerted:web", "notified")
	var mail []byte
	eventually(t, "the German action alert to wes", 10*time.Second, func() bool {
		for _, m := range d.pagedTo("wes@sandbox.test") {
			if strings.Contains(decodedText(t, m), "Antwortkennung") {
				mail = m
			}
		}
		return mail != nil
	})
	ref := regexp.MustCompile(`Antwortkennung: ([a-z0-9]{10})`).FindStringSubmatch(decodedText(t, mail))[1]
	d.sendMail("wes@sandbox.test", report("wes@sandbox.test", "b-de@sandbox.test", "AW: ["+id+"]",
		"Der Patch schlägt auf www-2 fehl, wir brauchen Hilfe vom CIRT.\n\nAm Dienstag schrieb Sandbox Security Desk:\n> Antwortkennung: "+ref))
	s := d.waitState(id, "units-alerted:web", "blocked").step("units-alerted:web")
	if s.Blocked == nil || s.Blocked.By != "wes@sandbox.test" || !strings.Contains(s.Blocked.Text, "schlägt auf www-2 fehl") || len(s.AckedBy) != 0 {
		t.Errorf("units-alerted:web after wes's blocker: %+v", s)
	}
	eventually(t, "the team on call told of wes by mail and chat", 10*time.Second, func() bool {
		m, c := d.teamToldOf(id)
		return m && c
	})
	if code, page := d.deskPage("/incidents/" + id); code != 200 || !strings.Contains(page, "schlägt auf www-2 fehl") {
		t.Errorf("the incident page does not show the blocker (%d)", code)
	}
	// wes's ack clears it; otto (owner) is told and answers in English.
	d.sendMail("wes@sandbox.test", report("wes@sandbox.test", "b-de2@sandbox.test", "AW: ["+id+"]", "Bestätigt\n\n> Antwortkennung: "+ref))
	if s := d.waitState(id, "units-alerted:web", "acknowledged").step("units-alerted:web"); s.Blocked != nil {
		t.Errorf("wes's ack left the blocker: %+v", s.Blocked)
	}
	d.waitState(id, "owners-told:web", "notified")
	otto := d.alertFor("otto@sandbox.test", "Owners and administrators told")
	d.sendMail("otto@sandbox.test", report("otto@sandbox.test", "b-en@sandbox.test", "Re: ["+id+"]",
		"The patch fails to install on www-2, need help from the CIRT\n\nOn Tuesday the desk wrote:\n> Answer reference: "+tokenOf(t, otto)))
	s = d.waitState(id, "owners-told:web", "blocked").step("owners-told:web")
	if s.Blocked == nil || s.Blocked.By != "otto@sandbox.test" || s.Blocked.Text != "The patch fails to install on www-2, need help from the CIRT" {
		t.Errorf("owners-told:web after otto's blocker: %+v", s.Blocked)
	}
	// The deadline stands: at E+4h it escalates, still showing the blocker.
	d.advance(4*time.Hour + time.Minute)
	s = d.waitState(id, "owners-told:web", "overdue").step("owners-told:web")
	if len(s.EscalatedTo) == 0 || s.Blocked == nil {
		t.Errorf("owners-told:web past its deadline: escalated to %v, blocked %+v", s.EscalatedTo, s.Blocked)
	}
	d.stop()
	if n, _, brk, err := bot.VerifyAudit(context.Background(), d.cfg); err != nil || brk != nil {
		t.Errorf("audit verify: %d, %v, %v", n, brk, err)
	}
}
