package bot_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"tocsin/bot"
	"tocsin/bot/clock"
	"tocsin/config"
	"tocsin/internal/gpgtest"
)

// treeStep is a step of GET /api/v1/incidents/{id} "calltree".
type treeStep struct {
	ID          string    `json:"id"`
	Title       string    `json:"title"`
	Needs       string    `json:"needs"`
	DueAt       time.Time `json:"due_at"`
	State       string    `json:"state"`
	Notified    []string  `json:"notified"`
	AckedBy     []string  `json:"acked_by"`
	DoneBy      []string  `json:"done_by"`
	EscalatedTo []string  `json:"escalated_to"`
	Away        []string  `json:"away"`
	Blocked     *struct {
		By   string    `json:"by"`
		At   time.Time `json:"at"`
		Text string    `json:"text"`
	} `json:"blocked"`
}

type callTree struct {
	Playbook string     `json:"playbook"`
	EventAt  time.Time  `json:"event_at"`
	Steps    []treeStep `json:"steps"`
}

// startTreeSandbox runs the sandbox, demo roster and shipped playbooks
// included, on a fake clock that starts tomorrow at 10:00 UTC (after any
// key a test makes now was created).
func startTreeSandbox(t *testing.T, edit func(*config.Config)) (*daemon, *clock.Fake) {
	t.Helper()
	cfg := bot.SandboxConfig(t.TempDir(), "127.0.0.1:0")
	if edit != nil {
		edit(cfg)
	}
	fake := clock.NewFake(time.Now().UTC().Truncate(24 * time.Hour).Add(34 * time.Hour))
	d := startDaemon(t, cfg, fake)
	d.fake = fake
	return d, fake
}

// firstReport mails the sandbox's first report, from rita@example.org
// with messageID, and returns its incident's id once it is filed.
func (d *daemon) firstReport(messageID, subject, body string) string {
	d.t.Helper()
	d.sendMail("rita@example.org", report("rita@example.org", messageID, subject, body))
	d.waitIncidents(1)
	return d.incidents()[0].ID
}

// tree is the incident's call tree as the API shows it.
func (d *daemon) tree(id string) callTree {
	d.t.Helper()
	var out struct {
		CallTree *callTree `json:"calltree"`
	}
	if code := d.api("GET", "/api/v1/incidents/"+id, nil, &out); code != 200 || out.CallTree == nil {
		d.t.Fatalf("GET %s: %d, calltree %v", id, code, out.CallTree)
	}
	return *out.CallTree
}

func (c callTree) step(id string) treeStep {
	for _, s := range c.Steps {
		if s.ID == id {
			return s
		}
	}
	return treeStep{ID: id, State: "(no such step)"}
}

// advance moves the sandbox clock forward through the API, as a user of
// make run does.
func (d *daemon) advance(by time.Duration) {
	d.t.Helper()
	var out map[string]string
	if code := d.api("POST", "/api/v1/sandbox/clock", []byte(fmt.Sprintf(`{"advance": %q}`, by.String())), &out); code != 200 {
		d.t.Fatalf("advancing the clock: %d %v", code, out)
	}
}

// pagedTo is the call-tree mail the sandbox kept for addr, oldest first.
func (d *daemon) pagedTo(addr string) [][]byte {
	type kept struct {
		at  time.Time
		raw []byte
	}
	var mails []kept
	for name, b := range d.paged() {
		if headerOf(b, "X-Sandbox-Envelope-To") == "<"+addr+">" {
			st, _ := os.Stat(filepath.Join(d.cfg.DataDir, "sent", name))
			mails = append(mails, kept{st.ModTime(), b})
		}
	}
	sort.Slice(mails, func(i, j int) bool { return mails[i].at.Before(mails[j].at) })
	var out [][]byte
	for _, m := range mails {
		out = append(out, m.raw)
	}
	return out
}

// alertFor is the mail to addr that asks for the step titled step.
func (d *daemon) alertFor(addr, step string) []byte {
	d.t.Helper()
	var found []byte
	eventually(d.t, "the mail to "+addr+" for "+step, 10*time.Second, func() bool {
		for _, m := range d.pagedTo(addr) {
			if strings.Contains(decodedText(d.t, m), "Step: "+step) {
				found = m
			}
		}
		return found != nil
	})
	return found
}

var answerRef = regexp.MustCompile(`Answer reference: ([a-z0-9]{10})`)

// tokenOf is the answer reference in a call-tree mail.
func tokenOf(t *testing.T, raw []byte) string {
	t.Helper()
	m := answerRef.FindStringSubmatch(decodedText(t, raw))
	if m == nil {
		t.Fatalf("no answer reference in:\n%s", decodedText(t, raw))
	}
	return m[1]
}

// chatCaptures counts the sandbox's captured chat calls whose name and
// body contain what is given.
func (d *daemon) chatCaptures(name, contains string) int {
	files, _ := filepath.Glob(filepath.Join(d.cfg.DataDir, "chat", "*-"+name+".json"))
	n := 0
	for _, f := range files {
		if b, _ := os.ReadFile(f); strings.Contains(string(b), contains) {
			n++
		}
	}
	return n
}

func (d *daemon) waitState(id, step, state string) callTree {
	d.t.Helper()
	var tr callTree
	eventually(d.t, step+" "+state, 10*time.Second, func() bool {
		tr = d.tree(id)
		return tr.step(step).State == state
	})
	return tr
}

// TestSignificantEventCallTree is the significant-event process on the
// fake clock through the real pipeline: a P1 report on a unit's asset →
// the team member on call is told by mail, Slack and Discord (the pager
// after 10 minutes) → no acknowledgement: reminded, then escalated to the
// secondary at the deadline → the secondary acknowledges by a signed
// e-mail reply → the action alert reaches the affected unit's contact →
// forged answers count for nothing → the contact, the owner and the team
// answer by replies quoting their references → the status report goes to
// the CIO. Every mail verifies with gpg.
func TestSignificantEventCallTree(t *testing.T) {
	g := gpgtest.NewHome(t)
	keys := map[string]string{}
	for _, who := range []string{"tara", "theo"} {
		addr := who + "@sandbox.test"
		g.GenKey(who+" <"+addr+">", "ed25519")
		keys[addr] = filepath.Join(t.TempDir(), who+".asc")
		os.WriteFile(keys[addr], g.Export(addr), 0o600)
	}
	d, _ := startTreeSandbox(t, func(cfg *config.Config) {
		for i, p := range cfg.People {
			if k, ok := keys[p.Email]; ok {
				cfg.People[i].KeyFile = k
				cfg.People[i].Encrypt = config.EncryptNever // their signed replies are what is tested here
			}
		}
	})
	d.importDeskKey(g)
	d.sendMail("rita@example.org", report("Rita <rita@example.org>", "rita1@example.org", "Ransomware on pay.sandbox.test, actively exploited",
		"Our scanner found ransomware notes on https://pay.sandbox.test/admin since this morning."))
	d.waitIncidents(1)
	id := d.incidents()[0].ID
	tr := d.waitState(id, "team-alerted", "notified")
	primary, secondary, slackID, discordID := "tara@sandbox.test", "theo@sandbox.test", "U0TARA", "300000000000000002"
	if tr.step("team-alerted").Notified[0] == secondary {
		primary, secondary, slackID, discordID = secondary, primary, "U0THEO", "300000000000000003"
	}
	if tr.Playbook != "significant-event" || tr.step("team-alerted").Notified[0] != primary {
		t.Fatalf("tree %+v", tr)
	}
	if s := tr.step("units-alerted:payments"); s.State != "waiting" {
		t.Errorf("units-alerted before the team acknowledged: %+v", s)
	}
	if s := tr.step("region-told"); s.State != "done" || len(s.Notified) == 0 {
		t.Errorf("region-told %+v", s)
	}
	eventually(t, "the primary paged by mail, Slack and Discord", 10*time.Second, func() bool {
		return len(d.pagedTo(primary)) == 1 && d.chatCaptures("slack-chat.postMessage", `"channel": "`+slackID+`"`) == 1 &&
			d.chatCaptures("discord-open-dm", discordID) == 1
	})
	if d.chatCaptures("webhook-sandbox-pager", "") != 0 {
		t.Error("the pager buzzed at once; its delay is 10 minutes")
	}
	d.advance(10 * time.Minute)
	eventually(t, "the pager after 10 minutes", 10*time.Second, func() bool { return d.chatCaptures("webhook-sandbox-pager", `"Priority": "urgent"`) == 1 })

	// Half-time reminder, then the deadline: escalated to the secondary.
	d.advance(20 * time.Minute)
	eventually(t, "the reminder", 10*time.Second, func() bool { return len(d.pagedTo(primary)) == 2 })
	if !strings.Contains(decodedText(t, d.pagedTo(primary)[1]), "REMINDER") {
		t.Errorf("the second mail to tara is no reminder:\n%s", decodedText(t, d.pagedTo(primary)[1]))
	}
	d.advance(30 * time.Minute)
	tr = d.waitState(id, "team-alerted", "overdue")
	if s := tr.step("team-alerted"); fmt.Sprint(s.EscalatedTo) != "["+secondary+"]" {
		t.Fatalf("team-alerted escalated to %v, want the secondary %s", s.EscalatedTo, secondary)
	}
	eventually(t, "the escalation", 10*time.Second, func() bool { return len(d.pagedTo(secondary)) == 1 })
	esc := decodedText(t, d.pagedTo(secondary)[0])
	if !strings.Contains(esc, "ESCALATED TO YOU") || !strings.Contains(esc, primary) {
		t.Errorf("escalation mail does not say who was missing:\n%s", esc)
	}
	for _, raw := range append(d.pagedTo(primary), d.pagedTo(secondary)...) {
		g.VerifyPGPMIME(raw[strings.Index(string(raw), "Mime-Version"):])
	}

	// The secondary acknowledges by a signed reply, without the reference.
	part := "Content-Type: text/plain; charset=utf-8\r\n\r\nack - on it, calling the payments team\r\n"
	sig := g.Output([]byte(part), "--armor", "--detach-sign", "--local-user", secondary)
	d.sendMail(secondary, "From: <"+secondary+">\r\nTo: security@sandbox.test\r\nSubject: Re: ["+id+"] action alert\r\n"+
		"Message-ID: <second1@sandbox.test>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/signed; micalg=pgp-sha256; protocol=\"application/pgp-signature\"; boundary=\"s\"\r\n\r\n"+
		"--s\r\n"+part+"\r\n--s\r\nContent-Type: application/pgp-signature\r\n\r\n"+string(sig)+"\r\n--s--\r\n")
	tr = d.waitState(id, "team-alerted", "acknowledged")
	if s := tr.step("team-alerted"); fmt.Sprint(s.AckedBy) != "["+secondary+"]" {
		t.Errorf("acked_by %v", s.AckedBy)
	}
	tr = d.waitState(id, "units-alerted:payments", "notified")
	if fmt.Sprint(tr.step("units-alerted:payments").Notified) != "[uma@sandbox.test]" {
		t.Errorf("action alert to %v, want uma", tr.step("units-alerted:payments").Notified)
	}
	eventually(t, "the confirmation and uma's alert", 10*time.Second, func() bool {
		return len(d.pagedTo(secondary)) == 2 && len(d.pagedTo("uma@sandbox.test")) == 1
	})
	if c := decodedText(t, d.pagedTo(secondary)[1]); !strings.Contains(c, "Recorded: your acknowledgement") {
		t.Errorf("the secondary's confirmation:\n%s", c)
	}
	// The cards in both platforms follow: the team's step met, the unit's
	// waiting for uma.
	eventually(t, "the cards updated", 10*time.Second, func() bool {
		return d.chatCaptures("slack-chat.update", "waiting for uma") > 0 && d.chatCaptures("discord-edit-message", "waiting for uma") > 0
	})
	umaToken := tokenOf(t, d.pagedTo("uma@sandbox.test")[0])
	primaryToken := tokenOf(t, d.pagedTo(primary)[0])

	// Forged answers count for nothing: unsigned without a reference; a
	// stranger quoting uma's reference; uma quoting the primary's.
	d.sendMail("uma@sandbox.test", report("uma@sandbox.test", "f1@x.test", "Re: ["+id+"]", "ack"))
	d.sendMail("mallory@example.net", report("mallory@example.net", "f2@x.test", "Re: ["+id+"]", "ack\n\n> Answer reference: "+umaToken))
	d.sendMail("uma@sandbox.test", report("uma@sandbox.test", "f3@x.test", "Re: ["+id+"]", "ack\n\n> Answer reference: "+primaryToken))
	eventually(t, "the forged answers filed", 10*time.Second, func() bool { return len(d.incident(id).Messages) >= 12 })
	var refused []string
	for _, a := range d.incident(id).Audit {
		if a.Action == "answer-not-counted" {
			refused = append(refused, a.Detail)
		}
	}
	if len(refused) != 2 || !strings.Contains(refused[0], "neither signed") || !strings.Contains(refused[1], "sent to someone else") {
		t.Errorf("refusals %q; want uma's unsigned and uma's quoting tara's reference (mallory is a new sender: filed, moves nothing)", refused)
	}
	if s := d.tree(id).step("units-alerted:payments"); s.State != "notified" || len(s.AckedBy) != 0 {
		t.Fatalf("a forged answer counted: %+v", s)
	}

	// The real answers, each quoting the reference its mail carried.
	reply := func(from, msgID, text string, raw []byte) {
		d.sendMail(from, report(from, msgID, "Re: ["+id+"]", text+"\n\nOn Tuesday the desk wrote:\n> Answer reference: "+tokenOf(t, raw)))
	}
	reply("uma@sandbox.test", "u1@sandbox.test", "ack", d.pagedTo("uma@sandbox.test")[0])
	d.waitState(id, "owners-told:payments", "notified")
	reply("olga@sandbox.test", "o1@sandbox.test", "ack", d.alertFor("olga@sandbox.test", "Owners and administrators told"))
	d.waitState(id, "fix-installed:payments", "notified")
	reply("olga@sandbox.test", "o2@sandbox.test", "done patched and tested on staging first", d.alertFor("olga@sandbox.test", "Fix tested and installed"))
	tr = d.waitState(id, "unit-confirmed:payments", "notified")
	if s := tr.step("fix-installed:payments"); s.State != "done" || fmt.Sprint(s.DoneBy) != "[olga@sandbox.test]" {
		t.Errorf("fix-installed %+v", s)
	}
	reply("uma@sandbox.test", "u2@sandbox.test", "done", d.alertFor("uma@sandbox.test", "Unit confirms its systems are done"))
	tr = d.waitState(id, "team-validated", "notified")
	validator := tr.step("team-validated").Notified[0]
	reply(validator, "v1@sandbox.test", "done scanned, all patched", d.alertFor(validator, "Team validated the fixes"))
	tr = d.waitState(id, "status-report", "done")
	eventually(t, "the status report to the CIO", 10*time.Second, func() bool { return len(d.pagedTo("cio@sandbox.test")) == 1 })
	cio := d.pagedTo("cio@sandbox.test")[0]
	g.VerifyPGPMIME(cio[strings.Index(string(cio), "Mime-Version"):])
	if text := decodedText(t, cio); !strings.Contains(text, "Status report") || !strings.Contains(text, "Fix tested and installed (payments)") {
		t.Errorf("status report:\n%s", text)
	}
	// Issue 16: sent when the team validated, it says when (not "plus 24
	// hours"), and that the authorities' report waits for approval.
	if text := decodedText(t, cio); strings.Contains(text, "plus 24 hours") || !strings.Contains(text, "drafted, awaiting a second person's approval") {
		t.Errorf("the status report's time or the authorities' draft:\n%s", text)
	}
	for _, s := range tr.Steps {
		if s.State != "done" && s.State != "acknowledged" && !(s.ID == "authorities-report" && s.State == "awaiting-approval") {
			t.Errorf("step %s is %s at the end", s.ID, s.State)
		}
	}
	if code, page := d.deskPage("/incidents/" + id); code != 200 || !strings.Contains(page, "Call tree: significant-event") ||
		!strings.Contains(page, "Fix tested and installed") || !strings.Contains(page, "olga@sandbox.test") {
		t.Errorf("the incident page does not show the call tree (%d)", code)
	}
	var out map[string]any
	d.api("GET", "/api/v1/incidents/"+id, nil, &out)
	b, _ := json.Marshal(out["calltree"])
	if strings.Contains(string(b), umaToken) {
		t.Error("the API shows answer references: they are the recipients' secrets")
	}
}

// TestOutOfOfficeReplyEscalatesAtOnce: the on-call person's auto-reply to
// their alert, authenticated by the trusted receiving server, is filed on
// the incident, answered by nothing, and sends the step to the secondary
// at once, before its deadline.
func TestOutOfOfficeReplyEscalatesAtOnce(t *testing.T) {
	d, _ := startTreeSandbox(t, func(cfg *config.Config) { cfg.Trust.AuthServIDs = []string{"mx.sandbox.test"} })
	id := d.firstReport("ooo1@example.org", "Ransomware on www.sandbox.test, actively exploited", "Ransom notes.")
	tr := d.waitState(id, "team-alerted", "notified")
	primary := tr.step("team-alerted").Notified[0]
	eventually(t, "the alert", 10*time.Second, func() bool { return len(d.pagedTo(primary)) == 1 })
	alertID := headerOf(d.pagedTo(primary)[0], "Message-Id")
	d.sendMail(primary, authenticated(report(primary, "ooo-auto@sandbox.test", "Out of office: ["+id+"] P1 Significant Event Action Alert",
		"I am away until Monday.", "Auto-Submitted: auto-replied", "In-Reply-To: "+alertID), "sandbox.test"))
	// Escalated early, not overdue: the deadline has not passed.
	eventually(t, "the escalation", 10*time.Second, func() bool { return len(d.tree(id).step("team-alerted").EscalatedTo) > 0 })
	if s := d.tree(id).step("team-alerted"); len(s.EscalatedTo) != 1 || s.EscalatedTo[0] == primary || fmt.Sprint(s.Away) != "["+primary+"]" || s.State != "notified" {
		t.Errorf("%s, escalated to %v, away %v; want notified, the secondary, and %s away", s.State, s.EscalatedTo, s.Away, primary)
	}
	time.Sleep(300 * time.Millisecond)
	if n := len(d.pagedTo(primary)); n != 1 {
		t.Errorf("%d mails to %s: an auto-reply was answered", n, primary)
	}
}

// TestForgedOutOfOfficeChangesNothing pins issue 15 §6: an out-of-office
// reply claiming a roster address, with the guessable subject, that no
// trusted server authenticated and that quotes no reference of theirs,
// marks nobody away and escalates nothing; it is audited and the team
// member on call is told. With the person's own reference it counts.
func TestForgedOutOfOfficeChangesNothing(t *testing.T) {
	d, _ := startTreeSandbox(t, func(cfg *config.Config) { cfg.Trust.AuthServIDs = []string{"mx.sandbox.test"} })
	id := d.firstReport("ooo2@example.org", "Ransomware on www.sandbox.test, actively exploited", "Ransom notes.")
	primary := d.waitState(id, "team-alerted", "notified").step("team-alerted").Notified[0]
	alert := d.alertFor(primary, "Team alerted, works on the enhanced alert")
	secondary := map[string]string{"tara@sandbox.test": "theo@sandbox.test", "theo@sandbox.test": "tara@sandbox.test"}[primary]
	d.sendMail(primary, report(primary, "forged-ooo@evil.test", "Out of office: ["+id+"] P1 Significant Event Action Alert",
		"I am away until Monday.", "Auto-Submitted: auto-replied"))
	eventually(t, "the forged auto-reply audited", 10*time.Second, func() bool {
		for _, a := range d.incident(id).Audit {
			if a.Action == "answer-not-counted" && strings.Contains(a.Detail, "out-of-office") {
				return true
			}
		}
		return false
	})
	if s := d.tree(id).step("team-alerted"); s.State != "notified" || len(s.Away) != 0 || len(s.EscalatedTo) != 0 {
		t.Errorf("after a forged auto-reply: %s, away %v, escalated to %v; want notified, nobody away, nobody escalated to", s.State, s.Away, s.EscalatedTo)
	}
	eventually(t, "the team told", 10*time.Second, func() bool {
		for _, o := range d.incident(id).Outbox {
			if strings.HasPrefix(o.Key, "told:") && o.Recipient == secondary {
				return true
			}
		}
		return false
	})
	// The same reply quoting the person's own reference counts.
	d.sendMail(primary, report(primary, "ooo-ref@sandbox.test", "Out of office: ["+id+"] P1 Significant Event Action Alert",
		"I am away until Monday.\n\n> Answer reference: "+tokenOf(t, alert), "Auto-Submitted: auto-replied"))
	eventually(t, "the escalation", 10*time.Second, func() bool { return len(d.tree(id).step("team-alerted").EscalatedTo) > 0 })
	if s := d.tree(id).step("team-alerted"); fmt.Sprint(s.Away) != "["+primary+"]" || len(s.EscalatedTo) != 1 || s.State != "notified" {
		t.Errorf("after an auto-reply with the reference: away %v, escalated to %v", s.Away, s.EscalatedTo)
	}
}

// TestOfficerSetsEAndUnitsThroughTheAPI: moving E moves the open
// deadlines; a unit added gets its steps, a removed one has its steps
// skipped with why; mistakes are 400, incidents without a tree 404.
func TestOfficerSetsEAndUnitsThroughTheAPI(t *testing.T) {
	d, _ := startTreeSandbox(t, nil)
	id := d.firstReport("api1@example.org", "Ransomware on pay.sandbox.test, actively exploited", "Ransom notes.")
	d.waitState(id, "team-alerted", "notified")
	var out map[string]any
	if code := d.api("POST", "/api/v1/incidents/"+id+"/units", []byte(`{"add": ["web"], "remove": ["payments"], "why": "the shop runs the same VPN; payments was patched last week"}`), &out); code != 200 {
		t.Fatalf("units: %d %v", code, out)
	}
	tr := d.tree(id)
	if s := tr.step("units-alerted:web"); s.State != "waiting" {
		t.Errorf("web's alert %+v", s)
	}
	if s := tr.step("units-alerted:payments"); s.State != "skipped" {
		t.Errorf("payments' alert %+v", s)
	}
	e := tr.EventAt
	if code := d.api("POST", "/api/v1/incidents/"+id+"/event", []byte(`{"at": "`+e.Add(-3*time.Hour).Format(time.RFC3339)+`"}`), &out); code != 200 {
		t.Fatalf("event: %d %v", code, out)
	}
	tr = d.tree(id)
	// Its deadline (E+2h) passed by the move while it waits for the team:
	// it goes out at once, preliminary, with the hour it would have had
	// after the team.
	if s := tr.step("units-alerted:web"); s.State != "notified" || !s.DueAt.Equal(e.Add(time.Hour)) {
		t.Errorf("web's alert %s due %v after E moved 3h back, want notified (preliminary) due %v", s.State, s.DueAt, e.Add(time.Hour))
	}
	if s := tr.step("team-alerted"); s.State != "overdue" || len(s.EscalatedTo) != 1 {
		t.Errorf("team-alerted past due after the move: %+v", s)
	}
	if code := d.api("POST", "/api/v1/incidents/"+id+"/units", []byte(`{"add": ["nope"], "why": "x"}`), &out); code != 400 {
		t.Errorf("unknown unit: %d", code)
	}
	if code := d.api("POST", "/api/v1/incidents/SEC-1999-0001/event", []byte(`{"at": "2026-01-01T00:00:00Z"}`), &out); code != 404 {
		t.Errorf("unknown incident: %d", code)
	}
	found := false
	for _, a := range d.incident(id).Audit {
		found = found || a.Action == "units-changed" && strings.Contains(a.Detail, "+web -payments")
	}
	if !found {
		t.Error("the change of units is not in the audit")
	}
	// Closing skips every open step.
	if code := d.api("POST", "/api/v1/incidents/"+id+"/close", nil, &out); code != 200 {
		t.Fatalf("close: %d %v", code, out)
	}
	if inc := d.incident(id); inc.Status != "closed" {
		t.Errorf("status %s after close", inc.Status)
	}
	for _, s := range d.tree(id).Steps {
		if s.State != "skipped" && s.State != "done" && s.State != "acknowledged" {
			t.Errorf("step %s is %s after close", s.ID, s.State)
		}
	}
}

// TestTriageRequestIsNoActionAlert: a P3 vulnerability report asks the
// team on call to triage it in a status update carrying the answer
// reference, not in a significant-event action alert.
func TestTriageRequestIsNoActionAlert(t *testing.T) {
	d, _ := startTreeSandbox(t, nil)
	id := d.firstReport("tri1@example.org", "XSS in the login page", "Steps to reproduce.")
	primary := d.waitState(id, "triaged", "notified").step("triaged").Notified[0]
	m := d.alertFor(primary, "Triaged by the team")
	if subject := headerOf(m, "Subject"); strings.Contains(subject, "Significant Event") || !strings.Contains(subject, "Status update") {
		t.Errorf("triage request titled %q", subject)
	}
	tokenOf(t, m) // it carries the answer reference
}

// TestForgedOutOfOfficeTellsTheTeamOnceAnHour: forged auto-replies each
// are audited, but the team member on call is mailed about them once per
// incident an hour, not once each (a forger could mail them without end).
func TestForgedOutOfOfficeTellsTheTeamOnceAnHour(t *testing.T) {
	d, _ := startTreeSandbox(t, func(cfg *config.Config) { cfg.Trust.AuthServIDs = []string{"mx.sandbox.test"} })
	id := d.firstReport("ooo3@example.org", "Ransomware on www.sandbox.test, actively exploited", "Ransom notes.")
	primary := d.waitState(id, "team-alerted", "notified").step("team-alerted").Notified[0]
	forge := func(n int) {
		d.sendMail(primary, report(primary, fmt.Sprintf("forged-ooo-%d@evil.test", n), "Out of office: ["+id+"] P1 Significant Event Action Alert",
			"I am away until Monday.", "Auto-Submitted: auto-replied"))
	}
	counts := func() (told, again, notCounted int) {
		for _, a := range d.incident(id).Audit {
			switch {
			case a.Action == "team-told":
				told++
			case a.Action == "team-told-again":
				again++
			case a.Action == "answer-not-counted" && strings.Contains(a.Detail, "out-of-office"):
				notCounted++
			}
		}
		return
	}
	mails := func() int {
		n := 0
		for _, o := range d.incident(id).Outbox {
			if strings.HasPrefix(o.Key, "told:") {
				n++
			}
		}
		return n
	}
	for i := range 4 {
		forge(i)
		eventually(t, "the forged auto-reply audited", 10*time.Second, func() bool { _, _, n := counts(); return n == i+1 })
	}
	if told, again, _ := counts(); told != 1 || again != 3 || mails() != 1 {
		t.Errorf("4 forged auto-replies: %d team-told, %d team-told-again, %d mails; want 1, 3, 1", told, again, mails())
	}
	d.advance(bot.TeamToldEvery + time.Minute)
	forge(9)
	eventually(t, "the team told again after the hour", 10*time.Second, func() bool { return mails() == 2 })
}
