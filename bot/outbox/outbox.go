// Package outbox delivers what the desk decided to send. Every external
// effect is an outbox row first; the Dispatcher claims due rows, hands
// each to the Sender of its platform with its typed destination, and
// records the outcome: sent, retried later with backoff, or a dead letter
// that says why.
package outbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"tocsin/bot/clock"
	"tocsin/bot/metrics"
	"tocsin/bot/store"
	"tocsin/responders"
)

// Delivery policy.
const (
	claimBatch = 32
	// LeaseFor is how long a claimed item is kept from other dispatchers;
	// it is retaken when its sender died.
	LeaseFor    = 2 * time.Minute
	sendTimeout = time.Minute
	// MaxAttempts is about a day of exponential backoff, then a dead letter.
	MaxAttempts = 12
	idlePoll    = 30 * time.Second
)

// Sender performs outbox items on one platform. Errors are classified by
// responders.IsTemporary: only temporary ones are retried.
type Sender interface {
	Send(ctx context.Context, to store.Dest, it store.OutboxItem) error
}

// Counters count outcomes on one platform.
type Counters struct {
	Sent, Retried, Failed *metrics.Counter
}

// Dispatcher drains the outbox.
type Dispatcher struct {
	store   *store.Store
	clock   clock.Clock
	log     *slog.Logger
	senders map[string]Sender
	counts  map[string]Counters
	// Idle, if set, is called when a pass found nothing to send (to let
	// go of an SMTP connection).
	Idle func()
	kick chan struct{}
	beat atomic.Int64 // unix ns of the loop's last sign of life
	// StaleAfter and FailingAfter are when Health calls the outbox
	// degraded: its oldest due item has waited longer than StaleAfter, or
	// a platform's sends have failed without a success for FailingAfter.
	StaleAfter, FailingAfter time.Duration

	mu      sync.Mutex
	failing map[string]*streak // by channel: sends failing since
}

// streak is a run of failed sends on one channel.
type streak struct {
	since time.Time
	n     int
	last  string
}

// Degraded says why the outbox is degraded and since when.
type Degraded struct {
	// Reason: "stale" (an item has waited past StaleAfter) or "failing"
	// (a platform's sends fail).
	Reason  string
	Channel string // failing: the platform
	Since   time.Time
	// Failures and LastError: failing only.
	Failures  int
	LastError string
}

func (g Degraded) Error() string {
	if g.Reason == "stale" {
		return fmt.Sprintf("outbox degraded: an item waits since %s", g.Since.UTC().Format(time.RFC3339))
	}
	return fmt.Sprintf("outbox degraded: %s sends failing since %s (%d failures): %s", g.Channel, g.Since.UTC().Format(time.RFC3339), g.Failures, g.LastError)
}

// New returns a Dispatcher with the senders and counters by platform
// (store.PlatformMail, ...). A platform without counters counts nowhere.
func New(st *store.Store, clk clock.Clock, log *slog.Logger, senders map[string]Sender, counts map[string]Counters) *Dispatcher {
	return &Dispatcher{store: st, clock: clk, log: log, senders: senders, counts: counts, kick: make(chan struct{}, 1),
		StaleAfter: 15 * time.Minute, FailingAfter: 5 * time.Minute, failing: map[string]*streak{}}
}

// Kick wakes the loop: something was queued.
func (d *Dispatcher) Kick() {
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

// Backoff is the wait after the n-th failed attempt: exponential from 2 s,
// capped at 4 h, with ±20% jitter so that retries after an outage spread.
func Backoff(n int) time.Duration {
	wait := 2 * time.Second << min(n-1, 13)
	wait = min(wait, 4*time.Hour)
	return time.Duration(float64(wait) * (0.8 + 0.4*rand.Float64()))
}

// Run drains the outbox until ctx ends: it claims due items, sends each,
// and records the outcome; then waits for a kick, the next due time or a
// poll, whichever is first.
func (d *Dispatcher) Run(ctx context.Context) {
	for {
		d.beat.Store(d.clock.Now().UnixNano())
		items, err := d.store.Claim(ctx, d.clock.Now(), LeaseFor, claimBatch)
		if err != nil && ctx.Err() == nil {
			d.log.Error("claiming outbox items", "err", err)
		}
		for _, it := range items {
			d.beat.Store(d.clock.Now().UnixNano())
			d.Deliver(ctx, it)
		}
		if len(items) == claimBatch {
			continue
		}
		wait := idlePoll
		if next, ok, err := d.store.NextDue(ctx); err == nil && ok {
			wait = min(wait, max(next.Sub(d.clock.Now()), 10*time.Millisecond))
		}
		if len(items) == 0 && d.Idle != nil {
			d.Idle()
		}
		select {
		case <-ctx.Done():
			return
		case <-d.kick:
		case <-d.clock.After(wait):
		}
	}
}

// Health returns nil while the loop is alive (it beats at least every
// idlePoll, and before each send, which is bounded by sendTimeout) and
// the outbox is not degraded (Degrading).
func (d *Dispatcher) Health(now time.Time) error {
	beat := d.beat.Load()
	if beat == 0 {
		return errors.New("outbox dispatcher not started")
	}
	if age := now.Sub(time.Unix(0, beat)); age > idlePoll+sendTimeout+30*time.Second {
		return fmt.Errorf("outbox dispatcher silent for %v", age.Round(time.Second))
	}
	if g := d.Degrading(now); len(g) > 0 {
		return g[0]
	}
	return nil
}

// Degrading says what degrades the outbox at now, the longest first:
// each platform whose sends have failed without a success for
// FailingAfter, and an item due that has waited longer than StaleAfter.
func (d *Dispatcher) Degrading(now time.Time) []Degraded {
	var out []Degraded
	d.mu.Lock()
	for ch, s := range d.failing {
		if now.Sub(s.since) >= d.FailingAfter {
			out = append(out, Degraded{Reason: "failing", Channel: ch, Since: s.since, Failures: s.n, LastError: s.last})
		}
	}
	d.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if at, ok, err := d.store.OldestDue(ctx, now); err == nil && ok && now.Sub(at) >= d.StaleAfter {
		out = append(out, Degraded{Reason: "stale", Since: at})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Since.Before(out[j].Since) })
	return out
}

// track keeps the run of failed sends on ch: err nil ends it.
func (d *Dispatcher) track(ch string, now time.Time, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err == nil {
		delete(d.failing, ch)
		return
	}
	s := d.failing[ch]
	if s == nil {
		s = &streak{since: now}
		d.failing[ch] = s
	}
	s.n++
	s.last = err.Error()
}

// send performs one item with the sender of its platform.
func (d *Dispatcher) send(ctx context.Context, it store.OutboxItem) error {
	to, err := it.Dest()
	if err != nil {
		return &responders.SendError{Err: err}
	}
	s, ok := d.senders[to.Platform]
	if !ok {
		return &responders.SendError{Temporary: true, Err: fmt.Errorf("%s is not configured (any more); the item waits until it is", to.Platform)}
	}
	return s.Send(ctx, to, it)
}

// Deliver attempts one claimed item and records the outcome.
func (d *Dispatcher) Deliver(ctx context.Context, it store.OutboxItem) {
	sctx, cancel := context.WithTimeout(ctx, sendTimeout)
	err := d.send(sctx, it)
	cancel()
	if ctx.Err() != nil {
		return // shutting down: the lease runs out and the item is retried
	}
	now := d.clock.Now()
	c := d.counts[it.Channel]
	inc := func(m *metrics.Counter) {
		if m != nil {
			m.Inc()
		}
	}
	var next time.Time
	d.track(it.Channel, now, err)
	log := d.log.With("outbox", it.IdemKey, "channel", it.Channel, "attempt", it.Attempts)
	switch {
	case err == nil:
		inc(c.Sent)
		log.Info("sent", "recipient", it.Recipient)
	case responders.IsTemporary(err) && it.Attempts < MaxAttempts:
		wait := Backoff(it.Attempts)
		var se *responders.SendError
		if errors.As(err, &se) && se.RetryAfter > wait {
			wait = se.RetryAfter // the other side said how long (HTTP 429)
		}
		next = now.Add(wait)
		inc(c.Retried)
		log.Warn("send failed, will retry", "err", err, "next", next)
	default:
		inc(c.Failed)
		log.Error("send failed for good", "err", err)
	}
	if derr := d.store.Done(context.WithoutCancel(ctx), it, now, err, next); derr != nil {
		log.Error("recording send outcome", "err", derr)
	}
}
