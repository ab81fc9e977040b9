package notify

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
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

func queue(t *testing.T, st *store.Store, nf *Notifier, inc *store.Incident) store.OutboxItem {
	t.Helper()
	ctx := context.Background()
	if err := st.Tx(ctx, func(tx *store.Tx) error {
		added, err := nf.Queue(tx, inc.ID, notice(inc), inc.CreatedAt)
		if !added && err == nil {
			t.Error("the notice was not queued")
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	d, err := st.GetIncident(ctx, inc.Ref)
	if err != nil || len(d.Outbox) != 1 {
		t.Fatalf("outbox %+v, %v", d.Outbox, err)
	}
	return d.Outbox[0]
}

// TestNoticeIsComposedWhenSent: a queued notice is an outbox item whose
// payload is the notice, composed (rendered, signed) when it is sent; a
// retry composes it again as the same message (its Message-ID), recorded
// on the incident once; queuing it again adds nothing.
func TestNoticeIsComposedWhenSent(t *testing.T) {
	ctx := context.Background()
	st, nf, inc := setup(t)
	it := queue(t, st, nf, inc)
	if !IsNotice(it.Payload) || it.State != store.OutboxPending || it.Recipient != "r@example.org" {
		t.Fatalf("queued item %+v", it)
	}
	first, err := nf.Compose(ctx, it)
	if err != nil {
		t.Fatal(err)
	}
	again, err := nf.Compose(ctx, it)
	if err != nil {
		t.Fatal(err)
	}
	for _, raw := range [][]byte{first, again} {
		if IsNotice(raw) || !bytes.Contains(raw, []byte(`protocol="application/pgp-signature"`)) || !bytes.Contains(raw, []byte("["+inc.Ref+"]")) {
			t.Fatalf("not the signed acknowledgement:\n%s", raw)
		}
	}
	id := func(raw []byte) string {
		for _, l := range strings.Split(string(raw), "\r\n") {
			if strings.HasPrefix(strings.ToLower(l), "message-id:") {
				return l
			}
		}
		return ""
	}
	if id(first) == "" || id(first) != id(again) {
		t.Errorf("Message-IDs %q and %q: a retry must be the same message", id(first), id(again))
	}
	if err := st.Tx(ctx, func(tx *store.Tx) error {
		added, err := nf.Queue(tx, inc.ID, notice(inc), inc.CreatedAt)
		if added {
			t.Error("a notice already in the outbox was queued again")
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	d, _ := st.GetIncident(ctx, inc.Ref)
	out := 0
	for _, m := range d.Messages {
		if m.Direction == "out" {
			out++
		}
	}
	if out != 1 || len(d.Outbox) != 1 {
		t.Fatalf("%d outgoing messages recorded, %d outbox items; want 1 and 1", out, len(d.Outbox))
	}
}

// TestQueuedNoticeCountsForTheRateLimit: an answer queued but not yet
// composed counts toward the recipient's limit.
func TestQueuedNoticeCountsForTheRateLimit(t *testing.T) {
	ctx := context.Background()
	st, nf, inc := setup(t)
	queue(t, st, nf, inc)
	if err := st.Tx(ctx, func(tx *store.Tx) error {
		n, err := tx.RecentTo("mail", "R+tag@Example.org", inc.CreatedAt.Add(-time.Hour))
		if n != 1 {
			t.Errorf("RecentTo = %d, want 1", n)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

// TestAlwaysWithoutKeyIsADeadLetter: policy "always" and no key: nothing
// in clear; a permanent failure that says why, and an audit line.
func TestAlwaysWithoutKeyIsADeadLetter(t *testing.T) {
	ctx := context.Background()
	st, nf, inc := setup(t)
	nf.Config.Replies.Encrypt = config.EncryptAlways
	it := queue(t, st, nf, inc)
	raw, err := nf.Compose(ctx, it)
	var se *responders.SendError
	if raw != nil || !errors.As(err, &se) || se.Temporary || !strings.Contains(err.Error(), "encrypt is always") {
		t.Fatalf("Compose = %d bytes, %v; want a permanent failure saying why", len(raw), err)
	}
	d, _ := st.GetIncident(ctx, inc.Ref)
	found := false
	for _, a := range d.Audit {
		found = found || a.Action == "acknowledgement-not-sent" && strings.Contains(a.Detail, "encrypt is always")
	}
	if !found {
		t.Fatalf("no audit entry: %+v", d.Audit)
	}
}
