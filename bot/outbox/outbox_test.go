package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"tocsin/bot/clock"
	"tocsin/bot/store"
	"tocsin/responders"
)

// failingMail refuses every send with a temporary error.
type failingMail struct{ n int }

func (m *failingMail) Send(context.Context, string, []string, []byte) error {
	m.n++
	return &responders.SendError{Temporary: true, Err: errors.New("451 try again")}
}

func newTestDispatcher(t *testing.T, mail MailSubmitter, now time.Time) (*Dispatcher, *store.Store) {
	t.Helper()
	st, err := store.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return New(st, clock.NewFake(now), slog.New(slog.DiscardHandler), map[string]Sender{store.PlatformMail: Mail{Submit: mail}}, nil), st
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
			got := Backoff(n)
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
	d, st := newTestDispatcher(t, mail, now)
	ctx := context.Background()
	if err := st.Tx(ctx, func(tx *store.Tx) error {
		_, err := tx.Enqueue(store.OutboxItem{IdemKey: "k", Channel: "mail", Kind: "acknowledgement", Sender: "d@x", Recipient: "r@x", Payload: []byte("m"), CreatedAt: now})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	at := now
	for attempt := 1; attempt <= MaxAttempts; attempt++ {
		items, err := st.Claim(ctx, at, LeaseFor, 10)
		if err != nil || len(items) != 1 || items[0].Attempts != attempt {
			t.Fatalf("attempt %d: claimed %+v, %v", attempt, items, err)
		}
		fake := d.clock.(*clock.Fake)
		fake.Advance(at.Sub(fake.Now()))
		d.Deliver(ctx, items[0])
		next, pending, _ := st.NextDue(ctx)
		if attempt < MaxAttempts {
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
	if len(failed) != 1 || failed[0].Attempts != MaxAttempts || mail.n != MaxAttempts {
		t.Errorf("dead letters %+v after %d sends; want one after %d", failed, mail.n, MaxAttempts)
	}
}

// recordingPoster records card calls.
type recordingPoster struct {
	mu    sync.Mutex
	calls []string
}

func (p *recordingPoster) Post(_ context.Context, channel string, c responders.Card) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls = append(p.calls, "post "+channel)
	return channel + "/1", nil
}
func (p *recordingPoster) Update(_ context.Context, ref string, c responders.Card) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls = append(p.calls, "update "+ref)
	return nil
}
func (p *recordingPoster) Find(context.Context, string, string) (string, error) { return "", nil }
func (p *recordingPoster) Direct(_ context.Context, user, text, _ string, _ bool) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls = append(p.calls, "dm "+user+" "+text)
	return nil
}

// TestOlderCardNeverOverwritesNewer: a card state older than the one shown
// (a retry that lost a race) is dropped; a newer one edits the card.
func TestOlderCardNeverOverwritesNewer(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	_, st := newTestDispatcher(t, nil, now)
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
	chat := Chat{Poster: p, Store: st, Log: slog.New(slog.DiscardHandler)}
	card := func(version int64) store.OutboxItem {
		c, _ := json.Marshal(responders.Card{IncidentID: inc.Ref, Version: version})
		return store.OutboxItem{IdemKey: "card", IncidentID: inc.ID, Channel: "slack", Kind: KindCard, Payload: c, Attempts: 1}
	}
	to := store.ChannelPost(store.PlatformSlack, "C")
	if err := chat.Send(ctx, to, card(50)); err != nil || len(p.calls) != 0 {
		t.Errorf("older card: err %v, calls %v; want it dropped", err, p.calls)
	}
	if err := chat.Send(ctx, to, card(150)); err != nil || len(p.calls) != 1 || p.calls[0] != "update C/1" {
		t.Errorf("newer card: err %v, calls %v; want one update", err, p.calls)
	}
	if _, v, _ := st.ChatCard(ctx, inc.ID, "slack"); v != 150 {
		t.Errorf("shown version %d, want 150", v)
	}
}

// TestDestinationsReachTheirSender: each item goes to the sender of its
// platform with the destination it was queued with: a card to the channel
// it names (not one the poster was built with), a direct message to the
// user, a mail to its address; a card queued before destinations were
// typed ("slack:CHANNEL") still reaches its channel.
func TestDestinationsReachTheirSender(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	mail := &recordingMail{}
	st, err := store.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	var inc *store.Incident
	st.Tx(ctx, func(tx *store.Tx) error {
		inc, err = tx.CreateIncident("SEC", store.Incident{Priority: "P1", Category: "incident", Subject: "s", CreatedAt: now})
		return err
	})
	slack, discord := &recordingPoster{}, &recordingPoster{}
	log := slog.New(slog.DiscardHandler)
	d := New(st, clock.NewFake(now), log, map[string]Sender{
		store.PlatformMail:    Mail{Submit: mail},
		store.PlatformSlack:   Chat{Poster: slack, Store: st, Log: log},
		store.PlatformDiscord: Chat{Poster: discord, Store: st, Log: log},
	}, nil)
	card, _ := json.Marshal(responders.Card{IncidentID: inc.Ref, Version: 1})
	items := []struct {
		to      store.Dest
		kind    string
		payload string
	}{
		{store.ChannelPost(store.PlatformSlack, "C0ALERTS"), KindCard, string(card)},
		{store.DirectTo(store.PlatformSlack, "U0ALICE"), "page", "SEC-1 needs you"},
		{store.DirectTo(store.PlatformDiscord, "200000000000000001"), "page", "SEC-1 needs you too"},
		{store.MailTo("bob@example.com"), "alert", "raw mail"},
	}
	if err := st.Tx(ctx, func(tx *store.Tx) error {
		for i, x := range items {
			it := store.OutboxItem{IdemKey: fmt.Sprint("k", i), IncidentID: inc.ID, Kind: x.kind, Sender: "desk@example.com", Payload: []byte(x.payload), CreatedAt: now}
			it.To(x.to)
			if _, err := tx.Enqueue(it); err != nil {
				return err
			}
		}
		// As a card was queued before destinations had kinds.
		_, err := tx.Enqueue(store.OutboxItem{IdemKey: "legacy", IncidentID: inc.ID, Channel: "discord", Kind: KindCard, Recipient: "discord:900", Payload: card, CreatedAt: now})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	claimed, err := st.Claim(ctx, now, LeaseFor, 10)
	if err != nil || len(claimed) != 5 {
		t.Fatalf("claimed %d items, %v", len(claimed), err)
	}
	for _, it := range claimed {
		d.Deliver(ctx, it)
	}
	want := map[string][]string{
		"slack":   {"post C0ALERTS", "dm U0ALICE SEC-1 needs you"},
		"discord": {"dm 200000000000000001 SEC-1 needs you too", "post 900"},
		"mail":    {"desk@example.com -> bob@example.com: raw mail"},
	}
	got := map[string][]string{"slack": slack.calls, "discord": discord.calls, "mail": mail.calls}
	for k := range want {
		if fmt.Sprint(got[k]) != fmt.Sprint(want[k]) {
			t.Errorf("%s calls %q, want %q", k, got[k], want[k])
		}
	}
	if failed, _ := st.FailedOutbox(ctx, 10); len(failed) != 0 {
		t.Errorf("dead letters: %+v", failed)
	}
}

type recordingMail struct{ calls []string }

func (m *recordingMail) Send(_ context.Context, from string, to []string, raw []byte) error {
	m.calls = append(m.calls, from+" -> "+strings.Join(to, ",")+": "+string(raw))
	return nil
}
