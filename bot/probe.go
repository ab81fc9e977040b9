package bot

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"tocsin/bot/intake"
	"tocsin/config"
	"tocsin/responders"
)

// Probe is one thing `tocsin check --connect` tried.
type Probe struct {
	What   string // imap, smtp, slack, discord, pgp.key_file, people.N.key_file
	OK     bool
	Detail string // what answered, or why not
}

// Connect tries what a static check cannot, each once, with timeout:
// the IMAP login and mailbox, the SMTP relay's EHLO, STARTTLS and AUTH
// (no mail is sent), the Slack and Discord tokens, and every key file.
// Nothing is changed anywhere.
func Connect(ctx context.Context, cfg *config.Config, timeout time.Duration) []Probe {
	var out []Probe
	try := func(what string, f func(ctx context.Context) (string, error)) {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		detail, err := f(ctx)
		if err != nil {
			out = append(out, Probe{What: what, Detail: err.Error()})
			return
		}
		out = append(out, Probe{What: what, OK: true, Detail: detail})
	}
	if cfg.IMAP != nil {
		try("imap", func(ctx context.Context) (string, error) {
			w, err := intake.NewWatcher(*cfg.IMAP, cfg.Limits.MaxMessageBytes, nil, nil, nil, slog.New(slog.DiscardHandler))
			if err != nil {
				return "", err
			}
			n, err := w.Probe(ctx)
			return fmt.Sprintf("logged in as %s, %s holds %d messages", cfg.IMAP.Username, cfg.IMAP.Mailbox, n), err
		})
	}
	if cfg.SMTP != nil {
		try("smtp", func(ctx context.Context) (string, error) {
			s, err := responders.NewSMTP(*cfg.SMTP)
			if err != nil {
				return "", err
			}
			defer s.Close()
			login := "no login (auth: none)"
			if cfg.SMTP.Username != "" {
				login = "logged in as " + cfg.SMTP.Username
			}
			return fmt.Sprintf("%s:%d answered, tls %s, %s; nothing sent", cfg.SMTP.Host, cfg.SMTP.Port, cfg.SMTP.TLS, login), s.Probe(ctx)
		})
	}
	if s := cfg.Slack; s != nil {
		try("slack", func(ctx context.Context) (string, error) {
			tok, err := s.Token.Resolve()
			if err != nil {
				return "", err
			}
			who, err := responders.NewSlack(tok, cmp.Or(s.APIURL, "https://slack.com/api/")).Probe(ctx)
			return "token of " + who, err
		})
	}
	if d := cfg.Discord; d != nil {
		try("discord", func(ctx context.Context) (string, error) {
			tok, err := d.Token.Resolve()
			if err != nil {
				return "", err
			}
			c, err := responders.NewDiscord(tok, d.APIURL)
			if err != nil {
				return "", err
			}
			who, err := c.Probe(ctx)
			return "token of " + who, err
		})
	}
	if _, err := os.Stat(KeyPath(cfg)); err == nil || cfg.PGP.KeyFile != "" {
		try("pgp.key_file", func(context.Context) (string, error) {
			k, err := responders.LoadKey(KeyPath(cfg))
			if err != nil {
				return "", err
			}
			return "signing key " + k.Fingerprint(), nil
		})
	}
	for i, p := range cfg.People {
		if p.KeyFile == "" {
			continue
		}
		try(fmt.Sprintf("people.%d.key_file", i), func(context.Context) (string, error) {
			armored, err := os.ReadFile(p.KeyFile)
			if err != nil {
				return "", err
			}
			_, fpr, err := responders.EncryptionKey(p.Email, time.Now(), armored)
			if err != nil {
				return "", fmt.Errorf("%s: %w", p.KeyFile, err)
			}
			return fmt.Sprintf("%s encrypts to %s", p.Email, fpr), nil
		})
	}
	return out
}
