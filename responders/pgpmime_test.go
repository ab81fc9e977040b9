package responders

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message/mail"

	"tocsin/internal/gpgtest"
	"tocsin/internal/printable"
	"tocsin/internal/printabletest"
)

func testKey(t *testing.T) *Key {
	t.Helper()
	k, created, err := LoadOrCreateKey(filepath.Join(t.TempDir(), "key.asc"), "Test Desk", "security@example.com", "")
	if err != nil || !created {
		t.Fatalf("LoadOrCreateKey: created=%v err=%v", created, err)
	}
	return k
}

func TestComposeSignedVerifiesWithGnuPG(t *testing.T) {
	k := testKey(t)
	body := "Dear Jürgen,\n\nFrom now on this line starts with From and must survive.\n" +
		strings.Repeat("A long line that quoted-printable must wrap softly. ", 5) + "\ntrailing space \n.\n"
	raw, err := ComposeSigned(Mail{
		From:          &mail.Address{Name: "Test Desk", Address: "security@example.com"},
		To:            []*mail.Address{{Name: "Jürgen Ä", Address: "j@example.org"}},
		Subject:       "[SEC-2026-0001] Received: Lücke in der Anmeldung",
		Date:          time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC),
		MessageID:     "m1@example.com",
		InReplyTo:     "r1@example.org",
		References:    []string{"r0@example.org", "r1@example.org"},
		AutoSubmitted: "auto-replied",
		Body:          body,
	}, k)
	if err != nil {
		t.Fatal(err)
	}
	h := gpgtest.NewHome(t)
	h.Import(k.ArmoredPublicKey())
	signed := h.VerifyPGPMIME(raw)
	if !bytes.Contains(signed, []byte("\r\n=46rom now on")) {
		t.Errorf("a body line starting with From is not protected as =46rom:\n%s", signed)
	}
	for _, line := range bytes.Split(signed, []byte("\r\n")) {
		for _, c := range line {
			if c > 126 {
				t.Fatalf("signed part is not 7-bit: %q", line)
			}
		}
	}
	// The message reads back as what we composed.
	mr, err := mail.CreateReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if _, p, _ := mr.Header.ContentType(); p["micalg"] != "pgp-sha256" {
		t.Errorf("micalg=%s, want pgp-sha256 (RFC 3156; what every client reads)", p["micalg"])
	}
	subj, _ := mr.Header.Subject()
	if subj != "[SEC-2026-0001] Received: Lücke in der Anmeldung" {
		t.Errorf("subject = %q", subj)
	}
	for k, want := range map[string]string{"Auto-Submitted": "auto-replied", "In-Reply-To": "<r1@example.org>", "References": "<r0@example.org> <r1@example.org>", "Message-Id": "<m1@example.com>"} {
		if got := mr.Header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	p, err := mr.NextPart()
	if err != nil {
		t.Fatal(err)
	}
	var text bytes.Buffer
	text.ReadFrom(p.Body)
	if got := strings.ReplaceAll(text.String(), "\r\n", "\n"); got != body {
		t.Errorf("decoded body differs:\n got %q\nwant %q", got, body)
	}
}

func TestLoadOrCreateKeyKeepsTheKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k.asc")
	k1, created, err := LoadOrCreateKey(path, "D", "d@example.com", "")
	if err != nil || !created {
		t.Fatal(created, err)
	}
	k2, created, err := LoadOrCreateKey(path, "D", "d@example.com", "")
	if err != nil || created {
		t.Fatal(created, err)
	}
	if k1.Fingerprint() != k2.Fingerprint() {
		t.Errorf("key changed across loads: %s vs %s", k1.Fingerprint(), k2.Fingerprint())
	}
	// A public key where the private one belongs is a clear error.
	pub := filepath.Join(t.TempDir(), "pub.asc")
	writeFile(t, pub, k1.ArmoredPublicKey())
	if _, _, err := LoadOrCreateKey(pub, "D", "d@example.com", ""); err == nil || !strings.Contains(err.Error(), "public key") {
		t.Errorf("loading a public key: err = %v, want a 'public key' error", err)
	}
}

func TestSecurityTxtCleartextSignatureVerifies(t *testing.T) {
	k := testKey(t)
	signed, err := k.SignCleartext("Contact: mailto:security@example.com\nExpires: 2027-01-01T00:00:00Z\n")
	if err != nil {
		t.Fatal(err)
	}
	h := gpgtest.NewHome(t)
	h.Import(k.ArmoredPublicKey())
	if out, err := h.Run([]byte(signed), "--verify"); err != nil || !strings.Contains(out, "Good signature") {
		t.Fatalf("gpg --verify: %v\n%s", err, out)
	}
}

// TestEveryMailBodyIsInert: whatever a caller composed in Go, the body a
// mail carries (signed, plain; encrypted ones share encodeQP) has no
// control character, bidi override or bare CR, and its layout is kept.
func TestEveryMailBodyIsInert(t *testing.T) {
	k := testKey(t)
	for _, tc := range []struct{ body, want string }{
		{"Subject:\n\n  Eve\x1b[2J\x1b]0;pwned\x07 \u202egnp.exe\u009b31m\n", "Subject:\n\n  Eve␛[2J␛]0;pwned␇ gnp.exe\uFFFD31m\n"},
		{"a\rAnswer reference: x\r\n\tindented\n", "a\nAnswer reference: x\n\tindented\n"},
		{"Sehr geehrte Frau Müller,\n\n-- \nDesk\n", "Sehr geehrte Frau Müller,\n\n-- \nDesk\n"},
	} {
		m := Mail{From: &mail.Address{Address: "security@example.com"}, To: []*mail.Address{{Address: "j@example.org"}},
			Subject: "s", Date: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC), MessageID: "m1@example.com", Body: tc.body}
		signed, err := ComposeSigned(m, k)
		if err != nil {
			t.Fatal(err)
		}
		plain, err := ComposePlain(m)
		if err != nil {
			t.Fatal(err)
		}
		for name, raw := range map[string][]byte{"signed": signed, "plain": plain} {
			mr, err := mail.CreateReader(bytes.NewReader(raw))
			if err != nil {
				t.Fatal(err)
			}
			p, err := mr.NextPart()
			if err != nil {
				t.Fatal(err)
			}
			var text bytes.Buffer
			text.ReadFrom(p.Body)
			if got := strings.ReplaceAll(text.String(), "\r\n", "\n"); got != tc.want {
				t.Errorf("%s body of %q = %q, want %q", name, tc.body, got, tc.want)
			}
		}
	}
}

// TestMailHeadersAreInert: a subject and display names carrying escape
// sequences, bidi overrides, C1 controls and CR LF are, decoded, one
// printable line each, and add no field.
func TestMailHeadersAreInert(t *testing.T) {
	const hostile = printabletest.Hostile
	m := Mail{From: &mail.Address{Name: "Desk " + hostile, Address: "security@example.com"}, To: []*mail.Address{{Name: hostile, Address: "j@example.org"}},
		Subject: "[SEC-2026-0001] Received: " + hostile, Date: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC), MessageID: "m1@example.com", Body: "b\n"}
	raw, err := ComposePlain(m)
	if err != nil {
		t.Fatal(err)
	}
	mr, err := mail.CreateReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	subject, _ := mr.Header.Subject()
	from, _ := mr.Header.AddressList("From")
	to, _ := mr.Header.AddressList("To")
	if len(from) != 1 || len(to) != 1 {
		t.Fatalf("From %v, To %v", from, to)
	}
	for field, v := range map[string]string{"Subject": subject, "From name": from[0].Name, "To name": to[0].Name} {
		if bad := printable.Unsafe(v); bad != "" || strings.ContainsAny(v, "\r\n") || !strings.Contains(v, "pwned") {
			t.Errorf("%s = %q keeps %s or a line break", field, v, bad)
		}
	}
	if v := mr.Header.Get("Bcc"); v != "" {
		t.Errorf("a Bcc field was added: %q", v)
	}
}
