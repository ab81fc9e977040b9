package bot_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"tocsin/bot"
	"tocsin/internal/gpgtest"
)

// signedMail is an RFC 3156 signed report by gpg user signer; attachKey
// puts the signer's public key into the signed part.
func signedMail(t *testing.T, g *gpgtest.Home, signer, msgID, subject string, attachKey bool) string {
	t.Helper()
	var part string
	if attachKey {
		key := strings.ReplaceAll(string(g.Export(signer)), "\n", "\r\n")
		part = "Content-Type: multipart/mixed; boundary=\"in\"\r\n\r\n--in\r\nContent-Type: text/plain\r\n\r\n" + subject + " details.\r\n" +
			"--in\r\nContent-Type: application/pgp-keys; name=\"key.asc\"\r\nContent-Disposition: attachment; filename=\"key.asc\"\r\n\r\n" + key + "\r\n--in--\r\n"
	} else {
		part = "Content-Type: text/plain\r\n\r\n" + subject + " details.\r\n"
	}
	sig := g.Output([]byte(part), "--armor", "--detach-sign", "--local-user", signer)
	return "From: <" + signer + ">\r\nTo: security@sandbox.test\r\nSubject: " + subject + "\r\nMessage-ID: <" + msgID + ">\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/signed; micalg=pgp-sha256; protocol=\"application/pgp-signature\"; boundary=\"s\"\r\n\r\n" +
		"--s\r\n" + part + "\r\n--s\r\nContent-Type: application/pgp-signature\r\n\r\n" + string(sig) + "\r\n--s--\r\n"
}

func openedDetail(t *testing.T, d *daemon, n int) string {
	t.Helper()
	var detail string
	eventually(t, "the incident", 10*time.Second, func() bool {
		incs := d.incidents()
		if len(incs) < n {
			return false
		}
		detail = d.incident(incs[0].ID).Audit[0].Detail
		return true
	})
	return detail
}

// authenticated prefixes what the sandbox's trusted receiving server
// (mx.sandbox.test, in trust.authserv_ids) records for mail whose From
// passed DMARC.
func authenticated(mail, domain string) string {
	return "Authentication-Results: mx.sandbox.test; dkim=pass header.d=" + domain + "; dmarc=pass header.from=" + domain + "\r\n" + mail
}

func startTrustingSandbox(t *testing.T) *daemon {
	cfg := bot.SandboxConfig(t.TempDir(), "127.0.0.1:0")
	cfg.Trust.AuthServIDs = []string{"mx.sandbox.test"}
	return startDaemon(t, cfg)
}

func auditHas(d *daemon, action, contains string) bool {
	for _, inc := range d.incidents() {
		for _, a := range d.incident(inc.ID).Audit {
			if a.Action == action && strings.Contains(a.Detail, contains) {
				return true
			}
		}
	}
	return false
}

// TestReporterKeysTrustOnFirstUse: a key sent with mail whose From a
// trusted server authenticated is pinned, and the sender's next signed
// report verifies against it; a key from unauthenticated mail (anyone can
// write a From) is not pinned.
func TestReporterKeysTrustOnFirstUse(t *testing.T) {
	g := gpgtest.NewHome(t)
	g.GenKey("Tom <tom@example.org>", "ed25519")
	d := startTrustingSandbox(t)

	d.sendMail("tom@example.org", signedMail(t, g, "tom@example.org", "t0@example.org", "Unauthenticated report", true))
	d.settled(1)
	if !auditHas(d, "key-not-pinned", "tom@example.org") {
		t.Error("a key from unauthenticated mail: no audit entry says it was not pinned")
	}
	// Nor does it seal the answer: the From may be a forger's.
	for _, b := range d.sent() {
		if ct := headerOf(b, "Content-Type"); !strings.HasPrefix(ct, "multipart/signed") {
			t.Errorf("answer to unauthenticated mail with a key: %s, want signed, not encrypted to that key", ct)
		}
	}
	d.sendMail("tom@example.org", authenticated(signedMail(t, g, "tom@example.org", "t1@example.org", "First report", true), "example.org"))
	if got := openedDetail(t, d, 2); !strings.Contains(got, "came with this message") || strings.Contains(got, "trust on first use") {
		t.Errorf("first report: %q; want a good but unverified signature", got)
	}
	if !auditHas(d, "key-pinned", "tom@example.org") {
		t.Error("no audit entry says the key was pinned")
	}
	d.sendMail("tom@example.org", signedMail(t, g, "tom@example.org", "t2@example.org", "Second report", false))
	if got := openedDetail(t, d, 3); !strings.Contains(got, "trust on first use") {
		t.Errorf("second report: %q; want verified by the key from earlier mail", got)
	}
}

// TestKeyChangeIsAConflict: a different key for a pinned address, even
// from authenticated mail, is not used: answers stay encrypted to the
// pinned key, the audit shows the conflict, and a person settles it.
func TestKeyChangeIsAConflict(t *testing.T) {
	g := gpgtest.NewHome(t)
	g.GenKey("Vic <vic@example.org>", "ed25519")
	d := startTrustingSandbox(t)
	d.importDeskKey(g)
	d.sendMail("vic@example.org", authenticated(signedMail(t, g, "vic@example.org", "v1@example.org", "First report", true), "example.org"))
	eventually(t, "the pin", 10*time.Second, func() bool { return auditHas(d, "key-pinned", "vic@example.org") })

	// Another key claiming vic@, from a second home (an attacker's, or
	// Vic's new laptop: the desk cannot tell).
	g2 := gpgtest.NewHome(t)
	newFpr := g2.GenKey("Vic <vic@example.org>", "ed25519")
	d.sendMail("vic@example.org", authenticated(signedMail(t, g2, "vic@example.org", "v2@example.org", "New key", true), "example.org"))
	eventually(t, "the conflict", 10*time.Second, func() bool { return auditHas(d, "key-conflict", newFpr) })
	d.settled(2)

	// Answers go to the pinned key: the first home decrypts them, the
	// second does not.
	var enc []byte
	for _, b := range d.sent() {
		if strings.Contains(headerOf(b, "Content-Type"), "multipart/encrypted") {
			enc = b
		}
	}
	if enc == nil {
		t.Fatal("no encrypted answer to vic")
	}
	g.DecryptPGPMIME(enc)
	i, j := bytes.Index(enc, []byte("-----BEGIN PGP MESSAGE-----")), bytes.Index(enc, []byte("-----END PGP MESSAGE-----"))
	if out, err := g2.Run(enc[i:j+25], "--decrypt"); err == nil {
		t.Errorf("the conflicting key decrypts the answer:\n%s", out)
	}
}

// TestConfiguredKeyring: a key in pgp.keyring verifies from the start.
func TestConfiguredKeyring(t *testing.T) {
	g := gpgtest.NewHome(t)
	g.GenKey("Uma <uma@example.org>", "rsa3072")
	d := startWithKnownKey(t, g, "uma@example.org")
	d.sendMail("uma@example.org", signedMail(t, g, "uma@example.org", "u1@example.org", "Signed report", false))
	if got := openedDetail(t, d, 1); !strings.Contains(got, "(known key)") {
		t.Errorf("report: %q; want verified by a known key", got)
	}
}

// TestDMARCFailureIsNotAnswered: mail whose From failed DMARC at the
// trusted server is filed and flagged, never answered: a signed answer
// would go to whoever the forger named.
func TestDMARCFailureIsNotAnswered(t *testing.T) {
	d := startTrustingSandbox(t)
	d.sendMail("attacker@evil.test", "Authentication-Results: mx.sandbox.test; dkim=fail; spf=fail; dmarc=fail header.from=victim.example\r\n"+
		report("CFO <cfo@victim.example>", "x1@evil.test", "Urgent: confirm the transfer", "Please confirm."))
	d.sendMail("ok@example.org", authenticated(report("ok@example.org", "ok1@example.org", "XSS", "details"), "example.org"))
	d.settled(2)
	for _, b := range d.sent() {
		if to := headerOf(b, "X-Sandbox-Envelope-To"); to != "<ok@example.org>" {
			t.Errorf("answered %s", to)
		}
	}
	if len(d.sent()) != 1 || !auditHas(d, "no-answer", "DMARC failed") {
		t.Errorf("%d sent; want only the authenticated report answered, and the DMARC failure in the audit", len(d.sent()))
	}
}

// TestSignatureAttacksThroughThePipeline runs the signature attacks as
// mail through the sandbox's SMTP server and IMAP mailbox: each report is
// filed, and none is shown as verified.
func TestSignatureAttacksThroughThePipeline(t *testing.T) {
	g := gpgtest.NewHome(t)
	g.GenKey("Ed <ed@example.org>", "ed25519")
	d := startWithKnownKey(t, g, "ed@example.org")
	_, deskKey := getBody(t, "http://"+d.addrs.HTTP+"/pgp-key.asc")

	// 1. A padded message naming Ed's key in its signature packets, with a
	// signature that is not Ed's, encrypted to the public desk key.
	body := "Content-Type: text/plain\r\n\r\nWire the funds today.\r\n" + strings.Repeat("padding padding padding\r\n", 1500000) // > 25 MiB decrypted
	d.sendMail("ed@example.org", string(gpgtest.ForgedSignedReport(t, g.Export("ed@example.org"), []byte(deskKey), "ed@example.org", body)))

	// 2. Ed's genuinely signed report, under the CFO's From.
	spoofed := strings.Replace(signedMail(t, g, "ed@example.org", "s2@example.org", "Approve the invoice", false), "From: <ed@example.org>", "From: CFO <cfo@victimcorp.example>", 1)
	d.sendMail("cfo@victimcorp.example", spoofed)

	// 3. The desk's own signed acknowledgement, pasted under the
	// attacker's words, from the victim's CISO.
	d.sendMail("x@example.org", report("x@example.org", "x1@example.org", "Ping", "a report to get a signed answer"))
	var ack []byte
	eventually(t, "an acknowledgement", 15*time.Second, func() bool {
		for _, b := range d.sent() {
			ack = b
		}
		return ack != nil
	})
	// The signed body as it stands, under the attacker's header.
	head, signedBody, _ := bytes.Cut(ack, []byte("\r\n\r\n"))
	ct := headerOf(append(head, "\r\n\r\n"...), "Content-Type")
	pasted := "From: CISO <ciso@victimcorp.example>\r\nTo: security@sandbox.test\r\nSubject: approved\r\nMessage-ID: <p1@evil.test>\r\nMIME-Version: 1.0\r\nContent-Type: " + ct + "\r\n\r\n" + string(signedBody)
	d.sendMail("ciso@victimcorp.example", pasted)

	d.settled(4)
	details := map[string]string{}
	for _, inc := range d.incidents() {
		details[inc.Reporter] = d.incident(inc.ID).Audit[0].Detail
	}
	for who, want := range map[string]string{
		"ed@example.org":          "BAD signature", // read to its end, checked, and failed
		"cfo@victimcorp.example":  "none of its user ids is the sender",
		"ciso@victimcorp.example": "desk's own key",
	} {
		got := details[who]
		if !strings.Contains(got, want) || strings.Contains(got, "(known key)") {
			t.Errorf("%s: opened %q; want %q and no verified signature", who, got, want)
		}
	}
}

// TestCompressionBombThroughThePipeline: a small encrypted report that
// decompresses to 64 MiB is filed, read up to the decoded-bytes budget,
// and its signature reported unchecked.
func TestCompressionBombThroughThePipeline(t *testing.T) {
	g := gpgtest.NewHome(t)
	g.GenKey("Ed <ed@example.org>", "ed25519")
	cfg := bot.SandboxConfig(t.TempDir(), "127.0.0.1:0")
	cfg.Limits.MaxDecodedBytes = 16 << 20
	d := startDaemon(t, cfg)
	d.importDeskKey(g)
	zeros := strings.Repeat("\x00", 64<<20)
	ct := g.Output([]byte("Content-Type: application/octet-stream\r\n\r\n"+zeros), "--armor", "--encrypt", "-r", "security@sandbox.test", "--sign", "--local-user", "ed@example.org", "--compress-algo", "zlib", "--compress-level", "9")
	if len(ct) > 1<<20 {
		t.Fatalf("gpg made %d bytes of ciphertext; want a small bomb", len(ct))
	}
	d.sendMail("ed@example.org", "From: <ed@example.org>\r\nTo: security@sandbox.test\r\nSubject: ...\r\nMessage-ID: <bomb@example.org>\r\nMIME-Version: 1.0\r\n"+
		"Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=\"enc\"\r\n\r\n--enc\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n\r\n"+
		"--enc\r\nContent-Type: application/octet-stream\r\n\r\n"+string(ct)+"\r\n--enc--\r\n")
	d.settled(1)
	incs := d.incidents()
	if len(incs) != 1 {
		t.Fatalf("%d incidents", len(incs))
	}
	if got := d.incident(incs[0].ID).Audit[0].Detail; !strings.Contains(got, "not read to its end") || strings.Contains(got, "good signature") {
		t.Errorf("opened %q; want the signature reported unchecked", got)
	}
}

// TestPinnedKeyRevocationIsApplied: the pinned key, sent again revoked,
// replaces the pinned copy, and answers are no longer encrypted to it.
func TestPinnedKeyRevocationIsApplied(t *testing.T) {
	g := gpgtest.NewHome(t)
	fpr := g.GenKey("Rae <rae@example.org>", "ed25519")
	d := startTrustingSandbox(t)
	d.sendMail("rae@example.org", authenticated(signedMail(t, g, "rae@example.org", "r1@example.org", "First", true), "example.org"))
	eventually(t, "the pin", 10*time.Second, func() bool { return auditHas(d, "key-pinned", fpr) })
	d.settled(1)
	g.Revoke(fpr)
	// A revoked key signs nothing more: the revocation comes attached to
	// an unsigned mail.
	key := strings.ReplaceAll(string(g.Export("rae@example.org")), "\n", "\r\n")
	d.sendMail("rae@example.org", authenticated("From: <rae@example.org>\r\nTo: security@sandbox.test\r\nSubject: my key is revoked\r\nMessage-ID: <r2@example.org>\r\n"+
		"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=in\r\n\r\n--in\r\nContent-Type: text/plain\r\n\r\nMy key is revoked.\r\n"+
		"--in\r\nContent-Type: application/pgp-keys\r\n\r\n"+key+"\r\n--in--\r\n", "example.org"))
	eventually(t, "the update", 10*time.Second, func() bool { return auditHas(d, "key-updated", fpr) })
	d.sendMail("rae@example.org", authenticated(report("rae@example.org", "r3@example.org", "After the revocation", "x"), "example.org"))
	d.settled(3)
	encrypted := 0
	for _, b := range d.sent() {
		if strings.Contains(headerOf(b, "Content-Type"), "multipart/encrypted") {
			encrypted++
		}
	}
	if encrypted != 1 {
		t.Errorf("%d of %d answers encrypted; want only the one before the revocation", encrypted, len(d.sent()))
	}
}
