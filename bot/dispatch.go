package bot

import (
	"context"
	"errors"
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
		b.dispatchBeat.Store(b.clock.Now().UnixNano())
		items, err := b.store.Claim(ctx, b.clock.Now(), leaseFor, claimBatch)
		if err != nil && ctx.Err() == nil {
			b.log.Error("claiming outbox items", "err", err)
		}
		for _, it := range items {
			b.dispatchBeat.Store(b.clock.Now().UnixNano())
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
		select {
		case <-ctx.Done():
			return
		case <-b.kick:
		case <-b.clock.After(wait):
		}
	}
}

// dispatchHealth returns nil while the dispatcher loop is alive: it beats
// at least every idlePoll, and before each send (which is bounded by
// sendTimeout).
func (b *Bot) dispatchHealth(now time.Time) error {
	beat := b.dispatchBeat.Load()
	if beat == 0 {
		return errors.New("outbox dispatcher not started")
	}
	if age := now.Sub(time.Unix(0, beat)); age > idlePoll+sendTimeout+30*time.Second {
		return fmt.Errorf("outbox dispatcher silent for %v", age.Round(time.Second))
	}
	return nil
}

// send performs one outbox item on its channel.
func (b *Bot) send(ctx context.Context, it store.OutboxItem) error {
	if it.Channel == "mail" {
		if b.mail == nil {
			return &responders.SendError{Temporary: true, Err: fmt.Errorf("no SMTP server configured")}
		}
		return b.mail.Send(ctx, it.Sender, []string{it.Recipient}, it.Payload)
	}
	if p, ok := b.chat[it.Channel]; ok {
		return b.deliverCard(ctx, p, it)
	}
	return &responders.SendError{Temporary: true, Err: fmt.Errorf("channel %q is not configured (any more); the item waits until it is", it.Channel)}
}

func (b *Bot) deliver(ctx context.Context, it store.OutboxItem) {
	sctx, cancel := context.WithTimeout(ctx, sendTimeout)
	err := b.send(sctx, it)
	cancel()
	if ctx.Err() != nil {
		return // shutting down: the lease runs out and the item is retried
	}
	now := b.clock.Now()
	sent, retried, failed := b.metrics.RepliesSent, b.metrics.RepliesRetried, b.metrics.RepliesFailed
	if it.Channel != "mail" {
		sent, retried, failed = b.metrics.CardsSent, b.metrics.CardsRetried, b.metrics.CardsFailed
	}
	var next time.Time
	log := b.log.With("outbox", it.IdemKey, "channel", it.Channel, "attempt", it.Attempts)
	switch {
	case err == nil:
		sent.Inc()
		log.Info("sent", "recipient", it.Recipient)
	case responders.IsTemporary(err) && it.Attempts < maxAttempts:
		wait := backoff(it.Attempts)
		var se *responders.SendError
		if errors.As(err, &se) && se.RetryAfter > wait {
			wait = se.RetryAfter // the other side said how long (HTTP 429)
		}
		next = now.Add(wait)
		retried.Inc()
		log.Warn("send failed, will retry", "err", err, "next", next)
	default:
		failed.Inc()
		log.Error("send failed for good", "err", err)
	}
	if derr := b.store.Done(context.WithoutCancel(ctx), it, now, err, next); derr != nil {
		log.Error("recording send outcome", "err", derr)
	}
}
