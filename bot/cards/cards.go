// Package cards keeps each incident's card in Slack and Discord: what it
// shows (the incident, its call tree's progress), where it goes, and the
// chat platforms' senders.
package cards

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"tocsin/bot/outbox"
	"tocsin/bot/store"
	"tocsin/config"
	"tocsin/internal/printable"
	"tocsin/responders"
)

// Cards keeps the incident card of every incident in each configured chat
// platform's channel: one card, edited in place as the incident and its
// call tree change.
type Cards struct {
	cfg *config.Config
	// channels are where the cards go, by platform.
	channels map[string]string
}

// New returns the cards of cfg; AddSenders wires the platforms.
func New(cfg *config.Config) *Cards { return &Cards{cfg: cfg, channels: map[string]string{}} }

// Platforms are the configured chat platforms.
func (c *Cards) Platforms() []string {
	var out []string
	for p := range c.channels {
		out = append(out, p)
	}
	return out
}

// AddSenders adds a sender per configured chat platform to senders, and
// notes the channel its cards go to.
func (c *Cards) AddSenders(st *store.Store, log *slog.Logger, senders map[string]outbox.Sender) error {
	cfg, cards := c.cfg, c.channels
	if s := cfg.Slack; s != nil {
		tok, err := s.Token.Resolve()
		if err != nil {
			return fmt.Errorf("slack.token: %w", err)
		}
		senders[store.PlatformSlack] = outbox.Chat{Poster: responders.NewSlack(tok, s.APIURL), Store: st, Log: log}
		cards[store.PlatformSlack] = s.Channel
	}
	if d := cfg.Discord; d != nil {
		tok, err := d.Token.Resolve()
		if err != nil {
			return fmt.Errorf("discord.token: %w", err)
		}
		p, err := responders.NewDiscord(tok, d.APIURL)
		if err != nil {
			return fmt.Errorf("discord: %w", err)
		}
		senders[store.PlatformDiscord] = outbox.Chat{Poster: p, Store: st, Log: log}
		cards[store.PlatformDiscord] = d.ChannelID
	}
	return nil
}

// Queue writes, in the caller's transaction, one outbox item per chat
// platform that shows the incident as it is now. event makes the item's
// idempotency key: the same event never queues twice. Automatic mail
// (bounces, auto-replies) gets no card: chat is for what people act on.
func (c *Cards) Queue(tx *store.Tx, inc *store.Incident, event string, now time.Time) (bool, error) {
	if len(c.channels) == 0 || inc.Category == "auto-reply" || inc.Category == "bounce" {
		return false, nil
	}
	n, err := tx.MessageCount(inc.ID, "in")
	if err != nil {
		return false, err
	}
	card := responders.Card{
		IncidentID: inc.Ref, Summary: inc.Subject, Priority: inc.Priority, Definition: c.cfg.PriorityOf(inc.Priority).Definition,
		Category: inc.Category, Status: inc.Status, Reporter: inc.Reporter, Opened: inc.CreatedAt, Messages: n,
		URL: c.cfg.Desk.PublicURL + "/incidents/" + inc.Ref, Version: now.UnixNano(), Assignee: inc.Assignee,
	}
	if tree, err := tx.Tree(inc.ID); err == nil {
		card.CallTree = Progress(tree)
	} else if !errors.Is(err, store.ErrNotFound) {
		return false, err
	}
	drafts, err := tx.Drafts(inc.ID)
	if err != nil {
		return false, err
	}
	var waiting []string
	for _, d := range drafts {
		if d.State == store.DraftPending {
			name := d.Contact
			if k, ok := c.cfg.ContactByID(d.Contact); ok {
				name = k.Name
			}
			waiting = append(waiting, fmt.Sprintf("%s: %s to %s, drafted by %s (/approve %s %s)", d.ID, d.Form, name, d.DraftedBy, inc.Ref, d.ID))
		}
	}
	card.Drafts = strings.Join(waiting, "\n")
	if a, ok, err := tx.Actions(inc.ID); err != nil {
		return false, err
	} else if ok {
		card.Actions, card.ActionsVersion = a.Text, a.Version
	}
	payload, err := json.Marshal(card)
	if err != nil {
		return false, err
	}
	queued := false
	for _, platform := range []string{store.PlatformSlack, store.PlatformDiscord} {
		channel, ok := c.channels[platform]
		if !ok {
			continue
		}
		it := store.OutboxItem{IdemKey: "card:" + platform + ":" + inc.Ref + ":" + event, IncidentID: inc.ID, Kind: outbox.KindCard,
			Sender: c.cfg.Desk.Address, Payload: payload, CreatedAt: now}
		it.To(store.ChannelPost(platform, channel))
		added, err := tx.Enqueue(it)
		if err != nil {
			return false, err
		}
		queued = queued || added
	}
	return queued, nil
}

// Progress is a call tree in a line or two for a card: how many steps are
// met, and the open ones with whom they wait for and by when.
func Progress(t *store.Tree) string {
	met, lines := 0, []string{}
	for _, s := range t.Steps {
		name := s.Title
		if s.Unit != "" {
			name += " (" + s.Unit + ")"
		}
		var answered, waiting []string
		// A team member took the step: it waits for them, not for whom
		// it paged.
		taken := slices.ContainsFunc(s.People, func(p store.StepPerson) bool { return p.Role == "taken" && !p.AckedAt.IsZero() })
		for _, p := range s.People {
			switch {
			case taken && p.Role == "audience" && p.AckedAt.IsZero() && p.DoneAt.IsZero():
			case !p.DoneAt.IsZero():
				answered = append(answered, p.Person+" done")
			case !p.AckedAt.IsZero():
				answered = append(answered, p.Person+" acked")
				if s.Needs == "done" {
					waiting = append(waiting, p.Person)
				}
			default:
				waiting = append(waiting, p.Person)
			}
		}
		switch {
		case s.State == store.StepSkipped:
			met++
		case s.State == store.StepDone || s.State == store.StepAcknowledged && s.Needs != "done":
			met++
			if len(answered) > 0 { // who answered, whatever platform or mail it came from
				lines = append(lines, fmt.Sprintf("✓ %s: %s", name, strings.Join(answered, ", ")))
			}
		case !s.StartedAt.IsZero():
			line := fmt.Sprintf("… %s: %s, due %s, waiting for %s", name, s.State, s.DueAt.UTC().Format("01-02 15:04 UTC"), strings.Join(waiting, ", "))
			if len(answered) > 0 {
				line += " (" + strings.Join(answered, ", ") + ")"
			}
			if b := s.Blocked; b != nil {
				line += fmt.Sprintf("\n  ⚠ blocked: %s, %s: %s", b.By, b.At.UTC().Format("01-02 15:04 UTC"), printable.Runes(printable.Line(b.Text), 200))
			}
			lines = append(lines, line)
		}
	}
	out := fmt.Sprintf("%s: %d of %d steps met", t.Playbook, met, len(t.Steps))
	if t.Closed {
		out += " (closed)"
	}
	if l := assetsLine(t); l != "" {
		out += "\n" + l
	}
	for _, l := range lines {
		out += "\n" + l
	}
	return out
}

// assetsLine counts the tree's assets: "assets: 2/3 fixed (1 validated);
// open: pay-db-2"; "" without assets. Not-affected ones are not counted.
func assetsLine(t *store.Tree) string {
	fixed, validated, all := 0, 0, 0
	for _, a := range t.Assets {
		switch a.State {
		case store.AssetNotAffected:
			continue
		case store.AssetValidated:
			validated++
			fixed++
		case store.AssetFixed:
			fixed++
		}
		all++
	}
	if all == 0 {
		return ""
	}
	out := fmt.Sprintf("assets: %d/%d fixed (%d validated)", fixed, all, validated)
	if open := t.OpenAssets(""); len(open) > 0 {
		out += "; open: " + strings.Join(open, ", ")
	}
	return out
}
