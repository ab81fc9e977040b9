// Package bot is the Tocsin daemon. Run owns its loops: intake (IMAP, web
// form, API), the outbox dispatcher, and the HTTP server; each goroutine
// stops when the context is cancelled. The pipeline from raw message to
// committed incident is Bot.Ingest; every external effect it causes is an
// outbox row written in the same transaction and sent by the dispatcher,
// never from inside intake or a request handler.
package bot

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"tocsin/bot/act"
	"tocsin/bot/cards"
	"tocsin/bot/chatops"
	"tocsin/bot/clock"
	"tocsin/bot/engine"
	"tocsin/bot/metrics"
	"tocsin/bot/notify"
	"tocsin/bot/outbox"
	"tocsin/bot/roster"
	"tocsin/bot/store"
	"tocsin/config"
	"tocsin/parsers"
	"tocsin/responders"
	"tocsin/templates"
)

// Clock is where the daemon gets the time (package clock): every loop and
// handler asks it, so a test can run hours of deadlines in milliseconds.
type Clock = clock.Clock

// SystemClock is the wall clock.
type SystemClock = clock.System

// MailSender submits a composed message. Send returns an error that
// responders.IsTemporary classifies; the outbox retries only temporary ones.
type MailSender = outbox.MailSubmitter

var _ MailSender = (*responders.SMTP)(nil)

// Bot is the incident desk: the pipeline and the store, with the notifier
// and the outbox it hands its decisions to. New sets every field; nothing
// is added afterwards.
type Bot struct {
	cfg     *config.Config
	store   *store.Store
	key     *responders.Key
	clock   Clock
	log     *slog.Logger
	metrics *Metrics
	// keyring opens reports: the desk's private key decrypts, known
	// public keys verify. Nil: OpenPGP content is reported, not opened.
	keyring *parsers.Keyring
	policy  *parsers.Policy
	// forms are the notification templates, with config overrides.
	forms *templates.Set
	// notify queues the notifications decided here and composes them
	// when the outbox sends them, outside any transaction.
	notify *notify.Notifier
	// out delivers; cards keeps the incidents' chat cards.
	out   *outbox.Dispatcher
	cards *cards.Cards
	// roster and engine run the call trees.
	roster *roster.Roster
	engine *engine.Engine
	// signers are the fingerprints of each roster person's key (by lower-
	// case address): a reply signed by one counts as theirs.
	signers map[string][]string
	// chat takes the chat platforms' commands and buttons.
	chat *chatops.Handler
	// act carries out every command, whichever way it came.
	act *act.Desk
	// anchorsLost: the start found the audit anchors missing from a
	// begun chain; nothing is anchored until they are back.
	anchorsLost bool
}

// Metrics are the figures /metrics shows.
type Metrics struct {
	Registry        *metrics.Registry
	Fetched         *metrics.Counter
	IMAPFetched     *metrics.Counter
	Duplicates      *metrics.Counter
	IncidentsOpened *metrics.Counter
	Threaded        *metrics.Counter
	Unfiled         *metrics.Counter
	NewSender       *metrics.Counter
	Quarantined     *metrics.Counter
	RepliesSent     *metrics.Counter
	RepliesFailed   *metrics.Counter
	RepliesRetried  *metrics.Counter
	CardsSent       *metrics.Counter
	CardsFailed     *metrics.Counter
	CardsRetried    *metrics.Counter
	RepliesWithheld *metrics.Counter
	ChatRefused     *metrics.Counter
	IntakeLatency   *metrics.Histogram
}

func newMetrics() *Metrics {
	r := metrics.New()
	return &Metrics{
		Registry:        r,
		Fetched:         r.Counter("tocsin_messages_fetched_total", "Messages taken in (IMAP, form, API)."),
		IMAPFetched:     r.Counter("tocsin_imap_messages_fetched_total", "Messages downloaded from the IMAP mailbox."),
		Duplicates:      r.Counter("tocsin_messages_duplicate_total", "Messages already filed (same Message-ID or bytes)."),
		IncidentsOpened: r.Counter("tocsin_incidents_opened_total", "Incidents opened."),
		Threaded:        r.Counter("tocsin_messages_threaded_total", "Messages added to an existing incident."),
		Unfiled:         r.Counter("tocsin_messages_unfiled_total", "Automatic mail (auto-replies, bounces, receipts, list mail) that referred to no incident and was kept unfiled."),
		NewSender:       r.Counter("tocsin_messages_new_sender_total", "Messages filed on an incident by an address that had no part in it."),
		Quarantined:     r.Counter("tocsin_messages_quarantined_total", "Messages that could not be filed after repeated attempts, kept aside so the mailbox goes on."),
		RepliesSent:     r.Counter("tocsin_replies_sent_total", "Outgoing messages delivered to the next hop."),
		RepliesFailed:   r.Counter("tocsin_replies_failed_total", "Outgoing messages given up on (dead letters)."),
		RepliesRetried:  r.Counter("tocsin_replies_retried_total", "Delivery attempts that failed temporarily and were rescheduled."),
		CardsSent:       r.Counter("tocsin_chat_cards_sent_total", "Incident cards posted or updated in Slack or Discord."),
		CardsFailed:     r.Counter("tocsin_chat_cards_failed_total", "Incident cards given up on (dead letters)."),
		CardsRetried:    r.Counter("tocsin_chat_cards_retried_total", "Card posts that failed temporarily (a 429 among them) and were rescheduled."),
		RepliesWithheld: r.Counter("tocsin_replies_withheld_total", "Answers not sent: auto-reply, bounce, list mail, loop or rate limit."),
		ChatRefused:     r.Counter("tocsin_chat_requests_refused_total", "Slack and Discord requests refused with 401: unsigned, forged, stale or replayed."),
		IntakeLatency: r.Histogram("tocsin_intake_latency_seconds", "From message received to incident committed.",
			[]float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}),
	}
}

// New returns the desk, every part built: the forms (with the
// deployment's overrides, checked now rather than at 3 a.m. when the first
// alert goes out), the keyring, notifier, roster, engine, cards, the
// outbox with its senders (mail through sender, nil: mail waits) and the
// chat endpoints. Run only starts its loops.
func New(cfg *config.Config, st *store.Store, key *responders.Key, clock Clock, log *slog.Logger, sender MailSender) (*Bot, error) {
	if clock == nil {
		clock = SystemClock{}
	}
	forms := templates.Default()
	if cfg.Templates.Dir != "" {
		var err error
		if forms, err = templates.Load(cfg.Templates.Dir); err == nil {
			err = forms.Check()
		}
		if err != nil {
			return nil, fmt.Errorf("templates.dir %s (run tocsin templates check):\n%w", cfg.Templates.Dir, err)
		}
	}
	b := &Bot{cfg: cfg, store: st, key: key, clock: clock, log: log, metrics: newMetrics(),
		policy: policyOf(cfg.Priorities), forms: forms, cards: cards.New(cfg)}
	b.notify = notify.New(cfg, st, key, b.forms, clock, log)
	var err error
	if b.keyring, b.notify.KnownKeys, b.signers, err = loadKeyring(cfg, b.notify.PersonKeyFile); err != nil {
		return nil, err
	}
	b.roster = roster.New(cfg)
	b.engine = engine.New(cfg, st, b.roster, b.notify, clock, log.With("component", "engine"))
	b.engine.Form = b.formOf
	b.engine.Queued = b.Kick
	b.engine.Changed = func(tx *store.Tx, inc *store.Incident, event string, now time.Time) error {
		_, err := b.cards.Queue(tx, inc, event, now)
		return err
	}
	senders := map[string]outbox.Sender{store.PlatformMail: outbox.Mail{Submit: sender, Compose: b.notify.Compose, IsNotice: notify.IsNotice}}
	if err := b.cards.AddSenders(st, log, senders); err != nil {
		return nil, err
	}
	hooks, err := webhookSenders(cfg)
	if err != nil {
		return nil, err
	}
	senders[store.PlatformWebhook] = hooks
	for _, platform := range b.cards.Platforms() {
		b.engine.Platforms[platform] = true
	}
	b.out = outbox.New(st, b.clock, log, senders, b.metrics.counters())
	if c, ok := sender.(interface{ Close() error }); ok {
		b.out.Idle = func() { c.Close() } // nothing queued: do not hold the SMTP connection
	}
	b.act = b.newDesk()
	if b.chat, err = b.newChat(); err != nil {
		return nil, err
	}
	b.registerMetrics()
	return b, nil
}

// registerMetrics adds the gauges /metrics computes when scraped.
func (b *Bot) registerMetrics() {
	st := b.store
	reg := b.metrics.Registry
	scrape := func(f func(ctx context.Context) (map[string]float64, error)) func() map[string]float64 {
		return func() map[string]float64 {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			out, err := f(ctx)
			if err != nil {
				return map[string]float64{}
			}
			return out
		}
	}
	reg.GaugeFunc("tocsin_outbox_depth", "Outbox items by state.", "state", scrape(func(ctx context.Context) (map[string]float64, error) {
		counts, err := st.OutboxCounts(ctx)
		out := map[string]float64{}
		for k, v := range counts {
			out[k] = float64(v)
		}
		return out, err
	}))
	reg.GaugeFunc("tocsin_incidents_open", "Open incidents by priority.", "priority", scrape(func(ctx context.Context) (map[string]float64, error) {
		counts, err := st.OpenByPriority(ctx)
		out := map[string]float64{"P1": 0, "P2": 0, "P3": 0, "P4": 0}
		for k, v := range counts {
			out[k] = float64(v)
		}
		return out, err
	}))
	age := func(kind string) func(ctx context.Context) (map[string]float64, error) {
		return func(ctx context.Context) (map[string]float64, error) {
			at, ok, err := st.OldestWaiting(ctx, kind)
			if !ok {
				return map[string]float64{"": 0}, err
			}
			return map[string]float64{"": max(0, b.clock.Now().Sub(at).Seconds())}, err
		}
	}
	reg.GaugeFunc("tocsin_oldest_unanswered_report_age_seconds", "Age of the oldest report whose acknowledgement is not yet delivered (0: none waits).", "", scrape(age("acknowledgement")))
	reg.GaugeFunc("tocsin_outbox_oldest_pending_age_seconds", "Age of the oldest outbox item not yet sent (0: none waits).", "", scrape(age("")))
	reg.GaugeFunc("tocsin_outbox_degraded", "1 while the outbox is degraded, by reason: stale (a due item has waited too long) or failing (a platform's sends fail); /healthz then answers 503.", "reason", func() map[string]float64 {
		out := map[string]float64{"stale": 0, "failing": 0}
		for _, g := range b.out.Degrading(b.clock.Now()) {
			out[g.Reason] = 1
		}
		return out
	})
}

// Kick wakes the dispatcher: something was queued.
func (b *Bot) Kick() { b.out.Kick() }

// counters are the outbox's outcome counters by platform.
func (m *Metrics) counters() map[string]outbox.Counters {
	mail := outbox.Counters{Sent: m.RepliesSent, Retried: m.RepliesRetried, Failed: m.RepliesFailed}
	chat := outbox.Counters{Sent: m.CardsSent, Retried: m.CardsRetried, Failed: m.CardsFailed}
	return map[string]outbox.Counters{store.PlatformMail: mail, store.PlatformSlack: chat, store.PlatformDiscord: chat}
}

func (b *Bot) rawDir() string  { return filepath.Join(b.cfg.DataDir, "raw") }
func (b *Bot) blobDir() string { return filepath.Join(b.cfg.DataDir, "blobs") }

func randomToken(n int) string {
	buf := make([]byte, n)
	rand.Read(buf)
	return hex.EncodeToString(buf)
}

// policyOf turns the configured priority policy into the parser's.
func policyOf(p config.Priorities) *parsers.Policy {
	pol := &parsers.Policy{Assets: p.Assets, Senders: p.Senders}
	for _, r := range p.Rules {
		pol.Rules = append(pol.Rules, parsers.PriorityRule{Name: r.Name, Priority: r.Priority, Categories: r.Categories,
			CVSSAtLeast: r.CVSSAtLeast, Keywords: r.Keywords, Assets: r.Assets, SenderClass: r.SenderClass})
	}
	return pol
}
