package bot_test

import (
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
