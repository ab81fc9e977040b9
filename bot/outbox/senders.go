package outbox

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"

	"tocsin/bot/store"
	"tocsin/responders"
)

// MailSubmitter submits a composed message (responders.SMTP).
type MailSubmitter interface {
	Send(ctx context.Context, from string, to []string, raw []byte) error
}

// Mail sends mail items: a composed message, or a notice that Compose
// makes into one at the moment it is sent (notify.Notifier.Compose).
type Mail struct {
	// Submit is nil when no SMTP server is configured: items wait.
	Submit MailSubmitter
	// Compose makes a notice into a message; IsNotice tells them apart.
	Compose  func(ctx context.Context, it store.OutboxItem) ([]byte, error)
	IsNotice func(payload []byte) bool
}

// Send submits the item's message to its address.
func (m Mail) Send(ctx context.Context, to store.Dest, it store.OutboxItem) error {
	if m.Submit == nil {
		return &responders.SendError{Temporary: true, Err: fmt.Errorf("no SMTP server configured")}
	}
	if to.Kind != store.ToAddress {
		return &responders.SendError{Err: fmt.Errorf("mail to a %s destination", to.Kind)}
	}
	raw := it.Payload
	if m.IsNotice != nil && m.IsNotice(raw) {
		var err error
		if raw, err = m.Compose(ctx, it); err != nil {
			return err
		}
	}
	return m.Submit.Send(ctx, it.Sender, []string{to.ID}, raw)
}

// Item kinds a chat platform performs besides cards.
const (
	// KindCard is an incident card for a channel (payload: a
	// responders.Card as JSON): posted once, then edited in place.
	KindCard = "card"
)

// Chat sends to one chat platform: incident cards to channels, and any
// other item to a user as a direct message whose text is the payload.
type Chat struct {
	Poster responders.ChatPoster
	Store  *store.Store
	Log    *slog.Logger
}

// Send performs the item.
func (c Chat) Send(ctx context.Context, to store.Dest, it store.OutboxItem) error {
	switch {
	case to.Kind == store.ToReply:
		return lateReply(ctx, to.ID, it.Payload)
	case to.Kind == store.ToChannel && it.Kind == KindCard:
		return c.card(ctx, to, it)
	case to.Kind == store.ToUser:
		return c.Poster.Direct(ctx, to.ID, string(it.Payload), it.IdemKey, it.Attempts > 1)
	}
	return &responders.SendError{Err: fmt.Errorf("%s item to a %s destination: not something %s does", it.Kind, to.Kind, to.Platform)}
}

// card posts the card, or edits the message that already shows the
// incident. A card older than the one shown is dropped as superseded, so
// a retried old state never overwrites a newer one.
func (c Chat) card(ctx context.Context, to store.Dest, it store.OutboxItem) error {
	var card responders.Card
	if err := json.Unmarshal(it.Payload, &card); err != nil {
		return &responders.SendError{Err: fmt.Errorf("card payload: %w", err)}
	}
	ref, shown, err := c.Store.ChatCard(ctx, it.IncidentID, it.Channel)
	if err != nil {
		return &responders.SendError{Temporary: true, Err: err}
	}
	if ref == "" && it.Attempts > 1 {
		// An earlier attempt may have posted and died before recording
		// it: look before posting again.
		if ref, err = c.Poster.Find(ctx, to.ID, card.IncidentID); err != nil {
			// Say so, and post: a second card is better than none (Slack
			// needs channels:history for the look-up).
			c.Log.Warn("could not look for a card posted earlier; posting", "outbox", it.IdemKey, "err", err)
			ref = ""
		}
		if ref != "" {
			c.Log.Info("card already posted by an earlier attempt; editing it", "outbox", it.IdemKey, "ref", ref)
		}
	}
	switch {
	case ref != "" && card.Version < shown:
		c.Log.Info("card superseded by a newer one", "outbox", it.IdemKey)
		return nil
	case ref != "":
		err = c.Poster.Update(ctx, ref, card)
	default:
		ref, err = c.Poster.Post(ctx, to.ID, card)
	}
	if err != nil {
		return err
	}
	if err := c.Store.SetChatCard(context.WithoutCancel(ctx), it.IncidentID, it.Channel, ref, card.Version); err != nil {
		// Posted but not recorded: the next change posts a second card
		// rather than losing the update.
		c.Log.Error("recording chat card", "outbox", it.IdemKey, "err", err)
	}
	return nil
}

// lateReply posts a late answer (its JSON body as the platform wants it)
// to the URL the platform gave with the request.
func lateReply(ctx context.Context, url string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return &responders.SendError{Err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return &responders.SendError{Temporary: true, Err: fmt.Errorf("late answer: %w", err)}
	}
	resp.Body.Close()
	switch {
	case resp.StatusCode/100 == 2:
		return nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return &responders.SendError{Temporary: true, Err: fmt.Errorf("late answer: %s", resp.Status)}
	}
	return &responders.SendError{Err: fmt.Errorf("late answer: %s (the platform's URL expires after 30 minutes)", resp.Status)}
}
