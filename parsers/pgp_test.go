package parsers_test

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"tocsin/internal/gpgtest"
	"tocsin/parsers"
)

// One GnuPG home for every OpenPGP test: the desk's key and two reporters'
// keys, made by gpg itself (Ed25519/Curve25519 and RSA-3072).
var (
	pgpOnce sync.Once
	world   struct {
		g                   *gpgtest.Home
		deskSec, deskPub    []byte
		edPub, rsaPub       []byte
		edFpr, rsaFpr, desk string
	}
)

func gpgWorld(t *testing.T) {
	pgpOnce.Do(func() {
		g := gpgtest.Shared() // closed by TestMain
		world.g = g
		world.desk = g.GenKey("Desk <security@example.com>", "ed25519")
		world.edFpr = g.GenKey("Ed Reporter <ed@example.org>", "ed25519")
		world.rsaFpr = g.GenKey("Rita RSA <rita@example.org>", "rsa3072")
		world.deskSec = g.ExportSecret("security@example.com")
		world.deskPub = g.Export("security@example.com")
		world.edPub = g.Export("ed@example.org")
		world.rsaPub = g.Export("rita@example.org")
	})
	if world.g == nil || world.desk == "" {
		t.Fatal("could not set up GnuPG keys")
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	if world.g != nil {
		world.g.Close()
	}
	os.Exit(code)
}

func keys(t *testing.T, blocks ...[]byte) *parsers.Keyring {
	t.Helper()
	k, err := parsers.ReadKeyring(blocks...)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func crlf(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\n", "\r\n")
}

// pgpMIMEEncrypted is a report as Thunderbird or Mutt send it: gpg signs
// and encrypts a MIME entity, wrapped in RFC 3156 multipart/encrypted.
func pgpMIMEEncrypted(t *testing.T, signer, inner string) []byte {
	args := []string{"--armor", "--encrypt", "-r", "security@example.com"}
	if signer != "" {
		args = append(args, "--sign", "--local-user", signer)
	}
	ct := world.g.Output([]byte(crlf(inner)), args...)
	from := signer
	if from == "" {
		from = "anonymous@example.org"
	}
	return []byte(crlf(`From: reporter <` + from + `>
To: security@example.com
Subject: ...
Message-ID: <enc@example.org>
MIME-Version: 1.0
Content-Type: multipart/encrypted; protocol="application/pgp-encrypted"; boundary="enc"

--enc
Content-Type: application/pgp-encrypted

Version: 1

--enc
Content-Type: application/octet-stream; name="encrypted.asc"

` + string(ct) + `
--enc--
`))
}

const innerReport = `Content-Type: text/plain; charset=utf-8; protected-headers="v1"
Subject: Remote code execution in the upload service

The upload service at https://files.example.com runs uploaded .jsp files.
This is CVE-2026-5555. Proof of concept on request.
`

func TestGnuPGEncryptedAndSignedReport(t *testing.T) {
	gpgWorld(t)
	for _, tc := range []struct{ name, signer, fpr string }{
		{"ed25519", "ed@example.org", ""},
		{"rsa3072", "rita@example.org", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := pgpMIMEEncrypted(t, tc.signer, innerReport)
			fpr := world.edFpr
			pub := world.edPub
			if tc.name == "rsa3072" {
				fpr, pub = world.rsaFpr, world.rsaPub
			}
			r, err := parsers.ParseWith(raw, parsers.Options{Keys: keys(t, world.deskSec, pub)})
			if err != nil {
				t.Fatal(err)
			}
			g := r.PGP
			if !g.Encrypted || !g.Decrypted || !g.Signed || !g.Verified || g.Signer != fpr {
				t.Errorf("pgp = %+v; want decrypted, verified, signer %s", g, fpr)
			}
			if r.Subject != "Remote code execution in the upload service" {
				t.Errorf("protected subject not used: %q", r.Subject)
			}
			if !strings.Contains(r.Text, "runs uploaded .jsp files") || len(r.CVEs) != 1 || r.Category != parsers.CategoryVulnerability {
				t.Errorf("decrypted content not read: text %q cves %v category %s", r.Text, r.CVEs, r.Category)
			}
		})
	}
}

func TestEncryptedReportFromUnknownSigner(t *testing.T) {
	gpgWorld(t)
	r, _ := parsers.ParseWith(pgpMIMEEncrypted(t, "ed@example.org", innerReport), parsers.Options{Keys: keys(t, world.deskSec)})
	if !r.PGP.Decrypted || r.PGP.Verified || !strings.Contains(r.PGP.Reason, "unknown key") {
		t.Errorf("pgp = %+v; want decrypted, not verified, 'unknown key'", r.PGP)
	}
	if !strings.Contains(r.Text, "jsp") {
		t.Error("the text of a report from an unknown signer was not read")
	}
}

func TestEncryptedToAnotherKey(t *testing.T) {
	gpgWorld(t)
	raw := pgpMIMEEncrypted(t, "", innerReport)
	r, err := parsers.ParseWith(raw, parsers.Options{Keys: keys(t, world.edPub)}) // no desk private key
	if err != nil {
		t.Fatal(err)
	}
	if !r.PGP.Encrypted || r.PGP.Decrypted || !strings.Contains(r.PGP.Reason, "cannot decrypt") {
		t.Errorf("pgp = %+v; want encrypted, not decrypted, with the reason", r.PGP)
	}
	if r.From == "" {
		t.Error("an undecryptable report lost its sender")
	}
}

// pgpMIMESigned builds RFC 3156 multipart/signed with a gpg detached
// signature over the part; tamper changes the part after signing.
func pgpMIMESigned(t *testing.T, signer string, tamper bool) []byte {
	part := crlf("Content-Type: text/plain; charset=utf-8\n\nThe admin panel at https://admin.example.com has no password.\n")
	sig := world.g.Output([]byte(part), "--armor", "--detach-sign", "--local-user", signer, "--digest-algo", "SHA256")
	if tamper {
		part = strings.Replace(part, "no password", "a password", 1)
	}
	return []byte(crlf(`From: <`+signer+`>
To: security@example.com
Subject: Open admin panel
Message-ID: <sig@example.org>
MIME-Version: 1.0
Content-Type: multipart/signed; micalg=pgp-sha256; protocol="application/pgp-signature"; boundary="sig"

--sig
`) + part + crlf(`
--sig
Content-Type: application/pgp-signature; name="signature.asc"

`+string(sig)+`
--sig--
`))
}

func TestGnuPGSignedReport(t *testing.T) {
	gpgWorld(t)
	r, _ := parsers.ParseWith(pgpMIMESigned(t, "rita@example.org", false), parsers.Options{Keys: keys(t, world.rsaPub)})
	if !r.PGP.Signed || !r.PGP.Verified || r.PGP.Signer != world.rsaFpr || r.PGP.Encrypted {
		t.Errorf("pgp = %+v; want verified by %s", r.PGP, world.rsaFpr)
	}
	if !strings.Contains(r.Text, "has no password") {
		t.Errorf("signed text not read: %q", r.Text)
	}
	if len(r.Attachments) != 0 {
		t.Errorf("the signature was listed as an attachment: %+v", r.Attachments)
	}
	r, _ = parsers.ParseWith(pgpMIMESigned(t, "rita@example.org", true), parsers.Options{Keys: keys(t, world.rsaPub)})
	if r.PGP.Verified || !strings.Contains(r.PGP.Reason, "BAD signature") {
		t.Errorf("tampered: pgp = %+v; want a BAD signature", r.PGP)
	}
	// Mail that went through a system turning CRLF into LF still verifies.
	lf := bytes.ReplaceAll(pgpMIMESigned(t, "ed@example.org", false), []byte("\r\n"), []byte("\n"))
	r, _ = parsers.ParseWith(lf, parsers.Options{Keys: keys(t, world.edPub)})
	if !r.PGP.Verified {
		t.Errorf("LF line ends: pgp = %+v; want verified", r.PGP)
	}
}

func TestInlinePGP(t *testing.T) {
	gpgWorld(t)
	clear := world.g.Output([]byte("Your VPN gateway leaks memory (CVE-2026-7777).\n"), "--clearsign", "--local-user", "ed@example.org")
	raw := []byte(crlf("From: ed@example.org\nTo: security@example.com\nSubject: inline signed\nMessage-ID: <in1@example.org>\n\n") + string(clear))
	r, _ := parsers.ParseWith(raw, parsers.Options{Keys: keys(t, world.edPub)})
	if !r.PGP.Verified || r.PGP.Signer != world.edFpr || strings.Contains(r.Text, "BEGIN PGP") || !strings.Contains(r.Text, "leaks memory") {
		t.Errorf("clearsigned: pgp %+v text %q", r.PGP, r.Text)
	}

	ct := world.g.Output([]byte("Password for the dump: hunter2\n"), "--armor", "--encrypt", "-r", "security@example.com", "--sign", "--local-user", "ed@example.org")
	raw = []byte(crlf("From: ed@example.org\nTo: security@example.com\nSubject: inline encrypted\nMessage-ID: <in2@example.org>\n\n") + string(ct))
	r, _ = parsers.ParseWith(raw, parsers.Options{Keys: keys(t, world.deskSec, world.edPub)})
	if !r.PGP.Decrypted || !r.PGP.Verified || !strings.Contains(r.Text, "hunter2") || strings.Contains(r.Text, "BEGIN PGP") {
		t.Errorf("inline encrypted: pgp %+v text %q", r.PGP, r.Text)
	}
	// Text outside the signed block is not covered by the signature: the
	// block is decrypted and its signature checked, the report not verified.
	raw = []byte(crlf("From: ed@example.org\nTo: security@example.com\nSubject: inline encrypted\nMessage-ID: <in2@example.org>\n\nHello,\n\n") + string(ct))
	r, _ = parsers.ParseWith(raw, parsers.Options{Keys: keys(t, world.deskSec, world.edPub)})
	if !r.PGP.Decrypted || r.PGP.Verified || !strings.Contains(r.PGP.Reason, "over only part of the message") {
		t.Errorf("inline encrypted under other text: pgp %+v", r.PGP)
	}
	// Without keys: detected and reported, never dropped.
	r, _ = parsers.Parse(raw, parsers.DefaultLimits)
	if !r.PGP.Encrypted || r.PGP.Decrypted || !strings.Contains(r.Text, "BEGIN PGP MESSAGE") {
		t.Errorf("no keys: pgp %+v", r.PGP)
	}
}

// TestAutocryptKeyIsOfferedNotTrusted: a signature by a key that came in
// the same message is good, but proves nothing about who sent it.
func TestAutocryptKeyIsOfferedNotTrusted(t *testing.T) {
	gpgWorld(t)
	bin := world.g.Output(nil, "--export", "ed@example.org")
	raw := pgpMIMESigned(t, "ed@example.org", false)
	hdr := fmt.Sprintf("Autocrypt: addr=ed@example.org; keydata=%s\r\n", base64.StdEncoding.EncodeToString(bin))
	raw = append([]byte(hdr), raw...)
	r, _ := parsers.ParseWith(raw, parsers.Options{Keys: keys(t, world.deskSec)})
	if r.PGP.Verified || r.PGP.Signer != world.edFpr || !strings.Contains(r.PGP.Reason, "came with this message") {
		t.Errorf("pgp = %+v; want a good but unverified signature by %s", r.PGP, world.edFpr)
	}
	if len(r.PGP.OfferedKeys) != 1 || r.PGP.OfferedKeys[0] != world.edFpr {
		t.Errorf("offered keys %v", r.PGP.OfferedKeys)
	}
}

// TestPaddedForgeryIsNotVerified reproduces the forged "good signature":
// a message encrypted to the public desk key whose signature packets name
// a known reporter's key but whose signature is not theirs, padded past
// the limit so that the content is cut. The signature must be checked
// over the whole content all the same, and fail; a genuine signature over
// content just as large must still verify.
func TestPaddedForgeryIsNotVerified(t *testing.T) {
	gpgWorld(t)
	const limit = 4096
	body := "Content-Type: text/plain\r\n\r\nWire the funds today.\r\n" + strings.Repeat("padding padding padding\r\n", 1000)
	opts := parsers.Options{Keys: keys(t, world.deskSec, world.edPub), Limits: parsers.Limits{MaxAttachmentBytes: limit}}

	genuine := pgpMIMEEncrypted(t, "ed@example.org", body)
	r, _ := parsers.ParseWith(genuine, opts)
	if !r.PGP.Verified || r.PGP.Signer != world.edFpr || !strings.Contains(r.PGP.Reason, "cut") {
		t.Errorf("genuine large signed report: pgp %+v; want verified by %s, content cut", r.PGP, world.edFpr)
	}

	forged := gpgtest.ForgedSignedReport(t, world.edPub, world.deskPub, "ed@example.org", body)
	r, _ = parsers.ParseWith(forged, opts)
	if r.PGP.Verified || !r.PGP.Signed || strings.Contains(r.PGP.Reason, "good signature") {
		t.Errorf("forged signature: pgp %+v; want signed, not verified, no good signature", r.PGP)
	}
}

// TestVerifiedMeansTheSender: a good signature makes a report verified
// only when it is the sender's (a user id of the key is the From
// address), covers the whole message, and is not the desk's own.
func TestVerifiedMeansTheSender(t *testing.T) {
	gpgWorld(t)
	opts := parsers.Options{Keys: keys(t, world.deskSec, world.edPub)}
	reason := func(raw []byte, wantVerified bool, wantReason string) {
		t.Helper()
		r, _ := parsers.ParseWith(raw, opts)
		if r.PGP.Verified != wantVerified || !strings.Contains(r.PGP.Reason, wantReason) {
			t.Errorf("pgp %+v; want verified %v, reason with %q", r.PGP, wantVerified, wantReason)
		}
	}
	// Ed's own mail, signed by Ed: verified.
	reason(pgpMIMESigned(t, "ed@example.org", false), true, "good signature by "+world.edFpr+" (known key)")

	// Ed's signed mail under another From: the signature proves Ed wrote
	// it, not that the CFO sent it.
	spoofed := bytes.Replace(pgpMIMESigned(t, "ed@example.org", false), []byte("From: <ed@example.org>"), []byte("From: CFO <cfo@victimcorp.example>"), 1)
	reason(spoofed, false, `none of its user ids is the sender "cfo@victimcorp.example"`)

	// Ed's signed part nested in a message with the attacker's own text.
	signed := pgpMIMESigned(t, "ed@example.org", false)
	body := signed[bytes.Index(signed, []byte("MIME-Version")):]
	nested := []byte(crlf("From: <ed@example.org>\nTo: security@example.com\nSubject: forwarded\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=outer\n\n--outer\nContent-Type: text/plain\n\nPlease wire the money to the account below.\n--outer\n") + string(body) + crlf("\n--outer--\n"))
	reason(nested, false, "over only part of the message")

	// The desk's own signature (an acknowledgement, pasted) never verifies
	// mail sent to the desk, whoever it claims to be from.
	ack := world.g.Output([]byte("Thank you for your report. We have recorded it as incident SEC-2026-0042.\n"), "--clearsign", "--local-user", "security@example.com")
	for _, from := range []string{"CISO <ciso@victimcorp.example>", "Desk <security@example.com>"} {
		raw := []byte(crlf("From: "+from+"\nTo: security@example.com\nSubject: approved\nMessage-ID: <d1@example.org>\n\n") + string(ack))
		reason(raw, false, "desk's own key")
	}
}

// TestCompressionBombIsBounded: a small encrypted message that expands to
// far more than the decoded-bytes budget is read up to the budget, says
// so, and its signature is reported unchecked, never good.
func TestCompressionBombIsBounded(t *testing.T) {
	gpgWorld(t)
	zeros := strings.Repeat("\x00", 40<<20) // 40 MiB; compressed by gpg to a few KiB
	ct := world.g.Output([]byte("Content-Type: application/octet-stream\r\n\r\n"+zeros), "--armor", "--encrypt", "-r", "security@example.com", "--sign", "--local-user", "ed@example.org", "--compress-level", "9")
	if len(ct) > 1<<20 {
		t.Fatalf("gpg made %d bytes of ciphertext; want a small bomb", len(ct))
	}
	raw := []byte(crlf("From: <ed@example.org>\nTo: security@example.com\nSubject: ...\nMIME-Version: 1.0\nContent-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=\"enc\"\n\n--enc\nContent-Type: application/pgp-encrypted\n\nVersion: 1\n\n--enc\nContent-Type: application/octet-stream\n\n") + string(ct) + crlf("\n--enc--\n"))
	r, err := parsers.ParseWith(raw, parsers.Options{Keys: keys(t, world.deskSec, world.edPub), Limits: parsers.Limits{MaxAttachmentBytes: 1 << 20, MaxDecodedBytes: 8 << 20}})
	if err != nil {
		t.Fatal(err)
	}
	if r.PGP.Verified || !strings.Contains(r.PGP.Reason, "not read to its end") {
		t.Errorf("pgp %+v; want the signature reported unchecked", r.PGP)
	}
	if !strings.Contains(strings.Join(r.Warnings, ";"), "max_decoded_bytes") {
		t.Errorf("warnings %q lack the budget", r.Warnings)
	}
}

// TestForwardedPartsShareTheCount: parts of forwarded messages count
// against the message's own part limit.
func TestForwardedPartsShareTheCount(t *testing.T) {
	inner := "From: a@example.org\r\nSubject: inner\r\nContent-Type: multipart/mixed; boundary=i\r\n\r\n" + strings.Repeat("--i\r\nContent-Type: text/plain\r\n\r\nx\r\n", 30) + "--i--\r\n"
	raw := "From: b@example.org\r\nSubject: outer\r\nContent-Type: multipart/mixed; boundary=o\r\n\r\n"
	for range 3 {
		raw += "--o\r\nContent-Type: message/rfc822\r\n\r\n" + inner + "\r\n"
	}
	raw += "--o--\r\n"
	r, err := parsers.Parse([]byte(raw), parsers.Limits{MaxParts: 50})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(r.Warnings, ";"), "more than 50 MIME parts") {
		t.Errorf("3 forwarded messages of 31 parts under a 50-part limit: warnings %q", r.Warnings)
	}
}

// TestExpiredKeyDoesNotVerify: a signature by a key that has expired is
// not verified, even when the key is known and its user id is the From.
func TestExpiredKeyDoesNotVerify(t *testing.T) {
	g := gpgtest.NewHome(t)
	past := []string{"--faked-system-time", "20200101T000000"}
	if out, err := g.Run(nil, append(past, "--quick-gen-key", "Old <old@example.org>", "ed25519", "sign", "1d")...); err != nil {
		t.Fatalf("gpg: %v\n%s", err, out)
	}
	part := crlf("Content-Type: text/plain\n\nOld news.\n")
	// Signed six hours later, while the key was still valid: gpg's faked
	// clock runs on, so signing at the same instant may see a key created
	// "in the future" when generating it took over a second.
	later := []string{"--faked-system-time", "20200101T060000"}
	sig := g.Output([]byte(part), append(later, "--armor", "--detach-sign", "--local-user", "old@example.org")...)
	raw := []byte(crlf("From: <old@example.org>\nTo: security@example.com\nSubject: old\nMIME-Version: 1.0\nContent-Type: multipart/signed; micalg=pgp-sha512; protocol=\"application/pgp-signature\"; boundary=\"s\"\n\n--s\n") +
		part + crlf("\n--s\nContent-Type: application/pgp-signature\n\n"+string(sig)+"\n--s--\n"))
	r, _ := parsers.ParseWith(raw, parsers.Options{Keys: keys(t, g.Export("old@example.org")), Now: time.Now()})
	if r.PGP.Verified || !r.PGP.Signed {
		t.Errorf("pgp %+v; want signed, not verified (the key expired in 2020)", r.PGP)
	}
}
