package bot_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tocsin/internal/gpgtest"
)

// TestReportGetsSignedAcknowledgement is the walking skeleton from the
// reporter's side: mail to the alias, an incident, a signed, threaded,
// auto-replied acknowledgement that GnuPG verifies with the published key;
// then a reply threads onto the incident and a second copy changes nothing.
func TestReportGetsSignedAcknowledgement(t *testing.T) {
	d := startSandbox(t)
	d.sendMail("alice@example.org", report("Alice <alice@example.org>", "r1@example.org", "XSS in the login page",
		"There is a reflected XSS at https://app.example.com/login?q=<script>"))

	eventually(t, "the acknowledgement", 10*time.Second, func() bool { return len(d.sent()) == 1 })
	incs := d.incidents()
	if len(incs) != 1 {
		t.Fatalf("%d incidents, want 1", len(incs))
	}
	id := incs[0].ID
	if want := fmt.Sprintf("SEC-%d-0001", time.Now().UTC().Year()); id != want {
		t.Errorf("incident id %q, want %q", id, want)
	}
	if incs[0].Reporter != "alice@example.org" || incs[0].Category != "vulnerability" {
		t.Errorf("incident %+v", incs[0])
	}

	var ack []byte
	for _, b := range d.sent() {
		ack = b
	}
	for k, want := range map[string]string{
		"X-Sandbox-Envelope-To": "<alice@example.org>",
		"To":                    `"Alice" <alice@example.org>`,
		"Subject":               "[" + id + "] Received: XSS in the login page",
		"In-Reply-To":           "<r1@example.org>",
		"References":            "<r1@example.org>",
		"Auto-Submitted":        "auto-replied",
	} {
		if got := headerOf(ack, k); got != want {
			t.Errorf("acknowledgement %s = %q, want %q", k, got, want)
		}
	}
	g := d.importDeskKey(gpgtest.NewHome(t))
	signed := g.VerifyPGPMIME(ack[strings.Index(string(ack), "Mime-Version"):])
	for _, want := range []string{"STANDARD NOTIFICATION FORM", id, "Priority:", "Technical explanation", "Non-technical explanation", "How to reach us securely"} {
		if !strings.Contains(string(signed), want) {
			t.Errorf("acknowledgement lacks %q", want)
		}
	}

	// The reporter answers the acknowledgement: threaded by In-Reply-To,
	// even without the tag in the subject. No second acknowledgement.
	ackID := strings.Trim(headerOf(ack, "Message-Id"), "<>")
	d.sendMail("alice@example.org", report("alice@example.org", "r2@example.org", "Re: more details", "Here is the PoC.",
		"In-Reply-To: <"+ackID+">", "References: <r1@example.org> <"+ackID+">"))
	// Someone else quotes the tag in the subject: threaded by the tag.
	d.sendMail("bob@example.net", report("bob@example.net", "b1@example.net", "Fwd: ["+id+"] also seen here", "Same issue on our tenant."))
	// The first report arrives a second time (same Message-ID).
	d.sendMail("alice@example.org", report("Alice <alice@example.org>", "r1@example.org", "XSS in the login page", "a resent copy"))

	eventually(t, "three more messages filed", 10*time.Second, func() bool {
		return len(d.incident(id).Messages) == 4 // in, out (ack), in (reply), in (bob)
	})
	d.settled(4) // the duplicate too has been taken in (and not filed)
	if n := d.metric("tocsin_messages_duplicate_total"); n != 1 {
		t.Errorf("%v duplicates counted, want 1", n)
	}
	if n := len(d.incidents()); n != 1 {
		t.Errorf("%d incidents after reply, tagged mail and duplicate; want 1", n)
	}
	inc := d.incident(id)
	if len(inc.Messages) != 4 {
		t.Errorf("%d messages on %s, want 4", len(inc.Messages), id)
	}
	if len(d.sent()) != 1 {
		t.Errorf("%d mails sent, want only the one acknowledgement", len(d.sent()))
	}
	mails := 0
	for _, o := range inc.Outbox {
		if strings.HasPrefix(o.Key, "ack:") {
			mails++
		}
	}
	if mails != 1 {
		t.Errorf("outbox %+v, want one acknowledgement", inc.Outbox)
	}
	// Bob had no part in the incident: his mail is filed, marked, and
	// moves nothing (tags are sequential and easy to guess).
	for _, m := range inc.Messages {
		if m.Direction == "in" && m.NewSender != (m.From == "bob@example.net") {
			t.Errorf("message from %s: new_sender %v", m.From, m.NewSender)
		}
	}
	newSenderAudited := false
	for _, a := range inc.Audit {
		newSenderAudited = newSenderAudited || a.Action == "message-added-new-sender" && strings.Contains(a.Detail, "bob@example.net")
	}
	if !newSenderAudited {
		t.Errorf("audit %+v does not mark bob as a new sender", inc.Audit)
	}
	// Each platform got one card, edited in place for alice's reply; bob's
	// mail edits nothing.
	for pattern, want := range map[string]int{"*-slack-chat.postMessage.json": 1, "*-slack-chat.update.json": 1, "*-discord-create-message.json": 1, "*-discord-edit-message.json": 1} {
		if f, _ := filepath.Glob(filepath.Join(d.cfg.DataDir, "chat", pattern)); len(f) != want {
			t.Errorf("%d chat calls %s, want %d", len(f), pattern, want)
		}
	}
}

// TestNeverAnswersAutomaticMail: auto-replies, bounces, list mail and
// read receipts that refer to no incident are kept unfiled (listed, with
// why, never answered, no incident); the one ordinary report is answered.
func TestNeverAnswersAutomaticMail(t *testing.T) {
	d := startSandbox(t)
	d.sendMail("dave@example.org", report("dave@example.org", "o1@example.org", "Out of office: back Monday", "I am away.", "Auto-Submitted: auto-replied"))
	d.sendMail("list@example.org", report("list@lists.example.org", "l1@example.org", "[announce] new release", "Release notes.", "List-Id: <announce.lists.example.org>", "Precedence: list"))
	d.sendMail("", report("MAILER-DAEMON@mx.example.org", "d1@mx.example.org", "Undelivered Mail Returned to Sender", "Your message could not be delivered."))
	receipt, _ := os.ReadFile(filepath.Join("..", "parsers", "testdata", "mdn-no-report-type.eml"))
	d.sendMail("dana@customer.example", string(receipt))
	d.sendMail("erin@example.org", report("erin@example.org", "e1@example.org", "Ping", "A normal report that gets an answer."))

	d.settled(5)
	if n := len(d.incidents()); n != 1 {
		t.Errorf("%d incidents, want 1 (erin's report only)", n)
	}
	if n := len(d.sent()); n != 1 {
		t.Fatalf("%d mails sent, want 1 (only to erin)", n)
	}
	for _, b := range d.sent() {
		if got := headerOf(b, "X-Sandbox-Envelope-To"); got != "<erin@example.org>" {
			t.Errorf("answered %s, want only erin", got)
		}
	}
	un := d.unfiled()
	cats := map[string]int{}
	for _, m := range un {
		cats[m.Category]++
		if m.UnfiledReason == "" {
			t.Errorf("unfiled %s %q says not why", m.From, m.Subject)
		}
	}
	if len(un) != 4 || cats["auto-reply"] != 2 || cats["bounce"] != 1 || cats["other"] != 1 {
		t.Errorf("unfiled %+v, want the out-of-office and receipt (auto-reply), the bounce and the list mail (other)", un)
	}
	if n := d.metric("tocsin_messages_unfiled_total"); n != 4 {
		t.Errorf("tocsin_messages_unfiled_total %v, want 4", n)
	}
	// The same bounce again is a duplicate, not a second unfiled message.
	d.sendMail("", report("MAILER-DAEMON@mx.example.org", "d1@mx.example.org", "Undelivered Mail Returned to Sender", "Your message could not be delivered."))
	d.settled(6)
	if n := len(d.unfiled()); n != 4 {
		t.Errorf("%d unfiled after a duplicate bounce, want 4", n)
	}
	// The desk page lists them.
	code, page := d.deskPage("/automatic")
	if code != 200 || !strings.Contains(page, "Undelivered Mail Returned to Sender") || !strings.Contains(page, "Out of office") {
		t.Errorf("/automatic: %d\n%s", code, page)
	}
}

// TestAutomaticReplyThreadsOntoIncident: an auto-reply to our
// acknowledgement is filed on its incident, and not answered.
func TestAutomaticReplyThreadsOntoIncident(t *testing.T) {
	d := startSandbox(t)
	d.sendMail("gina@example.org", report("gina@example.org", "g1@example.org", "Open redirect", "https://app.example.com/r?u=evil"))
	eventually(t, "the acknowledgement", 10*time.Second, func() bool { return len(d.sent()) == 1 })
	var ack []byte
	for _, b := range d.sent() {
		ack = b
	}
	id := d.incidents()[0].ID
	d.sendMail("gina@example.org", report("gina@example.org", "g2@example.org", "Automatic reply: "+headerOf(ack, "Subject"), "I am away.",
		"In-Reply-To: "+headerOf(ack, "Message-Id"), "X-Auto-Response-Suppress: All"))
	d.settled(2)
	if n := len(d.incident(id).Messages); n != 3 {
		t.Errorf("%d messages on %s, want 3 (report, acknowledgement, auto-reply)", n, id)
	}
	if len(d.unfiled()) != 0 || len(d.sent()) != 1 {
		t.Errorf("unfiled %d, sent %d; want 0 and 1", len(d.unfiled()), len(d.sent()))
	}
}

// TestRateLimitsAnswersPerSender: 50 reports in a minute from one address
// get replies.per_sender answers (3), all 50 are filed.
func TestRateLimitsAnswersPerSender(t *testing.T) {
	d := startSandbox(t)
	for i := range 50 {
		d.sendMail("flood@example.org", report("flood@example.org", fmt.Sprintf("f%d@example.org", i), fmt.Sprintf("report %d", i), "flood"))
	}
	eventually(t, "50 incidents", 20*time.Second, func() bool { return len(d.incidents()) == 50 })
	eventually(t, "3 answers", 10*time.Second, func() bool { return len(d.sent()) == 3 })
	d.settled(50)
	if n := d.metric("tocsin_replies_withheld_total"); n != 47 {
		t.Errorf("%v answers withheld, want 47", n)
	}
	if n := len(d.sent()); n != 3 {
		t.Errorf("%d answers to one sender, want 3", n)
	}
}

// TestHTTPIntakeAndAuth: the API and the form take reports through the
// same pipeline; the API and desk pages need credentials; health and
// metrics answer.
func TestHTTPIntakeAndAuth(t *testing.T) {
	d := startSandbox(t)
	base := "http://" + d.addrs.HTTP

	resp, err := http.Post(base+"/api/v1/reports", "application/json", strings.NewReader(`{"from":"x@example.org","subject":"s","text":"t"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("API without token: %d, want 401", resp.StatusCode)
	}
	if code, _ := getBody(t, base+"/"); code != http.StatusUnauthorized {
		t.Errorf("desk UI without login: %d, want 401", code)
	}

	var out map[string]string
	if code := d.api("POST", "/api/v1/reports", []byte(`{"from":"api@example.org","name":"Api User","subject":"Exposed S3 bucket","text":"Bucket x is public."}`), &out); code != http.StatusAccepted {
		t.Fatalf("API report: %d %v", code, out)
	}
	apiRef := out["incident"]
	if code := d.api("POST", "/api/v1/reports", []byte(`{"subject":"x","bogus":1}`), &out); code != http.StatusBadRequest {
		t.Errorf("API report with unknown field: %d, want 400", code)
	}

	form := url.Values{"from": {"form@example.org"}, "subject": {"Ransomware on a file server"}, "text": {"All files encrypted."}}
	resp, err = http.PostForm(base+"/report", form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("form: %d", resp.StatusCode)
	}
	eventually(t, "two answers", 10*time.Second, func() bool { return len(d.sent()) == 2 })
	incs := d.incidents()
	if len(incs) != 2 || incs[1].ID != apiRef || incs[0].Priority != "P1" {
		t.Errorf("incidents %+v; want the API one (%s) and a P1 ransomware one", incs, apiRef)
	}

	if code, comps := d.health(); code != 200 || comps["imap"] != "ok" || comps["outbox"] != "ok" || comps["store"] != "ok" {
		t.Errorf("healthz: %d %v", code, comps)
	}
	// Outcomes are recorded just after the SMTP server and the chat
	// stand-ins answered: wait for them.
	wants := []string{"tocsin_incidents_opened_total 2", "tocsin_messages_fetched_total 2", "tocsin_replies_sent_total 2",
		"tocsin_chat_cards_sent_total 4", // two incidents, Slack and Discord
		`tocsin_outbox_depth{state="sent"} 6`, "tocsin_intake_latency_seconds_count 2", "tocsin_replies_failed_total 0",
		"process_resident_memory_bytes ", "go_goroutines ", `tocsin_incidents_open{priority="P1"} 1`, "tocsin_oldest_unanswered_report_age_seconds 0"}
	var metrics string
	eventually(t, "the metrics", 10*time.Second, func() bool {
		_, metrics = getBody(t, base+"/metrics")
		for _, want := range wants {
			if !strings.Contains(metrics, want) {
				return false
			}
		}
		return true
	})
	req, _ := http.NewRequest("GET", base+"/", nil)
	req.SetBasicAuth(d.info.DeskUser, d.info.DeskPassword)
	r2, err := http.DefaultClient.Do(req)
	if err != nil || r2.StatusCode != 200 {
		t.Fatalf("desk UI with login: %v %v", err, r2)
	}
	r2.Body.Close()

	code, sec := getBody(t, base+"/.well-known/security.txt")
	for _, want := range []string{"Contact: mailto:security@sandbox.test", "Encryption: ", "Expires: ", "Policy: ", "Preferred-Languages: en, de, es, fr, ja", "-----BEGIN PGP SIGNATURE-----"} {
		if code != 200 || !strings.Contains(sec, want) {
			t.Errorf("security.txt (%d) lacks %q:\n%s", code, want, sec)
		}
	}
	g := d.importDeskKey(gpgtest.NewHome(t))
	if out, err := g.Run([]byte(sec), "--verify"); err != nil || !strings.Contains(out, "Good signature") {
		t.Errorf("security.txt signature: %v\n%s", err, out)
	}
}

// TestReportFormIsRateLimited: the public form cannot be used to make the
// desk mail anyone at will.
func TestReportFormIsRateLimited(t *testing.T) {
	d := startSandbox(t)
	codes := map[int]int{}
	for i := range 12 {
		form := url.Values{"from": {fmt.Sprintf("victim%d@example.org", i)}, "subject": {"spam"}, "text": {"buy now"}}
		resp, err := http.PostForm("http://"+d.addrs.HTTP+"/report", form)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		codes[resp.StatusCode]++
	}
	if codes[200] != 10 || codes[http.StatusTooManyRequests] != 2 {
		t.Errorf("status codes %v, want 10×200 then 2×429", codes)
	}
}

// TestEncryptedReport: a report encrypted to the desk key (as published on
// /pgp-key.asc) and signed by the reporter is decrypted and filed under
// its protected subject; the unencrypted acknowledgement repeats none of
// its content.
// olgasEncryptedReport is a PGP/MIME report that gpg user Olga signed and
// encrypted to the sandbox desk, with its subject protected.
func olgasEncryptedReport(g *gpgtest.Home) string {
	inner := "Content-Type: text/plain; charset=utf-8; protected-headers=\"v1\"\r\nSubject: Customer database exposed (CVE-2026-9999)\r\n\r\nThe backup at https://backup.example.com/db.sql is public.\r\n"
	ct := g.Output([]byte(inner), "--armor", "--encrypt", "-r", "security@sandbox.test", "--sign", "--local-user", "olga@example.org")
	return "From: Olga <olga@example.org>\nTo: security@sandbox.test\nSubject: ...\nMessage-ID: <olga1@example.org>\nMIME-Version: 1.0\n" +
		"Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=\"b\"\n\n--b\nContent-Type: application/pgp-encrypted\n\nVersion: 1\n\n--b\nContent-Type: application/octet-stream\n\n" + string(ct) + "\n--b--\n"
}

func TestEncryptedReport(t *testing.T) {
	d := startSandbox(t)
	g := gpgtest.NewHome(t)
	g.GenKey("Olga <olga@example.org>", "ed25519")
	d.importDeskKey(g)
	d.sendMail("olga@example.org", olgasEncryptedReport(g))

	eventually(t, "the acknowledgement", 10*time.Second, func() bool { return len(d.sent()) == 1 })
	incs := d.incidents()
	if len(incs) != 1 || incs[0].Category != "vulnerability" {
		t.Fatalf("incidents %+v", incs)
	}
	inc := d.incident(incs[0].ID)
	opened := inc.Audit[0].Detail
	if !strings.Contains(opened, "Customer database exposed") || !strings.Contains(opened, "decrypted") || !strings.Contains(opened, "unknown key") {
		t.Errorf("opened entry %q; want the protected subject and the OpenPGP outcome", opened)
	}
	code, page := d.deskPage("/incidents/" + incs[0].ID)
	for _, want := range []string{"What the reports say", "decrypted", "CVE-2026-9999", "https://backup.example.com/db.sql"} {
		if code != 200 || !strings.Contains(page, want) {
			t.Errorf("incident page (%d) lacks %q", code, want)
		}
	}
	var withReport struct {
		Messages []struct {
			Report struct {
				PGP struct{ Decrypted bool } `json:"pgp"`
			} `json:"report"`
		} `json:"messages"`
	}
	d.api("GET", "/api/v1/incidents/"+incs[0].ID, nil, &withReport)
	if len(withReport.Messages) == 0 || !withReport.Messages[0].Report.PGP.Decrypted {
		t.Errorf("the API does not carry the parsed report: %+v", withReport)
	}
	for _, b := range d.sent() {
		for _, secret := range []string{"Customer database", "CVE-2026-9999", "backup.example.com"} {
			if strings.Contains(string(b), secret) {
				t.Errorf("the unencrypted acknowledgement repeats %q", secret)
			}
		}
	}
}

// TestREADMEFirstReport runs the README's first report as written: no
// From header, only the envelope sender. The sandbox records it as
// Return-Path, the reporter is read from there (and the audit says so),
// and a signed acknowledgement that asks Exchange and friends not to
// answer it goes back.
func TestREADMEFirstReport(t *testing.T) {
	d := startSandbox(t)
	// python3 -c 'import smtplib; smtplib.SMTP(...).sendmail("you@example.org",["security@sandbox.test"],"Subject: XSS in login page\r\n\r\nSteps...")'
	d.sendMail("you@example.org", "Subject: XSS in login page\r\n\r\nSteps...")
	eventually(t, "the acknowledgement", 10*time.Second, func() bool { return len(d.sent()) == 1 })
	var ack []byte
	for _, b := range d.sent() {
		ack = b
	}
	if got := headerOf(ack, "X-Sandbox-Envelope-To"); got != "<you@example.org>" {
		t.Errorf("acknowledgement to %s, want you@example.org", got)
	}
	if got := headerOf(ack, "X-Auto-Response-Suppress"); got != "All" {
		t.Errorf("X-Auto-Response-Suppress %q, want All", got)
	}
	d.importDeskKey(gpgtest.NewHome(t)).VerifyPGPMIME(ack[strings.Index(string(ack), "Mime-Version"):])
	inc := d.incident(d.incidents()[0].ID)
	if inc.Reporter != "you@example.org" {
		t.Errorf("reporter %q", inc.Reporter)
	}
	said := false
	for _, a := range inc.Audit {
		said = said || a.Action == "opened" && strings.Contains(a.Detail, "Return-Path")
	}
	if !said {
		t.Errorf("the audit %+v does not say the reporter came from Return-Path", inc.Audit)
	}
}

// TestNeverAnswersItself: mail from the desk's own address (a loop through
// a forwarder that strips every header) is filed and never answered.
func TestNeverAnswersItself(t *testing.T) {
	d := startSandbox(t)
	d.sendMail("security@sandbox.test", report("Sandbox Security Desk <security@sandbox.test>", "self1@sandbox.test", "Fwd: report", "forwarded"))
	d.sendMail("erin@example.org", report("erin@example.org", "e1@example.org", "Ping", "A normal report that gets an answer."))
	d.settled(2)
	if n := len(d.sent()); n != 1 {
		t.Errorf("%d mails sent, want 1 (to erin only)", n)
	}
	withheld := false
	for _, inc := range d.incidents() {
		for _, a := range d.incident(inc.ID).Audit {
			withheld = withheld || a.Action == "no-answer" && strings.Contains(a.Detail, "own address")
		}
	}
	if !withheld {
		t.Error("no audit entry says the desk's own mail was not answered")
	}
}

// TestPerRecipientLimitCountsTheMailbox: "+tags" and case do not buy more
// answers to one mailbox.
func TestPerRecipientLimitCountsTheMailbox(t *testing.T) {
	d := startSandbox(t)
	for i, addr := range []string{"target@example.org", "Target+1@example.org", "target+2@EXAMPLE.org", "target+3@example.org", "target+4@example.org"} {
		body, _ := json.Marshal(map[string]string{"from": addr, "subject": fmt.Sprintf("report %d", i), "text": "x"})
		if code := d.api("POST", "/api/v1/reports", body, nil); code/100 != 2 {
			t.Fatalf("API: %d", code)
		}
	}
	d.settled(5)
	if n := len(d.sent()); n != 3 {
		t.Errorf("%d answers to one mailbox under five spellings, want replies.per_sender (3)", n)
	}
}
