package notify

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/emersion/go-message/mail"

	"tocsin/bot/clock"
	"tocsin/bot/store"
	"tocsin/config"
	"tocsin/responders"
	"tocsin/templates"
)

func setup(t *testing.T) (*store.Store, *Notifier, *store.Incident) {
	t.Helper()
	dir := t.TempDir()
	st, err := store.OpenSQLite(context.Background(), filepath.Join(dir, "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	key, _, err := responders.LoadOrCreateKey(filepath.Join(dir, "key.asc"), "Desk", "security@example.com", "")
	if err != nil {
		t.Fatal(err)
	}
	cfg := &config.Config{}
	cfg.Desk.Address, cfg.Desk.Name = "security@example.com", "Desk"
	cfg.Replies.Encrypt = config.EncryptWhenKeyKnown
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	nf := New(cfg, st, key, templates.Default(), clock.NewFake(now), slog.New(slog.DiscardHandler))
	var inc *store.Incident
	if err := st.Tx(context.Background(), func(tx *store.Tx) error {
		inc, err = tx.CreateIncident("SEC", store.Incident{Priority: "P2", Category: "vulnerability", Subject: "XSS", Reporter: "r@example.org", CreatedAt: now})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return st, nf, inc
}

func notice(inc *store.Incident) Notice {
	return Notice{Form: "acknowledgement", Kind: "acknowledgement", IdemKey: "ack:" + inc.Ref, IncidentRef: inc.Ref,
		To:   mail.Address{Address: "r@example.org"},
		Data: templates.Form{IncidentID: inc.Ref, Date: inc.CreatedAt, Priority: "P2", Category: "vulnerability", Status: "new", Summary: "XSS"}}
}

// TestIntentOutlivesACrash: an intent committed with its decision but
// never composed (the process died in between) is composed by the next
// Flush, once: a second Flush, or a second Queue of the same notice,
// queues nothing more.
func TestIntentOutlivesACrash(t *testing.T) {
	ctx := context.Background()
	st, nf, inc := setup(t)
	if err := st.Tx(ctx, func(tx *store.Tx) error {
		_, err := nf.Queue(tx, inc.ID, notice(inc), inc.CreatedAt)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if d, _ := st.GetIncident(ctx, inc.Ref); len(d.Outbox) != 0 {
		t.Fatalf("outbox before flush: %+v", d.Outbox)
	}
	// "After the restart": a fresh Notifier on the same store.
	again := New(nf.Config, st, nf.Key, nf.Forms, nf.Clock, nf.Log)
	if n, err := again.Flush(ctx); err != nil || n != 1 {
		t.Fatalf("Flush = %d, %v; want 1 item", n, err)
	}
	if n, err := again.Flush(ctx); err != nil || n != 0 {
		t.Fatalf("second Flush = %d, %v; want 0", n, err)
	}
	if err := st.Tx(ctx, func(tx *store.Tx) error {
		id, err := nf.Queue(tx, inc.ID, notice(inc), inc.CreatedAt)
		if id != 0 {
			t.Errorf("a notice already in the outbox was queued again (intent %d)", id)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	d, err := st.GetIncident(ctx, inc.Ref)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Outbox) != 1 || d.Outbox[0].Recipient != "r@example.org" || d.Outbox[0].State != store.OutboxPending {
		t.Fatalf("outbox = %+v", d.Outbox)
	}
	if !bytes.Contains(d.Outbox[0].Payload, []byte(`protocol="application/pgp-signature"`)) || !bytes.Contains(d.Outbox[0].Payload, []byte("["+inc.Ref+"]")) {
		t.Fatalf("payload is not the signed acknowledgement:\n%s", d.Outbox[0].Payload)
	}
	var out int
	for _, m := range d.Messages {
		if m.Direction == "out" {
			out++
		}
	}
	if out != 1 {
		t.Fatalf("%d outgoing messages recorded, want 1", out)
	}
}

// TestIntentCountsForTheRateLimit: an answer decided but not yet composed
// counts toward the recipient's limit, so a burst cannot slip past it.
func TestIntentCountsForTheRateLimit(t *testing.T) {
	ctx := context.Background()
	st, nf, inc := setup(t)
	if err := st.Tx(ctx, func(tx *store.Tx) error {
		if _, err := nf.Queue(tx, inc.ID, notice(inc), inc.CreatedAt); err != nil {
			return err
		}
		n, err := tx.RecentTo("mail", "R+tag@Example.org", inc.CreatedAt.Add(-time.Hour))
		if n != 1 {
			t.Errorf("RecentTo = %d, want 1 (the intent)", n)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

// TestAlwaysWithoutKeyIsADeadLetter: policy "always" and no key: nothing
// in clear; a failed item that says why, and an audit line.
func TestAlwaysWithoutKeyIsADeadLetter(t *testing.T) {
	ctx := context.Background()
	st, nf, inc := setup(t)
	nf.Config.Replies.Encrypt = config.EncryptAlways
	failed := 0
	nf.Failed = func() { failed++ }
	if err := st.Tx(ctx, func(tx *store.Tx) error {
		_, err := nf.Queue(tx, inc.ID, notice(inc), inc.CreatedAt)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := nf.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	d, _ := st.GetIncident(ctx, inc.Ref)
	if len(d.Outbox) != 1 || d.Outbox[0].State != store.OutboxFailed || len(d.Outbox[0].Payload) != 0 || failed != 1 {
		t.Fatalf("outbox = %+v, failed = %d", d.Outbox, failed)
	}
	found := false
	for _, a := range d.Audit {
		found = found || a.Action == "acknowledgement-not-sent"
	}
	if !found {
		t.Fatalf("no audit entry: %+v", d.Audit)
	}
}
