package bot_test

import (
	"fmt"
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
	if got := command("U0TARA", "/notify", id+" sandbox-isp they host the C2 server", "n2"); !strings.Contains(got, "drafted by Tara Team") || !strings.Contains(got, "/approve "+id) {
		t.Fatalf("/notify: %q", got)
	}
	if got := command("U0TARA", "/approve", id, "a1"); !strings.Contains(got, "a second person must approve") {
		t.Errorf("the drafter approved their own draft: %q", got)
	}
	if got := command("U0THEO", "/status", id, "s1"); !strings.Contains(got, "Waiting for approval") || !strings.Contains(got, "Sandbox ISP abuse desk") {
		t.Errorf("/status does not show the draft waiting: %q", got)
	}
	if n := len(d.sentOutside(isp)); n != 0 {
		t.Fatalf("%d mails to the ISP before anyone approved", n)
	}
	if got := command("U0THEO", "/approve", id, "a2"); !strings.Contains(got, "approved by Theo Team") || !strings.Contains(got, isp) {
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
			Contact    string `json:"contact"`
			State      string `json:"state"`
			DraftedBy  string `json:"drafted_by"`
			ApprovedBy string `json:"approved_by"`
		} `json:"drafts"`
	}
	d.api("GET", "/api/v1/incidents/"+id, nil, &api)
	if fmt.Sprint(api.Drafts) != "[{sandbox-isp approved tara@sandbox.test theo@sandbox.test}]" {
		t.Errorf("the API's drafts: %+v", api.Drafts)
	}
	if got := command("U0THEO", "/approve", id, "a3"); !strings.Contains(got, "Nothing of "+id+" waits") {
		t.Errorf("a second /approve: %q", got)
	}
	audit := ""
	for _, a := range d.incident(id).Audit {
		audit += a.Action + ": " + a.Detail + "\n"
	}
	for _, want := range []string{"draft-created: status report to Sandbox ISP abuse desk", "drafted by tara@sandbox.test, approved by theo@sandbox.test", "chat-refused: /approve"} {
		if !strings.Contains(audit, want) {
			t.Errorf("audit lacks %q:\n%s", want, audit)
		}
	}

	// The playbook's E+24h report to the authorities: drafted, the
	// officers told, sent (encrypted to the CERT) once one approves.
	cert := "incident@cert.sandbox.test"
	d.advance(24 * time.Hour)
	d.waitState(id, "authorities-report", "done")
	eventually(t, "the officer asked to approve", 10*time.Second, func() bool {
		for _, m := range d.pagedTo("officer@sandbox.test") {
			if strings.Contains(headerOf(m, "Subject"), "Waiting for your approval") {
				return true
			}
		}
		return false
	})
	if n := len(d.sentOutside(cert)); n != 0 {
		t.Fatalf("%d mails to the CERT before anyone approved", n)
	}
	if got := command("U0SAM", "/approve", id, "a4"); !strings.Contains(got, "approved by Sam Officer") || !strings.Contains(got, cert) {
		t.Fatalf("the officer's /approve: %q", got)
	}
	eventually(t, "the status report to the CERT", 10*time.Second, func() bool { return len(d.sentOutside(cert)) == 1 })
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
