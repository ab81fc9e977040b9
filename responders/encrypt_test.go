package responders

import (
	"bytes"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/gopenpgp/v2/crypto"
	"github.com/emersion/go-message/mail"

	"tocsin/internal/gpgtest"
)

// TestComposeEncryptedDecryptsWithGnuPG: a reporter with an Ed25519 or an
// RSA key gets mail that `gpg --decrypt` opens, with a good signature by a
// desk key of either kind, the real subject inside and only the tag outside.
func TestComposeEncryptedDecryptsWithGnuPG(t *testing.T) {
	for _, tc := range []struct{ deskType, reporterType string }{{"ed25519", "ed25519"}, {"rsa3072", "rsa3072"}, {"ed25519", "rsa3072"}} {
		t.Run(tc.deskType+"-to-"+tc.reporterType, func(t *testing.T) {
			desk, _, err := LoadOrCreateKey(filepath.Join(t.TempDir(), "k.asc"), "Desk", "security@example.com", tc.deskType)
			if err != nil {
				t.Fatal(err)
			}
			h := gpgtest.NewHome(t)
			h.GenKey("Rita Reporter <rita@example.org>", tc.reporterType)
			h.Import(desk.ArmoredPublicKey())
			ring, fpr, err := EncryptionKey("Rita@example.org", time.Now(), []byte("not a key"), h.Export("rita@example.org"))
			if err != nil || fpr == "" {
				t.Fatalf("EncryptionKey: %v", err)
			}
			body := "Dear Rita,\n\nThe fix for the flaw you reported ships today.\nFrom now on ...\n"
			raw, err := ComposeEncrypted(Mail{
				From: &mail.Address{Name: "Desk", Address: "security@example.com"}, To: []*mail.Address{{Address: "rita@example.org"}},
				Subject: "[SEC-2026-0007] Status update: Lücke im Login", PublicSubject: "[SEC-2026-0007] ...",
				Date: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC), MessageID: "m7@example.com", InReplyTo: "r7@example.org",
				AutoSubmitted: "auto-replied", Body: body,
			}, desk, ring)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(raw, []byte("Lücke")) || bytes.Contains(raw, []byte("ships today")) || bytes.Contains(raw, []byte("L=C3=BCcke")) {
				t.Fatal("the subject or body leaked outside the encryption")
			}
			mr, err := mail.CreateReader(bytes.NewReader(raw))
			if err != nil {
				t.Fatal(err)
			}
			if s, _ := mr.Header.Subject(); s != "[SEC-2026-0007] ..." {
				t.Errorf("outer subject %q", s)
			}
			if mr.Header.Get("In-Reply-To") != "<r7@example.org>" || mr.Header.Get("Auto-Submitted") != "auto-replied" {
				t.Error("outer header lost threading or Auto-Submitted")
			}
			inner := h.DecryptPGPMIME(raw)
			im, err := mail.CreateReader(bytes.NewReader(inner))
			if err != nil {
				t.Fatalf("decrypted part is not MIME: %v\n%s", err, inner)
			}
			if s, _ := im.Header.Subject(); s != "[SEC-2026-0007] Status update: Lücke im Login" {
				t.Errorf("protected subject %q", s)
			}
			if _, p, _ := im.Header.ContentType(); p["protected-headers"] != "v1" {
				t.Error("inner part is not marked protected-headers=v1")
			}
			// The desk can read its own sent copy.
			if _, err := desk.ring.Decrypt(mustArmored(t, raw), nil, 0); err != nil {
				t.Errorf("the desk cannot decrypt what it sent: %v", err)
			}
		})
	}
}

func TestEncryptionKeyRefusesWhatItMust(t *testing.T) {
	h := gpgtest.NewHome(t)
	h.GenKey("Other <other@example.org>", "ed25519")
	if out, err := h.Run(nil, "--quick-gen-key", "Signer <signer@example.org>", "ed25519", "sign", "never"); err != nil {
		t.Fatal(out)
	}
	if out, err := h.Run(nil, "--quick-gen-key", "Brief <brief@example.org>", "rsa3072", "sign,encr", "1d"); err != nil {
		t.Fatal(out)
	}
	now := time.Now()
	for _, tc := range []struct {
		address string
		key     []byte
		now     time.Time
		want    string
	}{
		{"rita@example.org", h.Export("other@example.org"), now, "has no user id rita@example.org"}, // someone else's key
		{"signer@example.org", h.Export("signer@example.org"), now, "no valid encryption key"},      // sign-only
		{"brief@example.org", h.Export("brief@example.org"), now.Add(48 * time.Hour), "no valid encryption key"},
		{"x@example.org", nil, now, "no usable OpenPGP encryption key for x@example.org"},
	} {
		_, _, err := EncryptionKey(tc.address, tc.now, tc.key)
		if !errors.Is(err, ErrNoKey) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want ErrNoKey saying %q", tc.address, err, tc.want)
		}
	}
	if _, _, err := EncryptionKey("brief@example.org", now, h.Export("brief@example.org")); err != nil {
		t.Errorf("a key valid today was refused: %v", err)
	}
}

// mustArmored returns the OpenPGP message of an RFC 3156 encrypted mail.
func mustArmored(t *testing.T, raw []byte) *crypto.PGPMessage {
	t.Helper()
	i := bytes.Index(raw, []byte("-----BEGIN PGP MESSAGE-----"))
	j := bytes.Index(raw, []byte("-----END PGP MESSAGE-----"))
	if i < 0 || j < i {
		t.Fatal("no armored message")
	}
	m, err := crypto.NewPGPMessageFromArmored(string(raw[i : j+len("-----END PGP MESSAGE-----")]))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestIndexKeys(t *testing.T) {
	h := gpgtest.NewHome(t)
	h.GenKey("Ann <Ann@Example.org>", "ed25519")
	h.GenKey("Bob <bob@example.org>", "rsa3072")
	idx, err := IndexKeys(h.Output(nil, "--armor", "--export"))
	if err != nil {
		t.Fatal(err)
	}
	if len(idx) != 2 || len(idx["ann@example.org"]) != 1 || len(idx["bob@example.org"]) != 1 {
		t.Fatalf("index %v", idx)
	}
	if _, _, err := EncryptionKey("bob@example.org", time.Now(), idx["bob@example.org"]...); err != nil {
		t.Errorf("Bob's indexed key: %v", err)
	}
	if _, err := IndexKeys([]byte("garbage")); err == nil {
		t.Error("a broken keyring was indexed")
	}
}
