package bot_test

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestAnswersInTheirLanguage: a responder answers in the words of their
// language, with a note, from their mail client; the answer counts, and
// the confirmation comes in their language, naming the step in it. A
// verb that only stands in the quote counts for nothing.
func TestAnswersInTheirLanguage(t *testing.T) {
	d, _ := startTreeSandbox(t, nil)
	id := d.firstReport("lang1@example.org", "Ransomware on www.sandbox.test, actively exploited", "Ransom notes.")
	primary := d.waitState(id, "team-alerted", "notified").step("team-alerted").Notified[0]
	alert := d.alertFor(primary, "Team alerted, works on the enhanced alert")
	// Only quoted: no answer.
	d.sendMail(primary, report(primary, "q1@sandbox.test", "Re: ["+id+"]", "\n> ack\n> Answer reference: "+tokenOf(t, alert)))
	eventually(t, "the quoted-only reply filed", 10*time.Second, func() bool {
		for _, m := range d.incident(id).Messages {
			if strings.Contains(m.MessageID, "q1@sandbox.test") {
				return true
			}
		}
		return false
	})
	if st := d.tree(id).step("team-alerted").State; st != "notified" {
		t.Fatalf("a reply whose only \"ack\" is quoted made the step %s", st)
	}
	// French, with a note.
	d.sendMail(primary, report(primary, "fr1@sandbox.test", "Re: ["+id+"]", "Reçu, on s'en occupe.\n\n> Answer reference: "+tokenOf(t, alert)))
	tr := d.waitState(id, "team-alerted", "acknowledged")
	if s := tr.step("team-alerted"); len(s.AckedBy) != 1 || s.AckedBy[0] != primary {
		t.Errorf("team-alerted acked by %v", s.AckedBy)
	}
	audit := ""
	for _, a := range d.incident(id).Audit {
		audit += a.Action + ": " + a.Detail + "\n"
	}
	if !strings.Contains(audit, "on s'en occupe") {
		t.Errorf("the note of the French answer is not in the audit:\n%s", audit)
	}

	// wes (the web unit's contact) reads German and answers in German.
	d.waitState(id, "units-alerted:web", "notified")
	var mail []byte
	eventually(t, "the German action alert to wes", 10*time.Second, func() bool {
		for _, m := range d.pagedTo("wes@sandbox.test") {
			if strings.Contains(decodedText(t, m), "Schritt: Handlungswarnung an die Ansprechperson jeder betroffenen Einheit") {
				mail = m
			}
		}
		return mail != nil
	})
	ref := regexp.MustCompile(`Antwortkennung: ([a-z0-9]{10})`).FindStringSubmatch(decodedText(t, mail))
	if ref == nil {
		t.Fatalf("no German answer reference in:\n%s", decodedText(t, mail))
	}
	d.sendMail("wes@sandbox.test", report("wes@sandbox.test", "de1@sandbox.test", "AW: ["+id+"]",
		"Erledigt: Patch eingespielt\nund getestet.\n\nAm Dienstag schrieb Sandbox Security Desk:\n> Antwortkennung: "+ref[1]))
	d.waitState(id, "units-alerted:web", "done")
	eventually(t, "wes's confirmation in German", 10*time.Second, func() bool {
		for _, m := range d.pagedTo("wes@sandbox.test") {
			text := decodedText(t, m)
			if strings.Contains(text, "Erfasst: Ihre Bestätigung der Erledigung") && strings.Contains(text, "Handlungswarnung an die Ansprechperson") &&
				strings.Contains(text, "Ihre Notiz: Patch eingespielt und getestet.") {
				return true
			}
		}
		return false
	})
}

// TestDecliningIsNoAnswer pins issue 15 §8: "OK, but this is not my
// system… please find someone else", quoting the reference, counted as
// an acknowledgement. A refusal is no answer: the step stays waiting, it
// is audited, and the team member on call is told.
func TestDecliningIsNoAnswer(t *testing.T) {
	d, _ := startTreeSandbox(t, nil)
	id := d.firstReport("decline1@example.org", "Ransomware on www.sandbox.test, actively exploited", "Ransom notes.")
	primary := d.waitState(id, "team-alerted", "notified").step("team-alerted").Notified[0]
	ref := tokenOf(t, d.alertFor(primary, "Team alerted, works on the enhanced alert"))
	d.sendMail(primary, report(primary, "decline-a@sandbox.test", "Re: ["+id+"]",
		"OK, but this is not my system… please find someone else\n\n> Answer reference: "+ref))
	var refused string
	eventually(t, "the refusal audited", 10*time.Second, func() bool {
		for _, a := range d.incident(id).Audit {
			if a.Action == "answer-refused" {
				refused = a.Detail
			}
		}
		return refused != ""
	})
	if s := d.tree(id).step("team-alerted"); s.State != "notified" || len(s.AckedBy) != 0 {
		t.Errorf("team-alerted after a refusal: %s, acked by %v; want notified, nobody", s.State, s.AckedBy)
	}
	secondary := map[string]string{"tara@sandbox.test": "theo@sandbox.test", "theo@sandbox.test": "tara@sandbox.test"}[primary]
	eventually(t, "the team told", 10*time.Second, func() bool {
		for _, o := range d.incident(id).Outbox {
			if strings.HasPrefix(o.Key, "told:") && o.Recipient == secondary {
				return true
			}
		}
		return false
	})
	if strings.Contains(refused, ref) {
		t.Errorf("the refusal's audit entry shows the reference: %q", refused)
	}
}

// TestReferencesNeitherShownNorReused pins issue 15 §5: an answer that
// quotes its reference was kept and shown whole (API messages[].report,
// the incident page), one quoting someone else's printed it in the
// audit, and a spoofed mail quoting the leaked reference counted. Now
// none of them shows it, and a reference counts once for each verb while
// its step waits for it: a later "done" quoting an acknowledged step's
// reference, and a replay of that mail, change nothing and are audited.
func TestReferencesNeitherShownNorReused(t *testing.T) {
	d, _ := startTreeSandbox(t, nil)
	id := d.firstReport("refs1@example.org", "Ransomware on pay.sandbox.test, actively exploited", "Ransom notes.")
	primary := d.waitState(id, "team-alerted", "notified").step("team-alerted").Notified[0]
	primaryRef := tokenOf(t, d.alertFor(primary, "Team alerted, works on the enhanced alert"))
	d.sendMail(primary, report(primary, "refs-a@sandbox.test", "Re: ["+id+"] "+primaryRef, "ack "+primaryRef+"\n\n> Answer reference: "+primaryRef))
	d.waitState(id, "units-alerted:payments", "notified")
	umaRef := tokenOf(t, d.alertFor("uma@sandbox.test", "Action alert to each affected unit's contact"))
	// uma quotes the primary's reference (in upper case): not hers.
	d.sendMail("uma@sandbox.test", report("uma@sandbox.test", "refs-b@sandbox.test", "Re: ["+id+"]", "ack\n\n> Answer reference: "+strings.ToUpper(primaryRef)))
	d.sendMail("uma@sandbox.test", report("uma@sandbox.test", "refs-c@sandbox.test", "Re: ["+id+"]", "ack\n\n> Answer reference: "+umaRef))
	d.waitState(id, "units-alerted:payments", "acknowledged")
	// Then "done" quoting uma's reference: the step needed only her ack.
	spoof := report("uma@sandbox.test", "refs-d@evil.test", "Re: ["+id+"]", "done\n\n> Answer reference: "+umaRef)
	d.sendMail("uma@sandbox.test", spoof)
	d.sendMail("uma@sandbox.test", spoof)
	d.sendMail("uma@sandbox.test", report("uma@sandbox.test", "refs-e@evil.test", "Re: ["+id+"]", "done\n\n> Answer reference: "+umaRef))
	notCounted := func() int {
		n := 0
		for _, a := range d.incident(id).Audit {
			if a.Action == "answer-not-counted" {
				n++
			}
		}
		return n
	}
	eventually(t, "the refusals audited", 10*time.Second, func() bool { return notCounted() >= 3 })
	d.settled(6)
	if n := notCounted(); n != 3 {
		t.Errorf("%d answers not counted, want 3 (uma quoting the primary's reference, and two \"done\" quoting hers)", n)
	}
	if s := d.tree(id).step("units-alerted:payments"); s.State != "acknowledged" || len(s.DoneBy) != 0 {
		t.Errorf("units-alerted after the replayed done: %s, done by %v; want acknowledged, nobody", s.State, s.DoneBy)
	}
	var raw json.RawMessage
	d.api("GET", "/api/v1/incidents/"+id, nil, &raw)
	_, page := d.deskPage("/incidents/" + id)
	for _, ref := range []string{primaryRef, umaRef} {
		for where, text := range map[string]string{"the API": string(raw), "the incident page": page} {
			if strings.Contains(strings.ToLower(text), ref) {
				t.Errorf("%s shows the answer reference %s", where, ref)
			}
		}
	}
	var audit struct {
		Audit []struct{ Action, Detail string }
	}
	d.api("GET", "/api/v1/incidents/"+id, nil, &audit)
	marks := 0
	for _, a := range audit.Audit {
		marks += strings.Count(a.Detail, "[ref:")
	}
	if marks == 0 {
		t.Errorf("no reference mark in the audit: %+v", audit.Audit)
	}
}
