package bot_test

import (
	"bytes"
	"net/smtp"
	"strings"
	"testing"

	"tocsin/bot/sandbox"
	"tocsin/internal/gpgtest"
)

// sendMailAs submits raw to the sandbox's MX logged in (AUTH PLAIN) as
// user with the sandbox's SMTP password, as a mail client would.
func (d *daemon) sendMailAs(user, raw string) {
	d.t.Helper()
	raw = strings.ReplaceAll(strings.ReplaceAll(raw, "\r\n", "\n"), "\n", "\r\n")
	auth := smtp.PlainAuth("", user, d.info.SMTPPassword, "127.0.0.1")
	if err := smtp.SendMail(d.addrs.SandboxSMTP, auth, user, []string{sandbox.Alias}, []byte(raw)); err != nil {
		d.t.Fatalf("sending mail as %s: %v", user, err)
	}
}

// TestSandboxShowsAnEncryptedAnswer pins issue 15 §9: in the sandbox as
// shipped (it trusts its own MX, sandbox.test), a report sent logged in
// as its From address with the reporter's key attached pins the key and
// gets an answer that gpg decrypts; a report from an unauthenticated
// client carrying its own "sandbox.test; dmarc=pass" has that header
// removed by the MX and pins nothing.
func TestSandboxShowsAnEncryptedAnswer(t *testing.T) {
	d := startSandbox(t)
	tom := gpgtest.NewHome(t)
	tom.GenKey("Tom <tom@example.org>", "ed25519")
	d.importDeskKey(tom)

	d.sendMailAs("tom@example.org", signedMail(t, tom, "tom@example.org", "mx1@example.org", "Login bypass on portal", true))
	raw := onlySent(t, d)
	if ct := headerOf(raw, "Content-Type"); !strings.HasPrefix(ct, "multipart/encrypted") {
		t.Fatalf("answer to an authenticated reporter with a key: %s, want multipart/encrypted", ct)
	}
	if _, inner := entityText(t, tom.DecryptPGPMIME(raw)); !strings.Contains(inner, "Login bypass on portal") {
		t.Errorf("decrypted answer lacks the report's subject:\n%s", inner)
	}
	if !auditHas(d, "key-pinned", "tom@example.org") {
		t.Error("the authenticated reporter's key was not pinned")
	}

	// Mallory, not logged in, claims the sandbox's DMARC pass for vic@
	// and attaches her key for vic@.
	mallory := gpgtest.NewHome(t)
	mallory.GenKey("Vic <vic@example.org>", "ed25519")
	forged := "Authentication-Results: sandbox.test; auth=pass smtp.auth=vic@example.org; dmarc=pass header.from=example.org\r\n" +
		signedMail(t, mallory, "vic@example.org", "mx2@example.org", "Use my new key", true)
	d.sendMail("vic@example.org", forged)
	d.settled(2)
	if auditHas(d, "key-pinned", "vic@example.org") {
		t.Error("a forged sandbox.test header pinned a key for vic@example.org")
	}
	if !auditHas(d, "key-not-pinned", "vic@example.org") {
		t.Error("no audit entry says vic's offered key was not pinned")
	}
	for _, b := range d.sent() {
		if strings.Trim(headerOf(b, "X-Sandbox-Envelope-To"), "<>") != "vic@example.org" {
			continue
		}
		if ct := headerOf(b, "Content-Type"); !strings.HasPrefix(ct, "multipart/signed") || bytes.Contains(b, []byte("BEGIN PGP MESSAGE")) {
			t.Errorf("answer to the forged report: %s, want signed and not encrypted", ct)
		}
	}
}
