package bot_test

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/mail"

	"tocsin/bot"
	"tocsin/config"
	"tocsin/internal/gpgtest"
)

// onlySent waits for exactly one mail out and returns it.
func onlySent(t *testing.T, d *daemon) []byte {
	t.Helper()
	eventually(t, "the acknowledgement", 10*time.Second, func() bool { return len(d.sent()) == 1 })
	for _, b := range d.sent() {
		return b
	}
	return nil
}

// TestAcknowledgementEncryptedToTheReportersKey: a reporter whose mail a
// trusted server authenticated, and who sent their key with a signed
// report, gets an acknowledgement that gpg decrypts, with a good
// signature, the real subject inside and only the tag outside.
func TestAcknowledgementEncryptedToTheReportersKey(t *testing.T) {
	g := gpgtest.NewHome(t)
	g.GenKey("Tom <tom@example.org>", "rsa3072")
	d := startTrustingSandbox(t)
	d.importDeskKey(g)

	d.sendMail("tom@example.org", authenticated(signedMail(t, g, "tom@example.org", "t1@example.org", "Login bypass on portal", true), "example.org"))
	raw := onlySent(t, d)
	if strings.Contains(string(raw), "Login bypass") {
		t.Error("the report's subject is readable outside the encryption")
	}
	if s := headerOf(raw, "Subject"); !strings.HasPrefix(s, "[SEC-") || !strings.HasSuffix(s, "] ...") {
		t.Errorf("outer subject %q, want the tag only", s)
	}
	subject, inner := entityText(t, g.DecryptPGPMIME(raw))
	if !strings.HasPrefix(subject, "[SEC-") || !strings.HasSuffix(subject, "] Received: Login bypass on portal") {
		t.Errorf("protected subject %q", subject)
	}
	for _, want := range []string{"Login bypass on portal", "STANDARD NOTIFICATION FORM", "Attachments received: 1"} {
		if !strings.Contains(inner, want) {
			t.Errorf("decrypted acknowledgement lacks %q:\n%s", want, inner)
		}
	}
	inc := d.incident(d.incidents()[0].ID)
	composed := ""
	for _, a := range inc.Audit {
		if a.Action == "acknowledgement-composed" {
			composed = a.Detail
		}
	}
	if !strings.Contains(composed, "signed and encrypted to ") {
		t.Errorf("audit does not say the answer was encrypted: %q", composed)
	}
}

// TestEncryptedReportGetsAnEncryptedAnswer: with the reporter's key in
// pgp.keyring, the answer to an encrypted report is encrypted and so may
// name what the report was about.
func TestEncryptedReportGetsAnEncryptedAnswer(t *testing.T) {
	g := gpgtest.NewHome(t)
	g.GenKey("Olga <olga@example.org>", "ed25519")
	d := startWithKnownKey(t, g, "olga@example.org")
	d.importDeskKey(g)
	d.sendMail("olga@example.org", olgasEncryptedReport(g))
	raw := onlySent(t, d)
	if strings.Contains(string(raw), "Customer database") {
		t.Fatal("report content outside the encryption")
	}
	_, ack := entityText(t, g.DecryptPGPMIME(raw))
	for _, want := range []string{"Customer database exposed", "CVE-2026-9999", "we decrypted it with our key"} {
		if !strings.Contains(ack, want) {
			t.Errorf("encrypted acknowledgement lacks %q:\n%s", want, ack)
		}
	}
}

// TestPeoplesPreferences: a listed person gets forms in their language,
// variant and zone; one whose policy is "always" and who has no key gets
// no mail at all, and the failure is visible.
func TestPeoplesPreferences(t *testing.T) {
	dir := t.TempDir()
	cfg := bot.SandboxConfig(dir, "127.0.0.1:0")
	cfg.People = []config.Person{
		{Name: "Dana Weber", Email: "dana@example.com", Language: "de", TimeZone: "Europe/Berlin", Variant: "non-technical", Encrypt: "never"},
		{Name: "Otto Officer", Email: "otto@example.com", Language: "en", Variant: "technical", Encrypt: "always"},
	}
	cfg.Regions = []config.Region{{Name: "EMEA", Domains: []string{"example.com"}, SecurityOfficer: "otto@example.com"}}
	d := startDaemon(t, cfg)
	d.sendMail("dana@example.com", report("dana@example.com", "dana1@example.com", "Phishing mail about invoices",
		"We received phishing mail with a link to http://invoices.example.net/login, CVE-2026-1111."))
	raw := onlySent(t, d)
	g := d.importDeskKey(gpgtest.NewHome(t))
	g.VerifyPGPMIME(raw[strings.Index(string(raw), "Mime-Version"):])
	body := decodedText(t, raw)
	for _, want := range []string{"Guten Tag Dana Weber,", "STANDARD-MELDEFORMULAR", "Nicht-technische Erläuterung", " CET)",
		"Ansprechpartner:      Otto Officer, Sicherheitsbeauftragte(r) EMEA <otto@example.com>"} {
		if !strings.Contains(body, want) {
			t.Errorf("Dana's acknowledgement lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, "Technische Erläuterung") || strings.Contains(body, "CVE-2026-1111") {
		t.Errorf("Dana asked for the non-technical variant:\n%s", body)
	}
	if s := headerOf(raw, "Subject"); !strings.Contains(s, "Eingegangen: Phishing mail about invoices") {
		t.Errorf("subject %q", s)
	}

	d.sendMail("otto@example.com", report("otto@example.com", "otto1@example.com", "Lost laptop", "My laptop was stolen."))
	eventually(t, "Otto's incident", 10*time.Second, func() bool { return len(d.incidents()) == 2 })
	d.settled(2) // everything queued has been tried: a wrong plaintext send would be in sent/
	if n := len(d.sent()); n != 1 {
		t.Fatalf("%d mails sent; Otto's policy is always and he has no key, so nothing may go to him", n)
	}
	var otto apiIncident
	for _, inc := range d.incidents() {
		if inc.Reporter == "otto@example.com" {
			otto = d.incident(inc.ID)
		}
	}
	var ack []string
	for _, o := range otto.Outbox {
		if strings.HasPrefix(o.Key, "ack:") {
			ack = append(ack, o.State)
		}
	}
	if len(ack) != 1 || ack[0] != "failed" {
		t.Fatalf("Otto's outbox %+v, want one failed acknowledgement", otto.Outbox)
	}
	found := false
	for _, a := range otto.Audit {
		found = found || a.Action == "acknowledgement-not-sent" && strings.Contains(a.Detail, "no usable OpenPGP encryption key for otto@example.com")
	}
	if !found {
		t.Errorf("audit does not say why nothing was sent: %+v", otto.Audit)
	}
}

// decodedText is the first text part of a mail, transfer-decoded.
func decodedText(t testing.TB, raw []byte) string {
	t.Helper()
	mr, err := mail.CreateReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	p, err := mr.NextPart()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(p.Body)
	return string(b)
}

// entityText is the subject and decoded body of a single-part entity.
func entityText(t *testing.T, raw []byte) (subject, body string) {
	t.Helper()
	e, err := message.Read(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(e.Body)
	h := mail.Header{Header: e.Header}
	subject, _ = h.Subject()
	return subject, string(b)
}

// TestMailThatCannotBeComposedIsADeadLetter: a custom form that fails on
// real data, or a person's key file that has gone, never costs the report
// its incident: the mail becomes a dead letter that says why.
func TestMailThatCannotBeComposedIsADeadLetter(t *testing.T) {
	dir := t.TempDir()
	forms := filepath.Join(dir, "forms", "en")
	os.MkdirAll(forms, 0o755)
	en, err := os.ReadFile(filepath.Join("..", "templates", "forms", "en", "acknowledgement.tmpl"))
	if err != nil {
		t.Fatal(err)
	}
	// Passes the check (the sample has contacts) but fails for a report,
	// which has none yet.
	os.WriteFile(filepath.Join(forms, "acknowledgement.tmpl"), []byte(strings.Replace(string(en), "Thank you for your report.", "Thank you, from {{(index .Contacts 0).Name}}.", 1)), 0o644)
	cfg := bot.SandboxConfig(filepath.Join(dir, "data"), "127.0.0.1:0")
	cfg.Templates.Dir = filepath.Join(dir, "forms")
	cfg.Regions = nil // no points of contact: the form's index .Contacts 0 fails
	cfg.People = []config.Person{{Name: "Kim", Email: "kim@example.com", Language: "en", Variant: "technical", Encrypt: "when-key-known", KeyFile: filepath.Join(dir, "gone.asc")}}
	d := startDaemon(t, cfg)
	d.sendMail("ann@example.org", report("ann@example.org", "a1@example.org", "Open redirect", "See /goto?u="))
	d.sendMail("kim@example.com", report("kim@example.com", "k1@example.com", "Phishing wave", "Many users got it."))
	eventually(t, "both incidents", 10*time.Second, func() bool { return len(d.incidents()) == 2 })
	// The mail is composed when it is sent: both fail at their first try.
	eventually(t, "both dead letters", 10*time.Second, func() bool { return d.metric(`tocsin_outbox_depth{state="failed"}`) == 2 })
	for _, inc := range d.incidents() {
		full := d.incident(inc.ID)
		why := ""
		for _, a := range full.Audit {
			if a.Action == "acknowledgement-not-sent" {
				why = a.Detail
			}
		}
		want := map[string]string{"ann@example.org": "rendering the acknowledgement form", "kim@example.com": "gone.asc"}[inc.Reporter]
		if !strings.Contains(why, want) {
			t.Errorf("%s (%s): audit %q, want the reason %q", inc.ID, inc.Reporter, why, want)
		}
		for _, o := range full.Outbox {
			if strings.HasPrefix(o.Key, "ack:") && o.State != "failed" {
				t.Errorf("%s: acknowledgement %s, want failed", inc.ID, o.State)
			}
		}
	}
	if n := len(d.sent()); n != 0 {
		t.Errorf("%d mails sent", n)
	}
	_, metrics := getBody(t, "http://"+d.addrs.HTTP+"/metrics")
	for _, want := range []string{"tocsin_replies_failed_total 2", `tocsin_outbox_depth{state="failed"} 2`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}
