package bot_test

import (
	"strings"
	"testing"
	"time"

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

// TestReporterKeysTrustOnFirstUse: a key sent with a signed report is not
// trusted for that report, but kept, and the sender's next signed report
// verifies against it.
func TestReporterKeysTrustOnFirstUse(t *testing.T) {
	g := gpgtest.NewHome(t)
	g.GenKey("Tom <tom@example.org>", "ed25519")
	d := startSandbox(t)

	d.sendMail("tom@example.org", signedMail(t, g, "tom@example.org", "t1@example.org", "First report", true))
	if got := openedDetail(t, d, 1); !strings.Contains(got, "came with this message") || strings.Contains(got, "trust on first use") {
		t.Errorf("first report: %q; want a good but unverified signature", got)
	}
	d.sendMail("tom@example.org", signedMail(t, g, "tom@example.org", "t2@example.org", "Second report", false))
	if got := openedDetail(t, d, 2); !strings.Contains(got, "trust on first use") {
		t.Errorf("second report: %q; want verified by the key from earlier mail", got)
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
