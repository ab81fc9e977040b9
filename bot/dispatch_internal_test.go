package bot

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"tocsin/bot/clock"
	"tocsin/bot/store"
	"tocsin/config"
	"tocsin/responders"
)

// failingMail refuses every send with a temporary error.
type failingMail struct{ n int }

func (m *failingMail) Send(context.Context, string, []string, []byte) error {
	m.n++
	return &responders.SendError{Temporary: true, Err: errors.New("451 try again")}
}

func newTestBot(t *testing.T, mail MailSender, now time.Time) (*Bot, *store.Store) {
	t.Helper()
	st, err := store.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return New(&config.Config{}, st, nil, mail, clock.NewFake(now), slog.New(slog.DiscardHandler)), st
}

// TestBackoffSchedule: the wait after the n-th failure doubles from 2 s,
// is capped at 4 h, and is spread by at most ±20 %.
func TestBackoffSchedule(t *testing.T) {
	want := []time.Duration{2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 32 * time.Second, 64 * time.Second}
	for n := 1; n <= 20; n++ {
		base := 4 * time.Hour
		if n <= len(want) {
			base = want[n-1]
		} else if d := 2 * time.Second << (n - 1); n <= 14 && d < base {
			base = d
		}
		for range 50 {
			got := backoff(n)
			if got < base*8/10 || got > base*12/10 {
				t.Fatalf("backoff(%d) = %v, want %v ±20%%", n, got, base)
			}
		}
	}
}

// TestGiveUpAfterMaxAttempts: a temporary failure is retried with the
// backoff until the attempts run out; then the item is a dead letter.
func TestGiveUpAfterMaxAttempts(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	mail := &failingMail{}
	b, st := newTestBot(t, mail, now)
	ctx := context.Background()
	if err := st.Tx(ctx, func(tx *store.Tx) error {
		_, err := tx.Enqueue(store.OutboxItem{IdemKey: "k", Channel: "mail", Kind: "acknowledgement", Sender: "d@x", Recipient: "r@x", Payload: []byte("m"), CreatedAt: now})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	at := now
	for attempt := 1; attempt <= maxAttempts; attempt++ {
		items, err := st.Claim(ctx, at, leaseFor, 10)
		if err != nil || len(items) != 1 || items[0].Attempts != attempt {
			t.Fatalf("attempt %d: claimed %+v, %v", attempt, items, err)
		}
		fake := b.clock.(*clock.Fake)
		fake.Advance(at.Sub(fake.Now()))
		b.deliver(ctx, items[0])
		next, pending, _ := st.NextDue(ctx)
		if attempt < maxAttempts {
			base := min(2*time.Second<<(attempt-1), 4*time.Hour)
			if wait := next.Sub(at); !pending || wait < base*8/10 || wait > base*12/10 {
				t.Fatalf("after attempt %d: next due %v later (pending %v), want %v ±20%%", attempt, next.Sub(at), pending, base)
			}
			at = next
		} else if pending {
			t.Fatalf("after the last attempt the item is still pending (due %v)", next)
		}
	}
	failed, _ := st.FailedOutbox(ctx, 10)
	if len(failed) != 1 || failed[0].Attempts != maxAttempts || mail.n != maxAttempts {
		t.Errorf("dead letters %+v after %d sends; want one after %d", failed, mail.n, maxAttempts)
	}
}

// recordingPoster records card calls.
type recordingPoster struct {
	mu    sync.Mutex
	calls []string
}

func (p *recordingPoster) Post(_ context.Context, c responders.Card) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls = append(p.calls, "post")
	return "C/1", nil
}
func (p *recordingPoster) Update(_ context.Context, ref string, c responders.Card) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls = append(p.calls, "update "+ref)
	return nil
}
func (p *recordingPoster) Find(context.Context, string) (string, error) { return "", nil }

// TestOlderCardNeverOverwritesNewer: a card state older than the one shown
// (a retry that lost a race) is dropped; a newer one edits the card.
func TestOlderCardNeverOverwritesNewer(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	b, st := newTestBot(t, nil, now)
	ctx := context.Background()
	var inc *store.Incident
	st.Tx(ctx, func(tx *store.Tx) error {
		var err error
		inc, err = tx.CreateIncident("SEC", store.Incident{Priority: "P3", Category: "other", Subject: "s", CreatedAt: now})
		return err
	})
	if err := st.SetChatCard(ctx, inc.ID, "slack", "C/1", 100); err != nil {
		t.Fatal(err)
	}
	p := &recordingPoster{}
	card := func(version int64) store.OutboxItem {
		c, _ := json.Marshal(responders.Card{IncidentID: inc.Ref, Version: version})
		return store.OutboxItem{IdemKey: "card", IncidentID: inc.ID, Channel: "slack", Payload: c, Attempts: 1}
	}
	if err := b.deliverCard(ctx, p, card(50)); err != nil || len(p.calls) != 0 {
		t.Errorf("older card: err %v, calls %v; want it dropped", err, p.calls)
	}
	if err := b.deliverCard(ctx, p, card(150)); err != nil || len(p.calls) != 1 || p.calls[0] != "update C/1" {
		t.Errorf("newer card: err %v, calls %v; want one update", err, p.calls)
	}
	if _, v, _ := st.ChatCard(ctx, inc.ID, "slack"); v != 150 {
		t.Errorf("shown version %d, want 150", v)
	}
}
