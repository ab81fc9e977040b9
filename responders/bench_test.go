package responders

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/emersion/go-message/mail"

	"tocsin/templates"
)

// BenchmarkCompose measures what one notification costs the desk before
// SMTP: render the form, then sign (PGP/MIME) or sign and encrypt, with an
// Ed25519 or an RSA-3072 desk key, to an Ed25519 or RSA recipient.
func BenchmarkCompose(b *testing.B) {
	msg, err := templates.Render("acknowledgement", templates.Sample("acknowledgement"), "de")
	if err != nil {
		b.Fatal(err)
	}
	m := Mail{From: &mail.Address{Address: "security@example.com"}, To: []*mail.Address{{Address: "r@example.org"}},
		Subject: msg.Subject, PublicSubject: "[SEC-2026-0042] ...", Date: time.Now(), MessageID: "m@example.com", Body: msg.Body}
	b.Run("render", func(b *testing.B) {
		for b.Loop() {
			templates.Render("acknowledgement", templates.Sample("acknowledgement"), "de")
		}
	})
	for _, kt := range []string{"ed25519", "rsa3072"} {
		desk, _, err := LoadOrCreateKey(filepath.Join(b.TempDir(), "k.asc"), "Desk", "security@example.com", kt)
		if err != nil {
			b.Fatal(err)
		}
		rcpt, _, _ := LoadOrCreateKey(filepath.Join(b.TempDir(), "r.asc"), "R", "r@example.org", kt)
		ring, _, err := EncryptionKey("r@example.org", time.Now(), []byte(rcpt.ArmoredPublicKey()))
		if err != nil {
			b.Fatal(err)
		}
		b.Run("sign/"+kt, func(b *testing.B) {
			for b.Loop() {
				if _, err := ComposeSigned(m, desk); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("sign+encrypt/"+kt, func(b *testing.B) {
			for b.Loop() {
				if _, err := ComposeEncrypted(m, desk, ring); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCard measures building and escaping a chat card (both
// platforms) from a hostile subject.
func BenchmarkCard(b *testing.B) {
	c := evilCard()
	for b.Loop() {
		slackMessage(c)
		discordCard(c)
	}
}
