package bot_test

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tocsin/config"
	"tocsin/internal/gpgtest"
)

// sentOutside is the mail the sandbox kept for addr outside the roster.
func (d *daemon) sentOutside(addr string) [][]byte {
	var out [][]byte
	for _, b := range d.sent() {
		if headerOf(b, "X-Sandbox-Envelope-To") == "<"+addr+">" {
			out = append(out, b)
		}
	}
	return out
}

// TestNothingGoesOutsideWithoutASecondPerson: a responder drafts the
// status report to an external contact with /notify; the same person
// cannot approve it, someone else can; the contact gets a signed status
// report that names no one on the roster. At E+24h the playbook drafts
// the report to the authorities (encrypted to the CERT's key), tells the
// officers, and sends nothing until one of them approves.
func TestNothingGoesOutsideWithoutASecondPerson(t *testing.T) {
	g := gpgtest.NewHome(t)
	g.GenKey("Sandbox CERT <incident@cert.sandbox.test>", "ed25519")
	certKey := filepath.Join(t.TempDir(), "cert.asc")
	os.WriteFile(certKey, g.Export("incident@cert.sandbox.test"), 0o600)
	d, _ := startTreeSandbox(t, func(cfg *config.Config) {
		for i := range cfg.Contacts {
			if cfg.Contacts[i].ID == "sandbox-cert" {
				cfg.Contacts[i].KeyFile = certKey
			}
		}
	})
	d.importDeskKey(g)
	id := d.firstReport("out1@example.org", "Ransomware on pay.sandbox.test, actively exploited", "Ransom notes.")
	command := func(user, name, text, trigger string) string {
		t.Helper()
		code, out, _ := d.slackPost("/slack/commands", url.Values{"command": {name}, "text": {text}, "user_id": {user}, "trigger_id": {trigger}}, time.Now(), "")
		if code != 200 {
			t.Fatalf("%s %s: HTTP %d %v", name, text, code, out)
		}
		return fmt.Sprint(out["text"])
	}
	isp := "abuse@isp.sandbox.test"

	if got := command("U0UMA", "/notify", id+" sandbox-isp", "n0"); !strings.Contains(got, "Only the response team") {
		t.Errorf("a unit contact drafted mail outside: %q", got)
	}
	if got := command("U0TARA", "/notify", id+" interpol", "n1"); !strings.Contains(got, `No external contact "interpol"`) || !strings.Contains(got, "sandbox-isp") {
		t.Errorf("an unknown contact: %q", got)
	}
	if got := command("U0TARA", "/notify", id+" sandbox-isp they host the C2 server", "n2"); !strings.Contains(got, "drafted by Tara Team as D1") || !strings.Contains(got, "/approve "+id+" D1") {
		t.Fatalf("/notify: %q", got)
	}
	if got := command("U0TARA", "/approve", id+" D1", "a1"); !strings.Contains(got, "a second person must approve") {
		t.Errorf("the drafter approved their own draft: %q", got)
	}
	if got := command("U0THEO", "/status", id, "s1"); !strings.Contains(got, "Waiting for approval (/approve "+id+" D1)") || !strings.Contains(got, "Sandbox ISP abuse desk") {
		t.Errorf("/status does not show the draft waiting: %q", got)
	}
	if n := len(d.sentOutside(isp)); n != 0 {
		t.Fatalf("%d mails to the ISP before anyone approved", n)
	}
	if got := command("U0THEO", "/approve", id+" D1", "a2"); !strings.Contains(got, "D1 approved by Theo Team") || !strings.Contains(got, isp) {
		t.Fatalf("/approve by a second person: %q", got)
	}
	eventually(t, "the status report to the ISP", 10*time.Second, func() bool { return len(d.sentOutside(isp)) == 1 })
	raw := d.sentOutside(isp)[0]
	g.VerifyPGPMIME(raw[strings.Index(string(raw), "Mime-Version"):])
	text := decodedText(t, raw)
	if !strings.Contains(text, "Status report") || !strings.Contains(text, id) {
		t.Errorf("the ISP's mail is not the status report:\n%s", text)
	}
	for _, internal := range []string{"tara@", "theo@", "uma@", "rita@example.org", "Answer reference", "they host the C2"} {
		if strings.Contains(text, internal) {
			t.Errorf("the mail outside carries %q (the roster, the reporter, a reference, or the drafter's note):\n%s", internal, text)
		}
	}
	if !strings.Contains(text, "Reported by:       (withheld)") {
		t.Errorf("the reporter is not shown as withheld:\n%s", text)
	}
	var api struct {
		Drafts []struct {
			ID         string `json:"id"`
			Contact    string `json:"contact"`
			State      string `json:"state"`
			DraftedBy  string `json:"drafted_by"`
			ApprovedBy string `json:"approved_by"`
		} `json:"drafts"`
	}
	d.api("GET", "/api/v1/incidents/"+id, nil, &api)
	if fmt.Sprint(api.Drafts) != "[{D1 sandbox-isp approved tara@sandbox.test theo@sandbox.test}]" {
		t.Errorf("the API's drafts: %+v", api.Drafts)
	}
	if got := command("U0THEO", "/approve", id+" D1", "a3"); !strings.Contains(got, "does not wait for approval") {
		t.Errorf("a second /approve: %q", got)
	}
	audit := ""
	for _, a := range d.incident(id).Audit {
		audit += a.Action + ": " + a.Detail + "\n"
	}
	for _, want := range []string{"draft-created: D1: status report to Sandbox ISP abuse desk", "drafted by tara@sandbox.test, approved by theo@sandbox.test", "chat-refused: /approve"} {
		if !strings.Contains(audit, want) {
			t.Errorf("audit lacks %q:\n%s", want, audit)
		}
	}

	// The playbook's E+24h report to the authorities: drafted, the
	// officers told, sent (encrypted to the CERT) once one approves.
	cert := "incident@cert.sandbox.test"
	d.advance(24 * time.Hour)
	d.waitState(id, "authorities-report", "awaiting-approval") // drafted, not sent (issue 16)
	eventually(t, "the officer asked to approve", 10*time.Second, func() bool {
		for _, m := range d.pagedTo("officer@sandbox.test") {
			if strings.Contains(headerOf(m, "Subject"), "Waiting for your approval: D2") && strings.Contains(decodedText(t, m), "/approve "+id+" D2") {
				return true
			}
		}
		return false
	})
	if n := len(d.sentOutside(cert)); n != 0 {
		t.Fatalf("%d mails to the CERT before anyone approved", n)
	}
	if got := command("U0SAM", "/approve", id+" D2", "a4"); !strings.Contains(got, "approved by Sam Officer") || !strings.Contains(got, cert) {
		t.Fatalf("the officer's /approve: %q", got)
	}
	eventually(t, "the status report to the CERT", 10*time.Second, func() bool { return len(d.sentOutside(cert)) == 1 })
	d.waitState(id, "authorities-report", "done")
	raw = d.sentOutside(cert)[0]
	if !strings.Contains(headerOf(raw, "Content-Type"), "multipart/encrypted") {
		t.Fatalf("the CERT's report is not encrypted though its key is configured: %s", headerOf(raw, "Content-Type"))
	}
	text = string(g.DecryptPGPMIME(raw))
	if !strings.Contains(text, "Status report") || !strings.Contains(text, "Fix tested and installed (payments)") ||
		strings.Contains(text, "olga@") || strings.Contains(text, "rita@example.org") {
		t.Errorf("the CERT's status report:\n%s", text)
	}
}

// TestCapturedApproveSendsOnlyItsDraft (issue 15, section 1): a second
// person's /approve, captured, is replayed after the drafter drafted to
// another contact: refused (also with its signature upper-cased), and
// nothing goes to the other contact. An approval names its draft: one
// that names none, or a draft that is not there, sends nothing; one made
// before its draft was drafted (held back, then delivered) sends nothing;
// approving the named draft sends it and only it.
func TestCapturedApproveSendsOnlyItsDraft(t *testing.T) {
	d, _ := startTreeSandbox(t, nil)
	id := d.firstReport("cap1@example.org", "Ransomware on pay.sandbox.test, actively exploited", "Ransom notes.")
	isp, cert := "abuse@isp.sandbox.test", "incident@cert.sandbox.test"
	form := func(user, name, text, trigger string) url.Values {
		return url.Values{"command": {name}, "text": {text}, "user_id": {user}, "trigger_id": {trigger}}
	}
	command := func(f url.Values, at time.Time) string {
		t.Helper()
		code, out, _ := d.slackPost("/slack/commands", f, at, "")
		if code != 200 {
			t.Fatalf("%v: HTTP %d", f, code)
		}
		return fmt.Sprint(out["text"])
	}
	if got := command(form("U0TARA", "/notify", id+" sandbox-isp", "n1"), time.Now()); !strings.Contains(got, "as D1") {
		t.Fatalf("/notify: %q", got)
	}
	// The desk's fake clock stands still while the wall clock runs: an
	// approval that must pass is signed a little ahead (its age counts
	// as 0), so a slow machine's delay between signing and reading it
	// does not make the draft look newer than the approval.
	ahead := func() time.Time { return time.Now().Add(5 * time.Second) }
	approve := form("U0THEO", "/approve", id+" D1", "a1")
	code, _, captured := d.slackPost("/slack/commands", approve, ahead(), "")
	if code != 200 {
		t.Fatalf("/approve: HTTP %d", code)
	}
	eventually(t, "the status report to the ISP", 10*time.Second, func() bool { return len(d.sentOutside(isp)) == 1 })

	// The drafter drafts to the CERT; the captured approval is replayed.
	if got := command(form("U0TARA", "/notify", id+" sandbox-cert", "n2"), time.Now()); !strings.Contains(got, "as D2") {
		t.Fatalf("/notify: %q", got)
	}
	// The cards show the draft waiting, with the id /approve names
	// (Discord's with its Markdown escaped).
	eventually(t, "the cards showing D2", 10*time.Second, func() bool {
		return d.chatCaptures("slack-chat.update", "/approve "+id+" D2") > 0 && d.chatCaptures("discord-edit-message", `D2\\: status\\-report to Sandbox National CERT`) > 0
	})
	upper := http.Header{"X-Slack-Request-Timestamp": {captured.Get("X-Slack-Request-Timestamp")},
		"X-Slack-Signature": {"v0=" + strings.ToUpper(strings.TrimPrefix(captured.Get("X-Slack-Signature"), "v0="))}}
	for _, h := range []http.Header{captured, upper} {
		if code, _, _ := d.chatPost("/slack/commands", []byte(approve.Encode()), "application/x-www-form-urlencoded", h); code != 401 {
			t.Errorf("the captured approval replayed: HTTP %d, want 401", code)
		}
	}
	// No draft named, or one that is not there: refused, the waiting one listed.
	if got := command(form("U0THEO", "/approve", id, "a2"), time.Now()); !strings.Contains(got, "D2 (") {
		t.Errorf("/approve without a draft: %q, want the waiting D2 listed", got)
	}
	if got := command(form("U0THEO", "/approve", id+" D9", "a3"), time.Now()); !strings.Contains(got, "no draft D9") {
		t.Errorf("/approve of a draft that is not there: %q", got)
	}
	// An approval of D3 made before D3 was drafted, held back 3 seconds.
	held := form("U0THEO", "/approve", id+" D3", "a4")
	heldAt := time.Now().Add(-3 * time.Second)
	if got := command(form("U0TARA", "/notify", id+" sandbox-isp again", "n3"), time.Now()); !strings.Contains(got, "as D3") {
		t.Fatalf("/notify: %q", got)
	}
	if got := command(held, heldAt); !strings.Contains(got, "drafted after your approval") {
		t.Errorf("an approval made before its draft: %q", got)
	}
	d.settled(1)
	if n, m := len(d.sentOutside(cert)), len(d.sentOutside(isp)); n != 0 || m != 1 {
		t.Fatalf("%d mails to the CERT and %d to the ISP after the refused approvals, want 0 and 1", n, m)
	}
	var api struct {
		Drafts []struct{ ID, State string } `json:"drafts"`
	}
	d.api("GET", "/api/v1/incidents/"+id, nil, &api)
	if fmt.Sprint(api.Drafts) != "[{D1 approved} {D2 pending} {D3 pending}]" {
		t.Errorf("drafts after the refused approvals: %v", api.Drafts)
	}

	// Approving D2 by name sends it, and only it.
	if got := command(form("U0THEO", "/approve", id+" D2", "a5"), ahead()); !strings.Contains(got, "D2 approved by Theo Team") || !strings.Contains(got, cert) {
		t.Fatalf("/approve D2: %q", got)
	}
	eventually(t, "the status report to the CERT", 10*time.Second, func() bool { return len(d.sentOutside(cert)) == 1 })
	d.settled(1)
	if n := len(d.sentOutside(isp)); n != 1 {
		t.Errorf("%d mails to the ISP after D2 was approved, want 1 (D3 still waits)", n)
	}
	d.api("GET", "/api/v1/incidents/"+id, nil, &api)
	if fmt.Sprint(api.Drafts) != "[{D1 approved} {D2 approved} {D3 pending}]" {
		t.Errorf("drafts after D2 was approved: %v", api.Drafts)
	}
}
