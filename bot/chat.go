package bot

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"strings"
	"time"

	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"
	"github.com/slack-go/slack"

	"tocsin/bot/act"
	"tocsin/bot/cards"
	"tocsin/bot/chatops"
	"tocsin/bot/store"
	"tocsin/config"
	"tocsin/internal/printable"
	"tocsin/responders"
)

// Chat-ops: the chat platforms' endpoints and connections (bot/chatops
// does the work), and reports taken in chat.

// newChat is the chat platforms' endpoints' handler, taking requests
// for the platforms whose request secret is configured.
func (b *Bot) newChat() (*chatops.Handler, error) {
	var slackSecret string
	var discordKey ed25519.PublicKey
	if s := b.cfg.Slack; s != nil && s.SigningSecret != nil {
		v, err := s.SigningSecret.Resolve()
		if err != nil {
			return nil, fmt.Errorf("slack.signing_secret: %w", err)
		}
		slackSecret = v
	}
	if d := b.cfg.Discord; d != nil && d.PublicKey != "" {
		k, err := hex.DecodeString(d.PublicKey) // checked by config
		if err != nil {
			return nil, fmt.Errorf("discord.public_key: %w", err)
		}
		discordKey = k
	}
	r := &chatops.Router{Desk: b.act, Clock: b.clock}
	h := chatops.NewHandler(r, slackSecret, discordKey, b.log.With("component", "chat"))
	h.Refused = b.metrics.ChatRefused.Inc
	if d := b.cfg.Discord; d != nil && d.APIURL != "" {
		h.DiscordAPI = d.APIURL
	}
	if s := b.cfg.Slack; s != nil && slackSecret != "" {
		tok, err := s.Token.Resolve()
		if err != nil {
			return nil, fmt.Errorf("slack.token: %w", err)
		}
		opts := []slack.Option{}
		if s.APIURL != "" {
			opts = append(opts, slack.OptionAPIURL(s.APIURL))
		}
		api := slack.New(tok, opts...)
		h.OpenView = func(ctx context.Context, triggerID string, view slack.ModalViewRequest) error {
			_, err := api.OpenViewContext(ctx, triggerID, view)
			return err
		}
	}
	return h, nil
}

// newDesk is the one command path, on the daemon's store, engine and
// roster.
func (b *Bot) newDesk() *act.Desk {
	return &act.Desk{Config: b.cfg, Store: b.store, Engine: b.engine, Roster: b.roster, Clock: b.clock, Notify: b.notify,
		SetUnits: b.changeUnits, Progress: cards.Progress, Queued: b.Kick, Report: b.takenReport, Reporter: b.toReporter, PhoneReport: b.phoneReport,
		Changed: func(tx *store.Tx, inc *store.Incident, event string, now time.Time) error {
			_, err := b.cards.Queue(tx, inc, event, now)
			return err
		}}
}

// SourceChat is the source of reports logged in chat with /report.
const SourceChat = "chat"

// takenReport files a report that a roster person took by phone, at a
// service desk or at a customer site and typed in chat: as a mail from
// them (they get the acknowledgement to pass on), saying who took it.
// The chat request's id makes it idempotent: the same request files once.
func (b *Bot) takenReport(ctx context.Context, taker config.Person, text, platform, requestID string) (string, error) {
	if requestID == "" {
		requestID = randomToken(8)
	}
	subject := printable.Runes("Report taken by "+taker.Name+": "+firstLine(text), 120)
	from := &mail.Address{Name: taker.Name, Address: taker.Email}
	raw := b.takenMail(from, subject, "chat", taker, platform, requestID,
		text+"\n\n(Taken by "+taker.Name+" <"+taker.Email+"> and logged in "+platform+".)\n")
	res, err := b.Ingest(ctx, SourceChat+":"+platform, raw, b.clock.Now())
	return res.Incident, err
}

// firstLine is the first line of what someone typed: a report's subject.
func firstLine(text string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(strings.ReplaceAll(text, "\r", "")), "\n")
	return line
}

// takenMail is the mail a report taken by a person (in chat, by phone)
// is filed as: from (nil: no From, nobody to answer), the subject
// (printable already), a Message-ID from the kind, platform and request
// id (so the same request files once), who took it, any extra header
// pairs, and body quoted-printable.
func (b *Bot) takenMail(from *mail.Address, subject, kind string, taker config.Person, platform, requestID, body string, extra ...string) []byte {
	domain := b.cfg.Desk.Address[strings.LastIndexByte(b.cfg.Desk.Address, '@')+1:]
	h := textproto.Header{}
	if from != nil {
		h.Set("From", from.String())
	}
	h.Set("To", b.cfg.Desk.Address)
	h.Set("Subject", mime.QEncoding.Encode("utf-8", subject))
	h.Set("Date", b.clock.Now().Format(time.RFC1123Z))
	h.Set("Message-Id", fmt.Sprintf("<%s-%s-%s@%s>", kind, platform, safeID(requestID), domain))
	h.Set("X-Tocsin-Taken-By", fmt.Sprintf("%s via %s", taker.Email, platform))
	for i := 0; i+1 < len(extra); i += 2 {
		h.Set(extra[i], extra[i+1])
	}
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Content-Transfer-Encoding", "quoted-printable")
	var raw bytes.Buffer
	textproto.WriteHeader(&raw, h)
	qp := quotedprintable.NewWriter(&raw)
	qp.Write([]byte(body))
	qp.Close()
	return raw.Bytes()
}

// safeID keeps what a Message-ID may carry of a platform's request id.
func safeID(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' {
			return r
		}
		return -1
	}, s)
}

// slackSocket is the Socket Mode loop when slack.app_token is set, else
// nil.
func (b *Bot) slackSocket() (func(context.Context), error) {
	s := b.cfg.Slack
	if s == nil || s.AppToken == nil {
		return nil, nil
	}
	app, err := s.AppToken.Resolve()
	if err != nil {
		return nil, fmt.Errorf("slack.app_token: %w", err)
	}
	bot, err := s.Token.Resolve()
	if err != nil {
		return nil, fmt.Errorf("slack.token: %w", err)
	}
	api := slack.New(bot, slack.OptionAPIURL(s.APIURL), slack.OptionAppLevelToken(app))
	return func(ctx context.Context) { b.chat.RunSlackSocket(ctx, api) }, nil
}

// discordGateway is the gateway loop when discord.gateway is set, else
// nil.
func (b *Bot) discordGateway() (func(context.Context), error) {
	d := b.cfg.Discord
	if d == nil || !d.Gateway {
		return nil, nil
	}
	tok, err := d.Token.Resolve()
	if err != nil {
		return nil, fmt.Errorf("discord.token: %w", err)
	}
	client, err := responders.NewDiscord(tok, d.APIURL)
	if err != nil {
		return nil, fmt.Errorf("discord: %w", err)
	}
	return func(ctx context.Context) { b.chat.RunDiscordGateway(ctx, client.Session()) }, nil
}
