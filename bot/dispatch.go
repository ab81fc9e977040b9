package bot

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"tocsin/bot/store"
	"tocsin/responders"
)

// Outbox delivery policy.
const (
	claimBatch  = 32
	leaseFor    = 2 * time.Minute // a claimed item is retaken if its sender died
	sendTimeout = time.Minute
	maxAttempts = 12 // about a day of exponential backoff, then a dead letter
	idlePoll    = 30 * time.Second
)

// backoff is the wait after the n-th failed attempt: exponential from 2 s,
// capped at 4 h, with ±20% jitter so that retries after an outage spread.
func backoff(n int) time.Duration {
	d := 2 * time.Second << min(n-1, 13)
	d = min(d, 4*time.Hour)
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// dispatch drains the outbox until ctx ends: it claims due items, sends
// each, and records the outcome; then waits for a kick, the next due time
// or a poll, whichever is first.
func (b *Bot) dispatch(ctx context.Context) {
	for {
		items, err := b.store.Claim(ctx, b.clock.Now(), leaseFor, claimBatch)
		if err != nil && ctx.Err() == nil {
			b.log.Error("claiming outbox items", "err", err)
		}
		for _, it := range items {
			b.deliver(ctx, it)
		}
		if len(items) == claimBatch {
			continue
		}
		wait := idlePoll
		if next, ok, err := b.store.NextDue(ctx); err == nil && ok {
			wait = min(wait, max(next.Sub(b.clock.Now()), 10*time.Millisecond))
		}
		if len(items) == 0 {
			if c, ok := b.mail.(interface{ Close() error }); ok {
				c.Close() // nothing queued: do not hold the SMTP connection
			}
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-b.kick:
		case <-t.C:
		}
		t.Stop()
	}
}

func (b *Bot) deliver(ctx context.Context, it store.OutboxItem) {
	var err error
	switch {
	case it.Channel != "mail":
		err = &responders.SendError{Temporary: false, Err: fmt.Errorf("no sender for channel %q", it.Channel)}
	case b.mail == nil:
		err = &responders.SendError{Temporary: true, Err: fmt.Errorf("no SMTP server configured")}
	default:
		sctx, cancel := context.WithTimeout(ctx, sendTimeout)
		err = b.mail.Send(sctx, it.Sender, []string{it.Recipient}, it.Payload)
		cancel()
	}
	if ctx.Err() != nil {
		return // shutting down: the lease runs out and the item is retried
	}
	now := b.clock.Now()
	var next time.Time
	log := b.log.With("outbox", it.IdemKey, "channel", it.Channel, "attempt", it.Attempts)
	switch {
	case err == nil:
		b.metrics.RepliesSent.Inc()
		log.Info("sent", "recipient", it.Recipient)
	case responders.IsTemporary(err) && it.Attempts < maxAttempts:
		next = now.Add(backoff(it.Attempts))
		b.metrics.RepliesRetried.Inc()
		log.Warn("send failed, will retry", "err", err, "next", next)
	default:
		b.metrics.RepliesFailed.Inc()
		log.Error("send failed for good", "err", err)
	}
	if derr := b.store.Done(context.WithoutCancel(ctx), it, now, err, next); derr != nil {
		log.Error("recording send outcome", "err", derr)
	}
}
