package bot_test

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"

	"tocsin/internal/gpgtest"
)

// postRaw posts a whole message to POST /api/v1/reports with the
// sandbox's token.
func (d *daemon) postRaw(raw string) int {
	d.t.Helper()
	req, _ := http.NewRequest("POST", "http://"+d.addrs.HTTP+"/api/v1/reports", strings.NewReader(raw))
	req.Header.Set("Authorization", "Bearer "+d.info.APIToken)
	req.Header.Set("Content-Type", "message/rfc822")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		d.t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// TestAPIMailsAuthenticationResultsAreNotBelieved pins issue 15 §4
// "headers nobody vouched for": a raw message posted to the API with its
// own Authentication-Results claiming a trusted server's DMARC pass for
// the victim's address, and the attacker's key for that address
// attached, pins nothing; the victim's next mail, authenticated through
// the mailbox, is answered signed, not encrypted to the attacker's key.
func TestAPIMailsAuthenticationResultsAreNotBelieved(t *testing.T) {
	attacker := gpgtest.NewHome(t)
	attacker.GenKey("Vic <vic@example.org>", "ed25519")
	d := startTrustingSandbox(t)

	forged := authenticated(signedMail(t, attacker, "vic@example.org", "forged@example.org", "Please encrypt to my new key", true), "example.org")
	if code := d.postRaw(forged); code != http.StatusAccepted {
		t.Fatalf("API post: %d, want 202", code)
	}
	d.settled(1)
	if auditHas(d, "key-pinned", "vic@example.org") {
		t.Fatal("a key from a message posted to the API was pinned for vic@example.org")
	}
	if !auditHas(d, "key-not-pinned", "vic@example.org") {
		t.Error("no audit entry says the posted key was not pinned")
	}
	// Who posted it is on record: the token's owner, not the From.
	if !auditHas(d, "opened", "via api:officer@sandbox.test") {
		t.Error("the incident's opening does not name the token's owner")
	}

	// The victim writes through the mailbox, authenticated, without a key.
	d.sendMail("vic@example.org", authenticated(report("Vic <vic@example.org>", "real@example.org", "Real report", "details"), "example.org"))
	d.settled(2)
	answers := 0
	for _, raw := range d.sent() {
		if strings.Trim(headerOf(raw, "X-Sandbox-Envelope-To"), "<>") != "vic@example.org" {
			continue
		}
		answers++
		if ct := headerOf(raw, "Content-Type"); !strings.HasPrefix(ct, "multipart/signed") {
			t.Errorf("answer to vic: %s, want signed and not encrypted", ct)
		}
		if i := bytes.Index(raw, []byte("-----BEGIN PGP MESSAGE-----")); i >= 0 {
			if out, err := attacker.Run(raw[i:], "--decrypt"); err == nil {
				t.Errorf("the attacker's key decrypts an answer to vic:\n%s", out)
			}
		}
	}
	if answers != 2 {
		t.Errorf("%d answers to vic, want 2 (one per report)", answers)
	}
}
