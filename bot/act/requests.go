package act

import (
	"context"
	"time"

	"tocsin/bot/store"
)

// The bookkeeping of requests that ways in need and may not write
// themselves: which requests were seen (replays), and a slow command's
// answer that follows later.

// FirstRequest reports whether key was not seen since keepSince, and
// remembers it at now.
func (d *Desk) FirstRequest(ctx context.Context, key string, now, keepSince time.Time) (bool, error) {
	return d.Store.FirstRequest(ctx, key, now, keepSince)
}

// LateAnswer queues a slow command's answer (a platform's request body)
// for target on platform (Slack's response_url, a Discord follow-up's
// webhook), once per request, and wakes the outbox.
func (d *Desk) LateAnswer(ctx context.Context, platform, target, requestID string, body []byte) error {
	it := store.OutboxItem{IdemKey: "late:" + platform + ":" + requestID, Kind: "late-answer", Sender: d.Config.Desk.Address,
		Payload: body, CreatedAt: d.Clock.Now()}
	it.To(store.LateReply(platform, target))
	err := d.Store.Tx(ctx, func(tx *store.Tx) error {
		_, err := tx.Enqueue(it)
		return err
	})
	if err != nil {
		return err
	}
	d.queued()
	return nil
}
