package bot

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"tocsin/bot/store"
	"tocsin/config"
	"tocsin/responders"
)

// chatPosters builds a poster per configured chat platform, keyed by the
// outbox channel name.
func chatPosters(cfg *config.Config) (map[string]responders.ChatPoster, error) {
	out := map[string]responders.ChatPoster{}
	if s := cfg.Slack; s != nil {
		tok, err := s.Token.Resolve()
		if err != nil {
			return nil, fmt.Errorf("slack.token: %w", err)
		}
		out["slack"] = responders.NewSlack(tok, s.Channel, s.APIURL)
	}
	if d := cfg.Discord; d != nil {
		tok, err := d.Token.Resolve()
		if err != nil {
			return nil, fmt.Errorf("discord.token: %w", err)
		}
		p, err := responders.NewDiscord(tok, d.ChannelID, d.APIURL)
		if err != nil {
			return nil, fmt.Errorf("discord: %w", err)
		}
		out["discord"] = p
	}
	return out, nil
}

// queueCards writes, in the caller's transaction, one outbox item per
// chat platform that shows the incident as it is now. event makes the
// item's idempotency key: the same event never queues twice. Automatic
// mail (bounces, auto-replies) gets no card: chat is for what people act on.
func (b *Bot) queueCards(tx *store.Tx, inc *store.Incident, event string, now time.Time) (bool, error) {
	if len(b.chat) == 0 || inc.Category == "auto-reply" || inc.Category == "bounce" {
		return false, nil
	}
	n, err := tx.MessageCount(inc.ID, "in")
	if err != nil {
		return false, err
	}
	card := responders.Card{
		IncidentID: inc.Ref, Summary: inc.Subject, Priority: inc.Priority, Definition: b.cfg.PriorityOf(inc.Priority).Definition,
		Category: inc.Category, Status: inc.Status, Reporter: inc.Reporter, Opened: inc.CreatedAt, Messages: n,
		URL: b.cfg.Desk.PublicURL + "/incidents/" + inc.Ref, Version: now.UnixNano(),
	}
	payload, err := json.Marshal(card)
	if err != nil {
		return false, err
	}
	queued := false
	for _, ch := range []string{"slack", "discord"} {
		if _, ok := b.chat[ch]; !ok {
			continue
		}
		added, err := tx.Enqueue(store.OutboxItem{IdemKey: "card:" + ch + ":" + inc.Ref + ":" + event, IncidentID: inc.ID, Channel: ch, Kind: "card",
			Sender: b.cfg.Desk.Address, Recipient: b.chatTarget(ch), Payload: payload, CreatedAt: now})
		if err != nil {
			return false, err
		}
		queued = queued || added
	}
	return queued, nil
}

func (b *Bot) chatTarget(ch string) string {
	switch ch {
	case "slack":
		return "slack:" + b.cfg.Slack.Channel
	case "discord":
		return "discord:" + b.cfg.Discord.ChannelID
	}
	return ch
}

// deliverCard posts the card, or edits the message that already shows the
// incident. A card older than the one shown is dropped as superseded, so
// a retried old state never overwrites a newer one.
func (b *Bot) deliverCard(ctx context.Context, p responders.ChatPoster, it store.OutboxItem) error {
	var card responders.Card
	if err := json.Unmarshal(it.Payload, &card); err != nil {
		return &responders.SendError{Err: fmt.Errorf("card payload: %w", err)}
	}
	ref, shown, err := b.store.ChatCard(ctx, it.IncidentID, it.Channel)
	if err != nil {
		return &responders.SendError{Temporary: true, Err: err}
	}
	if ref == "" && it.Attempts > 1 {
		// An earlier attempt may have posted and died before recording
		// it: look before posting again.
		if ref, err = p.Find(ctx, card.IncidentID); err != nil {
			// Say so, and post: a second card is better than none (Slack
			// needs channels:history for the look-up).
			b.log.Warn("could not look for a card posted earlier; posting", "outbox", it.IdemKey, "err", err)
			ref = ""
		}
		if ref != "" {
			b.log.Info("card already posted by an earlier attempt; editing it", "outbox", it.IdemKey, "ref", ref)
		}
	}
	switch {
	case ref != "" && card.Version < shown:
		b.log.Info("card superseded by a newer one", "outbox", it.IdemKey)
		return nil
	case ref != "":
		err = p.Update(ctx, ref, card)
	default:
		ref, err = p.Post(ctx, card)
	}
	if err != nil {
		return err
	}
	if err := b.store.SetChatCard(context.WithoutCancel(ctx), it.IncidentID, it.Channel, ref, card.Version); err != nil {
		// Posted but not recorded: the next change posts a second card
		// rather than losing the update.
		b.log.Error("recording chat card", "outbox", it.IdemKey, "err", err)
	}
	return nil
}
